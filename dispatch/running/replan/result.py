"""The result of a re-plan: the new plan, validated, its diff against the published one, and
its stats (`ReplanResult`, made by `build_result`).

The new plan's problem is the re-plan problem: the base problem (`dispatch.running.replan.problem`)
with each pinned job's windows widened to contain its actual start and the crews' shifts
and lunch windows relaxed as the facts forced (`ReplanProblem.crew_patch`), so that it
passes `validate_plan`. Every job not on a route is unassigned with a reason: the old
entries that still hold, the screening's reason for a new job no crew could ever do,
`linked_job_unassigned` for an installation whose delivery is not planned,
`window_unreachable` when its window closed before `at`, `crew_unavailable` for a gone
crew's jobs no other crew can fit, else `no_capacity_left`.
"""

from __future__ import annotations

import dataclasses
import math
import time as clock
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

from dispatch.day_problem import DispatchProblem
from dispatch.models import Crew, JobKind, LunchBreak, TimeWindow
from dispatch.plan import Plan, Unassigned, UnassignedReason
from dispatch.plan_validator import PlanInvalid, validate_plan
from dispatch.planning.routed_day import crew_routes_of
from dispatch.running.plan_diff import PlanDiff, diff_plans
from dispatch.running.replan.pairs import pairs_whole
from dispatch.running.replan.problem import ReplanProblem
from dispatch.running.replan.sequences import CrewSequences, Ledger
from dispatch.running.replan.settle import settle, time_routes
from dispatch.translate import Translation
from routing.problem import RouteSchedule, Sync


@dataclass
class ReplanResult:
    plan: Plan  # validated; its problem is the re-plan problem (see the module docstring)
    diff: PlanDiff
    pinned: frozenset[str]  # done + in progress
    frozen: frozenset[str]  # frozen stops that stayed in place
    stats: dict[str, float]


