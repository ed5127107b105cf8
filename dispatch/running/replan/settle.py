"""Settle: what is fixed before anything is placed (phase 1 of `dispatch.running.replan`).

1. `initial_sequences`: each crew's sequence from the plan: pinned stops by actual start,
   then the rest in planned order; the leading not-yet-started stops planned to start by
   `at + freeze_minutes` (and always the one the crew is driving to) are frozen. A crew gone
   by `at` loses every stop not started; a crew that has not left its depot leaves at `at`
   at the earliest, and one whose shift is over by then takes nothing new.
2. `settle_pinned`: the crews made to fit the facts: a shift start moved earlier when a crew
   began earlier than the travel model allows, a shift end or lunch window moved later when
   the facts keep it past them, and a fact the model cannot reproduce moved to the earliest
   time it allows (`stats["facts_adjusted"]`).
3. `settle`: time every crew's day and release the stops that break a rule, the latest
   first, until none does (a lunch is first tried at another position); a gone crew's stops
   that would start at or after it leaves are released too. Released stops become orphans
   (`Ledger.origin`), for the insertion phase (`dispatch.running.replan.insert`).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from dispatch.plan import CrewRoute
from dispatch.running.replan.problem import ReplanProblem
from dispatch.running.replan.sequences import CrewSequences, Ledger
from routing.problem import Break, RouteSchedule
from routing.schedule import build_schedules
from routing.travel import apply_factor
from routing.validate import Violation, broken_links, check_route, link_index, order_rules

#: rounds of "time, release what breaks a rule" before giving up (each releases >= 1 stop)
MAX_ROUNDS = 200
#: violations that name the stop at fault; any other is about the whole route
STOP_RULES = {"window", "time", "allowed_vehicle", "precedence"}


# ---- 1. the sequences from the plan


def initial_sequences(rp: ReplanProblem, ledger: Ledger) -> CrewSequences:
    """Sequences from the plan: pinned by actual start, then the rest in planned order."""
    day = CrewSequences({}, {}, {}, {})
    routes = {r.crew_id: r for r in rp.plan.routes}
    for _, r in sorted(routes.items()):
        _crew_sequence(rp, ledger, day, r)
    rp.frozen_v = {v for k, seq in day.seqs.items() for v in seq[day.pinned[k] : day.prefix[k]]}
    _leave_from_at(rp, day, routes)
    return day


def _crew_sequence(rp: ReplanProblem, ledger: Ledger, day: CrewSequences, r: CrewRoute) -> None:
    """One crew's sequence, pinned and frozen stops counted, and its lunch position."""
    state, at = rp.state, rp.state.at
    k = rp.crew_pos[r.crew_id]
    ids = [s.job_id for s in r.stops if s.job_id in rp.job_pos]
    old_pos = {s.job_id: i for i, s in enumerate(r.stops)}
    pinned = sorted((j for j in ids if j in rp.facts), key=lambda j: rp.facts[j][0])
    rest = [j for j in ids if j not in rp.facts]
    gone_at = state.unavailable.get(r.crew_id)
    frozen: list[str] = []
    if gone_at is not None and gone_at <= at:
        for j in rest:
            ledger.origin[rp.job_pos[j]] = k
        rest = []
    elif gone_at is None:
        left_depot = (pinned and pinned[-1] in state.done) or (not pinned and r.depart <= at)
        horizon = at + timedelta(minutes=rp.opt.freeze_minutes)
        for i, j in enumerate(rest):
            if (i == 0 and left_depot) or rp.old_stops[j][1].start <= horizon:
                frozen.append(j)
            else:
                break
    seq = [rp.job_pos[j] for j in pinned + rest]
    day.seqs[k] = seq
    day.pinned[k] = len(pinned)
    day.prefix[k] = len(pinned) + len(frozen)
    if r.lunch is not None:
        a = r.lunch.after_stop
        hint = sum(1 for j in pinned + rest if old_pos[j] <= a) - 1
        taken = r.lunch.start < at
        rp.break_taken[k] = taken
        day.hints[k] = hint if taken else max(hint, len(pinned) - 1)


