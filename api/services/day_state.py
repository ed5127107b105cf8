"""The day as it stands, read from the database: the `dispatch.running.replan.DayState` a re-plan
starts from, and its JSON form stored on the re-plan's row.

`build_day_state` gathers, for a published plan and a moment `at` of its day:

* **done** and **in progress** from the job events of the plan's jobs (the current visit of
  each), by the re-plan's rule `dispatch.running.replan.pinning.pinned_visits`: `completed`/`failed`
  -> done, from the `started` (else `arrived`) time to the terminal one;
  `arrived`/`started` without a terminal event -> in progress since then; `departed` alone
  changes nothing. Times are the events' effective times (`dispatch.running.lifecycle.stamp`):
  a device time that is not believed stands at its receive time, or at `at` if that is
  earlier, and does not count as the last reported event;
* **expected ends** of overrunning jobs, from the request (`overruns`);
* **unavailable crews**: those named in the request, and the plan's crews with a `crew_days`
  row marking them `off` or `sick` that day (unavailable from `at`, unless the request says
  from when);
* **new jobs**: `open` jobs due that day in the plan's region (and zones) that are not in the
  plan's problem, urgent ones included;
* **cancelled**: jobs of the plan's problem that are now `cancelled` (or deleted);
* **notified ETAs**: the arrival each customer was last told (`api.services.notices`), else the
  arrival planned by the published plan.

Bad requests raise `InputError` naming the field (HTTP 422): `at` before the plan's last
reported event or on another day, an unknown crew or job, an expected end before `at`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.services.notices import notified_etas
from api.storage.models import CrewDayRow, JobEventRow, JobRow, PlanRow
from api.storage.store import job_of
from dispatch.errors import InputError, InputErrors
from dispatch.files.records import job_from_dict, job_to_dict
from dispatch.plan import Plan
from dispatch.running.lifecycle import stamp
from dispatch.running.replan import DayState
from dispatch.running.replan.pinning import pinned_visits

RECORD = "request body"
#: job statuses of a new job a re-plan takes in
NEW_JOB_STATUSES = ("open",)


@dataclass(frozen=True)
class Unavailable:
    """A crew that stops working at `since` (sick, broken van)."""

    crew_id: str
    since: datetime


@dataclass(frozen=True)
class Overrun:
    """A job that will end later than planned."""

    job_id: str
    expected_end: datetime


def build_day_state(
    session: Session,
    parent: PlanRow,
    plan: Plan,
    at: datetime,
    unavailable: Sequence[Unavailable] = (),
    overruns: Sequence[Overrun] = (),
) -> DayState:
    """The DayState of published plan `parent` (parsed: `plan`) at `at`; see the module
    docstring. Raises `InputError(s)` naming the request field for bad input."""
    problem_jobs = {j.id for j in plan.problem.jobs}
    routed = plan.stop_of()
    crews = {c.id for c in plan.problem.crews}
    if at.date() != parent.day:
        raise InputError(
            RECORD, "at", f"{at.isoformat()} is not on the plan's day {parent.day.isoformat()}"
        )
    rows = {
        r.id: r for r in session.scalars(select(JobRow).where(JobRow.id.in_(sorted(problem_jobs))))
    }
    events = {
        job_id: [stamp(e.type, e.device_time, e.received_at, rows[job_id].due_date) for e in evs]
        for job_id, evs in _events(session, rows).items()
    }
    latest = max((e.time for evs in events.values() for e in evs if e.believed), default=None)
    if latest is not None and at < latest:
        raise InputError(
            RECORD,
            "at",
            f"{at.isoformat()} is before the plan's last reported event "
            f"({latest.isoformat()}); re-plan from {latest.isoformat()} or later",
        )

    # the time of each event type of the current visit, pinned by the rule
    done, in_progress = pinned_visits(
        {
            job_id: {e.type: e.time if e.believed else min(e.time, at) for e in evs}
            for job_id, evs in events.items()
        }
    )

    errors: list[InputError] = []
    away: dict[str, datetime] = {}
    for k, u in enumerate(unavailable):
        if u.crew_id not in crews:
            errors.append(
                InputError(
                    RECORD,
                    f"unavailable[{k}].crew_id",
                    f"crew {u.crew_id!r} is not on plan {parent.id}",
                )
            )
        else:
            away[u.crew_id] = min(u.since, away.get(u.crew_id, u.since))
    for entry in session.scalars(
        select(CrewDayRow).where(
            CrewDayRow.day == parent.day,
            CrewDayRow.status.in_(("off", "sick")),
            CrewDayRow.crew_id.in_(sorted(crews)),
        )
    ):
        away.setdefault(entry.crew_id, at)

    expected_end: dict[str, datetime] = {}
    for k, o in enumerate(overruns):
        if o.job_id not in routed:
            errors.append(
                InputError(
                    RECORD,
                    f"overruns[{k}].job_id",
                    f"job {o.job_id!r} is not on a route of plan {parent.id}",
                )
            )
        elif o.expected_end < at:
            errors.append(
                InputError(
                    RECORD,
                    f"overruns[{k}].expected_end",
                    f"{o.expected_end.isoformat()} is before the re-plan time {at.isoformat()}",
                )
            )
        else:
            expected_end[o.job_id] = o.expected_end
    if errors:
        raise InputErrors(errors)

    cancelled = frozenset(j for j in problem_jobs if j not in rows or rows[j].status == "cancelled")
    new_query = select(JobRow).where(
        JobRow.due_date == parent.day,
        JobRow.region == parent.region,
        JobRow.status.in_(NEW_JOB_STATUSES),
    )
    if parent.zones:
        new_query = new_query.where(JobRow.zone.in_(list(parent.zones)))
    new_jobs = tuple(
        job_of(r)
        for r in session.scalars(new_query.order_by(JobRow.id))
        if r.id not in problem_jobs
    )

    planned = {job_id: r.stops[k].arrival for job_id, (r, k) in routed.items()}
    told = notified_etas(session, planned, parent.day)
    notified = {job_id: told.get(job_id, eta) for job_id, eta in planned.items()}
    return DayState(
        at=at,
        done=done,
        in_progress=in_progress,
        expected_end=expected_end,
        unavailable=away,
        new_jobs=new_jobs,
        cancelled=cancelled,
        notified_eta=notified,
    )


def _events(session: Session, rows: Mapping[str, JobRow]) -> dict[str, list[JobEventRow]]:
    """The events of each job's current visit, in device-time order."""
    if not rows:
        return {}
    out: dict[str, list[JobEventRow]] = {}
    query = (
        select(JobEventRow)
        .where(JobEventRow.job_id.in_(sorted(rows)))
        .order_by(JobEventRow.device_time, JobEventRow.id)
    )
    for event in session.scalars(query):
        if event.visit == rows[event.job_id].visit:
            out.setdefault(event.job_id, []).append(event)
    return out


