"""The one home of a day in routing form: translated once, indexed, timed and read back.

Every step that works on a whole day (the planner's assembly and repair passes, a
dispatcher's override, the explanations, a re-plan, the home-healthcare adapter) needs the
same things: the travel model, each job's promise deadline, the whole problem translated to
routing types (every job a visit, every crew a vehicle, in the problem's order), the maps
between ids and positions, the plan's routes as visit sequences with their lunch positions,
re-timing (`routing.schedule.build_schedules`), the per-route rule check
(`routing.validate.check_route`) and the way back to the plan's `CrewRoute`s. `RoutedDay`
holds them; `routed_day` builds one. Before it each of those steps built its own copy with
its own index maps and loops.

The plan validator (`dispatch.plan_validator`) deliberately does not use this module: it reads
the problem on its own, so that a mistake here cannot pass both planner and validator.

Positions: visit `v` is the job's index in `problem.jobs`, vehicle `k` the crew's index in
`problem.crews`; times are plan-day seconds (`problem.to_seconds`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Self

from dispatch.day_problem import DispatchProblem
from dispatch.plan import CrewRoute, Plan, PlannedBreak, PlannedStop
from dispatch.translate import Continuation, Translation, build_travel, translate
from routing.problem import BreakTime, Precedence, RouteSchedule, StopTime
from routing.schedule import build_schedules
from routing.travel import TravelModel
from routing.validate import Violation, check_route, link_index

#: vehicle -> visits in route order
Sequences = dict[int, list[int]]
#: vehicle -> the stop position its lunch follows (-1: before the first stop)
Breaks = dict[int, int]
#: visit -> (its end, its vehicle): stops held where they are while others are re-timed
Fixed = dict[int, tuple[int, int]]


@dataclass(frozen=True)
class VisitLinks:
    """The ties between a day's visits: installation -> (its delivery, gap s); delivery -> the
    installations waiting for it; visit -> its two-person partners (other, min and max delay
    s, whether it is the first of the pair)."""

    delivery_of: dict[int, tuple[int, int]]
    waiting: dict[int, list[int]]
    partners: dict[int, list[tuple[int, int, int, bool]]]
    #: installation -> its whole link (`routing.problem.Precedence`: the maximum gap, one
    #: visit by one crew)
    rules: dict[int, Precedence] = field(default_factory=dict)
    #: visit -> the links it is in, either side (`routing.validate.link_index`, for
    #: `routing.validate.broken_links`)
    by_visit: dict[int, list[Precedence]] = field(default_factory=dict)


@dataclass(frozen=True)
class RoutedDay:
    """A day's problem in routing form, with the maps between ids and positions."""

    problem: DispatchProblem
    travel: TravelModel
    #: job id -> its promise deadline (`problem.promises`)
    deadlines: dict[str, datetime]
    #: the whole problem: every job a visit, every crew a vehicle, in the problem's order
    full: Translation
    job_pos: dict[str, int]  # job id -> visit
    crew_pos: dict[str, int]  # crew id -> vehicle

    # ---- parts of the day, for a solve

    def part(
        self,
        job_indices: Sequence[int],
        crew_indices: Sequence[int],
        eligible: dict[str, list[int]] | None = None,
        not_before: dict[str, int] | None = None,
        continuations: dict[int, Continuation] | None = None,
        not_after: dict[str, int] | None = None,
    ) -> Translation:
        """Some jobs and crews as their own routing problem (see
        `dispatch.translate.translate`
        for `eligible`, `not_before`, `continuations` and `not_after`), on this day's travel
        model."""
        return translate(
            self.problem,
            self.travel,
            self.deadlines,
            job_indices,
            crew_indices,
            eligible,
            not_before,
            continuations,
            not_after,
        )

    # ---- a plan's routes in routing form

    def sequences(self, plan: Plan) -> tuple[Sequences, Breaks]:
        """Per crew with a route: its visits in order, and the stop its lunch follows."""
        seqs: Sequences = {}
        breaks: Breaks = {}
        for r in plan.routes:
            k = self.crew_pos[r.crew_id]
            seqs[k] = [self.job_pos[s.job_id] for s in r.stops]
            if r.lunch is not None:
                breaks[k] = r.lunch.after_stop
        return seqs, breaks

    def planned_schedules(self, plan: Plan) -> dict[int, RouteSchedule]:
        """The plan's routes with the plan's own times (not re-timed), by vehicle."""
        sec = self.problem.to_seconds
        out: dict[int, RouteSchedule] = {}
        for r in plan.routes:
            k = self.crew_pos[r.crew_id]
            brk = None
            if r.lunch is not None:
                brk = BreakTime(sec(r.lunch.start), r.lunch.after_stop, r.lunch.before_travel)
            stops = [
                StopTime(self.job_pos[s.job_id], sec(s.arrival), sec(s.start), sec(s.end))
                for s in r.stops
            ]
            out[k] = RouteSchedule(k, sec(r.depart), stops, sec(r.return_at), brk)
        return out

    def links(self) -> dict[int, tuple[int, int]]:
        """Installation visit -> (the delivery visit it waits for, the link gap in seconds)."""
        return {p.after: (p.before, p.gap_s) for p in self.full.routing.precedences}

    def visit_links(self) -> VisitLinks:
        """Every tie between visits, read both ways (`VisitLinks`)."""
        delivery_of = self.links()
        waiting: dict[int, list[int]] = {}
        for inst, (dlv, _) in delivery_of.items():
            waiting.setdefault(dlv, []).append(inst)
        partners: dict[int, list[tuple[int, int, int, bool]]] = {}
        for sy in self.full.routing.syncs:
            partners.setdefault(sy.first, []).append(
                (sy.second, sy.min_delay_s, sy.max_delay_s, True)
            )
            partners.setdefault(sy.second, []).append(
                (sy.first, sy.min_delay_s, sy.max_delay_s, False)
            )
        rules = {p.after: p for p in self.full.routing.precedences}
        return VisitLinks(delivery_of, waiting, partners, rules, link_index(self.full.routing))

    # ---- timing and rules

    def time(
        self, seqs: Mapping[int, list[int]], breaks: Breaks, fixed: Fixed | None = None
    ) -> list[RouteSchedule]:
        """The routes of `seqs` timed on the whole day, crews in index order; `fixed` holds
        other crews' linked stops at their (end, crew) (`routing.schedule.build_schedules`)."""
        return build_schedules(self.full.routing, sorted(seqs.items()), breaks, fixed)

    def check(self, route: RouteSchedule) -> list[Violation]:
        """The hard rules one timed route breaks on its own (empty: none)."""
        return check_route(self.full.routing, route)

    # ---- back to the plan's terms

    def crew_routes(self, routes: Sequence[RouteSchedule]) -> list[CrewRoute]:
        """Timed routes of the whole day as the plan's crew routes, ordered by crew id."""
        return crew_routes_of(self.problem, self.deadlines, self.full, routes)


