"""A dispatcher's manual override: move one job by hand and get a re-timed, valid plan back.

A `Move` takes a job off wherever it is (a crew's route or the unassigned list) and puts it
at a position in a crew's stop list, or takes it off its route. The day is then timed again
exactly as the planner times it (the day in routing form, `dispatch.planning.routed_day`: the same
translation, re-timing and way back to crew routes), and the result
goes through the independent validator. Unlike the planner's final timing, an override never
drops another job to make room: if any hard rule breaks, the move is refused as a whole
(`OverrideRefused`) with one readable reason per broken rule, and the plan passed in is left
as it was.

Each crew keeps its stop order and its lunch position (after the same stop as before). Only
on the crew that receives the job, when the old lunch position no longer works, the other
positions are tried on that route and the valid one that ends the day earliest is taken
(nearest the old position on a tie) before the move is refused.

Untouched routes come out identical: the timing is deterministic, and a route changes only
if it is the source or target of the move or waits on it through a delivery/installation link.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatch.day_problem import DispatchProblem
from dispatch.link_rules import CrewMode
from dispatch.models import CrewKind, Job, JobKind
from dispatch.plan import CrewRoute, Plan, PlannedStop, Unassigned, UnassignedReason
from dispatch.plan_validator import PlanViolation, validate_plan
from dispatch.planning.routed_day import RoutedDay, put_in, routed_day, take_out
from dispatch.translate import Translation, job_demand
from routing.problem import RouteSchedule, RoutingProblem
from routing.travel import TravelModel


@dataclass(frozen=True)
class Move:
    """Put `job_id` on crew `crew_id`'s route at `position`, or take it off (`crew_id=None`).

    `position` is the 0-based index the job will have in the crew's stops after the move
    (0 .. number of the crew's other stops); None appends it at the end. On the job's own
    crew this reorders the route.
    """

    job_id: str
    crew_id: str | None
    position: int | None = None


class OverrideRefused(Exception):
    """The move would break a hard rule; the plan is unchanged.

    `reasons` are human readable, one per broken rule, each naming the job and/or crew;
    `violations` are the validator's raw findings behind them (empty for `InvalidMove`).
    """

    def __init__(self, reasons: list[str], violations: list[PlanViolation] | None = None) -> None:
        self.reasons = reasons
        self.violations = violations or []
        super().__init__("override refused: " + "; ".join(reasons))


class InvalidMove(OverrideRefused, ValueError):
    """The move itself is malformed: unknown job or crew, position out of range, or a job to
    take off that is on no route. A subclass of both `OverrideRefused` and `ValueError`, so
    callers may catch either."""


def prepare_day(problem: DispatchProblem, travel: TravelModel | None = None) -> RoutedDay:
    """What checking a move needs that depends on the problem alone, not on the routes: the
    day in routing form (`dispatch.planning.routed_day`). On a 1,500-job day building it is about
    0.2 s of a move's check; a service checking many moves of one plan (a dispatcher
    dragging stops) builds it once and passes it to `apply_move` as `prepared`."""
    return routed_day(problem, travel)


def apply_move(
    plan: Plan,
    move: Move,
    *,
    travel: TravelModel | None = None,
    prepared: RoutedDay | None = None,
) -> Plan:
    """A new plan with `move` applied and every route re-timed; raises `OverrideRefused`.

    `travel` may pass the problem's travel model (`build_travel(plan.problem)`) when many
    moves are applied to one day; it is built when omitted. `prepared` (from `prepare_day`
    on this very problem object) saves rebuilding the translation too; one prepared for
    another problem object is ignored. `plan` is not modified. The new plan keeps
    `plan.stats` with `stats["overrides"]` counting the moves applied.
    """
    problem = plan.problem
    if prepared is None or prepared.problem is not problem:
        prepared = prepare_day(problem, travel)
    job_pos, crew_pos = prepared.job_pos, prepared.crew_pos
    if move.job_id not in job_pos:
        raise InvalidMove([f"job {move.job_id}: no such job in the plan's problem"])
    if move.crew_id is not None and move.crew_id not in crew_pos:
        raise InvalidMove([f"crew {move.crew_id}: no such crew in the plan's problem"])

    seqs, breaks = prepared.sequences(plan)
    visit = job_pos[move.job_id]
    source = take_out(seqs, breaks, visit)
    target = None
    partners = [o for o, *_ in prepared.visit_links().partners.get(visit, ())]
    taken_with: list[int] = []
    if move.crew_id is None:
        if source is None:
            raise InvalidMove([f"job {move.job_id}: is on no route, there is nothing to take off"])
        # half of a two-crew visit is no visit: its partners come off with it
        taken_with = [o for o in partners if take_out(seqs, breaks, o) is not None]
    else:
        target = crew_pos[move.crew_id]
        seq = seqs.setdefault(target, [])
        pos = len(seq) if move.position is None else move.position
        if not 0 <= pos <= len(seq):
            raise InvalidMove(
                [
                    f"job {move.job_id}: position {move.position} is out of range for crew "
                    f"{move.crew_id} (0 to {len(seq)})"
                ]
            )
        put_in(seqs, breaks, target, pos, visit)
        on_routes = {v for seq in seqs.values() for v in seq}
        for other in partners:
            if other not in on_routes:
                _place_partner(prepared, seqs, breaks, visit, other, move)
    seqs = {k: s for k, s in seqs.items() if s}

    full = prepared.full
    circular = _circular_links(problem, full, seqs)
    if circular:
        raise OverrideRefused(circular)
    timed = prepared.time(seqs, breaks)
    if target is not None and _refit_break(prepared, timed, seqs, breaks, target):
        timed = prepared.time(seqs, breaks)
    routes = prepared.crew_routes(timed)

    planned_ids = {s.job_id for r in routes for s in r.stops}
    unassigned = [u for u in plan.unassigned if u.job_id not in planned_ids | {move.job_id}]
    if move.crew_id is None:
        assert source is not None
        detail = f"taken off crew {problem.crews[source].id}'s route by the dispatcher"
        unassigned.append(Unassigned(move.job_id, UnassignedReason.REMOVED_BY_DISPATCHER, detail))
        for other in taken_with:
            unassigned.append(
                Unassigned(
                    full.job_ids[other],
                    UnassignedReason.REMOVED_BY_DISPATCHER,
                    f"taken off with {move.job_id}, its partner in a two-crew visit, by the "
                    "dispatcher",
                )
            )
    stats = dict(plan.stats)
    before = stats.get("overrides", 0)
    stats["overrides"] = (int(before) if math.isfinite(before) else 0) + 1
    new = Plan(problem, routes, unassigned, stats, plan.settings)  # the same settings

    violations = validate_plan(new, prepared.travel)
    if violations:
        touched = {move.crew_id} | ({problem.crews[source].id} if source is not None else set())
        raise OverrideRefused(_reasons(new, full, violations, move, touched), violations)
    return new


def _place_partner(
    prepared: RoutedDay,
    seqs: dict[int, list[int]],
    breaks: dict[int, int],
    visit: int,
    other: int,
    move: Move,
) -> None:
    """Put `other`, the unplanned partner of `visit` in a two-crew visit, where it fits: on
    another crew that may do it, at the position whose route then ends earliest, the two
    routes timed together and each within its hard rules (the whole day is validated after).
    Raises `OverrideRefused` when no crew can take it, naming the pair: a two-crew visit is
    placed whole or not at all."""
    full = prepared.full
    p = full.routing
    problem = prepared.problem
    busy = {k for k, seq in seqs.items() for v in seq if v == visit}
    job = problem.jobs[other]
    ends = {s.visit: (s.end, r.vehicle) for r in prepared.time(seqs, breaks) for s in r.stops}
    best: tuple[int, int, int] | None = None
    for k, crew in enumerate(problem.crews):
        if k in busy or not crew.can_do(job):
            continue
        allowed = p.visits[other].allowed_vehicles
        if allowed is not None and k not in allowed:
            continue
        seq = seqs.get(k, [])
        for pos in range(len(seq) + 1):
            trial = {k: [*seq[:pos], other, *seq[pos:]], **{b: seqs[b] for b in busy}}
            trial_breaks = dict(breaks)
            if k in trial_breaks and pos <= trial_breaks[k]:
                trial_breaks[k] += 1
            fixed = {v: e for v, e in ends.items() if e[1] not in trial}
            timed = prepared.time(trial, trial_breaks, fixed)
            if any(prepared.check(r) for r in timed):
                continue
            starts = {st.visit: st.start for r in timed for st in r.stops}
            if not _synced_in(p, starts, visit, other):
                continue
            end = next(r.return_arrival for r in timed if r.vehicle == k)
            if best is None or end < best[0]:
                best = (end, k, pos)
    if best is None:
        raise OverrideRefused(
            [
                f"job {move.job_id}: its partner in a two-crew visit, {job.id}, is not planned "
                "and no other crew that may do it is free at the same time: a two-crew visit "
                "is planned whole or not at all"
            ]
        )
    put_in(seqs, breaks, best[1], best[2], other)


def _synced_in(p: RoutingProblem, starts: dict[int, int], a: int, b: int) -> bool:
    """Do visits a and b start within their sync's delays (both timed)?"""
    for sy in p.syncs:
        if {sy.first, sy.second} == {a, b} and sy.first in starts and sy.second in starts:
            delay = starts[sy.second] - starts[sy.first]
            return sy.min_delay_s <= delay <= sy.max_delay_s
    return False


