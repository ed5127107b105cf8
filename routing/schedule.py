"""Turn visit sequences into timed routes with the real, time-dependent travel times.

The optimizer decides who does what in which order (and roughly where the break goes); this
module times it: every stop starts as early as its window, its linked predecessor and the
crew allow, which keeps promise lateness as small as the sequence permits. Because the
optimizer planned with travel times that bound the real ones from above, these earliest times
are never later than the optimizer's, so the windows it respected stay respected.

Cross-route links (installation after a delivery done by another crew, two-person visits
synchronised across crews) are resolved by repeating the forward pass until no start time
moves; start times only grow, so this ends at the earliest times that satisfy every link.
A maximum gap between two linked visits (`Precedence.max_gap_s`) is the one bound that
points backwards: the first visit starts no earlier than the second's start less its own
service and the gap, so a delivery is timed late enough for an installation its windows
hold back (the least times satisfying every bound, as for the syncs).
"""

from __future__ import annotations

from collections.abc import Sequence

from routing.problem import BreakTime, RouteSchedule, RoutingProblem, StopTime, Vehicle
from routing.travel import apply_factor


def earliest_in_windows(t: int, windows: Sequence[tuple[int, int]]) -> int | None:
    """The earliest time >= t inside one of the windows, or None if all have closed."""
    for a, b in windows:
        if t <= b:
            return max(t, a)
    return None


def build_schedules(
    problem: RoutingProblem,
    sequences: Sequence[tuple[int, list[int]]],
    break_positions: dict[int, int] | None = None,
    fixed: dict[int, tuple[int, int]] | None = None,
) -> list[RouteSchedule]:
    """Timed routes for (vehicle, visit sequence) pairs.

    `break_positions[vehicle]` is the stop position after which the optimizer placed the
    break (-1: before the first stop); missing means "first leg where it fits".
    `fixed[visit] = (end, vehicle)` gives visits on routes not being timed here, so links to
    them are respected when only some routes are re-timed.
    """
    break_positions = break_positions or {}
    fixed = fixed or {}
    preds, synced, pulls = _link_index(problem)
    vehicle_of = {v: veh for v, (_, veh) in fixed.items()}
    vehicle_of.update({v: veh for veh, seq in sequences for v in seq})
    base_ends = {v: end for v, (end, _) in fixed.items()}
    ends: dict[int, int] = dict(base_ends)
    routes: list[RouteSchedule] = []
    # Syncs and maximum gaps pull both ways (a start bound each way), so they may need one
    # pass per visit, as Bellman-Ford does on a difference-constraint graph without positive
    # cycles: the visits timed here are its only variables (`fixed` ones are constants), so
    # one pass per timed visit, + 2, is enough. More would only follow a positive cycle
    # (an installation two stops after its delivery that must start the moment it ends),
    # whose times grow each pass until the validator refuses them anyway: an insertion
    # trial of such a route took 590 passes in the demo day's crew mode `combined`.
    two_way = problem.syncs or any(p.max_gap_s is not None for p in problem.precedences)
    passes = len(problem.precedences) + 2 + (len(problem.visits) if two_way else 0)
    passes = min(passes, sum(len(seq) for _, seq in sequences) + 2)
    for _ in range(passes):
        routes = [
            _time_route(
                problem, veh, seq, break_positions.get(veh), preds, ends, vehicle_of, synced, pulls
            )
            for veh, seq in sequences
        ]
        new_ends = base_ends | {s.visit: s.end for r in routes for s in r.stops}
        if new_ends == ends:
            break
        ends = new_ends
    return routes


Links = dict[int, list[tuple[int, int]]]
#: the link indexes of the last few problems timed (see `_link_index`)
_LINK_CACHE: list[tuple[list, list, int, int, tuple[Links, Links, Links]]] = []
_LINK_CACHE_SIZE = 4


def _link_index(problem: RoutingProblem) -> tuple[Links, Links, Links]:
    """Per visit: its (predecessor, gap) links, its (sync partner, offset) bounds and its
    (linked successor, maximum gap) pulls.

    Repairs and re-plans time one route thousands of times against the same problem (the
    insertion repair of a 4,000-job day: 15,000 times); rebuilding this index from the day's
    ~1,000 links on every call was half of that repair's time. So the last few indexes are
    kept, keyed on the identity and length of the problem's link lists (the references kept
    here keep those lists alive, so an identity is never reused by another list). Entries
    are never changed, only added and dropped, so threads sharing the cache can at worst
    miss and rebuild an index.
    """
    precedences, syncs = problem.precedences, problem.syncs
    for entry in _LINK_CACHE:
        same = entry[0] is precedences and entry[1] is syncs
        if same and (entry[2], entry[3]) == (len(precedences), len(syncs)):
            return entry[4]
    preds: Links = {}
    for p in precedences:
        preds.setdefault(p.after, []).append((p.before, p.gap_s))
    # synced[v]: (partner, offset): v starts no earlier than the partner's start + offset
    synced: Links = {}
    for sy in syncs:
        synced.setdefault(sy.second, []).append((sy.first, sy.min_delay_s))
        synced.setdefault(sy.first, []).append((sy.second, -sy.max_delay_s))
    # pulls[v]: (successor, max gap): v ends no earlier than the successor's start - max gap
    pulls: Links = {}
    for p in precedences:
        if p.max_gap_s is not None:
            pulls.setdefault(p.before, []).append((p.after, p.max_gap_s))
    index = (preds, synced, pulls)
    _LINK_CACHE.insert(0, (precedences, syncs, len(precedences), len(syncs), index))
    del _LINK_CACHE[_LINK_CACHE_SIZE:]
    return index