@dataclass
class TimedDay:
    """A day's routes in routing form with their planned times and the ties between visits:
    what a pass that places left-over jobs reads (and, in the planner, changes). Vehicles
    without stops are left out of `seqs`, `breaks` and `routes`."""

    routed: RoutedDay
    seqs: dict[int, list[int]]
    breaks: dict[int, int]
    routes: dict[int, RouteSchedule]
    ends: dict[int, tuple[int, int]]  # planned visit -> (end, vehicle)
    starts: dict[int, int]  # planned visit -> start
    links: VisitLinks

    @classmethod
    def of(cls, routed: RoutedDay, routes: Iterable[RouteSchedule]) -> Self:
        """The day of these timed routes."""
        by_k = {r.vehicle: r for r in routes if r.stops}
        return cls(
            routed=routed,
            seqs={k: [s.visit for s in r.stops] for k, r in by_k.items()},
            breaks={k: r.break_.after_stop for k, r in by_k.items() if r.break_ is not None},
            routes=by_k,
            ends={s.visit: (s.end, k) for k, r in by_k.items() for s in r.stops},
            starts={s.visit: s.start for r in by_k.values() for s in r.stops},
            links=routed.visit_links(),
        )


class OnRoutedDay:
    """For a dataclass that keeps a `routed: RoutedDay`: its parts under their usual names
    (the explanations' `Day` and the re-plan's `ReplanProblem` read them everywhere)."""

    routed: RoutedDay

    @property
    def travel(self) -> TravelModel:
        return self.routed.travel

    @property
    def deadlines(self) -> dict[str, datetime]:
        return self.routed.deadlines

    @property
    def full(self) -> Translation:
        """The whole problem in routing form: every job a visit, every crew a vehicle."""
        return self.routed.full

    @property
    def job_pos(self) -> dict[str, int]:
        return self.routed.job_pos

    @property
    def crew_pos(self) -> dict[str, int]:
        return self.routed.crew_pos