def _circular_links(
    problem: DispatchProblem, full: Translation, seqs: dict[int, list[int]]
) -> list[str]:
    """Reasons, if stop orders and delivery-before-installation links form a circle.

    Such a day has no timing at all (e.g. an installation before its delivery on one route);
    refusing up front also spares the scheduler's repeated passes that could never settle.
    """
    succ: dict[int, list[int]] = {}
    indegree: dict[int, int] = {}
    route_of = {v: (k, i) for k, seq in seqs.items() for i, v in enumerate(seq)}
    edges = [(a, b) for seq in seqs.values() for a, b in itertools.pairwise(seq)]
    links = [
        (p.before, p.after)
        for p in full.routing.precedences
        if p.before in route_of and p.after in route_of
    ]
    for a, b in edges + links:
        succ.setdefault(a, []).append(b)
        indegree[b] = indegree.get(b, 0) + 1
    left = set(route_of)
    # Peel off nodes with no predecessors, then nodes with no successors: what remains lies
    # on a circle (or between two).
    queue = deque(v for v in left if indegree.get(v, 0) == 0)
    while queue:
        v = queue.popleft()
        left.discard(v)
        for w in succ.get(v, ()):
            indegree[w] -= 1
            if indegree[w] == 0:
                queue.append(w)
    if not left:
        return []
    outdegree = {v: sum(1 for w in succ.get(v, ()) if w in left) for v in left}
    pred: dict[int, list[int]] = {}
    for a, b in edges + links:
        if a in left and b in left:
            pred.setdefault(b, []).append(a)
    queue = deque(v for v in left if outdegree[v] == 0)
    while queue:
        v = queue.popleft()
        left.discard(v)
        for u in pred.get(v, ()):
            outdegree[u] -= 1
            if outdegree[u] == 0 and u in left:
                queue.append(u)
    reasons = []
    crew_ids = [c.id for c in problem.crews]
    for before, after in sorted(links, key=lambda p: (p[1], p[0])):
        if before not in left or after not in left:
            continue
        inst, deliv = full.job_ids[after], full.job_ids[before]
        (ka, ia), (kb, ib) = route_of[after], route_of[before]
        if ka == kb and ia < ib:
            reasons.append(
                f"job {inst}: the installation would come before its delivery {deliv} "
                f"on crew {crew_ids[ka]}'s route"
            )
        else:
            reasons.append(
                f"job {inst}: the installation waits for its delivery {deliv} (crew "
                f"{crew_ids[kb]}), which the routes' stop orders put after this installation"
            )
    return reasons or ["the routes' stop orders and delivery/installation links form a circle"]