def _leave_from_at(rp: ReplanProblem, day: CrewSequences, routes: dict[str, CrewRoute]) -> None:
    """A crew that has not left its depot leaves at `at` at the earliest."""
    at = rp.state.at
    vehicles = rp.sched.vehicles
    for k, veh in enumerate(vehicles):
        r = routes.get(rp.full.crew_ids[k])
        if day.pinned.get(k):
            continue
        if r is not None and r.depart <= at:
            continue
        if rp.at_s >= veh.shift_end:
            rp.day_over.add(k)
        elif rp.at_s > veh.shift_start:
            vehicles[k] = dataclasses.replace(veh, shift_start=rp.at_s)


# ---- 2. the crews made to fit the facts


def settle_pinned(rp: ReplanProblem, day: CrewSequences, ledger: Ledger) -> None:
    """Relax what the facts force (see the module docstring), from the pinned stops only."""
    p = rp.sched
    worst = max([1000] + [f for _, _, f in p.travel.congestion.slices])
    for k, n in day.pinned.items():
        if not n:
            continue
        veh = p.vehicles[k]
        first = p.visits[day.seqs[k][0]]
        s0 = first.windows[0][0]
        base = int(p.travel.durations[veh.profile][veh.start_location, first.location])
        t = veh.shift_start
        if t + p.travel.travel_time(veh.profile, veh.start_location, first.location, t) > s0:
            start = max(0, s0 - int(apply_factor(base, worst)))
            p.vehicles[k] = dataclasses.replace(veh, shift_start=start)
            rp.crew_patch.setdefault(k, {})["shift_start"] = start
    adjusted = 0
    for _ in range(4):
        seqs = {k: day.seqs[k][:n] for k, n in day.pinned.items() if n}
        hints = {k: min(h, day.pinned[k] - 1) for k, h in day.hints.items() if day.pinned.get(k)}
        routes = build_schedules(p, sorted(seqs.items()), hints)
        changed = False
        for r in routes:
            for s in r.stops:
                window = p.visits[s.visit].windows[0]
                if s.start != window[0]:  # the model cannot reproduce this fact
                    p.visits[s.visit] = dataclasses.replace(
                        p.visits[s.visit], windows=((s.start, s.start),)
                    )
                    adjusted += 1
                    changed = True
            changed |= _relax_crew(rp, r, check_route(p, r))
        if not changed:
            break
    ledger.stats["facts_adjusted"] = adjusted


def _relax_crew(rp: ReplanProblem, route: RouteSchedule, violations: list[Violation]) -> bool:
    """Move a crew's shift end or lunch window as far as its pinned stops need."""
    p, k = rp.sched, route.vehicle
    veh = p.vehicles[k]
    rules = {v.rule for v in violations}
    changed = False
    if "shift" in rules and route.return_arrival > veh.shift_end:
        veh = dataclasses.replace(veh, shift_end=route.return_arrival)
        rp.crew_patch.setdefault(k, {})["shift_end"] = route.return_arrival
        changed = True
    b = veh.break_
    if "break" in rules and b is not None and route.break_ is not None:
        end = route.break_.start + b.duration_s
        if end > b.window_end:
            veh = dataclasses.replace(veh, break_=Break(b.window_start, end, b.duration_s))
            rp.crew_patch.setdefault(k, {})["lunch_end"] = end
            changed = True
    p.vehicles[k] = veh
    return changed


# ---- 3. re-time, release what breaks a rule


def time_routes(rp: ReplanProblem, day: CrewSequences) -> list[RouteSchedule]:
    """Every crew's day timed with the planner's own timing (`routing.schedule`)."""
    keys = sorted(k for k, s in day.seqs.items() if s)
    return build_schedules(rp.sched, [(k, day.seqs[k]) for k in keys], day.hints)


