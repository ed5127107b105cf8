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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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

#: (free-flow detour seconds, vehicle, position, lunch choice, lunch gap)
Trial = tuple[int, int, int, int, int | None]


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


def best_insertion(day: LeftoverDay, v: int, crews: Iterable[int]) -> Insertion | None:
    """The cheapest place for visit v (in its current windows) on one of `crews`' routes of
    `day` that breaks no rule, or None when none is found within `MAX_TRIALS`."""
    trials: list[Trial] = []
    for k in crews:
        trials += _trials(day, v, k)
    trials.sort()
    for _detour, k, pos, _n, gap in trials[:MAX_TRIALS]:
        seq = day.seqs.get(k, [])
        new_seq = [*seq[:pos], v, *seq[pos:]]
        hints = {k: gap} if gap is not None else {}
        route = day.routed.time({k: new_seq}, hints, fixed_elsewhere(day, new_seq))[0]
        if judge_route(day, v, route, day.routed.check(route)) is not None:
            continue
        me = next(s for s in route.stops if s.visit == v)
        added = _drive_s(day, route) - (_drive_s(day, day.routes[k]) if k in day.routes else 0)
        return Insertion(k, v, new_seq, route, me.start, me.end, max(0, added))
    return None


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