def _refit_break(
    day: RoutedDay,
    timed: list[RouteSchedule],
    seqs: dict[int, list[int]],
    breaks: dict[int, int],
    k: int,
) -> bool:
    """If crew k's route, as `timed`, breaks a rule, move its lunch to the position where
    the route breaks none and ends earliest, nearest the old one on a tie (other routes held
    at their timing). True if it moved."""
    own = next((r for r in timed if r.vehicle == k), None)
    if day.full.routing.vehicles[k].break_ is None or own is None or not day.check(own):
        return False
    fixed = {s.visit: (s.end, r.vehicle) for r in timed if r.vehicle != k for s in r.stops}
    hint = breaks.get(k)
    centre = hint if hint is not None else len(seqs[k]) // 2
    best: tuple[int, int, int] | None = None  # (return, distance from the old spot, position)
    for pos in range(-1, len(seqs[k])):
        if pos == hint:
            continue
        route = day.time({k: seqs[k]}, {k: pos}, fixed)[0]
        if not day.check(route):
            key = (route.return_arrival, abs(pos - centre), pos)
            best = key if best is None else min(best, key)
    if best is None:
        return False
    breaks[k] = best[2]
    return True


# ---- readable reasons

#: job id -> its route and stop in the re-timed plan
Stops = dict[str, tuple[CrewRoute, PlannedStop]]
Clock = Callable[[datetime], str]


