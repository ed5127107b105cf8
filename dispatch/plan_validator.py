"""The plan validator: every hard rule and every stated figure, recomputed from the problem
the plan carries.

It trusts nothing the planner computed or the plan file states: it rebuilds the travel model
from the plan's own problem (`dispatch.translate`, the one translation of the domain into
seconds and metres, shared with the planner; none of the planner's timing code), replays
every route through `routing.validate` (arrivals from the travel times, service ends, windows,
shift start and end, the lunch inside its window and not during a job, capacities, jobs per
day, linked-job order and gap, two-person visits, each job once) and checks the domain rules
directly against jobs and crews (crew kind, skills, people, jobs per day, and an order's own
rules, `dispatch.link_rules`: its installation within the maximum gap of its delivery's end,
here or on an earlier day, and its crew mode's crews).

It then compares every figure the plan states with its own recomputation (`_stated_figures`):
each stop's promise deadline (from the problem's promise rules), its slack as stated in a plan
file (deadline minus end, rounded down to minutes), each lunch's length against the crew's
lunch rule, and each route's distance and driving time. The plan KPIs
(`dispatch.metrics.kpis`) read only these figures, so a plan that passes gives the KPIs its
problem gives. Each violation names the job and crew (or the crew) and, for a stated figure,
the stated and the recomputed value. A plan with any violation is refused by the planner and
by `dispatch validate`. The full list of rules is in docs/routing.md ("Timing and validation").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatch.link_rules import CrewMode, linked_pairs, mode_allows
from dispatch.models import CREW_CAN_DO, Crew, Job, JobKind
from dispatch.plan import CrewRoute, Plan, PlannedStop
from dispatch.translate import Translation, build_travel, translate
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


def validate_plan(plan: Plan, travel: TravelModel | None = None) -> list[PlanViolation]:
    """All hard-rule violations and stated-figure mismatches of `plan`; empty means valid.

    Lateness is not a violation, but a deadline or slack other than the promise rules give is.
    """
    problem = plan.problem
    jobs = {j.id: (k, j) for k, j in enumerate(problem.jobs)}
    crews = {c.id: (k, c) for k, c in enumerate(problem.crews)}
    out = _accounting(plan, jobs, crews)
    if out:
        return out
    out += _domain_rules(plan, jobs, crews)
    travel = travel or build_travel(problem)
    deadlines = {j.id: problem.promises.deadline(j) for j in problem.jobs}
    tr = translate(problem, travel, deadlines, range(len(problem.jobs)), range(len(problem.crews)))
    solution = _as_solution(plan, jobs, crews)
    # an order's maximum gap is said in the plan's own terms by `_link_rules`; a one-visit
    # order's (a gap of 0: the installation the moment the delivery ends) only here
    one_visit = {tr.job_ids[p.after] for p in tr.routing.precedences if p.same_vehicle}
    for v in validate_solution(tr.routing, solution):
        if v.rule != "max_gap" or v.visit in one_visit:
            out.append(PlanViolation(v.rule, v.message, v.visit, v.vehicle))
    out += _link_rules(plan, jobs, crews)
    out += _stated_figures(plan, tr, solution, deadlines)
    return out


def _accounting(
    plan: Plan, jobs: dict[str, tuple[int, Job]], crews: dict[str, tuple[int, Crew]]
) -> list[PlanViolation]:
    """Each job of the problem on one route or in the unassigned list (with its reason, which
    the model requires), each route for a known crew, one route per crew."""
    out: list[PlanViolation] = []
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
    return out


def _domain_rules(
    plan: Plan, jobs: dict[str, tuple[int, Job]], crews: dict[str, tuple[int, Crew]]
) -> list[PlanViolation]:
    """Crew kind, skills, people, jobs per day and windows, read from the jobs and crews."""
    out: list[PlanViolation] = []
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
            if crew.barred_from(job):
                out.append(
                    PlanViolation(
                        "callback_policy",
                        "a callback must go to a crew other than its original one (the "
                        "region's callback policy)",
                        job.id,
                        crew.id,
                    )
                )
            if not crew.certified_for(job):
                held = crew.certification_for(job.kind)
                has = f"{held.score}, valid to {held.expires}" if held else "none"
                out.append(
                    PlanViolation(
                        "certification",
                        f"needs certification of {job.min_certification} or more for "
                        f"{job.kind.value} jobs, valid on {job.day}; crew has {has}",
                        job.id,
                        crew.id,
                    )
                )
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
    return out


def _link_rules(
    plan: Plan, jobs: dict[str, tuple[int, Job]], crews: dict[str, tuple[int, Crew]]
) -> list[PlanViolation]:
    """An order's delivery and installation under its rules (`dispatch.link_rules`): the
    installation starts within the maximum gap after the delivery ends (the delivery in the
    plan, or done earlier: `Job.delivered_at`), and the crew mode's crews serve the order
    (`split`: no combined crew; `combined`: a combined crew, one visit, which
    `routing.validate` checks as `same_vehicle`)."""
    problem = plan.problem
    out: list[PlanViolation] = []
    stops = {s.job_id: (r.crew_id, s) for r in plan.routes for s in r.stops}
    pairs = linked_pairs(problem.jobs)
    for i, d in pairs.items():
        inst, delivery = problem.jobs[i], problem.jobs[d]
        mode = problem.crew_mode_for(inst)
        for job in (delivery, inst):
            crew_id = stops[job.id][0] if job.id in stops else ""
            kind = crews[crew_id][1].kind if crew_id else None
            if kind is not None and not mode_allows(mode, kind, job.kind):
                message = (
                    f"order {job.order_id} is to be served {_MODE_WORDS[mode]}, not with its "
                    f"{job.kind.value} by a {kind.value}"
                )
                out.append(PlanViolation("crew_mode", message, job.id, crew_id))
    for job_id, (crew_id, stop) in stops.items():
        inst = jobs[job_id][1]
        most = problem.max_link_gap_for(inst)
        if inst.kind is not JobKind.INSTALLATION or most is None:
            continue
        k = jobs[job_id][0]
        if k in pairs:
            delivery = problem.jobs[pairs[k]]
            if delivery.id not in stops:
                continue  # `routing.validate`: an installation without its delivery
            ended, by = stops[delivery.id][1].end, f"its delivery {delivery.id} ends"
        elif inst.delivered_at is not None:
            ended, by = inst.delivered_at, "its delivery ended"
        else:
            continue
        if stop.start > ended + timedelta(minutes=most):
            late = int((stop.start - ended).total_seconds() // 60)
            message = (
                f"starts {_when(stop.start)}, {late} min after {by} {_when(ended)}: more than "
                f"the maximum gap of {most} min"
            )
            out.append(PlanViolation("max_link_gap", message, job_id, crew_id))
    return out


#: how a crew mode's order is to be served, for the messages
_MODE_WORDS = {
    CrewMode.COMBINED: "in one visit by a combined crew",
    CrewMode.SPLIT: "in two visits, the delivery by a delivery truck",
    CrewMode.AUTO: "by any crew",
}


def _as_solution(
    plan: Plan, jobs: dict[str, tuple[int, Job]], crews: dict[str, tuple[int, Crew]]
) -> RoutingSolution:
    """The plan in routing terms: seconds of the plan day, job and crew indices of the problem."""
    problem = plan.problem
    return RoutingSolution(
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


def _stated_figures(
    plan: Plan, tr: Translation, solution: RoutingSolution, deadlines: dict[str, datetime]
) -> list[PlanViolation]:
    """Every figure the plan states against the validator's own value: deadline and slack
    per stop, lunch length per crew, distance and driving time per route."""
    out: list[PlanViolation] = []
    for route, timed in zip(plan.routes, solution.routes, strict=True):
        crew = plan.problem.crews[timed.vehicle]
        for stop, st in zip(route.stops, timed.stops, strict=True):
            out += _stop_figures(plan, tr, stop, st, crew.id, deadlines[stop.job_id])
        out += _route_figures(tr, route, timed, crew)
    return out


def _stop_figures(
    plan: Plan, tr: Translation, stop: PlannedStop, st: StopTime, crew_id: str, deadline: datetime
) -> list[PlanViolation]:
    """The stop's stated deadline and (from a file) slack against the recomputed ones."""
    out = []
    if stop.deadline != deadline:
        message = (
            f"stated deadline {_when(stop.deadline)}, the promise rules give {_when(deadline)}"
        )
        out.append(PlanViolation("deadline", message, stop.job_id, crew_id))
    if stop.stated_slack_minutes is not None:
        # the slack as the planner writes it: minutes from the end to the deadline, rounded
        # down; both recomputed (the end from the start and the job's service time)
        end = plan.problem.from_seconds(st.start + tr.routing.visits[st.visit].service_s)
        slack = int((deadline - end).total_seconds() // 60)
        if stop.stated_slack_minutes != slack:
            message = (
                f"stated slack {stop.stated_slack_minutes} min, recomputed {slack} min "
                f"(deadline {_when(deadline)} - end {_when(end)})"
            )
            out.append(PlanViolation("slack", message, stop.job_id, crew_id))
    return out


def _route_figures(
    tr: Translation, route: CrewRoute, timed: RouteSchedule, crew: Crew
) -> list[PlanViolation]:
    """The route's stated lunch length, distance and driving time against the recomputed ones
    (the lunch window and timing are `routing.validate`'s)."""
    out = []
    if (
        route.lunch is not None
        and crew.lunch is not None
        and route.lunch.minutes != crew.lunch.minutes
    ):
        message = (
            f"stated lunch of {route.lunch.minutes} min, the crew's lunch rule gives "
            f"{crew.lunch.minutes} min"
        )
        out.append(PlanViolation("break", message, crew_id=crew.id))
    metres, seconds = _driven(tr, timed)
    for name, stated, own in (
        ("distance_m", route.distance_m, metres),
        ("drive_s", route.drive_s, seconds),
    ):
        if stated != own:
            message = f"stated {name} {stated}, recomputed {own} from the travel model"
            out.append(PlanViolation("totals", message, crew_id=crew.id))
    return out


def _driven(tr: Translation, timed: RouteSchedule) -> tuple[int, int]:
    """Metres and seconds driven on a route: every leg from the depot through the stops back
    to the end depot, each leg leaving when the crew does (its last end, or after a lunch
    taken before driving on) at that moment's travel time; the lunch length is the crew's."""
    veh = tr.routing.vehicles[timed.vehicle]
    travel = tr.routing.travel
    lunch = timed.break_
    places = [tr.routing.visits[s.visit].location for s in timed.stops] + [veh.end_location]
    leaves = [timed.depart] + [s.end for s in timed.stops]
    if lunch is not None and lunch.before_travel and veh.break_ is not None:
        leg = lunch.after_stop + 1
        if 0 <= leg <= len(timed.stops):  # a break outside the route is `routing.validate`'s
            leaves[leg] = max(leaves[leg], lunch.start) + veh.break_.duration_s
    metres = seconds = 0
    here = veh.start_location
    for there, leave in zip(places, leaves, strict=True):
        metres += int(travel.distances[here, there])
        seconds += travel.travel_time(veh.profile, here, there, leave)
        here = there
    return metres, seconds


def _when(moment: datetime) -> str:
    """A moment as the plan file writes it: ISO, without seconds when they are zero."""
    if moment.second == 0 and moment.microsecond == 0:
        return moment.isoformat(timespec="minutes")
    return moment.isoformat()
