"""The planner's last pass: every job still unassigned is tried against every crew that may
do it, and one that fits nowhere gets the reason that binds.

Issue 17 §2: on the demo day 10 of 32 jobs marked "no capacity left" could each be done by a
crew with no stops at all; on the peak day idle installation crews stayed idle beside 808
unassigned installations. The zone solves only see their group's crews, the second pass only
appends after a crew's last stop, and the insertion repair (`dispatch.planning.insertion`)
tries crews within `REACH_M` of the job under a small day-wide budget; and the final timing
of the merged routes (`dispatch.planning.assemble.time_day`) may take a stop out. This pass
runs on the timed day, after all of them:

* jobs most urgent first (deliveries an installation waits for, then by drop penalty);
* every crew the screening found eligible, idle ones included wherever their depot is: an
  idle crew is within reach exactly when the job alone fits its shift, which the timing
  decides; every position of its route, with its lunch kept in its gap or taken right before
  or right after the job;
* cheap bounds that never discard a feasible trial skip the rest (`dispatch.planning.
  placeable_check` uses the same kind): too few free hours in the shift, the job's last
  window closed before the crew can be there, the next stop pushed past its last window;
* the trials left are timed (`RoutedDay`'s schedule builder, other crews' linked stops held)
  and checked with the route validator and the rules between routes, cheapest detour first;
  the first that passes is taken (fewest metres added);
* for a job that fits nowhere, each trial's broken rule and by how much is kept, and the
  closest one becomes its reason (`dispatch.planning.leftover_reasons`).

Bounded by a number of timed trials (`MAX_EVALUATIONS`), never by the clock, so the same day
gives the same plan. The pass then re-times the whole day once (`time_day`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from dispatch.plan import UnassignedReason
from dispatch.planning.assemble import DaySequences, time_day
from dispatch.planning.leftover_reasons import Miss, reason_for
from dispatch.planning.routed_day import RoutedDay, TimedDay
from routing.problem import RouteSchedule, Vehicle
from routing.validate import Violation, broken_links

#: timed trials for the whole day (about half a millisecond each): the 1,500-job demo day
#: spends about 200, the 4,000-job peak day about 5,000 (700 jobs that fit nowhere, each
#: tried on every eligible crew); the cap only stops a runaway on a much larger day
MAX_EVALUATIONS = 150_000
#: seconds of slack in the lower bounds (integer rounding of legs, a lunch moved later)
MARGIN_S = 300


@dataclass
class Settled:
    """The day after the last pass: timed routes, stops taken out when timing, what it
    placed and the reasons of the jobs it could not."""

    routes: list[RouteSchedule]
    drops: list[int]
    placed: list[int]
    #: job id -> (reason, detail) for eligible jobs that fit no crew
    reasons: dict[str, tuple[UnassignedReason, str]] = field(default_factory=dict)
    evaluations: int = 0


@dataclass
class LeftoverDay(TimedDay):
    """The routes as the pass changes them, with the planned times it reads."""

    busy: dict[int, int] = field(default_factory=dict)  # vehicle -> its route's busy seconds
    #: the unplanned half of a two-crew visit whose other half is being tried (`_try_pair`)
    pending: set[int] = field(default_factory=set)

    def commit(self, k: int, seq: list[int], route: RouteSchedule) -> None:
        self.seqs[k] = seq
        if route.break_ is not None:
            self.breaks[k] = route.break_.after_stop
        self.routes[k] = route
        self.busy.pop(k, None)
        for s in route.stops:
            self.ends[s.visit] = (s.end, k)
            self.starts[s.visit] = s.start


def settle_leftovers(
    routed: RoutedDay,
    routes: list[RouteSchedule],
    drops: list[int],
    eligible: Mapping[str, list[int]],
    max_evaluations: int = MAX_EVALUATIONS,
    place_pairs: bool = True,
) -> Settled:
    """Place what fits of the eligible jobs not on `routes`; reasons for the rest.

    `routes` and `drops` are `time_day`'s result; `eligible[job_id]` the screening's crews.
    `place_pairs=False` leaves two-crew visits with neither half planned as they are (the
    booking's tentative day, whose fast twin `dispatch.booking.greedy` has no pair placement).
    """
    day = _day(routed, routes)
    p = routed.full.routing
    problem = routed.problem
    left = [routed.job_pos[j] for j in eligible if routed.job_pos[j] not in day.ends]
    awaited = {d for d, _ in day.links.delivery_of.values()}
    left.sort(key=lambda v: (v not in awaited, -p.visits[v].drop_penalty, v))
    placed: list[int] = []
    misses: dict[int, Miss] = {}
    evaluations = 0
    for v in left:
        if evaluations >= max_evaluations:
            break
        if v in day.links.delivery_of and day.links.delivery_of[v][0] not in day.ends:
            continue  # its delivery is not planned (`to_plan` says so)
        if v in day.ends:
            continue  # placed with its partner (`_try_pair`)
        partners = [o for o, *_ in day.links.partners.get(v, ())]
        if any(o not in day.ends for o in partners):
            if not place_pairs or len(partners) != 1 or v > partners[0]:
                continue  # a larger group, or the pair's other half (tried with its first)
            pair, n = _try_pair(day, v, partners[0], eligible, max_evaluations - evaluations)
            evaluations += n
            placed += pair
            continue
        found, tried, n = _try_job(
            day, v, eligible[problem.jobs[v].id], max_evaluations - evaluations
        )
        evaluations += n
        if found is not None:
            k, seq, route = found
            day.commit(k, seq, route)
            placed.append(v)
        elif tried is not None:
            misses[v] = tried
    timed, more = time_day(routed, DaySequences(day.seqs, day.breaks))
    placed = [v for v in placed if v not in more]  # (a re-timing takes none out so far)
    reasons = {problem.jobs[v].id: reason_for(routed, day.ends, v, m) for v, m in misses.items()}
    return Settled(timed, sorted({*drops, *more} - set(placed)), placed, reasons, evaluations)


def _try_pair(
    day: LeftoverDay, a: int, b: int, eligible: Mapping[str, list[int]], budget: int
) -> tuple[list[int], int]:
    """Both halves of a two-crew visit, neither planned: each half in turn placed first where
    it fits cheapest (its partner pending), then the other beside it on another crew, its
    start within the pair's delays (`_link_broken`, `judge_route`); the first half is taken
    back when the second fits nowhere. Returns the visits placed (both or none) and the
    timed trials spent. A pair that fits nowhere keeps the planner's reason for pairs
    (`dispatch.planning.assemble.to_plan`)."""
    jobs = day.routed.problem.jobs
    spent = 0
    for first, second in ((a, b), (b, a)):
        if spent >= budget:
            break
        day.pending = {second}
        found, _, n = _try_job(day, first, eligible[jobs[first].id], budget - spent)
        day.pending = set()
        spent += n
        if found is None:
            continue
        k, seq, route = found
        saved = (day.seqs.get(k), day.breaks.get(k), day.routes.get(k))
        day.commit(k, seq, route)
        other, _, n = _try_job(day, second, eligible[jobs[second].id], budget - spent)
        spent += n
        if other is not None:
            day.commit(*other)
            return [first, second], spent
        _undo(day, k, saved, first)
    return [], spent


def _undo(
    day: LeftoverDay,
    k: int,
    saved: tuple[list[int] | None, int | None, RouteSchedule | None],
    visit: int,
) -> None:
    """Vehicle k's route as it was before `visit` was committed to it."""
    seq, brk, route = saved
    day.seqs.pop(k, None)
    day.breaks.pop(k, None)
    day.routes.pop(k, None)
    if seq is not None:
        day.seqs[k] = seq
    if brk is not None:
        day.breaks[k] = brk
    if route is not None:
        day.routes[k] = route
    day.busy.pop(k, None)
    day.ends.pop(visit, None)
    day.starts.pop(visit, None)
    if route is not None:
        for s in route.stops:
            day.ends[s.visit] = (s.end, k)
            day.starts[s.visit] = s.start


def _day(routed: RoutedDay, routes: list[RouteSchedule]) -> LeftoverDay:
    return LeftoverDay.of(routed, routes)


def _try_job(
    day: LeftoverDay, v: int, crews: list[int], budget: int
) -> tuple[tuple[int, list[int], RouteSchedule] | None, Miss | None, int]:
    """Visit v on the cheapest crew and position where it fits (crew, sequence, timed
    route), else None; the closest miss; and the timed trials spent."""
    best: Miss | None = None

    def missed(m: Miss) -> None:
        nonlocal best
        if best is None or m.badness < best.badness:
            best = m

    trials: list[tuple[int, int, int, int, int | None]] = []
    for k in crews:
        trials += _trials(day, v, k, missed)
    trials.sort(key=lambda t: t[:4])
    evaluations = 0
    for _metres, k, pos, _n, gap in trials:
        if evaluations >= budget:
            break
        evaluations += 1
        seq = day.seqs.get(k, [])
        new_seq = [*seq[:pos], v, *seq[pos:]]
        hints = {k: gap} if gap is not None else {}
        route = day.routed.time({k: new_seq}, hints, fixed_elsewhere(day, new_seq))[0]
        miss = judge_route(day, v, route, day.routed.check(route))
        if miss is None:
            return (k, new_seq, route), None, evaluations
        missed(miss)
    return None, best, evaluations


def _trials(
    day: LeftoverDay, v: int, k: int, missed: Callable[[Miss], None]
) -> list[tuple[int, int, int, int, int | None]]:
    """(metres added, vehicle, position, n, lunch gap) for each trial of v on vehicle k that
    the bounds leave; what the bounds rule out is reported to `missed`."""
    p = day.routed.full.routing
    veh, visit = p.vehicles[k], p.visits[v]
    seq = day.seqs.get(k, [])
    if any(o in day.ends and day.ends[o][1] == k for o, *_ in day.links.partners.get(v, ())):
        return []  # the two halves of a two-person visit need two crews
    full = full_for(day, v, k)
    if full is not None:
        missed(full)
        return []
    not_before, after_pos = link_floor(day, v, k)
    if not_before > visit.windows[-1][1]:
        d = day.links.delivery_of[v][0]
        missed(Miss(k, "link", not_before - visit.windows[-1][1], 0, at=not_before, other=d))
        return []
    ruled_out = order_rule_bound(day, v, k)
    if ruled_out is not None:
        missed(ruled_out)
        return []
    free = veh.shift_end - veh.shift_start - busy_until(day, k)
    if visit.service_s - MARGIN_S > free:
        missed(Miss(k, "shift", visit.service_s - free, 0, bound=True))
        return []
    base = p.travel.durations[veh.profile]
    dist = p.travel.distances
    locs = np.array(
        [veh.start_location, *(p.visits[x].location for x in seq), veh.end_location],
        dtype=np.int64,
    )
    here = visit.location
    t_to, t_from = base[locs[:-1], here], base[here, locs[1:]]
    m_to, m_from = dist[locs[:-1], here], dist[here, locs[1:]]
    route, brk = day.routes.get(k), day.breaks.get(k)
    lunch = veh.break_.duration_s if veh.break_ is not None else 0
    out = []
    for pos in range(len(seq) + 1):
        if pos <= after_pos:
            continue  # before its own delivery on the same route
        a, b = int(locs[pos]), int(locs[pos + 1])
        detour = int(t_to[pos]) + int(t_from[pos]) - int(base[a, b])
        if visit.service_s + detour - MARGIN_S > free:
            missed(Miss(k, "shift", visit.service_s + detour - free, 0, bound=True))
            continue
        ready = veh.shift_start
        if pos and route is not None:  # a lunch taken later could free up to its length
            ready = route.stops[pos - 1].end - (lunch if brk is not None and brk < pos - 1 else 0)
        earliest = max(ready + int(t_to[pos]), not_before)
        closes = visit.windows[-1][1]
        if earliest - MARGIN_S > closes:
            missed(Miss(k, "window", earliest - closes, 0, at=earliest, bound=True))
            continue
        start = next(max(earliest, wa) for wa, wb in visit.windows if earliest - MARGIN_S <= wb)
        after = start + visit.service_s + int(t_from[pos])
        if pos < len(seq):
            nxt = seq[pos]
            if after - MARGIN_S > p.visits[nxt].windows[-1][1]:
                over = after - p.visits[nxt].windows[-1][1]
                missed(Miss(k, "pushes", over, 0, other=nxt, bound=True))
                continue
        elif after - MARGIN_S > veh.shift_end:
            missed(Miss(k, "shift", after - veh.shift_end, 0, at=after, bound=True))
            continue
        metres = int(m_to[pos]) + int(m_from[pos]) - int(dist[a, b])
        out += [(metres, k, pos, n, g) for n, g in enumerate(lunch_gaps(veh, brk, pos, len(seq)))]
    return out


def full_for(day: LeftoverDay, v: int, k: int) -> Miss | None:
    """Vehicle k's job limit or load already rules v out."""
    p = day.routed.full.routing
    veh, seq = p.vehicles[k], day.seqs.get(k, [])
    if veh.max_visits is not None and len(seq) + 1 > veh.max_visits:
        return Miss(k, "jobs", 0, 1)
    for d, cap in enumerate(veh.capacity):
        if sum(p.visits[x].demand[d] for x in seq) + p.visits[v].demand[d] > cap:
            return Miss(k, "load", 0, 1)
    return None


def link_floor(day: LeftoverDay, v: int, k: int) -> tuple[int, int]:
    """For vehicle k: the earliest start its delivery allows installation v (the delivery's
    end, + the gap on another crew), and the delivery's position on k's route (-1: none)."""
    veh = day.routed.full.routing.vehicles[k]
    if v not in day.links.delivery_of:
        return veh.shift_start, -1
    d, gap = day.links.delivery_of[v]
    end, dk = day.ends[d]
    if dk == k:
        return end, day.seqs[k].index(d)
    return end + gap, -1


def order_rule_bound(day: LeftoverDay, v: int, k: int) -> Miss | None:
    """Installation v on vehicle k, its delivery on another route: ruled out by its order's
    one visit (another crew delivers), or by its maximum gap (the gap ends before its first
    window opens; the delivery, on another route, stays where it is)."""
    rule = day.links.rules.get(v)
    if rule is None or rule.before not in day.ends:
        return None
    end, dk = day.ends[rule.before]
    if dk == k:
        return None
    if rule.same_vehicle:
        return Miss(k, "crew_mode", 0, 1, other=rule.before)
    opens = day.routed.full.routing.visits[v].windows[0][0]
    if rule.max_gap_s is not None and end + rule.max_gap_s < opens:
        over = opens - end - rule.max_gap_s
        return Miss(k, "max_gap", over, 0, at=opens, other=rule.before, bound=True)
    return None


def lunch_gaps(veh: Vehicle, brk: int | None, pos: int, n: int) -> list[int | None]:
    """Where the lunch goes when a job is put at `pos` of a route of n stops whose lunch
    follows stop `brk`: kept after the same stop, or right before or right after the job
    (None: wherever the schedule builder first fits it)."""
    if veh.break_ is None:
        return [None]
    gaps: list[int | None] = [None if brk is None else brk + 1 if pos <= brk else brk]
    gaps += [g for g in (pos - 1, pos) if g not in gaps]
    return gaps


def busy_until(day: LeftoverDay, k: int) -> int:
    """Seconds of vehicle k's shift its route fills at least: service, lunch and free-flow
    driving (every congestion factor is >= 1)."""
    if k not in day.busy:
        p = day.routed.full.routing
        veh = p.vehicles[k]
        seq = day.seqs.get(k, [])
        base = p.travel.durations[veh.profile]
        locs = [veh.start_location, *(p.visits[x].location for x in seq), veh.end_location]
        busy = sum(p.visits[x].service_s for x in seq)
        busy += veh.break_.duration_s if veh.break_ is not None else 0
        busy += sum(int(base[a, b]) for a, b in itertools.pairwise(locs))
        day.busy[k] = busy
    return day.busy[k]


def fixed_elsewhere(day: LeftoverDay, seq: list[int]) -> dict[int, tuple[int, int]]:
    """Other routes' stops that the visits of `seq` are linked to, at their (end, vehicle)."""
    on_route = set(seq)
    fixed = {}
    for x in seq:
        linked = [o for o, *_ in day.links.partners.get(x, ())]
        if x in day.links.delivery_of:
            linked.append(day.links.delivery_of[x][0])
        # an installation with a maximum gap pulls its delivery (`routing.schedule`)
        linked += [i for i in day.links.waiting.get(x, ()) if _has_max_gap(day, i)]
        for o in linked:
            if o not in on_route and o in day.ends:
                fixed[o] = day.ends[o]
    return fixed


def _has_max_gap(day: LeftoverDay, installation: int) -> bool:
    rule = day.links.rules.get(installation)
    return rule is not None and rule.max_gap_s is not None


def judge_route(
    day: LeftoverDay, v: int, route: RouteSchedule, violations: list[Violation]
) -> Miss | None:
    """None if the trial route breaks no rule; else what it breaks worst and by how much."""
    p = day.routed.full.routing
    k = route.vehicle
    link = _link_broken(day, route)
    if not violations and link is None:
        return _order_rule_miss(day, v, route)
    rules = {x.rule for x in violations}
    me = next(s for s in route.stops if s.visit == v)
    own = _past_window(p.visits[v].windows, me.start)
    pushed, pushed_s = None, 0
    for s in route.stops:
        over = _past_window(p.visits[s.visit].windows, s.start)
        if s.visit != v and over > pushed_s:
            pushed, pushed_s = s.visit, over
    shift = max(1, route.return_arrival - p.vehicles[k].shift_end) if "shift" in rules else 0
    counted = [r for r, on in (("lunch", "break" in rules), ("link", link is not None)) if on]
    counted += ["other"] if rules - {"break", "shift", "window"} else []
    amounts = {"window": own, "pushes": pushed_s, "shift": shift}
    broken = len(counted) + sum(1 for a in amounts.values() if a > 0)
    total = sum(amounts.values())
    if counted:
        rule = counted[0]
        other = link if rule == "link" else None
        return Miss(k, rule, total, broken, at=me.start, other=other)
    rule = max(amounts, key=lambda r: amounts[r])
    at = {"window": me.start, "shift": route.return_arrival}.get(rule, me.start)
    return Miss(k, rule, total, broken - 1, at=at, other=pushed if rule == "pushes" else None)


def _order_rule_miss(day: LeftoverDay, v: int, route: RouteSchedule) -> Miss | None:
    """A trial that keeps every other rule but an order's maximum gap ("max_gap", by how
    many seconds) or its one visit ("crew_mode"): the link it breaks, else None."""
    p = day.routed.full.routing
    elsewhere = fixed_elsewhere(day, [s.visit for s in route.stops])
    broken = broken_links(p, route, elsewhere, day.links.by_visit)
    found = [(rule, over, link) for link, rule, over in broken if rule != "precedence"]
    if not found:
        return None
    rule, over, link = max(found, key=lambda f: (f[0] == "max_gap", f[1]))
    me = next(s for s in route.stops if s.visit == v)
    other = link.before if link.after == v else link.after
    if rule == "max_gap":
        return Miss(route.vehicle, "max_gap", over, 0, at=me.start, other=other)
    return Miss(route.vehicle, "crew_mode", 0, 1, at=me.start, other=other)


def _past_window(windows: tuple[tuple[int, int], ...], start: int) -> int:
    """Seconds a start lies past the window it missed (0: inside one)."""
    if any(a <= start <= b for a, b in windows):
        return 0
    return start - max((b for _, b in windows if b < start), default=start)


def _link_broken(day: LeftoverDay, route: RouteSchedule) -> int | None:
    """The delivery (or two-person partner) whose rule with another route the trial breaks:
    an installation before its delivery (+ gap), a delivery that would end too late for its
    installer, a two-person visit out of step. None when all hold."""
    start = {s.visit: s.start for s in route.stops}
    end = {s.visit: s.end for s in route.stops}
    order = {s.visit: n for n, s in enumerate(route.stops)}
    for x in order:
        if x in day.links.delivery_of:
            d, gap = day.links.delivery_of[x]
            if d in order:
                if order[d] > order[x] or start[x] < end[d]:
                    return d
            elif d not in day.ends or start[x] < day.ends[d][0] + gap:
                return d
        for inst in day.links.waiting.get(x, ()):
            planned_elsewhere = inst not in order and inst in day.starts
            if planned_elsewhere and day.starts[inst] < end[x] + day.links.delivery_of[inst][1]:
                return x
        for other, lo, hi, first in day.links.partners.get(x, ()):
            if other in day.pending and other not in day.starts:
                continue  # the other half, placed next (`_try_pair`)
            if other in order or other not in day.starts:
                return other
            delay = day.starts[other] - start[x] if first else start[x] - day.starts[other]
            if not lo <= delay <= hi:
                return other
    return None