def _clock(moment: datetime, problem: DispatchProblem) -> str:
    """HH:MM (HH:MM:SS when the seconds matter), with the date when not the plan day."""
    text = moment.strftime("%H:%M" if moment.second == 0 else "%H:%M:%S")
    return text if moment.date() == problem.date else f"{moment.date().isoformat()} {text}"


def _reasons(
    plan: Plan,
    full: Translation,
    violations: list[PlanViolation],
    move: Move,
    touched: set[str | None],
) -> list[str]:
    """One readable line per broken rule (duplicates of the same finding merged).

    A rule broken on a crew the move did not touch (`touched`: the job's old and new crew)
    can only come from a delivery/installation link; the line then names the link.
    """
    problem = plan.problem
    jobs = problem.jobs_by_id()
    crews = {c.id: c for c in problem.crews}
    routes = {r.crew_id: r for r in plan.routes}
    stops: Stops = {s.job_id: (r, s) for r in plan.routes for s in r.stops}

    def clock(moment: datetime) -> str:
        return _clock(moment, problem)

    eligibility = {
        (v.job_id, v.crew_id)
        for v in violations
        if v.rule in {"kind", "skills", "people", "crew_mode"}
    }
    out: list[str] = []
    for v in violations:
        job = jobs.get(v.job_id) if v.job_id else None
        crew = crews.get(v.crew_id) if v.crew_id else None
        route = routes.get(v.crew_id) if v.crew_id else None
        text = None
        if v.rule == "kind" and job and crew:
            text = (
                f"job {job.id}: crew {crew.id} is a {_kind(crew.kind)} and cannot do "
                f"{job.kind.value} jobs"
            )
        elif v.rule == "skills" and job and crew:
            lacking = sorted(job.skills - crew.skills)
            skill = "skill" if len(lacking) == 1 else "skills"
            text = (
                f"job {job.id}: crew {crew.id} lacks the {skill} {', '.join(lacking)} the job needs"
            )
        elif v.rule == "people" and job and crew:
            text = f"job {job.id}: needs {job.people} people, crew {crew.id} has {crew.people}"
        elif v.rule == "allowed_vehicle":
            if (v.job_id, v.crew_id) in eligibility:
                continue
            text = f"job {v.job_id}: crew {v.crew_id} may not do this job"
        elif v.rule == "window" and job and job.id in stops:
            text = _window_reason(problem, full, stops, job.id, clock)
        elif v.rule in {"max_jobs", "max_visits"} and crew and route:
            text = (
                f"crew {crew.id}: would have {len(route.stops)} jobs, more than its limit of "
                f"{crew.max_jobs} a day"
            )
        elif v.rule == "capacity" and crew and route:
            text = _capacity_reason(plan, crew.id, move, jobs)
        elif v.rule == "shift" and crew and route and route.return_at > problem.at(crew.shift_end):
            text = (
                f"crew {crew.id}: would be back at the depot at {clock(route.return_at)}, "
                f"after the shift ends at {crew.shift_end.strftime('%H:%M')}"
            )
        elif v.rule == "break" and crew and route and route.lunch and crew.lunch:
            lunch = crew.lunch
            text = (
                f"crew {crew.id}: the {lunch.minutes}-minute lunch break no longer fits its "
                f"window {lunch.window_start.strftime('%H:%M')}-"
                f"{lunch.window_end.strftime('%H:%M')} (it would start at "
                f"{clock(route.lunch.start)})"
            )
        elif v.rule in {"precedence", "sync"} and v.job_id:
            text = (
                _link_reason(problem, full, stops, v.job_id, clock)
                if v.rule == "precedence"
                else _sync_reason(problem, stops, v.job_id, clock)
            )
        # a rule broken on a crew the move did not touch: name the link that carried it there
        untouched = route is not None and route.crew_id not in touched
        explained = text is not None and "after its delivery" in text
        if text and untouched and v.rule in {"window", "shift", "break"} and not explained:
            assert route is not None  # (untouched)
            text += _held_back(problem, full, stops, route, touched, clock)
        # an order's own rules (`dispatch.link_rules`): its maximum gap, its crew mode
        out.append(text or _order_rule_reason(problem, stops, v, clock) or str(v))
    return list(dict.fromkeys(out))


