"""The plan seen as routing data: the `Day` that every probe of one `explain_plan` call reads.

The probes re-time a crew's route with one more job the way the planner does
(`routing.schedule.build_schedules`) and validate it (`routing.validate.check_route`), so
they need the whole problem in routing form (every job a visit, every crew a vehicle) and
the planned routes in routing seconds. `build_day` makes both once per call, with the
indexes the probes look things up in; the `Day` is then passed explicitly to every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dispatch.day_problem import DispatchProblem
from dispatch.models import Crew, Job
from dispatch.plan import Plan
from dispatch.planning.routed_day import OnRoutedDay, RoutedDay, routed_day
from dispatch.running.explain.model import Explanation
from dispatch.zones import locate
from routing.problem import RouteSchedule
from routing.travel import TravelModel

#: route evaluations (one timing + validation each) per `explain_plan` call
MAX_EVALUATIONS = 12_000


@dataclass
class Day(OnRoutedDay):
    """The plan as routing data, shared by all probes of one `explain_plan` call.

    A visit `v` is a job's position in `problem.jobs`, a vehicle `k` a crew's position in
    `problem.crews` (the same positions as in `full.routing`); times are routing seconds
    (`problem.to_seconds`). The fields up to `awaited` are fixed once `build_day` returns;
    only the last three change while the call explains its jobs.
    """

    plan: Plan
    #: the plan's problem in routing form, with its travel model and id <-> position maps
    routed: RoutedDay
    #: vehicle -> its planned visits in route order (crews with a route only)
    seqs: dict[int, list[int]]
    #: vehicle -> the stop position its planned lunch follows (-1: before the first stop)
    breaks: dict[int, int]
    #: vehicle -> its planned route, timed
    routes: dict[int, RouteSchedule]
    ends: dict[int, tuple[int, int]]  # planned visit -> (end, crew)
    before_of: dict[int, tuple[int, int]]  # installation visit -> (delivery visit, gap s)
    awaited: set[int]  # deliveries whose installation waits on another crew
    #: route evaluations the probes may still spend (`dispatch.running.explain.probe`)
    evaluations_left: int = MAX_EVALUATIONS
    #: unassigned job id -> its explanation: a delivery is explained once, also when the
    #: installation that waits for it asks first
    explained: dict[str, Explanation] = field(default_factory=dict)
    #: job id -> the zone its location lies in (jobs without a zone of their own)
    zones: dict[str, str | None] = field(default_factory=dict)

    @property
    def problem(self) -> DispatchProblem:
        return self.routed.problem

    def crew(self, k: int) -> Crew:
        return self.problem.crews[k]

    def zone_of(self, job: Job) -> str | None:
        if job.zone is not None or not self.problem.zones:
            return job.zone
        if job.id not in self.zones:
            self.zones[job.id] = locate([job.location], self.problem.zones)[0]
        return self.zones[job.id]


def build_day(plan: Plan, travel: TravelModel | None) -> Day:
    """Translate the plan's problem and index its routes (the travel model built if not given)."""
    routed = routed_day(plan.problem, travel)
    seqs, breaks = routed.sequences(plan)
    routes = routed.planned_schedules(plan)
    ends = {s.visit: (s.end, k) for k, r in routes.items() for s in r.stops}
    before_of = routed.links()
    awaited = {
        b for a, (b, _) in before_of.items() if a in ends and b in ends and ends[a][1] != ends[b][1]
    }
    return Day(
        plan=plan,
        routed=routed,
        seqs=seqs,
        breaks=breaks,
        routes=routes,
        ends=ends,
        before_of=before_of,
        awaited=awaited,
    )


def fixed_deliveries(day: Day, seq: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Planned deliveries on other routes that the installations in `seq` wait for.

    Held at their planned (end, crew), the `fixed` argument of `build_schedules`, so that
    re-timing one route keeps the links to the others.
    """
    on_route = set(seq)
    fixed = {}
    for x in seq:
        if x in day.before_of:
            b = day.before_of[x][0]
            if b not in on_route and b in day.ends:
                fixed[b] = day.ends[b]
    # an installation with a maximum gap pulls its delivery later (`routing.schedule`)
    for p in day.full.routing.precedences:
        pulls = p.max_gap_s is not None and p.before in on_route and p.after not in on_route
        if pulls and p.after in day.ends:
            fixed[p.after] = day.ends[p.after]
    return fixed
