"""Trying a job in a slot: the insertion probe over the nearby crews' routes.

A job that some crew could serve alone is tried in every position of the eligible crews'
routes within reach (`dispatch.planning.insertion.REACH_M`, the nearest `MIN_CANDIDATE_CREWS` at
least), timed with the real travel times and checked with the route validator, as the
planner's insertion pass does. `try_slot` names the rule a slot breaks worst; `probe` keeps
each crew's best slot (fewest rules broken, then fewest seconds over a limit, then fewest
metres added). The probe is bounded by route evaluations (per job and per `explain_plan`
call, `Day.evaluations_left`), never by the clock, so the same plan always gets the same
explanations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dispatch.planning.insertion import REACH_M
from dispatch.running.explain.day import Day, fixed_deliveries
from routing.problem import RouteSchedule, RoutingProblem, Vehicle
from routing.schedule import build_schedules
from routing.validate import broken_links, check_route, link_index, order_rules

#: crews tried per job even when none passes within `REACH_M`
MIN_CANDIDATE_CREWS = 3
#: route evaluations (one timing + validation each) per job
MAX_EVALUATIONS_PER_JOB = 250
#: probe rules, most telling first when a slot breaks several counted rules
COUNTED = ("max_jobs", "capacity", "break", "link", "order", "other")


@dataclass(frozen=True)
class Slot:
    """The job tried at one position of one crew's route."""

    crew: int
    position: int
    start: int
    end: int
    rule: str  # "fits", "window", "pushes", "shift", "late", or one of COUNTED
    over_s: int  # seconds past the limit of `rule` (0 for counted rules and "fits")
    only: bool  # `rule` is the only rule it breaks
    pushed: int | None  # the stop pushed out of its window ("pushes")
    badness: tuple[int, int, int]  # counted rules broken, seconds over, metres added


def probe(
    day: Day, v: int, crews: Sequence[int], deadline_s: int | None = None
) -> tuple[list[Slot], int]:
    """Each crew's best slot for visit v (best first), and how many crews were tried.

    Crews whose route passes within `REACH_M` of the job, nearest first, at least the
    `MIN_CANDIDATE_CREWS` nearest; with `deadline_s`, a slot ending later breaks "late".
    """
    p = day.full.routing
    loc = p.visits[v].location

    def reach(k: int) -> int:
        veh = p.vehicles[k]
        near = [veh.start_location, *(p.visits[x].location for x in day.seqs.get(k, []))]
        return int(p.travel.distances[loc, near].min())

    order = sorted((reach(k), k) for k in crews)
    chosen = [k for n, (m, k) in enumerate(order) if m <= REACH_M or n < MIN_CANDIDATE_CREWS]
    budget = min(MAX_EVALUATIONS_PER_JOB, day.evaluations_left)
    best: dict[int, Slot] = {}
    tried = 0
    for k in chosen:
        if budget <= 0:
            break
        tried += 1
        seq = day.seqs.get(k, [])
        starts = [s.start for s in day.routes[k].stops] if k in day.routes else []
        for pos in range(len(seq) + 1):
            if budget <= 0:
                break
            if pos and starts[pos - 1] > p.visits[v].latest_start and k in best:
                break  # later positions start later still
            budget -= 1
            day.evaluations_left -= 1
            slot = try_slot(day, v, k, pos, deadline_s)
            if k not in best or slot.badness < best[k].badness:
                best[k] = slot
    slots = sorted(best.values(), key=lambda s: (s.badness, s.crew, s.position))
    return slots, tried


