"""The fast check behind every quoted slot: can this visit go into some eligible crew's
tentative day, starting inside its window, and at what added driving time?

The planner's last pass (`dispatch.planning.leftovers`) answers the same question for a job
the solve left over; this module asks it with the pieces that pass made public, so a quote
and a plan judge a route by the same rules:

* every eligible crew (the screening's), every position of its route, its lunch kept in its
  gap or taken right before or right after the visit (`lunch_gaps`);
* cheap bounds that never discard a feasible trial skip the rest: the crew's job limit and
  load (`full_for`), its free hours (`busy_until`), the visit's delivery (`link_floor`), the
  window closing before the crew can be there, the next stop pushed past its last window;
* the trials left are timed (`RoutedDay.time`, other crews' linked stops held where they
  are: `fixed_elsewhere`) and judged by the route validator and the rules between routes
  (`judge_route`), fewest free-flow seconds of detour first; the first that passes is the
  answer.

Bounded by a number of timed trials per visit and window (`MAX_TRIALS`), never by the clock,
so the same day always gives the same answer. The added driving time is the crew's route's
real driving time (rush hours included) with the visit, less without it.

On a prepared day (`dispatch.booking.prepared`) a `DayIndex` makes the same check fast
(`dispatch.booking.gaps`): the bounds run on every gap of every crew at once, and a trial
whose later stops surely miss a window or the shift end is not timed. The trials, their
order and the one chosen are those of the crew-by-crew code, which still does the crews a
placed delivery changed (and everything without an index).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from dispatch.booking.gaps import DayIndex, Trial
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
from routing.problem import RouteSchedule

#: timed trials per visit and window at most (about half a millisecond each)
MAX_TRIALS = 60


@dataclass(frozen=True)
class Insertion:
    """Where the visit fits: its crew (vehicle), the new sequence and timed route, the
    visit's planned start and end (plan-day seconds) and the driving seconds it adds (never
    below 0: a detour that moves later legs out of the rush hour can shorten the route's
    driving; it is counted as adding none)."""

    vehicle: int
    visit: int
    seq: list[int]
    route: RouteSchedule
    start_s: int
    end_s: int
    added_drive_s: int


def best_insertion(
    day: LeftoverDay, v: int, crews: Iterable[int], index: DayIndex | None = None
) -> Insertion | None:
    """The cheapest place for visit v (in its current windows) on one of `crews`' routes of
    `day` that breaks no rule, or None when none is found within `MAX_TRIALS`. `index`: the
    prepared day's arrays, when `day` is that day (less the vehicles it names changed)."""
    crews = list(crews)
    by_crew = set(crews) if index is None else _by_crew(day, v, index)
    trials: Iterable[Trial] = sorted(t for k in crews if k in by_crew for t in _trials(day, v, k))
    floors = None
    if index is not None:
        floors = _floors(day, v, index.gaps.shift_start)
        fast = [k for k in crews if k not in by_crew]
        trials = heapq.merge(trials, index.gaps.trials(day, v, fast, floors))
    for _detour, k, pos, _n, gap in itertools.islice(trials, MAX_TRIALS):
        if (
            index is not None
            and floors is not None
            and index.prefixes.surely_fails(day, v, k, pos, gap, int(floors[k]))
        ):
            continue  # it would break a window, its lunch or the shift: not timed
        seq = day.seqs.get(k, [])
        new_seq = [*seq[:pos], v, *seq[pos:]]
        hints = {k: gap} if gap is not None else {}
        route = day.routed.time({k: new_seq}, hints, fixed_elsewhere(day, new_seq))[0]
        if judge_route(day, v, route, day.routed.check(route)) is not None:
            continue
        me = next(s for s in route.stops if s.visit == v)
        added = _drive_s(day, route) - _route_drive_s(day, k, index, k not in by_crew)
        return Insertion(k, v, new_seq, route, me.start, me.end, max(0, added))
    return None


def _by_crew(day: LeftoverDay, v: int, index: DayIndex) -> set[int]:
    """The vehicles to try crew by crew: those changed since the day was indexed, and the
    one carrying the delivery v waits for (its own route orders the two)."""
    out = set(index.changed)
    if v in day.links.delivery_of:
        out.add(day.ends[day.links.delivery_of[v][0]][1])
    return out


def _floors(day: LeftoverDay, v: int, shift_start: np.ndarray) -> np.ndarray:
    """Per vehicle, the earliest start of v its delivery allows (`link_floor` on a vehicle
    other than the delivery's: its end plus the link gap; no delivery: the shift start)."""
    if v not in day.links.delivery_of:
        return shift_start
    d, gap = day.links.delivery_of[v]
    end, _ = day.ends[d]
    return np.full(len(shift_start), end + gap, dtype=np.int64)


def _route_drive_s(day: LeftoverDay, k: int, index: DayIndex | None, indexed: bool) -> int:
    """The driving seconds of vehicle k's route on `day` (0: no route); kept in `index` for
    the routes it indexed."""
    if k not in day.routes:
        return 0
    if index is None or not indexed:
        return _drive_s(day, day.routes[k])
    if k not in index.drive_s:
        index.drive_s[k] = _drive_s(day, day.routes[k])
    return index.drive_s[k]


def _drive_s(day: LeftoverDay, route: RouteSchedule) -> int:
    """A timed route's driving seconds with the real travel times (the plan's `drive_s`)."""
    return day.routed.crew_routes([route])[0].drive_s


def _trials(day: LeftoverDay, v: int, k: int) -> list[Trial]:
    """The trials of visit v on vehicle k that the bounds leave."""
    p = day.routed.full.routing
    veh, visit = p.vehicles[k], p.visits[v]
    if full_for(day, v, k) is not None:
        return []
    not_before, after_pos = link_floor(day, v, k)
    closes = visit.windows[-1][1]
    free = veh.shift_end - veh.shift_start - busy_until(day, k)
    if not_before > closes or visit.service_s - MARGIN_S > free:
        return []
    seq = day.seqs.get(k, [])
    legs = p.travel.durations[veh.profile]
    places = [veh.start_location, *(p.visits[x].location for x in seq), veh.end_location]
    route, brk = day.routes.get(k), day.breaks.get(k)
    lunch_s = veh.break_.duration_s if veh.break_ is not None else 0
    found: list[Trial] = []
    for pos in range(after_pos + 1, len(seq) + 1):
        before, after = places[pos], places[pos + 1]
        drive_in = int(legs[before, visit.location])
        drive_out = int(legs[visit.location, after])
        detour = drive_in + drive_out - int(legs[before, after])
        if visit.service_s + detour - MARGIN_S > free:
            continue
        ready = veh.shift_start
        if pos and route is not None:  # a lunch taken later could free up to its length
            late_lunch = brk is not None and brk < pos - 1
            ready = route.stops[pos - 1].end - (lunch_s if late_lunch else 0)
        at_door = max(ready + drive_in, not_before)
        if at_door - MARGIN_S > closes:
            continue
        begins = next(
            (max(at_door, a) for a, b in visit.windows if at_door - MARGIN_S <= b), closes
        )
        gone = begins + visit.service_s + drive_out
        limit = p.visits[seq[pos]].windows[-1][1] if pos < len(seq) else veh.shift_end
        if gone - MARGIN_S > limit:
            continue
        gaps = lunch_gaps(veh, brk, pos, len(seq))
        found += [(detour, k, pos, n, gap) for n, gap in enumerate(gaps)]
    return found
