"""The plan validator: every hard rule, recomputed from the problem the plan carries.

It trusts nothing the planner computed: it rebuilds the travel model from the plan's own
problem, replays every route through `routing.validate` (arrivals, windows, shifts, breaks,
capacities, linked-job order, each job once) and checks the domain rules directly against
jobs and crews (crew kind, skills, people, jobs per day). A plan with any violation is
refused by the planner and by `dispatch validate`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from dispatch.models import CREW_CAN_DO
from dispatch.plan import Plan
from dispatch.translate import build_travel, translate
from routing.problem import BreakTime, RouteSchedule, RoutingSolution, StopTime
from routing.travel import TravelModel
from routing.validate import validate_solution


@dataclass(frozen=True)
class PlanViolation:
    rule: str
    message: str
    job_id: str | None = None
    crew_id: str | None = None

    def __str__(self) -> str:
        who = " ".join(
            x
            for x in (
                f"crew {self.crew_id}" if self.crew_id else "",
                f"job {self.job_id}" if self.job_id else "",
            )
            if x
        )
        return f"[{self.rule}] {who}: {self.message}" if who else f"[{self.rule}] {self.message}"


class PlanInvalid(RuntimeError):
    """Raised instead of returning a plan that breaks a hard rule."""

    def __init__(self, violations: list[PlanViolation]) -> None:
        self.violations = violations
        shown = "\n".join(f"  - {v}" for v in violations[:20])
        more = f"\n  ... and {len(violations) - 20} more" if len(violations) > 20 else ""
        super().__init__(
            f"plan fails validation with {len(violations)} violation(s):\n{shown}{more}"
        )


def validate_plan(plan: Plan, travel: TravelModel | None = None) -> list[PlanViolation]:  # noqa: C901 - the plan validator's flat list of independent hard-rule checks
    """All hard-rule violations of `plan`; empty means valid. Lateness is not a violation."""
    problem = plan.problem
    out: list[PlanViolation] = []
    jobs = {j.id: (k, j) for k, j in enumerate(problem.jobs)}
    crews = {c.id: (k, c) for k, c in enumerate(problem.crews)}

    counts = Counter(s.job_id for r in plan.routes for s in r.stops)
    counts.update(u.job_id for u in plan.unassigned)
    for job_id, n in counts.items():
        if job_id not in jobs:
            out.append(PlanViolation("accounting", "job not in the problem", job_id))
        elif n > 1:
            out.append(PlanViolation("accounting", f"job appears {n} times", job_id))
    for job_id in jobs:
        if job_id not in counts:
            out.append(PlanViolation("accounting", "job neither planned nor unassigned", job_id))
    crew_counts = Counter(r.crew_id for r in plan.routes)
    for crew_id, n in crew_counts.items():
        if crew_id not in crews:
            out.append(PlanViolation("crew", "unknown crew", crew_id=crew_id))
        elif n > 1:
            out.append(PlanViolation("crew", f"crew has {n} routes", crew_id=crew_id))
    if out:
        return out

    for r in plan.routes:
        _, crew = crews[r.crew_id]
        if crew.max_jobs is not None and len(r.stops) > crew.max_jobs:
            out.append(
                PlanViolation("max_jobs", f"{len(r.stops)} jobs > {crew.max_jobs}", crew_id=crew.id)
            )
        for s in r.stops:
            _, job = jobs[s.job_id]
            if job.kind not in CREW_CAN_DO[crew.kind]:
                out.append(
                    PlanViolation(
                        "kind",
                        f"a {crew.kind.value} cannot do {job.kind.value} jobs",
                        job.id,
                        crew.id,
                    )
                )
            if not job.skills <= crew.skills:
                lacking = ", ".join(sorted(job.skills - crew.skills))
                out.append(PlanViolation("skills", f"crew lacks {lacking}", job.id, crew.id))
            if crew.people < job.people:
                out.append(
                    PlanViolation(
                        "people",
                        f"{job.people} people needed, crew has {crew.people}",
                        job.id,
                        crew.id,
                    )
                )
            if not any(w.start <= s.start <= w.end for w in job.windows):
                out.append(
                    PlanViolation(
                        "window", f"starts {s.start} outside its windows", job.id, crew.id
                    )
                )

    travel = travel or build_travel(problem)
    deadlines = {j.id: problem.promises.deadline(j) for j in problem.jobs}
    tr = translate(problem, travel, deadlines, range(len(problem.jobs)), range(len(problem.crews)))
    solution = RoutingSolution(
        routes=[
            RouteSchedule(
                vehicle=crews[r.crew_id][0],
                depart=problem.to_seconds(r.depart),
                stops=[
                    StopTime(
                        jobs[s.job_id][0],
                        problem.to_seconds(s.arrival),
                        problem.to_seconds(s.start),
                        problem.to_seconds(s.end),
                    )
                    for s in r.stops
                ],
                return_arrival=problem.to_seconds(r.return_at),
                break_=None
                if r.lunch is None
                else BreakTime(
                    problem.to_seconds(r.lunch.start), r.lunch.after_stop, r.lunch.before_travel
                ),
            )
            for r in plan.routes
        ],
        unassigned=[jobs[u.job_id][0] for u in plan.unassigned],
    )
    for v in validate_solution(tr.routing, solution):
        out.append(PlanViolation(v.rule, v.message, v.visit, v.vehicle))
    return out
