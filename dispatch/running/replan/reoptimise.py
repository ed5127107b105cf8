"""Re-optimise: one warm-started OR-Tools solve for the jobs insertion could not place
(phase 3 of `dispatch.running.replan`; only when jobs are still unplaced and time is left).

The solve covers the crews near the unplaced jobs (at most `MAX_SOLVE_CREWS`, those with at
least half an hour of shift left after their prefix), each continuing from its pinned +
frozen prefix (`Continuation`), **warm-started from the current sequences**
(`SolveParams.initial_routes`). Kept stops may be re-ordered within their ETA tolerance (a
hard bound here: their windows are cut to the ETA told + tolerance) but not given to another
crew. A crew's new route is taken where it serves an unplaced job and, re-timed for real,
breaks no rule; a kept stop the solver left out for it must then fit another crew by
phase-2 insertion (an urgent job can push a normal one to a neighbour, never off the plan),
else the crew keeps today's sequence.

Like every OR-Tools solve cut by the clock, it is reproducible only with `solution_limit`.
"""

from __future__ import annotations

import dataclasses

from dispatch.running.replan.insert import after_delivery, candidates, insert, target_crews
from dispatch.running.replan.problem import ReplanProblem
from dispatch.running.replan.sequences import CrewSequences, Ledger
from dispatch.running.replan.settle import time_routes
from dispatch.translate import Continuation, Translation, job_demand, job_location
from routing.ortools_model import SolveParams, solve
from routing.problem import RouteSchedule, RoutingSolution
from routing.schedule import build_schedules
from routing.validate import broken_links, check_route, link_index, order_rules

#: phase 3 looks at most at this many crews
MAX_SOLVE_CREWS = 40
#: the phase-3 search runs until its time is up (guided local search does not stop by
#: itself), so small sub-problems get less: 0.5 s + 30 ms per visit, within the budget
SOLVE_BASE_S = 0.5
SOLVE_PER_VISIT_S = 0.03


def reoptimise(
    rp: ReplanProblem, day: CrewSequences, ledger: Ledger, left: list[int], budget_s: float
) -> list[int]:
    """One OR-Tools solve over the crews near the unplaced jobs, from today's routes."""
    p = rp.sched
    left = [v for v in left if v not in rp.expired]
    targets = target_crews(rp)
    crews = sorted({k for v in left for k in candidates(rp, day, v, targets)})
    routes = {r.vehicle: r for r in time_routes(rp, day)}
    crews = [k for k in crews if _free_from(rp, day, k, routes) < p.vehicles[k].shift_end - 1800]
    if not crews or not left:
        return []
    if len(crews) > MAX_SOLVE_CREWS:
        crews = crews[:MAX_SOLVE_CREWS]
    kept = [v for k in crews for v in day.seqs.get(k, [])[day.prefix.get(k, 0) :]]
    visits = left + kept
    own = {v: k for k in crews for v in day.seqs.get(k, [])[day.prefix.get(k, 0) :]}
    tr = _sub_problem(rp, day, crews, visits, own, routes)
    local = {v: i for i, v in enumerate(visits)}
    initial = [[local[v] for v in day.seqs.get(k, [])[day.prefix.get(k, 0) :]] for k in crews]
    params = SolveParams(
        time_limit_s=min(budget_s, SOLVE_BASE_S + SOLVE_PER_VISIT_S * len(visits)),
        solution_limit=rp.opt.solution_limit,
        initial_routes=initial,
    )
    sol = solve(tr.routing, params)
    ledger.stats["solver_solutions"] = sol.stats.get("solutions", 0)
    ledger.stats["reoptimised_crews"] = len(crews)
    return _take_solution(rp, day, ledger, crews, visits, own, sol)


def _sub_problem(
    rp: ReplanProblem,
    day: CrewSequences,
    crews: list[int],
    visits: list[int],
    own: dict[int, int],
    routes: dict[int, RouteSchedule],
) -> Translation:
    """The solve's problem: `visits` on `crews`, each kept stop on its own crew within its
    ETA tolerance, each crew going on from its prefix, nothing before `at`."""
    p = rp.sched
    eligible = {}
    for v in visits:
        job_id = rp.full.job_ids[v]
        if v in own:
            eligible[job_id] = [own[v]]
        else:
            allowed = p.visits[v].allowed_vehicles
            eligible[job_id] = [k for k in crews if allowed is None or k in set(allowed)]
    ends = {s.visit: (s.end, r.vehicle) for r in routes.values() for s in r.stops}
    not_before = {}
    not_after = {}
    for pr in p.precedences:
        if pr.after in set(visits) and pr.before not in set(visits) and pr.before in ends:
            end, k = ends[pr.before]
            not_before[rp.full.job_ids[pr.after]] = end + pr.gap_s
            if pr.max_gap_s is not None:
                not_after[rp.full.job_ids[pr.after]] = end + pr.max_gap_s
    conts = {k: _continuation(rp, day, k, routes) for k in crews if day.prefix.get(k, 0)}
    tr = rp.routed.part(visits, crews, eligible, not_before, conts, not_after)
    sub = tr.routing
    current = {s.visit: s for r in routes.values() for s in r.stops}
    for i, v in enumerate(visits):
        # kept stops start no later than the ETA told + tolerance (or than now planned)
        upper: int | None = None  # None: no such bound
        if v in own and v in rp.notified:
            upper = max(current[v].start, rp.notified[v] + rp.tolerance_s)
        floor = max(rp.at_s, not_before.get(tr.job_ids[i], 0))
        ceiling = not_after.get(tr.job_ids[i])  # its delivery's end + its maximum gap
        if ceiling is not None:
            upper = ceiling if upper is None else min(upper, ceiling)
        windows = []
        for a, b in p.visits[v].windows:
            lo, hi = max(a, floor), (b if upper is None else min(b, upper))
            if lo <= hi:
                windows.append((lo, hi))
        keep = sub.visits[i]
        penalty = keep.drop_penalty * (100 if v in own else 1)
        sub.visits[i] = dataclasses.replace(
            keep, windows=tuple(windows) or keep.windows, drop_penalty=penalty
        )
    for pos, k in enumerate(crews):
        if not day.prefix.get(k, 0):
            veh = sub.vehicles[pos]
            start = max(veh.shift_start, p.vehicles[k].shift_start)
            sub.vehicles[pos] = dataclasses.replace(veh, shift_start=start)
    return tr


