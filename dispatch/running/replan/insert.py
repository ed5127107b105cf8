"""Insert: place the orphans (stops released by settling, a gone crew's stops) and the new
jobs (phase 2 of `dispatch.running.replan`).

A disruption-aware cheapest insertion after each available crew's pinned + frozen prefix:
cost = added metres + `eta_weight_m` for each customer whose ETA moves beyond the tolerance
+ `late_weight_m_per_min` x priority weight for each minute of promise lateness added +
`move_weight_m` when a job goes to another crew than it had. Awaited deliveries go first,
then by priority weight, deadline and id. An insertion may not make a delivery an
installation waits for end later, and an installation must start after its delivery (plus
the link gap when on another crew). Only crews whose day passes within `reach_m` of the job
are tried (else the nearest few). Bounded by a number of evaluations, not by the clock:
deterministic.
"""

from __future__ import annotations

import dataclasses
import itertools

from dispatch.plan import Unassigned
from dispatch.planning.feasibility import screen
from dispatch.running.replan.pairs import keeps_pairs
from dispatch.running.replan.problem import ReplanProblem
from dispatch.running.replan.sequences import CrewSequences, Ledger
from dispatch.running.replan.settle import time_routes
from dispatch.translate import build_travel
from routing.problem import RouteSchedule
from routing.schedule import build_schedules
from routing.validate import broken_links, check_route, link_index, order_rules

#: when no eligible crew passes within reach of a job, try this many of the nearest
NEAREST_FALLBACK = 5

#: visit -> (end, crew) of every timed stop
Ends = dict[int, tuple[int, int]]
#: the best place found so far: ((cost, moved, crew, position), lunch hint, timed route)
Best = tuple[tuple[float, bool, int, int], int | None, RouteSchedule]


def screen_new(rp: ReplanProblem) -> dict[str, Unassigned]:
    """Reasons for new jobs no crew could ever do (kind, skills, capacity, region...)."""
    if not rp.state.new_jobs:
        return {}
    small = dataclasses.replace(rp.base, jobs=list(rp.state.new_jobs))
    return {u.job_id: u for u in screen(small, build_travel(small)).unassigned}


def insert(rp: ReplanProblem, day: CrewSequences, ledger: Ledger, orphans: list[int]) -> list[int]:
    """Insert orphans where they cost least (see the module docstring); return them."""
    p = rp.sched
    routes = {r.vehicle: r for r in time_routes(rp, day)}
    ends = {s.visit: (s.end, r.vehicle) for r in routes.values() for s in r.stops}
    order = sorted(
        (v for v in orphans if v not in rp.expired),
        key=lambda v: (
            v not in rp.awaited,
            -rp.weight[v],
            p.visits[v].deadline_s or 0,
            rp.full.job_ids[v],
        ),
    )
    targets = target_crews(rp)
    inserted: list[int] = []
    evaluations = 0
    for v in order:
        if evaluations >= rp.opt.max_evaluations:
            break
        if v in rp.before_of and rp.before_of[v][0] not in ends:
            continue  # its delivery is not planned: it cannot be done
        best, evaluations = _cheapest_place(rp, day, ledger, v, targets, routes, ends, evaluations)
        if best is None:
            continue
        (_, _, k, pos), hint, route = best
        day.insert(k, pos, v, hint)
        routes[k] = route
        for s in route.stops:
            ends[s.visit] = (s.end, k)
        inserted.append(v)
    ledger.stats["evaluations"] = ledger.stats.get("evaluations", 0) + evaluations
    return inserted


