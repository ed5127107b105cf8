"""An independent check of a returned plan: which unassigned jobs could still be placed?

Issue 17 §2 asks that an unassigned job's reason be true: a job listed as not fitting must
not fit. `placeable` tests that on a finished `Plan`, for tests and benchmark scripts. For
each unassigned job it tries every crew that may do it (kind, skills, people: the whole
problem translated without the planner's screening; the vehicle's load is left to the route
validator), in every position of that crew's planned route (an empty route for an idle crew),
with the lunch kept in its gap, or taken right before or right after the job. Each trial is
timed with routing's schedule builder (`routing.schedule.build_schedules`, other crews'
stops held at their planned times) and checked with the route validator
(`routing.validate.check_route`) and the rules between routes: an installation starts after
its delivery ends (plus the link gap on another crew), a delivery another crew's
installation waits for still ends in time for it, a two-person visit stays within its
partner's delay and is never half planned, and an order keeps its maximum gap and its one
visit (`routing.validate.broken_links`). A job that passes somewhere is placeable: the
plan left it out although it fits.

It deliberately shares no search code with the planner's insertion passes
(`dispatch.planning.insertion`, `dispatch.planning.leftovers`): a mistake there must not hide
here. Only bounds that cannot discard a feasible trial prune it: the lower bounds use the
free-flow durations (every congestion factor is >= 1) and allow `MARGIN_S` for rounding and
for a lunch that moves out of the stops before the job.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from dispatch.plan import Plan
from dispatch.planning.routed_day import TimedDay, routed_day
from routing.problem import RouteSchedule, RoutingProblem
from routing.schedule import build_schedules
from routing.travel import TravelModel
from routing.validate import broken_links, check_route

#: seconds of slack in every lower bound (integer rounding of legs, a moved lunch's wait)
MARGIN_S = 300


@dataclass(frozen=True)
class Placement:
    """One way an unassigned job fits: crew, position in its route, lunch gap (None: free)."""

    job_id: str
    crew_id: str
    position: int
    lunch_after: int | None


#: the plan in routing form: routes, planned times and the links between visits
_State = TimedDay


def placeable(plan: Plan, travel: TravelModel | None = None) -> list[Placement]:
    """The unassigned jobs of `plan` that fit some crew's route as it is (one way each)."""
    state = _state(plan, travel)
    out = []
    for u in plan.unassigned:
        found = _place(state, state.routed.job_pos[u.job_id])
        if found is not None:
            out.append(found)
    return out


def _state(plan: Plan, travel: TravelModel | None) -> _State:
    routed = routed_day(plan.problem, travel)
    return TimedDay.of(routed, routed.planned_schedules(plan).values())


def _place(st: _State, v: int) -> Placement | None:
    """The first crew, position and lunch gap where visit v fits, or None."""
    p = st.routed.full.routing
    if v in st.links.delivery_of and st.links.delivery_of[v][0] not in st.ends:
        return None  # its delivery is not planned: the installation cannot be
    if any(other not in st.ends for other, *_ in st.links.partners.get(v, ())):
        return None  # half of a two-person visit
    visit = p.visits[v]
    crews = visit.allowed_vehicles
    for k in range(len(p.vehicles)) if crews is None else crews:
        if any(st.ends[o][1] == k for o, *_ in st.links.partners.get(v, ())):
            continue  # both halves of a two-person visit on one crew
        for pos, gap in _trials(st, v, k):
            if _fits(st, v, k, pos, gap):
                return Placement(visit.id, p.vehicles[k].id, pos, gap)
    return None