def _sync_reason(
    problem: DispatchProblem, stops: Stops, job_id: str, clock: Callable[[datetime], str]
) -> str:
    """Why a two-crew visit would break: a half alone, both on one crew, or starts too far
    apart (the delays allowed)."""
    for sy in problem.syncs:
        if job_id not in (sy.first, sy.second):
            continue
        a, b = stops.get(sy.first), stops.get(sy.second)
        if a is None or b is None:
            lone = sy.first if a is not None else sy.second
            other = sy.second if lone == sy.first else sy.first
            return (
                f"job {lone}: would be planned without {other}, its partner in a two-crew "
                "visit (both or neither)"
            )
        if a[0].crew_id == b[0].crew_id:
            return (
                f"jobs {sy.first} and {sy.second}: a two-crew visit needs two crews, both "
                f"would be on crew {a[0].crew_id}"
            )
        return (
            f"jobs {sy.first} and {sy.second}: a two-crew visit; {sy.second} "
            f"({b[0].crew_id}) would start at {clock(b[1].start)}, {sy.first} "
            f"({a[0].crew_id}) at {clock(a[1].start)}: the second must start "
            f"{sy.min_delay_minutes} to {sy.max_delay_minutes} min after the first"
        )
    return f"job {job_id}: its two-crew visit would break"


def _held_back(
    problem: DispatchProblem,
    full: Translation,
    stops: Stops,
    route: CrewRoute,
    touched: set[str | None],
    clock: Clock,
) -> str:
    """A note naming an installation on `route` held back by another crew's delivery,
    preferring a delivery on a crew the move touched; "" if none is held back."""
    notes = []
    gap = timedelta(minutes=problem.link_gap_minutes)
    for s in route.stops:
        delivery = _delivery_of(full, s.job_id)
        if delivery is None or delivery not in stops:
            continue
        d_route, d_stop = stops[delivery]
        if d_route.crew_id != route.crew_id and s.start == d_stop.end + gap:
            note = (
                f" (its installation {s.job_id} waits for delivery {delivery} of crew "
                f"{d_route.crew_id}, which would end at {clock(d_stop.end)})"
            )
            notes.append((d_route.crew_id not in touched, note))
    return min(notes)[1] if notes else ""


