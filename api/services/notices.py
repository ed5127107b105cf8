"""Customer notices: what the customer is told about the crew's arrival, and when.

The business phones every customer with the expected arrival before the crew sets out
("arriving about 14:00, please have someone at home") and phones ahead when the crew will be
late (docs: ../shared/docs/domain.md). The service writes those messages as rows of
`customer_notices` in the **same transaction** as the publication that causes them (an
outbox: nothing published goes unannounced, nothing rolled back is announced);
`api.background.notice_sender` delivers them.

When a plan is published:

* **first publication of the day** (it replaces nothing): every job the publication assigns
  to a crew gets an `eta` notice;
* **a publication that replaces a plan** (an approved re-plan): a job gets
  - `eta` when the customer was never told one (a job new to the day's routes);
  - `late` when it is now planned to end after its promise deadline (or to start outside
    every booked window), was not in the plan replaced, and the customer has not been told
    so yet (an apology, with the new time);
  - otherwise `eta_changed` when its ETA moved by more than the tolerance
    (`eta_tolerance_minutes`, default 30) from the ETA the customer was last told;
  - nothing when the ETA stayed within the tolerance.

The ETA is the planned *start* of work (the crew at the door), not the planned arrival: the
planner lets a crew drive on early and wait, so its arrival can be hours before it rings.

"The arrival the customer was last told" is the ETA of the job's newest notice about that
day that is `pending` or `sent` (`notified_etas`); `dead` and `superseded` notices never
reached the customer, and a notice about another day (a visit rescheduled) does not count.
Jobs already on their way (en route, arrived, done) are not re-announced.

Texts (arrival rounded to the nearest 5 minutes; the band is the rounded arrival plus and
minus the tolerance, which is exactly the promise that a larger move is announced again), in
Chinese by default or English (`FIELDROUTE_NOTICE_LANGUAGE`; `api.services.notice_texts`)::

    eta          Arriving about 14:00 (between 13:30 and 14:30), please have someone at home.
    eta_changed  New arrival time: about 15:00 (between 14:30 and 15:30), please have someone
                 at home.
    late         Sorry, the crew is running late: now arriving about 15:40 (between 15:10
                 and 16:10). We apologise for the delay.

The notices the day's reports cause (`departed`, `running_late`, `done`) are
`api.services.event_notices`.

An `eta` notice (the customer's first word about the visit) ends with a tracking link made
for it (`api.services.tracking`): " Follow your visit: /track/<token>". The link's token is
stored in the notice's text (how it reaches the customer), nowhere else in clear; `GET
/notices` shows it only to the roles that see personal data.

No notice is written twice: `dedupe_key` is unique and is `"{plan}:{job}:{kind}:{HH:MM}"`, so
running the notices of one publication again adds nothing. (The plan id is part of the key on
purpose: a job moved 14:00 -> 16:00 -> 14:00 -> 16:00 by three re-plans must be told each
time; a key of job, kind and time alone would swallow the third message.) A new notice for a
job supersedes that job's older notices still `pending`: the customer gets the newest time,
not a stale one first. For how sending stays exactly-once towards the gateway, see
`api.background.notice_sender`.

Phones are personal data: they are copied onto the notice (the sender needs them), never
logged, and answered only to roles that see personal data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.services.notice_texts import TEXTS, notice_text, track_text
from api.services.tracking import link_for_notice
from api.storage.models import CustomerNoticeRow, JobRow

log = logging.getLogger("api.services.notices")

#: what a publication writes (`queue_publication_notices`)
PUBLICATION_KINDS = ("eta", "eta_changed", "late")
#: every kind: the publication's and the day's reports' (`api.services.event_notices`)
KINDS = (*PUBLICATION_KINDS, "departed", "running_late", "done")
#: the kinds that announce an arrival time (a `done` notice's time is the completion)
ARRIVAL_KINDS = tuple(k for k in KINDS if k != "done")
#: the kinds that apologise for lateness
LATE_KINDS = ("late", "running_late")
#: notice statuses: `pending` until sent (or given up), `superseded` by a newer one
STATUSES = ("pending", "sent", "dead", "superseded")
#: statuses of notices that reached, or are about to reach, the customer
TOLD = ("pending", "sent")
#: arrival times are announced rounded to this many minutes
ROUND_MINUTES = 5
DEFAULT_TOLERANCE_MINUTES = 30
NO_PHONE = "no customer phone on the job"
#: what an `eta` notice adds in English: the customer's tracking link (`api.services.tracking`)
TRACK_TEXT = TEXTS["en"]["track"]


def round_eta(moment: datetime) -> datetime:
    """`moment` rounded to the nearest `ROUND_MINUTES` (half up), seconds dropped."""
    base = moment.replace(second=0, microsecond=0)
    minutes = base.minute + (1 if moment.second >= 30 else 0)
    step = ROUND_MINUTES
    rounded = (minutes + step // 2) // step * step
    return base.replace(minute=0) + timedelta(minutes=rounded)


def dedupe_key(plan_id: str, job_id: str, kind: str, eta: datetime) -> str:
    """The unique key of a notice (see the module docstring for why the plan is in it)."""
    return f"{plan_id}:{job_id}:{kind}:{eta:%H:%M}"


@dataclass(frozen=True)
class Told:
    """What a customer was last told about a job."""

    eta: datetime
    late: bool  # a `late` apology among the notices that reached (or will reach) them


def last_told(session: Session, job_ids: Iterable[str], day: date) -> dict[str, Told]:
    """Per job, the ETA of its newest `pending`/`sent` notice about `day` that announced an
    arrival, and whether an apology for lateness went out; jobs never told anything about that
    day are absent."""
    ids = sorted(set(job_ids))
    out: dict[str, Told] = {}
    if not ids:
        return out
    start = datetime.combine(day, time.min)
    rows = session.execute(
        select(CustomerNoticeRow.job_id, CustomerNoticeRow.kind, CustomerNoticeRow.eta)
        .where(
            CustomerNoticeRow.job_id.in_(ids),
            CustomerNoticeRow.status.in_(TOLD),
            CustomerNoticeRow.kind.in_(ARRIVAL_KINDS),
            CustomerNoticeRow.eta >= start,
            CustomerNoticeRow.eta < start + timedelta(days=1),
        )
        .order_by(CustomerNoticeRow.id)
    ).all()
    for job_id, kind, eta in rows:  # oldest first: the newest wins
        before = out.get(job_id)
        out[job_id] = Told(eta, kind in LATE_KINDS or (before is not None and before.late))
    return out


def notified_etas(session: Session, job_ids: Iterable[str], day: date) -> dict[str, datetime]:
    """The arrival on `day` last announced to each job's customer (never told: absent)."""
    return {job_id: told.eta for job_id, told in last_told(session, job_ids, day).items()}


