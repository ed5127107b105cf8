"""Opening a callback (返修), shared by `POST /jobs/{id}/callbacks` and the follow-up call
that reports a problem (`POST /jobs/{id}/follow-ups`): the request body, the guarantee check
(the rule itself is `dispatch.running.callbacks.callback_refusal`) and the new job row, so the rules
and the row are the same either way. Routers import this module, never each other.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.principals import Principal
from api.services.audit import record_audit
from api.services.errors import Conflict, Unprocessable
from api.services.job_schemas import WindowIn
from api.services.outbox import enqueue
from api.settings import Settings
from api.storage.models import JobRow
from api.storage.store import new_job_row
from api.storage.types import LongText, Text
from dispatch.files.records import job_from_dict
from dispatch.models import JobKind, Priority
from dispatch.running.callbacks import callback_refusal as guarantee_refusal

#: the longest job id the database holds
MAX_ID = 64


class CallbackIn(BaseModel):
    """A repeat visit for a completed installation or repair."""

    model_config = ConfigDict(extra="forbid")
    fault: Text | None = Field(
        None,
        description="fault code; for a repair it must be the original's fault (default: it)",
    )
    description: LongText | None = Field(None, description="what the customer reports")
    windows: list[WindowIn] = Field(min_length=1, max_length=10)
    priority: Priority = Priority.CALLBACK
    service_minutes: int | None = Field(None, ge=1, le=720)


def callback_refusal(original: JobRow, fault: str | None, settings: Settings) -> str | None:
    """Why `original` cannot get a callback for `fault` now (a 422 reason), or None if it can:
    the guarantee rule of `dispatch.running.callbacks` with the service's limits and clock.

    The original's status is checked by the caller (a 409: it may still complete).
    """
    return guarantee_refusal(
        original.id,
        original.kind,
        original.completed_at,
        original.fault,
        fault,
        repair_guarantee_days=settings.repair_guarantee_days,
        installation_callback_days=settings.installation_callback_days,
        now=settings.now(),
    )


def _next_callback_id(session: Session, original: JobRow) -> str:
    """`<original>-CB<n>`, n one more than the callbacks the original already has (the
    original's id shortened if the whole would not fit an id; a taken id moves n on)."""
    n = int(session.scalar(select(func.count()).where(JobRow.callback_of == original.id)) or 0)
    while True:
        n += 1
        suffix = f"-CB{n}"
        candidate = original.id[: MAX_ID - len(suffix)] + suffix
        if session.get(JobRow, candidate) is None:
            return candidate


def open_callback(
    session: Session,
    original: JobRow,
    body: CallbackIn,
    settings: Settings,
    principal: Principal,
    *,
    source: str = "callback",
) -> JobRow:
    """Create the callback job for `original` in the caller's transaction (not committed).

    Raises `Conflict` (409) when the original is not completed and `Unprocessable` (422)
    when it cannot have a callback (kind, fault, guarantee period). The new job copies the
    original's order, place, customer, category, skills and crew size; it is a repair with
    the request's windows and priority, confirmed now, so the normal planner plans it.
    Queues `callback.opened` (ids only) for webhook subscribers.
    """
    if original.status != "completed":
        raise Conflict(
            f"job {original.id!r} is {original.status}: only a completed job can have a callback",
            field="status",
        )
    fault = body.fault if body.fault is not None else original.fault
    refusal = callback_refusal(original, fault, settings)
    if refusal is not None:
        raise Unprocessable("this is not a callback", [refusal])

    now = settings.now()
    base = original.record
    record = {
        "id": _next_callback_id(session, original),
        "kind": JobKind.REPAIR.value,
        "order_id": original.order_id,
        "confirmed_at": now.isoformat(),
        "lon": base["lon"],
        "lat": base["lat"],
        "windows": [
            {"start": settings.local(w.start).isoformat(), "end": settings.local(w.end).isoformat()}
            for w in body.windows
        ],
        "category": base.get("category"),
        "quantity": 1,
        "floor": base.get("floor"),
        "has_lift": base.get("has_lift"),
        "service_minutes": body.service_minutes,
        "skills": base.get("skills") or [],
        "people": base.get("people"),
        "priority": body.priority.value,
        "region": original.region,
        "zone": original.zone,
        "address": base.get("address", ""),
        "customer_name": base.get("customer_name", ""),
        "customer_phone": base.get("customer_phone", ""),
    }
    job = job_from_dict(record, "callback")
    row = new_job_row(job, now, fault=fault, callback_of=original.id)
    session.add(row)
    session.flush()  # a concurrent callback with the same id fails here (409)
    enqueue(
        session,
        "callback.opened",
        {
            "job_id": row.id,
            "callback_of": original.id,
            "order_id": row.order_id,
            "original_kind": original.kind,
            "fault": fault,
            "priority": row.priority,
            "due_date": row.due_date.isoformat(),
        },
        now,
    )
    record_audit(
        session,
        principal,
        "callback_opened",
        now,
        job_id=row.id,
        details={
            "callback_of": original.id,
            "fault": fault,
            "source": source,
            "description": body.description,
        },
    )
    return row
