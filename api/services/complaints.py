"""Complaints in the service: record one against a job and its crew, give the first answer,
close it, list the worklist, and escalate the ones whose 4-hour clock ran out
(`dispatch.running.complaints` holds the clock's rules).

Escalation is a sweep (`escalate_overdue`), run by the complaint watch in the background
(`api.background.complaint_watch`) and safe to run from anywhere: one conditional UPDATE per
complaint marks it `escalated_at` once, and the `complaint.escalated` webhook is queued in the
same transaction (the outbox), so two service processes never escalate a complaint twice.
Webhook payloads and logs carry ids and times, never the complaint's text.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, get_args

from fastapi import HTTPException, status
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.principals import Principal, check_region
from api.services.audit import record_audit
from api.services.errors import Conflict
from api.services.job_rows import get_job
from api.services.outbox import enqueue
from api.storage.complaint_models import ComplaintRow
from dispatch.running.complaints import ComplaintFact, answer_due, answered_within

#: how a complaint came in, and what it is about (one list each: the API's types are these)
Channel = Literal["phone", "app", "store", "web", "other"]
Category = Literal["lateness", "attitude", "damage", "quality", "no_show", "billing", "other"]
CHANNELS: tuple[str, ...] = get_args(Channel)
CATEGORIES: tuple[str, ...] = get_args(Category)


def fact_of(row: ComplaintRow) -> ComplaintFact:
    return ComplaintFact(row.received_at, row.answer_due_at, row.answered_at, row.closed_at)


def webhook_data(row: ComplaintRow) -> dict[str, Any]:
    """What subscribers get: ids and times, never the text."""
    return {
        "complaint_id": row.id,
        "job_id": row.job_id,
        "crew_id": row.crew_id,
        "region": row.region,
        "category": row.category,
        "received_at": row.received_at.isoformat(),
        "answer_due_at": row.answer_due_at.isoformat(),
    }


def record_complaint(
    session: Session,
    principal: Principal,
    now: datetime,
    *,
    job_id: str,
    text: str,
    channel: str,
    category: str,
    received_at: datetime | None = None,
    crew_id: str | None = None,
) -> ComplaintRow:
    """A new complaint about `job_id` (404 unknown, 403 another region's), received now or at
    `received_at` (not in the future: 409), against the job's crew unless `crew_id` says;
    `complaint.opened` is queued for subscribers. The caller commits."""
    job = get_job(session, job_id, principal)
    received = received_at or now
    if received > now:
        raise Conflict("a complaint cannot be received in the future", field="received_at")
    row = ComplaintRow(
        job_id=job.id,
        crew_id=crew_id or job.crew_id,
        region=job.region,
        channel=channel,
        category=category,
        text=text,
        received_at=received,
        answer_due_at=answer_due(received),
        recorded_by=principal.subject,
    )
    session.add(row)
    session.flush()
    enqueue(session, "complaint.opened", webhook_data(row), now)
    record_audit(
        session, principal, "complaint_recorded", now, job_id=job.id,
        details={"complaint_id": row.id, "category": category, "channel": channel},
    )  # fmt: skip
    return row


def get_complaint(session: Session, complaint_id: int, principal: Principal) -> ComplaintRow:
    row = session.get(ComplaintRow, complaint_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"complaint {complaint_id} not found")
    check_region(principal, row.region)
    return row


def answer_complaint(
    session: Session, row: ComplaintRow, principal: Principal, now: datetime, answer: str
) -> None:
    """The first answer (later ones are 409: the clock is about the first). The caller
    commits."""
    if row.closed_at is not None:
        raise Conflict(f"complaint {row.id} is closed", field="status")
    if row.answered_at is not None:
        raise Conflict(
            f"complaint {row.id} was answered at {row.answered_at:%Y-%m-%d %H:%M}; "
            "close it with its resolution",
            field="answered_at",
        )
    row.answered_at, row.answered_by, row.answer = now, principal.subject, answer
    in_time = now <= row.answer_due_at
    record_audit(
        session, principal, "complaint_answered", now, job_id=row.job_id,
        details={"complaint_id": row.id, "in_time": in_time},
    )  # fmt: skip


def close_complaint(
    session: Session, row: ComplaintRow, principal: Principal, now: datetime, resolution: str
) -> None:
    """Close with the resolution; a complaint is answered before it is closed (409)."""
    if row.closed_at is not None:
        raise Conflict(f"complaint {row.id} is already closed", field="status")
    if row.answered_at is None:
        raise Conflict(f"complaint {row.id} has no answer yet: answer it first", field="answer")
    row.closed_at, row.resolution = now, resolution
    record_audit(
        session, principal, "complaint_closed", now, job_id=row.job_id,
        details={"complaint_id": row.id},
    )  # fmt: skip


def answered_in_time_share(
    session: Session,
    period: tuple[date, date],
    now: datetime,
    *,
    regions: Collection[str] | None = None,
    crew_id: str | None = None,
) -> dict[str, int | float | None]:
    """ "Complaints answered within 4 h" over the complaints received in `period` (of
    `regions`, about `crew_id`, when given): `dispatch.running.complaints.answered_within`.
    Only times are read, never the text."""
    first, last = period
    query = select(
        ComplaintRow.received_at,
        ComplaintRow.answer_due_at,
        ComplaintRow.answered_at,
        ComplaintRow.closed_at,
    ).where(
        ComplaintRow.received_at >= datetime.combine(first, time(0)),
        ComplaintRow.received_at < datetime.combine(last + timedelta(days=1), time(0)),
    )
    if regions is not None:
        query = query.where(ComplaintRow.region.in_(sorted(regions)))
    if crew_id is not None:
        query = query.where(ComplaintRow.crew_id == crew_id)
    facts = [ComplaintFact(*row) for row in session.execute(query)]
    return answered_within(facts, period, now)


def escalate_overdue(session: Session, now: datetime) -> list[int]:
    """Mark every unanswered, unclosed complaint past its due time `escalated_at` (once) and
    queue `complaint.escalated` for each; the ids escalated. The caller commits."""
    due = session.scalars(
        select(ComplaintRow.id)
        .where(
            ComplaintRow.answered_at.is_(None),
            ComplaintRow.closed_at.is_(None),
            ComplaintRow.escalated_at.is_(None),
            ComplaintRow.answer_due_at <= now,
        )
        .order_by(ComplaintRow.answer_due_at, ComplaintRow.id)
    ).all()
    done: list[int] = []
    for complaint_id in due:
        marked = session.execute(
            update(ComplaintRow)
            .where(ComplaintRow.id == complaint_id, ComplaintRow.escalated_at.is_(None))
            .values(escalated_at=now)
        )
        if getattr(marked, "rowcount", 0) != 1:
            continue  # another process escalated it meanwhile
        row = session.get(ComplaintRow, complaint_id)
        if row is not None:
            enqueue(session, "complaint.escalated", webhook_data(row), now)
            done.append(complaint_id)
    return done
