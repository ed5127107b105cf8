"""Independent validator: replays every route from the travel matrices and checks every rule.

It shares no code with the optimizer's model or the schedule builder: it takes the problem and
a solution as data, recomputes each arrival with the real, time-dependent travel times
(`TravelModel.travel_time`), and reports every broken rule as a `Violation`. Lateness against
soft deadlines is not a violation; `lateness` reports it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from routing.problem import Precedence, RouteSchedule, RoutingProblem, RoutingSolution, Vehicle


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str
    visit: str | None = None
    vehicle: str | None = None

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


def validate_solution(problem: RoutingProblem, solution: RoutingSolution) -> list[Violation]:
    """Every violation of a hard rule in `solution`; an empty list means the plan is valid."""
    out: list[Violation] = []
    out += _check_accounting(problem, solution)
    ends: dict[int, tuple[int, int]] = {}  # visit -> (end time, vehicle)
    starts: dict[int, tuple[int, int]] = {}
    for route in solution.routes:
        if not 0 <= route.vehicle < len(problem.vehicles):
            out.append(Violation("vehicle", f"route for unknown vehicle {route.vehicle}"))
            continue
        out += check_route(problem, route)
        for s in route.stops:
            ends[s.visit] = (s.end, route.vehicle)
            starts[s.visit] = (s.start, route.vehicle)
    if len(Counter(r.vehicle for r in solution.routes)) != len(solution.routes):
        out.append(Violation("vehicle", "a vehicle has more than one route"))
    out += _check_precedences(problem, solution, starts, ends)
    out += _check_syncs(problem, starts)
    return out


def _check_precedences(
    problem: RoutingProblem,
    solution: RoutingSolution,
    starts: dict[int, tuple[int, int]],
    ends: dict[int, tuple[int, int]],
) -> list[Violation]:
    """Linked visits: `after` only with `before`, after its end (+ gap on another vehicle),
    within the maximum gap, and in the same visit where the link asks for one."""
    out = []
    position = {s.visit: (r.vehicle, k) for r in solution.routes for k, s in enumerate(r.stops)}
    for p in problem.precedences:
        before, after = problem.visits[p.before], problem.visits[p.after]
        if p.after in starts and p.before not in ends:
            out.append(
                Violation("precedence", f"{after.id} is planned but {before.id} is not", after.id)
            )
        elif p.after in starts:
            start_after, v_after = starts[p.after]
            end_before, v_before = ends[p.before]
            gap = p.gap_s if v_after != v_before else 0
            next_stop = position[p.after] == (v_before, position[p.before][1] + 1)
            found = p.broken(end_before, v_before, start_after, v_after, next_stop)
            if found is None:
                continue
            rule, _ = found
            if rule == "precedence":
                message = (
                    f"{after.id} starts at {start_after} before {before.id} ends at "
                    f"{end_before} + gap {gap}"
                )
            elif rule == "max_gap":
                message = (
                    f"{after.id} starts at {start_after}, {start_after - end_before} s after "
                    f"{before.id} ends at {end_before}: more than the maximum gap of "
                    f"{p.max_gap_s} s"
                )
            else:
                message = (
                    f"{after.id} is not served right after {before.id} by the same vehicle "
                    "(one visit)"
                )
            out.append(Violation(rule, message, after.id))
    return out


#: the last few link indexes (`link_index`), keyed on their precedence list's identity
_INDEXES: list[tuple[list[Precedence], int, dict[int, list[Precedence]]]] = []


def link_index(problem: RoutingProblem) -> dict[int, list[Precedence]]:
    """Visit -> the links (`Precedence`) it is in, either side, for `broken_links`, which a
    repair pass calls for every trial. The last few are kept, keyed on the identity and
    length of the problem's precedence list (as `routing.schedule` keeps its link index)."""
    for precedences, n, index in _INDEXES:
        if precedences is problem.precedences and n == len(precedences):
            return index
    out: dict[int, list[Precedence]] = {}
    for p in problem.precedences:
        out.setdefault(p.before, []).append(p)
        out.setdefault(p.after, []).append(p)
    _INDEXES.insert(0, (problem.precedences, len(problem.precedences), out))
    del _INDEXES[4:]
    return out