def _cheapest_place(
    rp: ReplanProblem,
    day: CrewSequences,
    ledger: Ledger,
    v: int,
    targets: list[int],
    routes: dict[int, RouteSchedule],
    ends: Ends,
    evaluations: int,
) -> tuple[Best | None, int]:
    """The cheapest crew and position for v that breaks no rule (None if none), and the
    evaluations count after the search."""
    p = rp.sched
    best: Best | None = None
    for k in candidates(rp, day, v, targets):
        seq = day.seqs.get(k, [])
        old = routes.get(k)
        base = route_cost(rp, k, seq, old)
        old_ends = {s.visit: s.end for s in old.stops} if old else {}
        old_starts = [s.start for s in old.stops] if old else []
        for pos in range(day.prefix.get(k, 0), len(seq) + 1):
            if pos and old_starts[pos - 1] > p.visits[v].latest_start:
                break  # later positions start even later
            evaluations += 1
            new_seq = [*seq[:pos], v, *seq[pos:]]
            hint = day.hints.get(k)
            if hint is not None and pos <= hint:
                hint += 1
            hints = {k: hint} if hint is not None else {}
            route = build_schedules(p, [(k, new_seq)], hints, ends)[0]
            if not _keeps_rules(rp, route, v, old_ends, ends):
                continue
            cost = route_cost(rp, k, new_seq, route) - base
            moved = ledger.origin.get(v) is not None and ledger.origin[v] != k
            if moved:
                cost += rp.opt.move_weight_m
            key = (cost, moved, k, pos)  # on a tie, the crew it had
            if best is None or key < best[0]:
                best = (key, hint, route)
        if evaluations >= rp.opt.max_evaluations:
            break
    return best, evaluations


def _keeps_rules(
    rp: ReplanProblem, route: RouteSchedule, v: int, old_ends: dict[int, int], ends: Ends
) -> bool:
    """Route (with v inserted) breaks no rule, ends no awaited delivery later than before,
    keeps v's two-crew visits (`keeps_pairs`) and, when v is an installation, starts it
    after its delivery."""
    if check_route(rp.sched, route):
        return False
    if any(s.visit in rp.awaited and s.end > old_ends.get(s.visit, s.end) for s in route.stops):
        return False
    if rp.sched.syncs and not keeps_pairs(rp.sched, route, v, ends):
        return False
    if order_rules(rp.sched) and broken_links(rp.sched, route, ends, link_index(rp.sched)):
        return False  # an order's maximum gap or one visit
    return not (v in rp.before_of and not after_delivery(route, v, rp.before_of[v], ends))


def after_delivery(route: RouteSchedule, v: int, link: tuple[int, int], ends: Ends) -> bool:
    """Installation v starts on `route` after its delivery ends (+ the gap on another crew)."""
    before, gap = link
    start = next(s.start for s in route.stops if s.visit == v)
    own = next((s.end for s in route.stops if s.visit == before), None)
    if own is not None:
        return start >= own
    if before not in ends:
        return False  # its delivery is on no route
    end, _ = ends[before]
    return start >= end + gap


def route_cost(rp: ReplanProblem, k: int, seq: list[int], route: RouteSchedule | None) -> float:
    """Metres plus the disruption (ETAs beyond tolerance, lateness) of one timed route."""
    if route is None:
        return 0.0
    p = rp.sched
    veh = p.vehicles[k]
    locs = [veh.start_location, *(p.visits[v].location for v in seq), veh.end_location]
    metres = float(sum(int(p.travel.distances[a, b]) for a, b in itertools.pairwise(locs)))
    eta_bad = 0
    late = 0.0
    for s in route.stops:
        if s.visit in rp.pinned_v:
            continue
        told = rp.notified.get(s.visit)
        if told is not None and abs(s.start - told) > rp.tolerance_s:
            eta_bad += 1
        deadline = p.visits[s.visit].deadline_s
        if deadline is not None and s.end > deadline:
            late += rp.weight[s.visit] * (s.end - deadline) / 60
    return metres + rp.opt.eta_weight_m * eta_bad + rp.opt.late_weight_m_per_min * late


def target_crews(rp: ReplanProblem) -> list[int]:
    """The crews that can still take a job: not gone, shift not over."""
    return [
        k for k in range(len(rp.sched.vehicles)) if k not in rp.unavailable and k not in rp.day_over
    ]


def candidates(rp: ReplanProblem, day: CrewSequences, v: int, targets: list[int]) -> list[int]:
    """Eligible crews whose day passes within reach of v (else the nearest few)."""
    p = rp.sched
    allowed = p.visits[v].allowed_vehicles
    ks = targets if allowed is None else [k for k in targets if k in set(allowed)]
    loc = p.visits[v].location
    dist = []
    for k in ks:
        veh = p.vehicles[k]
        near = [veh.start_location, *(p.visits[x].location for x in day.seqs.get(k, []))]
        dist.append((int(p.travel.distances[loc, near].min()), k))
    within = sorted(k for d, k in dist if d <= rp.opt.reach_m)
    return within or sorted(k for _, k in sorted(dist)[:NEAREST_FALLBACK])
