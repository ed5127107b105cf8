"""Refusals: a `DayState` that cannot be right for the plan is refused before anything is
re-planned (`ReplanRefused`), with one reason line for each bad id or time.

The checks are independent; `refuse_bad_state` runs them all, in this order, so that every
reason is named at once: the day of `at`; ids the plan does not know; visits reported in a
way they cannot have happened (both done and in progress, started but on no route, started
and cancelled); times (done or started after `at`, overruns before their start); new jobs
that clash with the plan; installations started before their delivery.
"""

from __future__ import annotations

from collections.abc import Iterable

from dispatch.models import JobKind
from dispatch.plan import Plan
from dispatch.running.replan.state import DayState


class ReplanRefused(Exception):
    """The state cannot be re-planned as given; `reasons` name each bad id or time."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        self.reason = "; ".join(reasons)
        super().__init__("re-plan refused: " + self.reason)


def refuse_bad_state(plan: Plan, state: DayState) -> None:
    """Raise `ReplanRefused` naming every id or time in `state` that cannot be right."""
    problem = plan.problem
    at = state.at
    reasons: list[str] = []
    if at.date() != problem.date:
        reasons.append(f"at {at.isoformat()} is not on the plan's day {problem.date.isoformat()}")
    jobs = problem.jobs_by_id().keys()
    started = (set(state.done) | set(state.in_progress)) & jobs
    reasons += _unknown_ids(plan, state)
    reasons += _impossible_visits(plan, state, started)
    reasons += _bad_times(plan, state)
    reasons += _clashing_new_jobs(plan, state)
    reasons += _installations_before_delivery(plan, started)
    if reasons:
        raise ReplanRefused(reasons)


def _unknown_ids(plan: Plan, state: DayState) -> list[str]:
    """Job ids in the state that the plan does not have, and crews it does not know."""
    jobs = plan.problem.jobs_by_id()
    crews = {c.id for c in plan.problem.crews}
    new_ids = [j.id for j in state.new_jobs]
    reasons: list[str] = []

    def unknown(what: str, ids: Iterable[str]) -> None:
        bad = sorted(i for i in ids if i not in jobs)
        if bad:
            reasons.append(f"unknown job(s) in {what}: {', '.join(bad)}")

    unknown("done", state.done)
    unknown("in_progress", state.in_progress)
    unknown("expected_end", state.expected_end)
    unknown("cancelled", state.cancelled)
    unknown("notified_eta", {j for j in state.notified_eta if j not in new_ids})
    bad_crews = sorted(c for c in state.unavailable if c not in crews)
    if bad_crews:
        reasons.append(f"unknown crew(s) in unavailable: {', '.join(bad_crews)}")
    return reasons


def _impossible_visits(plan: Plan, state: DayState, started: set[str]) -> list[str]:
    """Visits both done and in progress, started off every route, or started and cancelled."""
    on_route = plan.stop_of()
    reasons: list[str] = []
    both = sorted(set(state.done) & set(state.in_progress))
    if both:
        reasons.append(f"job(s) both done and in progress: {', '.join(both)}")
    off_route = sorted(j for j in started if j not in on_route)
    if off_route:
        reasons.append(f"job(s) reported started but on no crew's route: {', '.join(off_route)}")
    cancelled_started = sorted(state.cancelled & started)
    if cancelled_started:
        reasons.append(
            f"job(s) already started cannot be cancelled (report them done or failed): "
            f"{', '.join(cancelled_started)}"
        )
    return reasons


def _bad_times(plan: Plan, state: DayState) -> list[str]:
    """Visits done or started after `at`, and expected ends that cannot be."""
    at = state.at
    jobs = plan.problem.jobs_by_id()
    on_route = plan.stop_of()
    reasons: list[str] = []
    for job_id, (start, end) in sorted(state.done.items()):
        if end < start:
            reasons.append(f"job {job_id}: done at {end.isoformat()}, before its start")
        if end > at:
            reasons.append(f"job {job_id}: done at {end.isoformat()}, after the re-plan time")
    for job_id, start in sorted(state.in_progress.items()):
        if start > at:
            reasons.append(f"job {job_id}: started at {start.isoformat()}, after the re-plan time")
    for job_id, end in sorted(state.expected_end.items()):
        if job_id in state.done:
            reasons.append(f"job {job_id}: done, it cannot overrun")
        elif job_id in state.in_progress:
            if end < state.in_progress[job_id]:
                reasons.append(f"job {job_id}: expected end {end.isoformat()} before its start")
        elif job_id in jobs and job_id not in on_route:
            reasons.append(f"job {job_id}: an expected end for a job on no crew's route")
        elif job_id in on_route and end <= on_route[job_id][0].stops[on_route[job_id][1]].start:
            reasons.append(f"job {job_id}: expected end {end.isoformat()} before its planned start")
    return reasons


def _clashing_new_jobs(plan: Plan, state: DayState) -> list[str]:
    """New jobs whose id the plan already has, that repeat, or that are also cancelled."""
    jobs = plan.problem.jobs_by_id()
    new_ids = [j.id for j in state.new_jobs]
    reasons: list[str] = []
    clash = sorted({i for i in new_ids if i in jobs or new_ids.count(i) > 1})
    if clash:
        reasons.append(f"new job id(s) already in the plan or repeated: {', '.join(clash)}")
    gone = sorted(i for i in state.cancelled if i in set(new_ids))
    if gone:
        reasons.append(f"new job(s) also cancelled: {', '.join(gone)}")
    return reasons


def _installations_before_delivery(plan: Plan, started: set[str]) -> list[str]:
    """Installations reported started whose delivery is not (it must come first)."""
    problem = plan.problem
    jobs = problem.jobs_by_id()
    deliveries = {j.order_id: j.id for j in problem.jobs if j.kind is JobKind.DELIVERY}
    reasons: list[str] = []
    for job_id in sorted(started):
        job = jobs[job_id]
        if job.kind is not JobKind.INSTALLATION:
            continue
        delivery = deliveries.get(job.order_id)
        if delivery is not None and delivery not in started:
            reasons.append(
                f"job {job_id}: the installation is reported started but its delivery "
                f"{delivery} is not"
            )
    return reasons