def order_rules(problem: RoutingProblem) -> bool:
    """Does any link have a maximum gap or ask for one visit (what `broken_links` adds to
    the order and gap a repair pass checks itself)?"""
    return any(p.max_gap_s is not None or p.same_vehicle for p in problem.precedences)


def broken_links(
    problem: RoutingProblem,
    route: RouteSchedule,
    elsewhere: Mapping[int, tuple[int, int]],
    index: Mapping[int, list[Precedence]],
) -> list[tuple[Precedence, str, int]]:
    """The links of `route`'s stops that it breaks, between its own stops and with visits
    planned on other routes (`elsewhere[visit] = (end, vehicle)`; a visit on `route` is read
    from `route`): (link, rule as `Precedence.broken` names it, seconds past the bound; 0
    for "same_vehicle"). A link whose other visit is planned nowhere is left to the caller.
    `index` is `link_index(problem)`."""
    pos = {s.visit: n for n, s in enumerate(route.stops)}
    out = []
    seen: set[int] = set()
    for s in route.stops:
        for p in index.get(s.visit, ()):
            if id(p) in seen:
                continue
            seen.add(id(p))
            if p.before in pos:
                end, v_before = route.stops[pos[p.before]].end, route.vehicle
            elif p.before in elsewhere:
                end, v_before = elsewhere[p.before]
            else:
                continue
            if p.after in pos:
                start, v_after = route.stops[pos[p.after]].start, route.vehicle
            elif p.after in elsewhere:
                done, v_after = elsewhere[p.after]
                start = done - problem.visits[p.after].service_s
            else:
                continue
            next_stop = p.before in pos and pos.get(p.after) == pos[p.before] + 1
            found = p.broken(end, v_before, start, v_after, next_stop)
            if found is None:
                continue
            rule = found[0]
            if rule == "max_gap":
                assert p.max_gap_s is not None  # (the rule is only broken with one)
                over = start - end - p.max_gap_s
            elif rule == "precedence":
                over = end + (p.gap_s if v_after != v_before else 0) - start
            else:
                over = 0
            out.append((p, rule, over))
    return out


def _check_syncs(problem: RoutingProblem, starts: dict[int, tuple[int, int]]) -> list[Violation]:
    """Two-person visits: both served or neither, by two vehicles, starts `min..max` apart."""
    out = []
    for sy in problem.syncs:
        first, second = problem.visits[sy.first], problem.visits[sy.second]
        served = (sy.first in starts, sy.second in starts)
        if served[0] != served[1]:
            lone, other = (first, second) if served[0] else (second, first)
            out.append(Violation("sync", f"{lone.id} is planned but {other.id} is not", lone.id))
            continue
        if not served[0]:
            continue
        (start1, veh1), (start2, veh2) = starts[sy.first], starts[sy.second]
        if veh1 == veh2:
            out.append(
                Violation("sync", f"{first.id} and {second.id} are on the same vehicle", second.id)
            )
        delay = start2 - start1
        if not sy.min_delay_s <= delay <= sy.max_delay_s:
            out.append(
                Violation(
                    "sync",
                    f"{second.id} starts {delay} s after {first.id}, outside "
                    f"[{sy.min_delay_s}, {sy.max_delay_s}]",
                    second.id,
                )
            )
    return out


def _check_accounting(problem: RoutingProblem, solution: RoutingSolution) -> list[Violation]:
    """Each visit exactly once: on one route or in the unassigned list."""
    out = []
    seen = Counter(s.visit for r in solution.routes for s in r.stops)
    seen.update(solution.unassigned)
    n = len(problem.visits)
    for v, count in seen.items():
        if not 0 <= v < n:
            out.append(Violation("accounting", f"unknown visit index {v}"))
        elif count > 1:
            out.append(
                Violation("accounting", "visit appears more than once", problem.visits[v].id)
            )
    for v in range(n):
        if v not in seen:
            out.append(
                Violation(
                    "accounting", "visit neither planned nor unassigned", problem.visits[v].id
                )
            )
    return out