@dataclass(frozen=True)
class Assignment:
    """A job a publication puts on a crew's route, with its planned times."""

    job: JobRow
    crew_id: str
    arrival: datetime
    start: datetime
    end: datetime
    deadline: datetime

    @property
    def late(self) -> bool:
        """Planned to end after its promise deadline, or to start outside every window."""
        if self.end > self.deadline:
            return True
        windows = self.job.record.get("windows") or []
        return bool(windows) and not any(
            datetime.fromisoformat(w["start"]) <= self.start <= datetime.fromisoformat(w["end"])
            for w in windows
        )


def assignments(result: Mapping[str, Any], jobs: Mapping[str, JobRow]) -> list[Assignment]:
    """The stops of a stored plan result (`plan_to_dict`) whose job is in `jobs`."""
    out = []
    for route in result.get("routes", []):
        for stop in route["stops"]:
            job = jobs.get(stop["job_id"])
            if job is not None:
                out.append(
                    Assignment(
                        job,
                        route["crew_id"],
                        *(datetime.fromisoformat(stop[k]) for k in ("arrival", "start", "end")),
                        datetime.fromisoformat(stop["deadline"]),
                    )
                )
    return out


def queue_publication_notices(
    session: Session,
    plan_id: str,
    day: date,
    assigned: Iterable[Assignment],
    now: datetime,
    *,
    replaces: str | None,
    replaced: Iterable[Assignment] = (),
    tolerance_minutes: int = DEFAULT_TOLERANCE_MINUTES,
    public_url: str = "",
    language: str = "en",
) -> dict[str, int]:
    """Write the notices of publishing `plan_id`, the plan of `day` (in the caller's
    transaction), for the jobs it assigns (`assigned`); `replaced` are the stops of the plan
    it replaces (`replaces`). Returns the count written per kind. Idempotent: notices this
    publication already wrote are not written again. Tracking links go under `public_url`
    (the service's address from outside) when given, else as paths."""
    todo = list(assigned)
    told: dict[str, Told] = {}
    if replaces is not None and todo:
        told = last_told(session, (a.job.id for a in todo), day)
    late_before = {a.job.id for a in replaced if a.late}
    existing = set(
        session.scalars(
            select(CustomerNoticeRow.dedupe_key).where(CustomerNoticeRow.plan_id == plan_id)
        )
    )
    tolerance = timedelta(minutes=tolerance_minutes)
    counts = dict.fromkeys(PUBLICATION_KINDS, 0)
    for a in sorted(todo, key=lambda a: (a.start, a.job.id)):
        kind = _kind(
            a,
            told.get(a.job.id),
            first=replaces is None,
            late_before=a.job.id in late_before,
            tolerance=tolerance,
        )
        if kind is None:
            continue
        eta = round_eta(a.start)
        key = dedupe_key(plan_id, a.job.id, kind, eta)
        if key in existing:
            continue
        existing.add(key)
        supersede_pending(session, a.job.id, now)
        phone = str(a.job.record.get("customer_phone") or "").strip()
        message = notice_text(kind, eta, tolerance_minutes, language)
        if kind == "eta" and phone:  # the first word about the visit: how to follow it
            link = link_for_notice(session, a.job, now, public_url)
            message += track_text(link, language)
        session.add(
            CustomerNoticeRow(
                job_id=a.job.id,
                plan_id=plan_id,
                kind=kind,
                eta=eta,
                message=message,
                phone=phone,
                status="pending" if phone else "dead",
                attempts=0,
                next_attempt_at=now,
                last_error=None if phone else NO_PHONE,
                created_at=now,
                dedupe_key=key,
            )
        )
        counts[kind] += 1
    if any(counts.values()):
        log.info(
            "plan %s: customer notices queued: %s",
            plan_id,
            ", ".join(f"{k} {n}" for k, n in counts.items() if n),
        )
    return counts


def _kind(
    a: Assignment, told: Told | None, *, first: bool, late_before: bool, tolerance: timedelta
) -> str | None:
    """Which notice (if any) a job of a publication gets; see the module docstring."""
    if first or told is None:
        return "eta"
    if a.late and not late_before and not told.late:
        return "late"
    if abs(a.start - told.eta) > tolerance:
        return "eta_changed"
    return None


def supersede_pending(session: Session, job_id: str, now: datetime) -> None:
    """Older notices of the job not sent yet are replaced by the one being written."""
    session.execute(
        update(CustomerNoticeRow)
        .where(CustomerNoticeRow.job_id == job_id, CustomerNoticeRow.status == "pending")
        .values(status="superseded", last_error=f"superseded at {now.isoformat()}")
        .execution_options(synchronize_session=False)
    )