def _take_solution(
    rp: ReplanProblem,
    day: CrewSequences,
    ledger: Ledger,
    crews: list[int],
    visits: list[int],
    own: dict[int, int],
    sol: RoutingSolution,
) -> list[int]:
    """Take the solver's route of each crew where it serves more and, timed for real,
    breaks no rule; a kept stop it leaves out must fit another crew (phase-2
    insertion), else that crew keeps today's sequence."""
    tails: dict[int, list[int]] = {k: [] for k in crews}
    breaks: dict[int, int] = {}
    for r in sol.routes:
        k = crews[r.vehicle]
        tails[k] = [visits[s.visit] for s in r.stops]
        if r.break_ is not None:
            breaks[k] = r.break_.after_stop
    placed: list[int] = []
    taken = 0
    for k in crews:
        gained = [v for v in tails[k] if v not in own and v not in placed]
        if not gained:
            continue
        n = day.prefix.get(k, 0)
        head, old_tail = day.seqs.get(k, [])[:n], day.seqs.get(k, [])[n:]
        lost = [v for v in old_tail if v not in tails[k]]
        seq = head + [v for v in tails[k] if v in own or v in gained]
        hint = day.hints.get(k)
        if hint is not None and not rp.break_taken.get(k, True):
            hint = n + breaks[k] if k in breaks else hint
            hint = max(min(hint, len(seq) - 1), day.pinned.get(k, 0) - 1)
        if not _fits(rp, day, k, seq, hint, gained, lost):
            continue
        if not _hand_over(rp, day, ledger, k, seq, hint, lost):
            continue
        placed += gained
        taken += 1
    ledger.stats["solver_crews_taken"] = taken
    return placed


def _fits(
    rp: ReplanProblem,
    day: CrewSequences,
    k: int,
    seq: list[int],
    hint: int | None,
    gained: list[int],
    lost: list[int],
) -> bool:
    """Crew k's new sequence, timed for real, breaks no rule, ends no awaited delivery later,
    starts each gained installation after its delivery, and leaves no awaited delivery out."""
    p = rp.sched
    current = {r.vehicle: r for r in time_routes(rp, day)}
    ends = {s.visit: (s.end, r.vehicle) for r in current.values() for s in r.stops}
    route = build_schedules(p, [(k, seq)], {k: hint} if hint is not None else {}, ends)[0]
    old_ends = {s.visit: s.end for s in current[k].stops} if k in current else {}
    return not (
        check_route(p, route)
        or any(s.visit in rp.awaited and s.end > old_ends.get(s.visit, s.end) for s in route.stops)
        or any(
            v in rp.before_of and not after_delivery(route, v, rp.before_of[v], ends)
            for v in gained
        )
        or any(v in rp.awaited for v in lost)
        # an order's maximum gap or one visit, against the other routes as they stand
        or (order_rules(p) and bool(broken_links(p, route, ends, link_index(p))))
    )


def _hand_over(
    rp: ReplanProblem,
    day: CrewSequences,
    ledger: Ledger,
    k: int,
    seq: list[int],
    hint: int | None,
    lost: list[int],
) -> bool:
    """Give crew k its new sequence; the kept stops it lost must fit other crews by
    insertion, else everything is put back as it was (False)."""
    snapshot = day.copy()
    day.seqs[k] = seq
    day.pinned.setdefault(k, 0)
    day.prefix.setdefault(k, 0)
    if hint is not None:
        day.hints[k] = hint
    if lost:
        for v in lost:
            ledger.origin.setdefault(v, k)
        if len(insert(rp, day, ledger, lost)) < len(lost):
            day.restore(snapshot)
            for v in lost:
                if ledger.origin.get(v) == k:
                    del ledger.origin[v]
            return False
    return True


def _free_from(
    rp: ReplanProblem, day: CrewSequences, k: int, routes: dict[int, RouteSchedule]
) -> int:
    n = day.prefix.get(k, 0)
    if not n or k not in routes:
        return rp.sched.vehicles[k].shift_start
    return routes[k].stops[n - 1].end


def _continuation(
    rp: ReplanProblem, day: CrewSequences, k: int, routes: dict[int, RouteSchedule]
) -> Continuation:
    """Crew k's day after its pinned + frozen stops, for the phase-3 solve."""
    n = day.prefix[k]
    r = routes[k]
    last = r.stops[n - 1]
    free_at = last.end
    hint = day.hints.get(k)
    taken = hint is not None and hint <= n - 1
    veh = rp.sched.vehicles[k]
    brk = r.break_
    if taken and brk is not None and brk.after_stop == n - 1 and brk.before_travel:
        assert veh.break_ is not None
        free_at = max(free_at, brk.start + veh.break_.duration_s)
    load = [0, 0]
    for v in day.seqs[k][:n]:
        d = job_demand(rp.base.jobs[v])
        load[0] += d[0]
        load[1] += d[1]
    return Continuation(
        location=job_location(rp.base, day.seqs[k][n - 1]),
        free_at=free_at,
        visits_used=n,
        load_used=(load[0], load[1]),
        break_done=taken or veh.break_ is None,
    )