def routed_day(
    problem: DispatchProblem,
    travel: TravelModel | None = None,
    *,
    allowed: dict[str, list[int]] | None = None,
    lazy: bool = False,
) -> RoutedDay:
    """Translate `problem` once. `travel` is built when not given (`lazy`: see
    `dispatch.translate.build_travel`); `allowed[job_id]` restricts a job's crews
    (indices),
    as the planner's screening found them; without it kind, skills and people decide."""
    travel = travel or build_travel(problem, lazy=lazy)
    deadlines = {j.id: problem.promises.deadline(j) for j in problem.jobs}
    full = translate(
        problem, travel, deadlines, range(len(problem.jobs)), range(len(problem.crews)), allowed
    )
    return RoutedDay(
        problem=problem,
        travel=travel,
        deadlines=deadlines,
        full=full,
        job_pos={j: i for i, j in enumerate(full.job_ids)},
        crew_pos={c: k for k, c in enumerate(full.crew_ids)},
    )


def take_out(seqs: Sequences, breaks: Breaks, visit: int) -> int | None:
    """Remove `visit` from its route, the lunch staying in the same gap between stops;
    the vehicle it was on, or None if it was on none."""
    for k, seq in seqs.items():
        if visit in seq:
            i = seq.index(visit)
            del seq[i]
            if k in breaks and i <= breaks[k]:
                breaks[k] -= 1
            return k
    return None


def put_in(seqs: Sequences, breaks: Breaks, k: int, pos: int, visit: int) -> None:
    """Insert `visit` at `pos` of vehicle k's route, the lunch staying after the same stop."""
    seqs.setdefault(k, []).insert(pos, visit)
    if k in breaks and pos <= breaks[k]:
        breaks[k] += 1


def crew_routes_of(
    problem: DispatchProblem,
    deadlines: dict[str, datetime],
    tr: Translation,
    routes: Sequence[RouteSchedule],
) -> list[CrewRoute]:
    """Timed routes of translation `tr` as the plan's crew routes, ordered by crew id.

    Every plan's routes come out of here (planner, overrides, re-plans, the home-healthcare
    adapter), so a re-timed plan has exactly the shape and rounding of a planned one.
    """
    crew_routes = [_crew_route(problem, deadlines, tr, r) for r in routes]
    crew_routes.sort(key=lambda r: r.crew_id)
    return crew_routes


def _crew_route(
    problem: DispatchProblem, deadlines: dict[str, datetime], tr: Translation, r: RouteSchedule
) -> CrewRoute:
    veh = tr.routing.vehicles[r.vehicle]
    stops = [
        PlannedStop(
            tr.job_ids[s.visit],
            problem.from_seconds(s.arrival),
            problem.from_seconds(s.start),
            problem.from_seconds(s.end),
            deadlines[tr.job_ids[s.visit]],
        )
        for s in r.stops
    ]
    lunch = None
    if r.break_ is not None and veh.break_ is not None:
        lunch = PlannedBreak(
            problem.from_seconds(r.break_.start),
            veh.break_.duration_s // 60,
            r.break_.after_stop,
            r.break_.before_travel,
        )
    dist, drive = _route_totals(tr, r)
    return CrewRoute(
        tr.crew_ids[r.vehicle],
        problem.from_seconds(r.depart),
        problem.from_seconds(r.return_arrival),
        stops,
        lunch,
        dist,
        drive,
    )


def _route_totals(tr: Translation, route: RouteSchedule) -> tuple[int, int]:
    """Distance (m) and driving time (s) of a timed route, with the real travel times."""
    veh = tr.routing.vehicles[route.vehicle]
    travel = tr.routing.travel
    locs = [
        veh.start_location,
        *(tr.routing.visits[s.visit].location for s in route.stops),
        veh.end_location,
    ]
    departs = [route.depart] + [s.end for s in route.stops]
    if route.break_ is not None and route.break_.before_travel and veh.break_ is not None:
        k = route.break_.after_stop + 1
        departs[k] = max(departs[k], route.break_.start) + veh.break_.duration_s
    dist = sum(int(travel.distances[a, b]) for a, b in itertools.pairwise(locs))
    drive = sum(
        travel.travel_time(veh.profile, a, b, t)
        for (a, b), t in zip(itertools.pairwise(locs), departs, strict=True)
    )
    return dist, drive