def try_slot(day: Day, v: int, k: int, pos: int, deadline_s: int | None) -> Slot:
    """Time crew k's route with v inserted at `pos` and name the rule it breaks worst."""
    p = day.full.routing
    veh = p.vehicles[k]
    route = _timed_with(day, v, k, pos)
    rules = {x.rule for x in check_route(p, route)}
    counted = _counted_rules(day, v, k, route, rules)
    me = next(s for s in route.stops if s.visit == v)
    own = max(0, me.start - p.visits[v].latest_start)
    pushed, pushed_s = _most_pushed(p, v, route)
    shift = max(0, route.return_arrival - veh.shift_end) if "shift" in rules else 0
    if "shift" in rules:
        shift = max(shift, 1)
    late = 0
    if deadline_s is not None and not counted and not (own or pushed_s or shift):
        late = max(0, me.end - deadline_s)
    amounts = {"window": own, "pushes": pushed_s, "shift": shift, "late": late}
    if counted:
        rule, over = counted[0], 0
    else:
        rule, over = max(amounts.items(), key=lambda kv: kv[1])
        if over == 0:
            rule = "fits"
    broken = len(counted) + sum(1 for a in amounts.values() if a > 0)
    metres = _metres_added(p, veh, day.seqs.get(k, []), pos, v)
    return Slot(
        k,
        pos,
        me.start,
        me.end,
        rule,
        over,
        broken == 1,
        pushed if rule == "pushes" else None,
        (len(counted), sum(amounts.values()), metres),
    )


def _timed_with(day: Day, v: int, k: int, pos: int) -> RouteSchedule:
    """Crew k's route timed with v inserted at `pos`, its lunch kept after the same stops."""
    p = day.full.routing
    seq = day.seqs.get(k, [])
    new_seq = [*seq[:pos], v, *seq[pos:]]
    brk = day.breaks.get(k)
    if brk is not None and pos <= brk:
        brk += 1
    hints = {k: brk} if brk is not None else {}
    fixed = fixed_deliveries(day, new_seq)
    return build_schedules(p, [(k, new_seq)], hints, fixed)[0]


def _counted_rules(day: Day, v: int, k: int, route: RouteSchedule, rules: set[str]) -> list[str]:
    """The counted rules (`COUNTED`, in that order) the trial route breaks."""
    old_ends = {s.visit: s.end for s in day.routes[k].stops} if k in day.routes else {}
    counted = []
    if "max_visits" in rules:
        counted.append("max_jobs")
    if "capacity" in rules:
        counted.append("capacity")
    if "break" in rules:
        counted.append("break")
    # a delivery another crew's installation waits for must not end later than planned
    # (this route's own stops, or v itself when a planned stop is tried on another crew)
    if v in day.ends:
        old_ends.setdefault(v, day.ends[v][0])
    if any(s.visit in day.awaited and s.end > old_ends.get(s.visit, s.end) for s in route.stops):
        counted.append("link")
    if _breaks_order_rules(day, route):
        counted.append("order")
    if rules - {"max_visits", "capacity", "break", "window", "shift"}:
        counted.append("other")
    return counted


def _breaks_order_rules(day: Day, route: RouteSchedule) -> bool:
    """Does the trial break an order's maximum gap or one visit (`dispatch.link_rules`)
    with its own stops or the planned ones of other crews?"""
    p = day.full.routing
    if not order_rules(p):
        return False
    found = broken_links(p, route, day.ends, link_index(p))
    return any(rule != "precedence" for _, rule, _ in found)


def _most_pushed(p: RoutingProblem, v: int, route: RouteSchedule) -> tuple[int | None, int]:
    """The other stop that starts furthest past its window, and by how many seconds (0: none)."""
    pushed, pushed_s = None, 0
    for s in route.stops:
        over = s.start - p.visits[s.visit].latest_start
        if s.visit != v and over > pushed_s:
            pushed, pushed_s = s.visit, over
    return pushed, pushed_s


def _metres_added(p: RoutingProblem, veh: Vehicle, seq: list[int], pos: int, v: int) -> int:
    """The detour of putting v at `pos` of the planned sequence `seq`."""
    locs = [veh.start_location, *(p.visits[x].location for x in seq), veh.end_location]
    a, b = locs[pos], locs[pos + 1]
    d = p.travel.distances
    return int(d[a, p.visits[v].location]) + int(d[p.visits[v].location, b]) - int(d[a, b])