# ---- JSON form (stored on the re-plan's row; personal data of new jobs in, like `problem`)


def _t(moment: datetime) -> str:
    return moment.isoformat()


def day_state_to_dict(state: DayState) -> dict[str, Any]:
    """The DayState as JSON-ready data (datetimes as local ISO strings)."""
    return {
        "at": _t(state.at),
        "done": {j: [_t(a), _t(b)] for j, (a, b) in sorted(state.done.items())},
        "in_progress": {j: _t(t) for j, t in sorted(state.in_progress.items())},
        "expected_end": {j: _t(t) for j, t in sorted(state.expected_end.items())},
        "unavailable": {c: _t(t) for c, t in sorted(state.unavailable.items())},
        "new_jobs": [job_to_dict(j) for j in state.new_jobs],
        "cancelled": sorted(state.cancelled),
        "notified_eta": {j: _t(t) for j, t in sorted(state.notified_eta.items())},
    }


def day_state_from_dict(data: Mapping[str, Any], source: str = "day state") -> DayState:
    """The DayState `day_state_to_dict` wrote (new jobs rebuilt through the importers' code)."""
    p = datetime.fromisoformat
    return DayState(
        at=p(data["at"]),
        done={j: (p(a), p(b)) for j, (a, b) in data.get("done", {}).items()},
        in_progress={j: p(t) for j, t in data.get("in_progress", {}).items()},
        expected_end={j: p(t) for j, t in data.get("expected_end", {}).items()},
        unavailable={c: p(t) for c, t in data.get("unavailable", {}).items()},
        new_jobs=tuple(
            job_from_dict(raw, f"{source} new_jobs[{k}]")
            for k, raw in enumerate(data.get("new_jobs", []))
        ),
        cancelled=frozenset(data.get("cancelled", [])),
        notified_eta={j: p(t) for j, t in data.get("notified_eta", {}).items()},
    )