def _time_route(
    problem: RoutingProblem,
    vehicle: int,
    seq: list[int],
    break_after: int | None,
    preds: dict[int, list[tuple[int, int]]],
    ends: dict[int, int],
    vehicle_of: dict[int, int],
    synced: dict[int, list[tuple[int, int]]] | None = None,
    pulls: dict[int, list[tuple[int, int]]] | None = None,
) -> RouteSchedule:
    veh = problem.vehicles[vehicle]
    travel = problem.travel
    stops: list[StopTime] = []
    brk: BreakTime | None = None
    t = veh.shift_start
    loc = veh.start_location
    for k in range(len(seq) + 1):
        last = k == len(seq)
        dest = veh.end_location if last else problem.visits[seq[k]].location
        take_break = (
            veh.break_ is not None
            and brk is None
            and ((break_after is None and _break_due(veh, t, k, len(seq))) or break_after == k - 1)
        )
        if take_break:
            arrival, ready, brk = _leg_with_break(problem, veh, loc, dest, t, k - 1)
        else:
            arrival = t + travel.travel_time(veh.profile, loc, dest, t)
            ready = arrival
        if last:
            return RouteSchedule(
                vehicle, _late_departure(problem, veh, stops, brk), stops, arrival, brk
            )
        v = seq[k]
        visit = problem.visits[v]
        lower = ready
        for before, gap in preds.get(v, ()):
            if before in ends:
                lower = max(lower, ends[before] + (gap if vehicle_of.get(before) != vehicle else 0))
        for partner, offset in (synced or {}).get(v, ()):
            if partner in ends:  # the partner's start is its end less its service
                lower = max(lower, ends[partner] - problem.visits[partner].service_s + offset)
        for after, max_gap in (pulls or {}).get(v, ()):
            if after in ends:  # end no earlier than the linked visit's start less the gap
                start_after = ends[after] - problem.visits[after].service_s
                lower = max(lower, start_after - max_gap - visit.service_s)
        start = earliest_in_windows(lower, visit.windows)
        if start is None:  # windows closed: keep timing so the validator names the stop
            start = lower
        stops.append(StopTime(v, arrival, start, start + visit.service_s))
        t = start + visit.service_s
        loc = visit.location
    raise AssertionError("unreachable")


def _break_due(veh: Vehicle, t: int, k: int, n: int) -> bool:
    """Without a hint, take the break on the first leg that ends inside its window."""
    assert veh.break_ is not None
    return t + veh.break_.duration_s >= veh.break_.window_start or k == n


def _leg_with_break(
    problem: RoutingProblem, veh: Vehicle, loc: int, dest: int, t: int, after_stop: int
) -> tuple[int, int, BreakTime]:
    """Arrival, ready time and break for a leg with the break: before or after driving."""
    assert veh.break_ is not None
    b = veh.break_
    travel = problem.travel
    # Break first, then drive.
    b1 = max(t, b.window_start)
    dep1 = b1 + b.duration_s
    arr1 = dep1 + travel.travel_time(veh.profile, loc, dest, dep1)
    # Drive first, then break while waiting.
    arr2 = t + travel.travel_time(veh.profile, loc, dest, t)
    b2 = max(arr2, b.window_start)
    ready2 = b2 + b.duration_s
    ok1, ok2 = b1 <= b.latest_start, b2 <= b.latest_start
    if ok2 and (not ok1 or ready2 < arr1):
        return arr2, ready2, BreakTime(b2, after_stop, before_travel=False)
    return arr1, arr1, BreakTime(b1, after_stop, before_travel=True)


def _late_departure(
    problem: RoutingProblem, veh: Vehicle, stops: list[StopTime], brk: BreakTime | None
) -> int:
    """Leave the depot as late as still arrives in time for the first stop.

    Crews are not sent out hours early to wait at a door. Uses the day's worst congestion, so
    the real arrival is never after the planned start; the first arrival is recomputed.
    """
    if not stops or (brk is not None and brk.after_stop == -1):
        return veh.shift_start
    first = stops[0]
    visit = problem.visits[first.visit]
    base = int(problem.travel.durations[veh.profile][veh.start_location, visit.location])
    worst = max([1000] + [f for _, _, f in problem.travel.congestion.slices])
    depart = max(veh.shift_start, first.start - int(apply_factor(base, worst)))
    arrival = depart + problem.travel.travel_time(
        veh.profile, veh.start_location, visit.location, depart
    )
    stops[0] = StopTime(first.visit, arrival, first.start, first.end)
    return depart
