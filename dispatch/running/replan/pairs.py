"""Two-crew visits in a re-plan: placed whole or taken off whole.

A re-plan moves stops one at a time (a gone crew's stops inserted elsewhere, a warm-started
solve near the unplaced ones), so half of a two-crew visit (`DispatchProblem.syncs`: an
assisted job and its assisting job) can end up alone, on its partner's crew, or too far from
its partner's start. `keeps_pairs` is the insertion's test for one trial; `pairs_whole` is
the last step before the new plan is built: every pair that the phases left broken comes
off the plan whole (its halves not started yet), with the reason. A half already started or
done stays (facts are facts) and `started_alone` lists its sync so the new plan's problem
leaves it out: the crew on site is not un-planned by the validator.
"""

from __future__ import annotations

from dispatch.running.replan.problem import ReplanProblem
from dispatch.running.replan.sequences import CrewSequences
from dispatch.running.replan.settle import time_routes
from routing.problem import RouteSchedule, RoutingProblem, Sync


def keeps_pairs(
    p: RoutingProblem, route: RouteSchedule, v: int, ends: dict[int, tuple[int, int]]
) -> bool:
    """Visit v, timed on `route`, keeps each of its syncs with a planned partner: the
    partner on another crew, the second starting within the delays after the first (a
    partner not planned yet is for `pairs_whole` to settle)."""
    starts = {s.visit: s.start for s in route.stops}
    for sy in p.syncs:
        if v not in (sy.first, sy.second):
            continue
        other = sy.second if v == sy.first else sy.first
        if other in starts:
            return False  # both on one crew
        if other not in ends:
            continue
        other_start = ends[other][0] - p.visits[other].service_s
        first, second = (starts[v], other_start) if v == sy.first else (other_start, starts[v])
        if not sy.min_delay_s <= second - first <= sy.max_delay_s:
            return False
    return True


def _broken(sy: Sync, starts: dict[int, tuple[int, int]]) -> bool:
    if (sy.first in starts) != (sy.second in starts):
        return True
    if sy.first not in starts:
        return False
    (a, ka), (b, kb) = starts[sy.first], starts[sy.second]
    return ka == kb or not sy.min_delay_s <= b - a <= sy.max_delay_s


def pairs_whole(rp: ReplanProblem, day: CrewSequences) -> tuple[set[int], list[Sync]]:
    """Take every broken pair off the plan (its halves not started); return the visits taken
    off and the syncs left broken by a half already started (see the module docstring)."""
    p = rp.sched
    taken: set[int] = set()
    started_alone: list[Sync] = []
    for _ in range(len(p.syncs) + 1):
        routes = time_routes(rp, day)
        starts = {s.visit: (s.start, r.vehicle) for r in routes for s in r.stops}
        broken = [sy for sy in p.syncs if sy not in started_alone and _broken(sy, starts)]
        if not broken:
            break
        crew_of = day.crew_of()
        for sy in broken:
            halves = (sy.first, sy.second)
            if any(v in rp.pinned_v for v in halves):
                started_alone.append(sy)
                continue
            for v in halves:
                if v in crew_of and v in day.seqs.get(crew_of[v], []):
                    day.remove(crew_of[v], v)
                    taken.add(v)
    return taken, started_alone
