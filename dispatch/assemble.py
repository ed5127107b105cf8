"""Assemble the day: merge the solves' visit sequences, time them on the whole problem, and
translate the result into a `Plan`.

The final timing runs once over all jobs and crews (one full translation), so links between
a delivery and an installation planned in different solves are timed together. Should the
re-timing of merged sequences ever break a hard rule (rounding at a zone border, a break that
no longer fits), the offending stop is taken out and reported unassigned with that reason,
rather than returning an invalid plan; `stats["timing_drops"]` counts such cases.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime

from dispatch.models import JobKind
from dispatch.plan import CrewRoute, Plan, PlannedBreak, PlannedStop, Unassigned, UnassignedReason
from dispatch.problem import DispatchProblem
from dispatch.translate import Translation
from routing.problem import RouteSchedule, RoutingSolution
from routing.schedule import build_schedules
from routing.validate import validate_solution

MAX_REPAIRS = 50


@dataclass
class DaySequences:
    """Per crew index: the job indices in visiting order and where its break goes."""

    jobs: dict[int, list[int]] = field(default_factory=dict)
    breaks: dict[int, int] = field(default_factory=dict)

    def add(
        self,
        tr: Translation,
        sol: RoutingSolution,
        job_pos: dict[str, int],
        crew_pos: dict[str, int],
    ) -> None:
        for r in sol.routes:
            crew = crew_pos[tr.crew_ids[r.vehicle]]
            first = crew not in self.jobs
            seq = self.jobs.setdefault(crew, [])
            if first and r.break_ is not None:
                self.breaks[crew] = r.break_.after_stop
            seq.extend(job_pos[tr.job_ids[s.visit]] for s in r.stops)

    def planned(self) -> set[int]:
        return set(itertools.chain.from_iterable(self.jobs.values()))


def time_day(full: Translation, day: DaySequences) -> tuple[list[RouteSchedule], list[int]]:
    """Timed routes on the full problem, and job indices taken out because they broke a rule."""
    seqs = {k: list(v) for k, v in day.jobs.items() if v}
    dropped: list[int] = []
    for _ in range(MAX_REPAIRS):
        routes = build_schedules(full.routing, sorted(seqs.items()), day.breaks)
        on_routes = set(itertools.chain.from_iterable(seqs.values()))
        unassigned = [i for i in range(len(full.routing.visits)) if i not in on_routes]
        bad = _offending_visits(full, RoutingSolution(routes, unassigned), seqs)
        if not bad:
            return routes, dropped
        for k, seq in seqs.items():
            if k in day.breaks:  # the break stays after the same remaining stop
                day.breaks[k] -= sum(1 for v in seq[: day.breaks[k] + 1] if v in bad)
            seq[:] = [v for v in seq if v not in bad]
        dropped += sorted(bad)
    raise RuntimeError("could not time the merged routes")  # pragma: no cover


def _offending_visits(
    full: Translation, sol: RoutingSolution, seqs: dict[int, list[int]]
) -> set[int]:
    ids = {v.id: i for i, v in enumerate(full.routing.visits)}
    bad: set[int] = set()
    for v in validate_solution(full.routing, sol):
        if v.rule == "accounting":
            continue
        if v.visit is not None:
            bad.add(ids[v.visit])
        elif v.vehicle is not None:  # a route-level rule: shorten that route from its end
            k = full.crew_ids.index(v.vehicle)
            if seqs.get(k):
                bad.add(seqs[k][-1])
    return bad


def to_plan(
    problem: DispatchProblem,
    deadlines: dict[str, datetime],
    full: Translation,
    routes: list[RouteSchedule],
    timing_drops: list[int],
    pre_unassigned: list[Unassigned],
    unsolved: dict[str, str] | None = None,
) -> Plan:
    """The Plan: timed routes, and every job not on a route unassigned with its reason.

    `unsolved[job_id]` names the group whose solve found no solution at all in time.
    """
    unsolved = unsolved or {}
    crew_routes = crew_routes_of(problem, deadlines, full, routes)
    planned = {s.job_id for r in crew_routes for s in r.stops}
    screened = {u.job_id for u in pre_unassigned}
    ordered = {j.order_id for j in problem.jobs if j.kind is JobKind.DELIVERY}
    delivered = {j.order_id for j in problem.jobs if j.kind is JobKind.DELIVERY and j.id in planned}
    dropped = {full.job_ids[v] for v in timing_drops}
    unassigned = list(pre_unassigned)
    for job in problem.jobs:
        if job.id in planned or job.id in screened:
            continue
        if job.kind is JobKind.INSTALLATION and job.order_id in ordered - delivered:
            reason, detail = (
                UnassignedReason.LINKED_JOB_UNASSIGNED,
                f"the delivery of order {job.order_id} is not planned",
            )
        elif job.id in unsolved:
            reason, detail = UnassignedReason.NOT_SOLVED_IN_TIME, unsolved[job.id]
        elif job.id in dropped:
            reason, detail = (
                UnassignedReason.NO_CAPACITY_LEFT,
                "no longer fitted its crew's day when the zones' routes were timed together",
            )
        else:
            reason, detail = (
                UnassignedReason.NO_CAPACITY_LEFT,
                "eligible crews' days are full at this job's windows",
            )
        unassigned.append(Unassigned(job.id, reason, detail))
    return Plan(problem, crew_routes, unassigned, {"timing_drops": len(dropped)})


def crew_routes_of(
    problem: DispatchProblem,
    deadlines: dict[str, datetime],
    full: Translation,
    routes: list[RouteSchedule],
) -> list[CrewRoute]:
    """Timed routes of `full` as the plan's crew routes, ordered by crew id.

    Shared by the planner and by dispatcher overrides (`dispatch.overrides`), so a plan
    re-timed after a manual move has exactly the shape and rounding of a planned one.
    """
    crew_routes = [_crew_route(problem, deadlines, full, r) for r in routes]
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
