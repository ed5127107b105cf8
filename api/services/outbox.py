"""Queue webhook notifications in the caller's transaction (the transactional outbox).

A status change and its notifications commit together or not at all, so a notification is
never lost on a crash between "saved" and "sent", and never sent for a change that rolled back.
`api.background.webhook_sender` delivers the rows. Payloads carry ids and statuses, never personal
data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.storage.models import JobRow, OutboxRow, WebhookRow

#: the event types a subscriber can ask for ("*" means all)
EVENT_TYPES = (
    "job.status_changed",
    "plan.published",
    "callback.opened",
    "complaint.opened",
    "complaint.escalated",
)


def enqueue(session: Session, event_type: str, payload: dict[str, Any], now: datetime) -> int:
    """One outbox row per active subscriber of `event_type`; returns how many were queued."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    hooks = session.scalars(select(WebhookRow).where(WebhookRow.active.is_(True))).all()
    count = 0
    for hook in hooks:
        if "*" in hook.events or event_type in hook.events:
            session.add(
                OutboxRow(
                    webhook_id=hook.id,
                    event_type=event_type,
                    payload={"type": event_type, "at": now.isoformat(), "data": payload},
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            count += 1
    return count


def set_job_status(
    session: Session, job: JobRow, status: str, now: datetime, **details: Any
) -> None:
    """Change a job's status and queue `job.status_changed` for subscribers (if it changed)."""
    previous = job.status
    if previous == status:
        return
    job.status = status
    job.updated_at = now
    enqueue(
        session,
        "job.status_changed",
        {
            "job_id": job.id,
            "order_id": job.order_id,
            "kind": job.kind,
            "status": status,
            "previous": previous,
            "visit": job.visit,
            "crew_id": job.crew_id,
            **details,
        },
        now,
    )
