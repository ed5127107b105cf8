"""Last repair: insert the jobs no solve could place into existing routes where they fit.

The zone solves cannot move a job into another zone's crew's day, and the second pass only
appends after a crew's last stop; a morning job next to a zone border can still fit between
two stops of the neighbouring zone's crew. This pass tries every eligible crew within reach
and every position, times the changed route with the real travel times, keeps only
insertions that break no hard rule and delay no delivery whose installation another crew
waits for (nor break an order's maximum gap or one visit: `routing.validate.broken_links`),
and takes the one that adds the fewest metres. Most urgent jobs first.

It is bounded by a number of route evaluations, not by the clock, so it stays deterministic.
"""

from __future__ import annotations

import itertools

from dispatch.planning.assemble import DaySequences
from dispatch.translate import Translation
from routing.problem import Precedence, RoutingProblem
from routing.schedule import build_schedules
from routing.validate import broken_links, check_route, link_index, order_rules

#: how far (metres, road) a crew's route may pass from a job to be tried for it
REACH_M = 15_000


def _route_metres(full: Translation, vehicle: int, seq: list[int]) -> int:
    p = full.routing
    veh = p.vehicles[vehicle]
    locs = [veh.start_location, *(p.visits[v].location for v in seq), veh.end_location]
    return int(sum(int(p.travel.distances[a, b]) for a, b in itertools.pairwise(locs)))


def insert_leftovers(  # noqa: C901, PLR0915 - greedy insertion loop with precedence and sync bookkeeping; split into candidate search and commit steps
    full: Translation,
    day: DaySequences,
    left: list[int],
    eligible: dict[int, list[int]],
    max_evaluations: int = 15_000,
) -> list[int]:
    """Insert what fits; return the visits inserted. `eligible[visit]` lists crew indices."""
    p = full.routing
    timed = build_schedules(p, sorted((k, s) for k, s in day.jobs.items() if s), day.breaks)
    routes = {r.vehicle: r for r in timed}
    ends = {s.visit: (s.end, r.vehicle) for r in timed for s in r.stops}
    awaited = {pr.before for pr in p.precedences}  # deliveries an installation waits for
    before_of = {pr.after: pr.before for pr in p.precedences}
    # visits whose timing a visit's start depends on: its predecessors and sync partners
    preds_of: dict[int, list[int]] = {}
    for pr in p.precedences:
        preds_of.setdefault(pr.after, []).append(pr.before)
    order_rules = _order_rules(p, preds_of)
    for sy in p.syncs:
        preds_of.setdefault(sy.second, []).append(sy.first)
        preds_of.setdefault(sy.first, []).append(sy.second)
    # half of a two-crew visit is not tried: only a solve or the last pass places pairs
    synced = {i for sy in p.syncs for i in (sy.first, sy.second)}
    order = sorted(
        (v for v in left if v not in synced),
        key=lambda v: (v not in awaited, -p.visits[v].drop_penalty, v),
    )
    inserted: list[int] = []
    evaluations = 0
    for v in order:
        if v in before_of and before_of[v] not in ends:
            continue  # its delivery is not planned: it cannot be done
        loc = p.visits[v].location
        best = None
        for k in eligible.get(v, []):
            seq = day.jobs.get(k, [])
            veh = p.vehicles[k]
            near = [veh.start_location, *(p.visits[x].location for x in seq)]
            if int(p.travel.distances[loc, near].min()) > REACH_M:
                continue
            old = routes.get(k)
            old_ends = {s.visit: s.end for s in old.stops} if old else {}
            old_starts = [s.start for s in old.stops] if old else []
            base_m = _route_metres(full, k, seq)
            for pos in range(len(seq) + 1):
                if pos and old_starts[pos - 1] > p.visits[v].latest_start:
                    break  # later positions start even later: too late for v's windows
                evaluations += 1
                new_seq = [*seq[:pos], v, *seq[pos:]]
                brk = day.breaks.get(k)
                if brk is not None and pos <= brk:
                    brk += 1
                hints = {k: brk} if brk is not None else {}
                # Only the linked visits of this route's stops matter to its timing: passing
                # those, not the whole day's `ends`, keeps an evaluation cheap at 10,000 jobs.
                linked = {b: ends[b] for x in new_seq for b in preds_of.get(x, ()) if b in ends}
                route = build_schedules(p, [(k, new_seq)], hints, linked)[0]
                if check_route(p, route):
                    continue
                if any(
                    s.visit in awaited and s.end > old_ends.get(s.visit, s.end) for s in route.stops
                ):
                    continue
                if v in before_of and not _after_delivery(p, route, v, before_of[v], ends, k):
                    continue
                if order_rules and broken_links(p, route, linked, order_rules):
                    continue
                cost = _route_metres(full, k, new_seq) - base_m
                if best is None or cost < best[0]:
                    best = (cost, k, new_seq, brk, route)
            if evaluations >= max_evaluations:
                break
        if best is not None:
            _, k, new_seq, brk, route = best
            day.jobs[k] = new_seq
            if brk is not None:
                day.breaks[k] = brk
            routes[k] = route
            for s in route.stops:
                ends[s.visit] = (s.end, k)
            inserted.append(v)
        if evaluations >= max_evaluations:
            break
    return inserted


def _order_rules(p: RoutingProblem, preds_of: dict[int, list[int]]) -> dict[int, list[Precedence]]:
    """The day's links by visit (`routing.validate.link_index`) when an order has a maximum
    gap or asks for one visit, so that every trial's links are checked
    (`routing.validate.broken_links`); empty otherwise. A delivery with a maximum gap is
    timed against its installation (which pulls it later): added to `preds_of`."""
    for pr in p.precedences:
        if pr.max_gap_s is not None:
            preds_of.setdefault(pr.before, []).append(pr.after)
    return link_index(p) if order_rules(p) else {}


def _after_delivery(p, route, v: int, before: int, ends, k: int) -> bool:
    """The installation starts after its delivery ends (+ gap on another crew)."""
    start = next(s.start for s in route.stops if s.visit == v)
    end_before, veh_before = next(
        ((s.end, k) for s in route.stops if s.visit == before), ends[before]
    )
    gap = next(pr.gap_s for pr in p.precedences if pr.after == v) if veh_before != k else 0
    return start >= end_before + gap