def _issues(rp: ReplanProblem, routes: list[RouteSchedule]) -> dict[int, list[Violation]]:
    """Per vehicle: the rules its route breaks, links to other routes included."""
    p = rp.sched
    out = {r.vehicle: check_route(p, r) for r in routes}
    ends = {s.visit: (s.end, r.vehicle) for r in routes for s in r.stops}
    starts = {s.visit: (s.start, r.vehicle) for r in routes for s in r.stops}
    for pr in p.precedences:
        if pr.after not in starts:
            continue
        start, k = starts[pr.after]
        before = ends.get(pr.before)
        gap = pr.gap_s if before is not None and before[1] != k else 0
        if before is None or start < before[0] + gap:
            out[k].append(Violation("precedence", "link", p.visits[pr.after].id))
    if order_rules(p):  # an order's maximum gap or one visit, across routes
        index = link_index(p)
        for r in routes:
            for link, rule, _ in broken_links(p, r, ends, index):
                if rule != "precedence" and r.vehicle == ends[link.after][1]:
                    out[r.vehicle].append(Violation("precedence", rule, p.visits[link.after].id))
    return out


def settle(rp: ReplanProblem, day: CrewSequences, ledger: Ledger) -> list[RouteSchedule]:
    """Time the day; release non-pinned stops that break a rule until none does."""
    refitted_once: set[int] = set()  # a lunch is moved once; then stops go
    for _ in range(MAX_ROUNDS):
        routes = time_routes(rp, day)
        issues = _issues(rp, routes)
        bad: set[int] = set()
        refitted = False
        for r in routes:
            k = r.vehicle
            gone = rp.unavailable.get(k)
            if gone is not None:
                bad |= {s.visit for s in r.stops[day.pinned[k] :] if s.start >= gone}
            found = issues[k]
            if not found:
                continue
            if (
                k not in refitted_once
                and any(v.rule == "break" for v in found)
                and _refit_break(rp, day, k, routes)
            ):
                refitted_once.add(k)
                refitted = True
                continue
            bad |= _at_fault(rp, day, k, found)
        if not bad and not refitted:
            return routes
        crew_of = day.crew_of()
        for v in sorted(bad):
            k = crew_of[v]
            if v in rp.frozen_v and day.seqs[k].index(v) < day.prefix[k]:
                ledger.released_frozen.add(v)
            day.remove(k, v)
            ledger.origin.setdefault(v, k)
    raise RuntimeError("could not settle the re-planned day")  # pragma: no cover


def _at_fault(rp: ReplanProblem, day: CrewSequences, k: int, found: list[Violation]) -> set[int]:
    """The stops of crew k to release for the rules it breaks: the stop a rule names (never a
    pinned one), else its last stop not pinned."""
    bad: set[int] = set()
    movable = day.seqs[k][day.pinned[k] :]
    for v in found:
        idx = rp.job_pos.get(v.visit) if v.visit is not None else None
        if v.rule in STOP_RULES and idx is not None:
            if idx not in rp.pinned_v:
                bad.add(idx)
        elif movable:
            bad.add(movable[-1])
    return bad


def _refit_break(
    rp: ReplanProblem, day: CrewSequences, k: int, routes: list[RouteSchedule]
) -> bool:
    """Try crew k's lunch after another stop not yet started; True if one works."""
    if rp.break_taken.get(k, True) or rp.sched.vehicles[k].break_ is None:
        return False
    fixed = {s.visit: (s.end, r.vehicle) for r in routes if r.vehicle != k for s in r.stops}
    seq = day.seqs[k]
    old = day.hints.get(k, len(seq) - 1)
    best = None
    for pos in range(max(-1, day.pinned[k] - 1), len(seq)):
        if pos == old:
            continue
        route = build_schedules(rp.sched, [(k, seq)], {k: pos}, fixed)[0]
        if not check_route(rp.sched, route):
            key = (route.return_arrival, abs(pos - old), pos)
            best = key if best is None else min(best, key)
    if best is None:
        return False
    day.hints[k] = best[2]
    return True