def _kind(kind: CrewKind) -> str:
    return kind.value.replace("_", " ")


def _delivery_of(full: Translation, job_id: str) -> str | None:
    """The job id of the delivery an installation waits for, if any."""
    visit = full.job_ids.index(job_id)
    for p in full.routing.precedences:
        if p.after == visit:
            return full.job_ids[p.before]
    return None


def _window_reason(
    problem: DispatchProblem, full: Translation, stops: Stops, job_id: str, clock: Clock
) -> str:
    job = problem.jobs_by_id()[job_id]
    pulled = _pulled_reason(problem, stops, job, clock)
    if pulled is not None:  # a delivery its installation's maximum gap holds back
        return pulled
    route, stop = stops[job_id]
    closes = job.windows[-1].end
    which = "the window closes" if len(job.windows) == 1 else "its last window closes"
    if stop.start < job.windows[0].start or stop.start <= closes:
        spans = ", ".join(f"{clock(w.start)}-{clock(w.end)}" for w in job.windows)
        return (
            f"job {job_id}: crew {route.crew_id} would start at {clock(stop.start)}, outside "
            f"its window(s) {spans}"
        )
    delivery = _delivery_of(full, job_id) if job.kind is JobKind.INSTALLATION else None
    if delivery is not None and delivery in stops:
        d_route, d_stop = stops[delivery]
        gap = 0 if d_route.crew_id == route.crew_id else problem.link_gap_minutes
        if stop.start == d_stop.end + timedelta(minutes=gap):  # held back by its delivery
            after = f" plus the {gap}-minute gap" if gap else ""
            return (
                f"job {job_id}: crew {route.crew_id} could start the installation no earlier "
                f"than {clock(stop.start)}, after its delivery {delivery} (crew "
                f"{d_route.crew_id}) ends at {clock(d_stop.end)}{after}, but {which} at "
                f"{clock(closes)}"
            )
    if stop.start > stop.arrival:
        return (
            f"job {job_id}: crew {route.crew_id} could start no earlier than "
            f"{clock(stop.start)}, after {which} at {clock(closes)}"
        )
    return (
        f"job {job_id}: crew {route.crew_id} would arrive {clock(stop.arrival)}, after "
        f"{which} at {clock(closes)}"
    )


def _link_reason(
    problem: DispatchProblem, full: Translation, stops: Stops, job_id: str, clock: Clock
) -> str | None:
    delivery = _delivery_of(full, job_id)
    if delivery is None or job_id not in stops:
        return None
    if delivery not in stops:
        return (
            f"job {job_id}: the installation would stay planned but its delivery {delivery} "
            f"would not; take the installation off first"
        )
    (route, stop), (d_route, d_stop) = stops[job_id], stops[delivery]
    gap = 0 if d_route.crew_id == route.crew_id else problem.link_gap_minutes
    after = f" plus the {gap}-minute gap" if gap else ""
    return (
        f"job {job_id}: the installation (crew {route.crew_id}) would start at "
        f"{clock(stop.start)}, before its delivery {delivery} (crew {d_route.crew_id}) ends at "
        f"{clock(d_stop.end)}{after}"
    )


def _capacity_reason(plan: Plan, crew_id: str, move: Move, jobs: dict[str, Job]) -> str | None:
    crew = next(c for c in plan.problem.crews if c.id == crew_id)
    route = next(r for r in plan.routes if r.crew_id == crew_id)
    volume = sum(job_demand(jobs[s.job_id])[0] for s in route.stops)
    weight = sum(job_demand(jobs[s.job_id])[1] for s in route.stops)
    over = []
    if volume > int(crew.capacity_volume_l):
        over.append(f"{volume} l, over its {int(crew.capacity_volume_l)} l")
    if weight > int(crew.capacity_weight_kg):
        over.append(f"{weight} kg, over its {int(crew.capacity_weight_kg)} kg")
    if not over:
        return None
    with_job = f" with job {move.job_id}" if move.crew_id == crew_id else ""
    return f"crew {crew_id}: the vehicle{with_job} would carry " + " and ".join(over)