def _trials(st: _State, v: int, k: int) -> Iterable[tuple[int, int | None]]:
    """(position, lunch gap) pairs worth timing for visit v on vehicle k, bounds first."""
    p = st.routed.full.routing
    veh, visit = p.vehicles[k], p.visits[v]
    seq = st.seqs.get(k, [])
    if veh.max_visits is not None and len(seq) + 1 > veh.max_visits:
        return
    if veh.capacity:
        for d, cap in enumerate(veh.capacity):
            if sum(p.visits[x].demand[d] for x in seq) + visit.demand[d] > cap:
                return
    base = p.travel.durations[veh.profile]

    def leg(a: int, b: int) -> int:
        return int(base[a, b])

    locs = [veh.start_location, *(p.visits[x].location for x in seq), veh.end_location]
    lunch = veh.break_.duration_s if veh.break_ is not None else 0
    busy = sum(p.visits[x].service_s for x in seq) + visit.service_s + lunch
    busy += sum(leg(a, b) for a, b in itertools.pairwise(locs))
    last_window_end = visit.windows[-1][1]
    route = st.routes.get(k)
    brk = st.breaks.get(k)
    for pos in range(len(seq) + 1):
        a, b = locs[pos], locs[pos + 1]
        detour = leg(a, visit.location) + leg(visit.location, b) - leg(a, b)
        if veh.shift_start + busy + detour - MARGIN_S > veh.shift_end:
            continue  # not enough hours in the shift for the route plus the job
        ready = veh.shift_start
        if pos and route is not None:
            moved = lunch if brk is not None and brk < pos - 1 else 0
            ready = route.stops[pos - 1].end - moved
        earliest = ready + leg(a, visit.location) - MARGIN_S
        if earliest > last_window_end:
            continue  # its last window closes before the crew can be there
        start = next(max(earliest, wa) for wa, wb in visit.windows if earliest <= wb)
        after = start + visit.service_s + leg(visit.location, b)
        if pos < len(seq) and after - MARGIN_S > p.visits[seq[pos]].windows[-1][1]:
            continue  # the next stop could no longer start in its windows
        if pos == len(seq) and after - MARGIN_S > veh.shift_end:
            continue
        for gap in _lunch_gaps(veh.break_ is not None, brk, pos, len(seq)):
            yield pos, gap


def _lunch_gaps(has_lunch: bool, brk: int | None, pos: int, n: int) -> list[int | None]:
    """The lunch kept after the same stop, or right before / right after the new job."""
    if not has_lunch:
        return [None]
    kept: int | None = None
    if brk is not None:
        kept = brk + 1 if pos <= brk else brk
    gaps: list[int | None] = [kept] if brk is not None else [None]
    for g in (pos - 1, pos):
        if -1 <= g <= n and g not in gaps:
            gaps.append(g)
    return gaps


def _fits(st: _State, v: int, k: int, pos: int, gap: int | None) -> bool:
    p = st.routed.full.routing
    seq = st.seqs.get(k, [])
    new_seq = [*seq[:pos], v, *seq[pos:]]
    on_route = set(new_seq)
    fixed = {}
    for x in new_seq:
        linked = [o for o, *_ in st.links.partners.get(x, ())]
        if x in st.links.delivery_of:
            linked.append(st.links.delivery_of[x][0])
        # an installation with a maximum gap pulls its delivery later (`routing.schedule`)
        rules = st.links.rules
        linked += [i for i in st.links.waiting.get(x, ()) if rules[i].max_gap_s is not None]
        for o in linked:
            if o not in on_route and o in st.ends:
                fixed[o] = st.ends[o]
    hints = {k: gap} if gap is not None else {}
    route = build_schedules(p, [(k, new_seq)], hints, fixed)[0]
    return (
        not check_route(p, route)
        and _links_hold(st, p, route)
        # an order's maximum gap and one visit, against the other routes as planned
        and not broken_links(p, route, fixed, st.links.by_visit)
    )


def _links_hold(st: _State, p: RoutingProblem, route: RouteSchedule) -> bool:
    """Deliveries before their installations, two-person visits in step, across routes."""
    start = {s.visit: s.start for s in route.stops}
    end = {s.visit: s.end for s in route.stops}
    order = {s.visit: n for n, s in enumerate(route.stops)}

    def start_of(x: int) -> int | None:
        return start[x] if x in start else st.starts.get(x)

    for x in order:
        if x in st.links.delivery_of:
            d, gap = st.links.delivery_of[x]
            if d in order:
                if order[d] > order[x] or start[x] < end[d]:
                    return False
            elif d not in st.ends or start[x] < st.ends[d][0] + gap:
                return False
        for inst in st.links.waiting.get(x, ()):
            planned_elsewhere = inst not in order and inst in st.starts
            if planned_elsewhere and st.starts[inst] < end[x] + st.links.delivery_of[inst][1]:
                return False
        for other, lo, hi, first in st.links.partners.get(x, ()):
            other_start = start_of(other)
            if other_start is None or other in order:
                return False
            delay = other_start - start[x] if first else start[x] - other_start
            if not lo <= delay <= hi:
                return False
    return True


__all__ = ["MARGIN_S", "Placement", "placeable"]
