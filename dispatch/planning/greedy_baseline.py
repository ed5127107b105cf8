"""A baseline dispatchers know: greedy nearest-crew dispatch (issue 19).

Dispatch is often done by hand like this: take the jobs in the order of their promise, most
urgent first, and give each to the nearest crew that can still fit it at the end of its day
so far. `greedy_plan` does exactly that, so the engine's plan can be compared with what a
careful dispatcher without an optimiser would get (`dispatch.planning.greedy_compare`):

* the jobs the screening (`dispatch.planning.feasibility.screen`) finds servable, sorted by
  the planner's own promise deadline (`RoutedDay.deadlines`, the planning clock), earliest
  first; an installation never before its delivery (it takes the later of the two deadlines
  and goes after it);
* for each job, the crews the screening found eligible, nearest first: metres from where the
  crew is now (its start depot, or its last stop), ties by crew order;
* the job is appended after the crew's last stop, never inserted between stops (a dispatcher
  hands out the next job); the first crew where the route then keeps every hard rule takes
  it: windows, shift end with the drive back, the lunch inside its window (kept where it was,
  or taken right before or right after the new job), the vehicle's load, the jobs-per-day
  cap, and the installation's start after its delivery's end (+ the link gap on another
  crew). The route is timed by the engine's own rules (`RoutedDay.time`, the schedule
  builder every plan is timed with) and judged by the route validator and the rules between
  routes, reusing the last pass's helpers (`dispatch.planning.leftovers`);
* an installation whose delivery is not planned is not planned (`linked_delivery_unassigned`);
  a job that fits no crew gets the reason that binds for the crew that came closest
  (`dispatch.planning.leftover_reasons`); a two-person visit is not planned (a dispatcher's
  baseline hands out one crew per job).

Cheap lower bounds (free-flow durations, every congestion factor being >= 1, with
`MARGIN_S` slack) rule a crew out before a route is timed, so the 4,000-job peak day, where
hundreds of installations fit nowhere, stays within seconds. The whole day is timed once at
the end (`assemble.time_day`), turned into a `Plan` (`assemble.to_plan`) and checked by the
independent validator; nothing depends on the clock, so the same day gives the same plan.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from dispatch.day_problem import DispatchProblem
from dispatch.plan import Plan, UnassignedReason
from dispatch.plan_validator import PlanInvalid, validate_plan
from dispatch.planning.assemble import DaySequences, time_day, to_plan
from dispatch.planning.feasibility import screen
from dispatch.planning.leftover_reasons import Miss, reason_for
from dispatch.planning.leftovers import (
    MARGIN_S,
    LeftoverDay,
    busy_until,
    fixed_elsewhere,
    full_for,
    judge_route,
    link_floor,
    lunch_gaps,
)
from dispatch.planning.routed_day import RoutedDay, routed_day
from dispatch.translate import build_travel
from routing.problem import RouteSchedule
from routing.travel import TravelModel

#: the detail of a two-person visit, which the baseline does not plan
TWO_PERSON_DETAIL = "a two-person visit: nearest-crew dispatch gives each job to one crew"


@dataclass
class _Outcome:
    """One job offered to its crews: the route that took it, else the closest miss."""

    taken: tuple[int, list[int], RouteSchedule] | None
    miss: Miss | None
    crews_tried: int
    timed: int


def greedy_plan(
    problem: DispatchProblem, travel: TravelModel | None = None, *, validate: bool = True
) -> Plan:
    """The day dispatched greedily, nearest crew first (module doc), as a timed `Plan`.

    `travel` is built (lazily, as the planner builds it) when not given. With `validate`
    the plan is checked by `dispatch.plan_validator` and `PlanInvalid` raised should it
    break a rule. `plan.stats` holds `wall_s`, `greedy_trials` (routes timed) and
    `greedy_crews_tried` (crews considered, bounds included)."""
    started = time.monotonic()
    travel = travel or build_travel(problem, lazy=True)
    screening = screen(problem, travel)
    allowed = {j.id: screening.eligible.get(j.id, []) for j in problem.jobs}
    routed = routed_day(problem, travel, allowed=allowed)
    day = LeftoverDay.of(routed, [])
    misses: dict[int, Miss] = {}
    reasons: dict[str, tuple[UnassignedReason, str]] = {}
    timed = tried = 0
    for v in promise_order(routed, screening.eligible):
        job_id = routed.full.job_ids[v]
        if v in day.links.partners:
            reasons[job_id] = (UnassignedReason.NO_CAPACITY_LEFT, TWO_PERSON_DETAIL)
            continue
        if v in day.links.delivery_of and day.links.delivery_of[v][0] not in day.ends:
            continue  # its delivery is not planned: `to_plan` gives the reason
        outcome = _offer(day, v, screening.eligible[job_id])
        timed += outcome.timed
        tried += outcome.crews_tried
        if outcome.taken is not None:
            day.commit(*outcome.taken)
        elif outcome.miss is not None:
            misses[v] = outcome.miss
    for v, miss in misses.items():
        reasons[routed.full.job_ids[v]] = reason_for(routed, day.ends, v, miss)
    routes, drops = time_day(routed, DaySequences(day.seqs, day.breaks))
    plan = to_plan(routed, routes, drops, screening.unassigned, None, reasons)
    plan.stats.update(
        wall_s=round(time.monotonic() - started, 2),
        greedy_trials=timed,
        greedy_crews_tried=tried,
    )
    if validate:
        violations = validate_plan(plan, travel)
        if violations:
            raise PlanInvalid(violations)
    return plan


def promise_order(routed: RoutedDay, eligible: Mapping[str, list[int]]) -> list[int]:
    """The servable visits in the order they are handed out: by promise deadline, earliest
    first (the planner's deadlines), an installation right after its delivery when its own
    deadline is not later; ties in the problem's order."""
    links = routed.links()
    ids = routed.full.job_ids

    def due(v: int) -> datetime:
        return routed.deadlines[ids[v]]

    def key(v: int) -> tuple[datetime, bool, int]:
        if v in links:
            return max(due(v), due(links[v][0])), True, v
        return due(v), False, v

    return sorted((routed.job_pos[j] for j in eligible), key=key)


def _offer(day: LeftoverDay, v: int, crews: list[int]) -> _Outcome:
    """Visit v to the nearest of `crews` whose route still fits it at its end."""
    p = day.routed.full.routing
    here = np.array([_position(day, k) for k in crews], dtype=np.int64)
    metres = np.asarray(p.travel.distances[here, p.visits[v].location], dtype=np.int64)
    best: Miss | None = None

    def missed(m: Miss) -> None:
        nonlocal best
        if best is None or m.badness < best.badness:
            best = m

    timed = 0
    order = sorted(range(len(crews)), key=lambda i: (int(metres[i]), crews[i]))
    for n, i in enumerate(order, start=1):
        k = crews[i]
        gaps = _end_gaps(day, v, k, missed)
        new_seq = [*day.seqs.get(k, []), v]
        fixed = fixed_elsewhere(day, new_seq) if gaps else {}
        for gap in gaps:
            timed += 1
            hints = {k: gap} if gap is not None else {}
            route = day.routed.time({k: new_seq}, hints, fixed)[0]
            miss = judge_route(day, v, route, day.routed.check(route))
            if miss is None:
                return _Outcome((k, new_seq, route), None, n, timed)
            missed(miss)
    return _Outcome(None, best, len(crews), timed)


def _position(day: LeftoverDay, k: int) -> int:
    """Where vehicle k is now (a location of the day's routing problem): its last stop, or
    its start depot while it has none."""
    p = day.routed.full.routing
    seq = day.seqs.get(k)
    return p.visits[seq[-1]].location if seq else p.vehicles[k].start_location


def _end_gaps(day: LeftoverDay, v: int, k: int, missed: Callable[[Miss], None]) -> list[int | None]:
    """The lunch gaps worth timing for visit v appended to vehicle k's route (`lunch_gaps`),
    or none when a lower bound already rules the crew out (reported to `missed`): its job
    limit or load, the delivery's end, the free hours of its shift, the job's last window,
    or the drive back before its shift end."""
    p = day.routed.full.routing
    veh, visit = p.vehicles[k], p.visits[v]
    full = full_for(day, v, k)
    if full is not None:
        missed(full)
        return []
    closes = visit.windows[-1][1]
    not_before, _ = link_floor(day, v, k)
    if not_before > closes:
        delivery = day.links.delivery_of[v][0]
        missed(Miss(k, "link", not_before - closes, 0, at=not_before, other=delivery))
        return []
    seq = day.seqs.get(k, [])
    base = p.travel.durations[veh.profile]
    here = _position(day, k)
    to_job = int(base[here, visit.location])
    back = int(base[visit.location, veh.end_location])
    added = visit.service_s + to_job + back - int(base[here, veh.end_location])
    free = veh.shift_end - veh.shift_start - busy_until(day, k)
    if added - MARGIN_S > free:
        missed(Miss(k, "shift", added - free, 0, bound=True))
        return []
    brk = day.breaks.get(k)
    ready = veh.shift_start
    if seq:  # a lunch between earlier stops could move after the job, freeing its length
        lunch = veh.break_.duration_s if veh.break_ is not None else 0
        moved = lunch if brk is not None and brk < len(seq) - 1 else 0
        ready = day.routes[k].stops[-1].end - moved
    earliest = max(ready + to_job, not_before)
    if earliest - MARGIN_S > closes:
        missed(Miss(k, "window", earliest - closes, 0, at=earliest, bound=True))
        return []
    start = next(max(earliest, a) for a, b in visit.windows if earliest - MARGIN_S <= b)
    home = start + visit.service_s + back
    if home - MARGIN_S > veh.shift_end:
        missed(Miss(k, "shift", home - veh.shift_end, 0, at=home, bound=True))
        return []
    return lunch_gaps(veh, brk, len(seq), len(seq))


__all__ = ["TWO_PERSON_DETAIL", "greedy_plan", "promise_order"]