def _order_rule_reason(
    problem: DispatchProblem, stops: Stops, v: PlanViolation, clock: Clock
) -> str | None:
    """An order's own rules (`dispatch.link_rules`) in words: the installation too long
    after its delivery (the maximum gap), the one visit split, or a crew the order's crew
    mode does not use."""
    job = problem.jobs_by_id().get(v.job_id or "")
    if job is None or v.rule not in {"max_link_gap", "same_vehicle", "crew_mode"}:
        return None
    if v.rule == "crew_mode":
        mode = problem.crew_mode_for(_installation_of(problem, job) or job)
        how = (
            "in one visit by a combined crew"
            if mode is CrewMode.COMBINED
            else "in two visits, the delivery by a delivery truck"
        )
        crew = next((c for c in problem.crews if c.id == v.crew_id), None)
        who = f"a {_kind(crew.kind)}" if crew is not None else "not such a crew"
        return (
            f"job {job.id}: order {job.order_id} is to be served {how} (crew mode "
            f"{mode.value}); crew {v.crew_id} is {who}"
        )
    delivery = next(
        (j for j in problem.jobs if j.order_id == job.order_id and j.kind is JobKind.DELIVERY),
        None,
    )
    if v.rule == "same_vehicle":
        what = f"delivery {delivery.id}" if delivery is not None else "its delivery"
        return (
            f"job {job.id}: order {job.order_id} is to be served in one visit (crew mode "
            f"combined): the installation must come right after its {what}, on the same crew"
        )
    most = problem.max_link_gap_for(job)
    if job.id not in stops or most is None:
        return None
    route, stop = stops[job.id]
    if delivery is not None and delivery.id in stops:
        d_route, d_stop = stops[delivery.id]
        ended = d_stop.end
        after = f"its delivery {delivery.id} (crew {d_route.crew_id}) ends at {clock(ended)}"
    elif job.delivered_at is not None:
        ended = job.delivered_at
        after = f"its delivery ended at {clock(ended)}"
    else:
        return None
    late = int((stop.start - ended).total_seconds() // 60)
    return (
        f"job {job.id}: the installation (crew {route.crew_id}) would start at "
        f"{clock(stop.start)}, {late} min after {after}: more than the {most}-minute maximum "
        f"gap between a delivery and its installation"
    )


def _installation_of(problem: DispatchProblem, job: Job) -> Job | None:
    """The installation of the job's order (the job itself when it is one), or None."""
    if job.kind is JobKind.INSTALLATION:
        return job
    return next(
        (j for j in problem.jobs if j.order_id == job.order_id and j.kind is JobKind.INSTALLATION),
        None,
    )


def _pulled_reason(problem: DispatchProblem, stops: Stops, job: Job, clock: Clock) -> str | None:
    """A delivery timed out of its window by its installation's maximum gap (the schedule
    starts a delivery no earlier than its installation's start less the gap and its own
    service): the gap named; None for any other window."""
    inst = _installation_of(problem, job) if job.kind is JobKind.DELIVERY else None
    most = problem.max_link_gap_for(inst) if inst is not None else None
    if inst is None or most is None or inst.id not in stops:
        return None
    route, stop = stops[job.id]
    i_route, i_stop = stops[inst.id]
    if stop.end != i_stop.start - timedelta(minutes=most):
        return None
    closes = job.windows[-1].end
    return (
        f"job {job.id}: its installation {inst.id} (crew {i_route.crew_id}) would start at "
        f"{clock(i_stop.start)}; within the {most}-minute maximum gap between a delivery and "
        f"its installation, crew {route.crew_id} would have to start the delivery at "
        f"{clock(stop.start)}, outside its window (it closes at {clock(closes)})"
    )
