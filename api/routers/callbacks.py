"""Callbacks: a repeat visit for the same problem after a completed job (返修).

A callback is a new repair job linked to the completed job it repeats (`callback_of`), planned
like any other job, with the `callback` priority. It is only a callback while the original
work is guaranteed (domain.md):

- a **repair** is guaranteed for the same fault for `repair_guarantee_days` (half a year);
  a different fault is a new repair, not a callback;
- an **installation** problem is a callback within `installation_callback_days`;
- a **delivery** (or pick-up) is never repaired: a damaged or wrong product is a
  return/exchange, i.e. a pick-up job.

The callback rate (callbacks per completed job, target under 4 %) is computed from these links.

Roles: dispatchers and admins open callbacks, and so do service managers, who also log
follow-up calls (`api.routers.followups`), where a reported problem can open a callback
through `open_callback` below: the rules and the row are the same either way.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.audit import record_audit
from api.auth import ANY_OFFICE, Principal, Role, require
from api.context import AppContext, get_ctx, get_session
from api.errors import Conflict, Unprocessable
from api.models import JobRow
from api.outbox import enqueue
from api.routers.jobs import JobOut, WindowIn, get_job, job_out
from api.settings import Settings
from api.store import new_job_row
from api.types import LongText, Text
from dispatch.models import JobKind, Priority
from dispatch.records import job_from_dict

router = APIRouter(tags=["callbacks"])

#: who may open a callback (directly, or through a follow-up call)
CALLBACK_ROLES = (Role.DISPATCHER, Role.MANAGER, Role.ADMIN)
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
    """Why `original` cannot get a callback for `fault` now (a 422 reason), or None if it can.

    The original's status is checked by the caller (a 409: it may still complete).
    """
    if original.kind in (JobKind.DELIVERY.value, JobKind.PICKUP.value):
        return (
            f"job {original.id!r} is a {original.kind}: only installations and repairs get "
            "callbacks; for a damaged or wrong product open a return/exchange (pickup) job instead"
        )
    if original.completed_at is None:  # completed without a completion time: cannot judge
        return f"job {original.id!r} has no completion time"
    now = settings.now()
    days = (now.date() - original.completed_at.date()).days
    completed = original.completed_at.date().isoformat()
    if original.kind == JobKind.REPAIR.value:
        if original.fault and fault != original.fault:
            return (
                f"a different fault is a new repair, not a callback (the original repair was "
                f"for {original.fault!r}, this is {fault!r})"
            )
        limit = settings.repair_guarantee_days
        if days > limit:
            return f"outside the {limit}-day guarantee: completed {completed}, {days} days ago"
    else:
        limit = settings.installation_callback_days
        if days > limit:
            return (
                f"outside the {limit}-day installation callback window: completed "
                f"{completed}, {days} days ago"
            )
    return None


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


@router.post(
    "/jobs/{job_id}/callbacks",
    status_code=201,
    response_model=JobOut,
    summary="Open a callback (repeat visit) for a completed installation or repair",
    description="409 when the job is not completed; 422 with the reason when it is not a "
    "callback: a delivery (open a return/exchange pickup instead), a different fault, or "
    "outside the guarantee period. The callback is a new open repair job, planned as usual.",
)
def create_callback(
    job_id: str,
    body: CallbackIn,
    principal: Principal = Depends(require(*CALLBACK_ROLES)),
    ctx: AppContext = Depends(get_ctx),
    session: Session = Depends(get_session),
) -> JobOut:
    original = get_job(session, job_id, principal)
    row = open_callback(session, original, body, ctx.settings, principal)
    session.commit()
    ctx.wake("webhooks")
    return job_out(row, principal)


@router.get(
    "/jobs/{job_id}/callbacks",
    response_model=list[JobOut],
    summary="The callbacks opened for a job",
)
def list_callbacks(
    job_id: str,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: Session = Depends(get_session),
) -> list[JobOut]:
    get_job(session, job_id, principal)
    rows = session.scalars(
        select(JobRow).where(JobRow.callback_of == job_id).order_by(JobRow.created_at, JobRow.id)
    ).all()
    return [job_out(r, principal) for r in rows]