def build_result(
    rp: ReplanProblem,
    day: CrewSequences,
    ledger: Ledger,
    screened: dict[str, Unassigned],
    orphans: list[int],
    inserted: list[int],
    by_solver: list[int],
) -> ReplanResult:
    """The new plan from the crews' final sequences, validated, with its diff and stats."""
    routes = settle(rp, day, ledger)  # a no-op unless a phase left something to release
    taken, started_alone = pairs_whole(rp, day)
    if taken:
        routes = time_routes(rp, day)
    ledger.stats["pairs_taken_off"] = len(taken) // 2
    problem = _final_problem(rp, routes, started_alone)
    full = rp.full
    tr = Translation(rp.sched, full.job_ids, full.crew_ids, full.location_map)
    crew_routes = crew_routes_of(problem, rp.deadlines, tr, routes)
    planned = {s.job_id for r in crew_routes for s in r.stops}
    unassigned = _unassigned(rp, ledger, screened, planned)
    stats = dict(ledger.stats)
    new = Plan(problem, crew_routes, unassigned, stats, rp.plan.settings)  # planned as before
    violations = validate_plan(new, rp.travel)
    if violations:
        raise PlanInvalid(violations)
    diff = diff_plans(
        rp.plan,
        new,
        notified_eta=rp.notified_dt,
        tolerance_minutes=rp.opt.eta_tolerance_minutes,
        started=frozenset(rp.facts),
    )
    placed = set(inserted) | set(by_solver)
    stats.update(
        wall_s=round(clock.monotonic() - rp.started, 2),
        orphans=len(orphans),
        inserted=len(inserted),
        inserted_by_solver=len(by_solver),
        unplaced=sum(1 for v in orphans if v not in placed),
        reoptimised_crews=stats.get("reoptimised_crews", 0),
        frozen_released=len(ledger.released_frozen),
        moved=len(diff.moved),
        eta_notices=len(diff.notices),
        crews_changed=len(diff.crews_changed),
    )
    new.stats = dict(stats)
    frozen = {
        full.job_ids[v]
        for k, seq in day.seqs.items()
        for v in seq[day.pinned[k] : day.prefix[k]]
        if v in rp.frozen_v
    }
    return ReplanResult(new, diff, frozenset(rp.facts), frozenset(frozen), stats)


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def _time_of(seconds: int) -> time:
    seconds = max(0, min(int(seconds), 86_399))
    return time(seconds // 3600, seconds % 3600 // 60, seconds % 60)


def _widen(windows: tuple[TimeWindow, ...], moment: datetime) -> tuple[TimeWindow, ...]:
    """The windows, one of them stretched to contain `moment` (unchanged if one does)."""
    if any(w.start <= moment <= w.end for w in windows):
        return windows
    out = list(windows)
    if moment < out[0].start:
        out[0] = TimeWindow(moment, out[0].end)
    else:
        k = max(i for i, w in enumerate(out) if w.start <= moment)
        out[k] = TimeWindow(out[k].start, moment)
    return tuple(out)


def _final_problem(
    rp: ReplanProblem, routes: list[RouteSchedule], started_alone: Sequence[Sync] = ()
) -> DispatchProblem:
    """The base problem with the facts' windows and the crews' relaxations written in, and
    without the two-crew visits a started half broke (`dispatch.running.replan.pairs`)."""
    starts = {rp.full.job_ids[s.visit]: s.start for r in routes for s in r.stops}
    ids = rp.full.job_ids
    alone = {(ids[sy.first], ids[sy.second]) for sy in started_alone}
    unlinked = {second for first, second in alone}
    jobs = []
    for job in rp.base.jobs:
        if job.id in rp.facts and job.id in starts:
            moment = rp.base.from_seconds(starts[job.id])
            job = dataclasses.replace(job, windows=_widen(job.windows, moment))
        if job.id in unlinked and job.assists is not None:
            job = dataclasses.replace(job, assists=None)
        jobs.append(job)
    crews: list[Crew] = []
    for k, crew in enumerate(rp.base.crews):
        patch = rp.crew_patch.get(k)
        if patch:
            changes: dict = {}
            if "shift_start" in patch:
                changes["shift_start"] = _time_of(patch["shift_start"])
            if "shift_end" in patch:
                changes["shift_end"] = _time_of(math.ceil(patch["shift_end"]))
            if "lunch_end" in patch and crew.lunch is not None:
                changes["lunch"] = LunchBreak(
                    crew.lunch.window_start, _time_of(patch["lunch_end"]), crew.lunch.minutes
                )
            crew = dataclasses.replace(crew, **changes)
        crews.append(crew)
    syncs = [sy for sy in rp.base.syncs if (sy.first, sy.second) not in alone]
    return dataclasses.replace(rp.base, jobs=jobs, crews=crews, syncs=syncs)


def _unassigned(
    rp: ReplanProblem,
    ledger: Ledger,
    screened: dict[str, Unassigned],
    planned: set[str],
) -> list[Unassigned]:
    """Old unassigned entries that still hold, and a reason for every job left out now (a
    half of a two-crew visit: its pair is off the plan whole, `dispatch.running.replan.pairs`)."""
    state = rp.state
    out = [
        u for u in rp.plan.unassigned if u.job_id not in state.cancelled and u.job_id not in planned
    ]
    listed = {u.job_id for u in out}
    paired = {i for sy in rp.sched.syncs for i in (sy.first, sy.second)}
    deliveries = {j.order_id: j.id for j in rp.base.jobs if j.kind is JobKind.DELIVERY}
    for v, job in enumerate(rp.base.jobs):
        if job.id in planned or job.id in listed:
            continue
        if job.id in screened:
            out.append(screened[job.id])
            continue
        delivery = deliveries.get(job.order_id)
        if job.kind is JobKind.INSTALLATION and delivery and delivery not in planned:
            reason = UnassignedReason.LINKED_JOB_UNASSIGNED
            detail = f"the delivery of order {job.order_id} is not planned"
        elif v in paired:
            reason = UnassignedReason.ASSIST_PAIR
            detail = (
                f"after the re-plan at {_clock(rp.state.at)} no two crews could do it and its "
                "partner in a two-crew visit at the same time, so both are off the plan"
            )
        else:
            reason, detail = _left_out(rp, v, ledger.origin.get(v))
        out.append(Unassigned(job.id, reason, detail))
    return out


def _left_out(rp: ReplanProblem, v: int, k: int | None) -> tuple[UnassignedReason, str]:
    """Why visit v (last on crew k, if any) is left out of the new plan."""
    at = _clock(rp.state.at)
    if v in rp.gap_closed:
        latest = _clock(rp.base.from_seconds(rp.gap_closed[v]))
        return (
            UnassignedReason.MAX_LINK_GAP,
            f"its delivery is done; within its order's maximum gap it had to start by "
            f"{latest}, before any of its windows",
        )
    if v in rp.expired:
        return (
            UnassignedReason.WINDOW_UNREACHABLE,
            f"its window(s) closed before the re-plan at {at}",
        )
    if k is not None and k in rp.unavailable:
        crew = rp.full.crew_ids[k]
        since = _clock(rp.base.from_seconds(rp.unavailable[k]))
        return (
            UnassignedReason.CREW_UNAVAILABLE,
            f"crew {crew} is unavailable from {since} and no other eligible crew can fit it in",
        )
    if k is not None:
        return (
            UnassignedReason.NO_CAPACITY_LEFT,
            f"no longer fits crew {rp.full.crew_ids[k]}'s day after the re-plan at {at}, "
            "and no other eligible crew has room",
        )
    return (
        UnassignedReason.NO_CAPACITY_LEFT,
        f"no eligible crew has room at its windows after the re-plan at {at}",
    )
