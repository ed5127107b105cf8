"""The re-plan problem: the day's facts in the model's terms, and the routing problem every
phase of a re-plan times against (`ReplanProblem`, made by `build_problem`).

* **facts**: each pinned (done or in progress) job's actual start and end, in whole minutes
  (an in-progress one ends at its expected end, never before `at`);
* **base**: the plan's problem less the cancelled jobs plus the new ones; a pinned job's
  service minutes are its actual duration, an overrunning job's its new one, and the link
  gap between a delivery and its installation shrinks to what two pinned visits on
  different crews actually left;
* **sched**: the routing problem of `base` with every pinned stop fixed at its actual start
  and nothing else before `at` (a visit whose windows all closed by then is `expired`).

The settle step (`dispatch.running.replan.settle`) then adjusts `sched`'s crews and fact windows to
what the facts force, and fills in the fields below "decided by the settle step". From then
on the problem is fixed: only the crews' sequences (`dispatch.running.replan.sequences`) change.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatch.day_problem import DispatchProblem
from dispatch.link_rules import MAX_LINK_GAP_MINUTES, CrewMode, rule_key
from dispatch.models import JobKind
from dispatch.plan import CrewRoute, Plan, PlannedStop
from dispatch.planning.routed_day import OnRoutedDay, RoutedDay, routed_day
from dispatch.running.replan.options import ReplanOptions
from dispatch.running.replan.state import DayState
from dispatch.service_time import estimate_minutes
from dispatch.translate import Translation
from routing.problem import Precedence, RoutingProblem, Visit


@dataclass
class ReplanProblem(OnRoutedDay):
    """One re-plan's problem, and the indexes between job / crew ids and model positions.

    Visits (`v`) and crews (`k`) are indexes into `full` (all jobs of `base`, all crews),
    the same in `sched`.
    """

    plan: Plan
    state: DayState
    opt: ReplanOptions
    started: float  # the monotonic clock when the re-plan began
    old_stops: dict[str, tuple[CrewRoute, PlannedStop]]  # job id -> its route and stop
    facts: dict[str, tuple[datetime, datetime]]  # pinned job id -> (start, end)
    base: DispatchProblem
    #: `base` in routing form (all its jobs and crews), with its travel model and deadlines
    routed: RoutedDay
    at_s: int
    tolerance_s: int
    pinned_v: set[int]
    expired: set[int]  # visits whose windows all closed before `at`
    unavailable: dict[int, int]  # crew -> from when it is gone (seconds)
    sched: RoutingProblem  # what every phase times against (see the module docstring)
    notified_dt: dict[str, datetime]  # job id -> the ETA the customer was told
    notified: dict[int, int]  # the same by visit, in seconds
    weight: list[int]  # visit -> priority weight
    awaited: set[int]  # deliveries an installation waits for
    before_of: dict[int, tuple[int, int]]  # installation -> (its delivery, the link gap)
    # -- decided by the settle step (`dispatch.running.replan.settle`)
    frozen_v: set[int] = field(default_factory=set)
    break_taken: dict[int, bool] = field(default_factory=dict)  # crew -> lunch begun by `at`
    crew_patch: dict[int, dict[str, int]] = field(default_factory=dict)  # relaxed shift/lunch
    day_over: set[int] = field(default_factory=set)  # crews whose shift is over by `at`
    #: installations whose delivery is a fact and whose maximum gap after it closed before
    #: any of their windows: visit -> the latest start the gap allowed (seconds); expired
    gap_closed: dict[int, int] = field(default_factory=dict)


def build_problem(
    plan: Plan, state: DayState, options: ReplanOptions, started: float
) -> ReplanProblem:
    """The re-plan problem of `plan` from `state` (see the module docstring)."""
    old_stops = {s.job_id: (r, s) for r in plan.routes for s in r.stops}
    facts = pinned_facts(plan, state)
    base = _base_problem(plan, state, facts, old_stops)
    routed = routed_day(base)
    full, job_pos, crew_pos = routed.full, routed.job_pos, routed.crew_pos
    at_s = base.to_seconds(state.at)
    sched, expired, gap_closed = _sched_problem(full, base, facts, at_s)
    notified_dt = {j: s.start for j, (_, s) in old_stops.items() if j in job_pos} | {
        j: t for j, t in state.notified_eta.items() if j in job_pos
    }
    return ReplanProblem(
        plan=plan,
        state=state,
        opt=options,
        started=started,
        old_stops=old_stops,
        facts=facts,
        base=base,
        routed=routed,
        at_s=at_s,
        tolerance_s=options.eta_tolerance_minutes * 60,
        pinned_v={job_pos[j] for j in facts},
        expired=expired,
        unavailable={crew_pos[c]: base.to_seconds(t) for c, t in state.unavailable.items()},
        sched=sched,
        notified_dt=notified_dt,
        notified={job_pos[j]: base.to_seconds(t) for j, t in notified_dt.items()},
        weight=[j.priority.weight for j in base.jobs],
        awaited={pr.before for pr in sched.precedences},
        before_of={pr.after: (pr.before, pr.gap_s) for pr in sched.precedences},
        gap_closed=gap_closed,
    )


def whole_minutes(delta: timedelta) -> int:
    """Service minutes for a visit that took `delta`: rounded up, 1..720."""
    return min(720, max(1, math.ceil(delta.total_seconds() / 60)))


def pinned_facts(plan: Plan, state: DayState) -> dict[str, tuple[datetime, datetime]]:
    """Pinned job id -> (start, end) as the model states them (whole minutes)."""
    jobs = plan.problem.jobs_by_id()
    facts = {}
    for job_id, (start, end) in state.done.items():
        facts[job_id] = (start, start + timedelta(minutes=whole_minutes(end - start)))
    for job_id, start in state.in_progress.items():
        planned = timedelta(minutes=estimate_minutes(jobs[job_id]))
        end = max(state.expected_end.get(job_id, start + planned), state.at)
        facts[job_id] = (start, start + timedelta(minutes=whole_minutes(end - start)))
    return facts


def _base_problem(
    plan: Plan,
    state: DayState,
    facts: dict[str, tuple[datetime, datetime]],
    old_stops: dict[str, tuple[CrewRoute, PlannedStop]],
) -> DispatchProblem:
    """Old jobs - cancelled + new, with the facts' durations and overruns' new ones."""
    old = plan.problem
    jobs = []
    for job in old.jobs:
        if job.id in state.cancelled:
            continue
        if job.id in facts:
            start, end = facts[job.id]
            job = dataclasses.replace(job, service_minutes=whole_minutes(end - start))
        elif job.id in state.expected_end:
            planned_start = old_stops[job.id][1].start
            minutes = whole_minutes(state.expected_end[job.id] - planned_start)
            job = dataclasses.replace(job, service_minutes=minutes)
        jobs.append(job)
    jobs += list(state.new_jobs)
    gap = _link_gap(old, facts, old_stops)
    max_gaps, modes = _pinned_order_rules(old, facts, old_stops)
    return dataclasses.replace(
        old, jobs=jobs, link_gap_minutes=gap, max_link_gap_minutes=max_gaps, crew_mode=modes
    )


def _pinned_order_rules(
    old: DispatchProblem,
    facts: dict[str, tuple[datetime, datetime]],
    old_stops: dict[str, tuple[CrewRoute, PlannedStop]],
) -> tuple[dict[str, int], dict[str, CrewMode]]:
    """The problem's maximum gaps and crew modes (`dispatch.link_rules`), loosened where a
    pinned installation already started later after its delivery than its rule allows (the
    rule's key widened to what the facts left), or a one-visit order (`combined`) was in
    fact served otherwise (its key set to `auto`): facts are never refused, as `_link_gap`
    shrinks the link gap. The loosened key covers the day's other orders under it too."""
    max_gaps = dict(old.max_link_gap_minutes)
    modes = dict(old.crew_mode)
    crew_of = {j: r.crew_id for j, (r, _) in old_stops.items()}
    deliveries = {j.order_id: j.id for j in old.jobs if j.kind is JobKind.DELIVERY}
    for job in old.jobs:
        if job.kind is not JobKind.INSTALLATION or job.id not in facts:
            continue
        delivery = deliveries.get(job.order_id)
        ended = facts[delivery][1] if delivery in facts else job.delivered_at
        if delivery is not None and delivery not in facts:
            continue
        if ended is None:
            continue
        left = math.ceil((facts[job.id][0] - ended).total_seconds() / 60)
        key = rule_key(max_gaps, job)
        if key is not None and left > max_gaps[key]:
            max_gaps[key] = min(left, MAX_LINK_GAP_MINUTES)
        mode_key = rule_key(modes, job)
        one_visit = delivery is not None and crew_of.get(delivery) == crew_of.get(job.id)
        served_otherwise = not one_visit or left > 0
        if mode_key is not None and modes[mode_key] is CrewMode.COMBINED and served_otherwise:
            modes[mode_key] = CrewMode.AUTO
    return max_gaps, modes


def _link_gap(
    old: DispatchProblem,
    facts: dict[str, tuple[datetime, datetime]],
    old_stops: dict[str, tuple[CrewRoute, PlannedStop]],
) -> int:
    """The problem's link gap, shrunk to what two pinned linked visits actually left."""
    gap = old.link_gap_minutes
    crew_of = {j: r.crew_id for j, (r, _) in old_stops.items()}
    deliveries = {j.order_id: j.id for j in old.jobs if j.kind is JobKind.DELIVERY}
    for job in old.jobs:
        delivery = deliveries.get(job.order_id)
        if (
            job.kind is JobKind.INSTALLATION
            and job.id in facts
            and delivery in facts
            and crew_of.get(delivery) != crew_of.get(job.id)
        ):
            left = facts[job.id][0] - facts[delivery][1]
            gap = min(gap, max(0, int(left.total_seconds() // 60)))
    return gap


def _sched_problem(
    full: Translation,
    base: DispatchProblem,
    facts: dict[str, tuple[datetime, datetime]],
    at_s: int,
) -> tuple[RoutingProblem, set[int], dict[int, int]]:
    """The routing problem the re-plan times against: pinned stops at their actual start,
    nothing else before `at`; and the visits that can no longer start (their windows all
    closed before `at`, or cut away by an order's maximum gap after its delivery's fact:
    `_gap_after_facts`, which returns them too). Crews are adjusted later
    (`settle.settle_pinned`)."""
    p = full.routing
    visits = list(p.visits)
    expired: set[int] = set()
    for v, visit in enumerate(visits):
        job_id = full.job_ids[v]
        if job_id in facts:
            s = base.to_seconds(facts[job_id][0])
            visits[v] = dataclasses.replace(visit, windows=((s, s),))
            continue
        clipped = tuple((max(a, at_s), b) for a, b in visit.windows if b >= at_s)
        if clipped:
            visits[v] = dataclasses.replace(visit, windows=clipped)
        else:
            expired.add(v)
    links, gap_closed = _gap_after_facts(full, base, facts, visits)
    expired |= set(gap_closed)
    sched = RoutingProblem(visits, list(p.vehicles), p.travel, links, list(p.syncs))
    return sched, expired, gap_closed


def _gap_after_facts(
    full: Translation,
    base: DispatchProblem,
    facts: dict[str, tuple[datetime, datetime]],
    visits: list[Visit],
) -> tuple[list[Precedence], dict[int, int]]:
    """The links, where a delivery is a fact, without their maximum gap: it becomes a cut
    of the installation's windows (to start by the delivery's actual end + the gap), so the
    timing's pull never moves the fact. An installation with no window left gets a closed
    one (its stop is released) and is returned with its latest start."""
    links = []
    closed: dict[int, int] = {}
    for pr in full.routing.precedences:
        delivery = full.job_ids[pr.before]
        if pr.max_gap_s is None or delivery not in facts:
            links.append(pr)
            continue
        latest = base.to_seconds(facts[delivery][1]) + pr.max_gap_s
        if full.job_ids[pr.after] not in facts:
            v = pr.after
            cut = tuple((a, min(b, latest)) for a, b in visits[v].windows if a <= latest)
            if not cut:
                closed[v] = latest
            visits[v] = dataclasses.replace(visits[v], windows=cut or ((0, 0),))
        links.append(dataclasses.replace(pr, max_gap_s=None))
    return links, closed