def check_route(problem: RoutingProblem, route: RouteSchedule) -> list[Violation]:  # noqa: C901 - the independent validator's flat list of per-stop rule checks
    veh: Vehicle = problem.vehicles[route.vehicle]
    out: list[Violation] = []

    def bad(rule: str, msg: str, visit: str | None = None) -> None:
        out.append(Violation(rule, msg, visit, veh.id))

    if route.depart < veh.shift_start:
        bad("shift", f"departs at {route.depart} before shift start {veh.shift_start}")
    if veh.max_visits is not None and len(route.stops) > veh.max_visits:
        bad("max_visits", f"{len(route.stops)} stops > max {veh.max_visits}")
    load = [0] * problem.demand_dims
    for s in route.stops:
        visit = problem.visits[s.visit]
        if visit.allowed_vehicles is not None and route.vehicle not in visit.allowed_vehicles:
            bad("allowed_vehicle", "vehicle not allowed for this visit", visit.id)
        for d, q in enumerate(visit.demand):
            load[d] += q
    if veh.capacity:
        for d, (q, cap) in enumerate(zip(load, veh.capacity, strict=True)):
            if q > cap:
                bad("capacity", f"load {q} > capacity {cap} in dimension {d}")

    brk = route.break_
    if veh.break_ is not None and brk is None:
        bad("break", "the vehicle's break is not scheduled")
    if brk is not None:
        if veh.break_ is None:
            bad("break", "a break is scheduled for a vehicle that has none")
        elif not veh.break_.window_start <= brk.start <= veh.break_.latest_start:
            bad("break", f"break starts at {brk.start}, outside its window")
        if not -1 <= brk.after_stop < len(route.stops):
            bad("break", f"break position {brk.after_stop} outside the route")
    brk_dur = veh.break_.duration_s if (veh.break_ and brk) else 0

    t = route.depart
    loc = veh.start_location
    for k in range(len(route.stops) + 1):
        last_leg = k == len(route.stops)
        dest = veh.end_location if last_leg else problem.visits[route.stops[k].visit].location
        here = brk if brk is not None and brk.after_stop == k - 1 else None  # the break, here
        if here is not None and here.before_travel:
            if here.start < t:
                bad("break", f"break starts at {here.start} before the crew is free at {t}")
            t = max(t, here.start) + brk_dur
        arrival = t + problem.travel.travel_time(veh.profile, loc, dest, t)
        ready = arrival
        if here is not None and not here.before_travel:
            if here.start < arrival:
                bad("break", f"break starts at {here.start} before arrival at {arrival}")
            ready = max(arrival, here.start + brk_dur)
        if last_leg:
            if route.return_arrival != arrival:
                bad("time", f"return at {route.return_arrival}, recomputed {arrival}")
            if max(route.return_arrival, ready) > veh.shift_end:
                bad("shift", f"returns at {max(arrival, ready)} after shift end {veh.shift_end}")
            break
        stop = route.stops[k]
        visit = problem.visits[stop.visit]
        if stop.arrival != arrival:
            bad("time", f"arrival {stop.arrival} differs from recomputed {arrival}", visit.id)
        if stop.start < ready:
            bad("time", f"starts at {stop.start} before the crew is ready at {ready}", visit.id)
        if not any(a <= stop.start <= b for a, b in visit.windows):
            bad("window", f"starts at {stop.start} outside its windows {visit.windows}", visit.id)
        if stop.end != stop.start + visit.service_s:
            bad("time", f"ends at {stop.end}, expected start + {visit.service_s}", visit.id)
        t = stop.end
        loc = visit.location
    return out


def lateness(problem: RoutingProblem, solution: RoutingSolution) -> dict[int, int]:
    """Seconds past the soft deadline for each planned visit that has one (0 when on time)."""
    out = {}
    for r in solution.routes:
        for s in r.stops:
            deadline = problem.visits[s.visit].deadline_s
            if deadline is not None:
                out[s.visit] = max(0, s.end - deadline)
    return out
