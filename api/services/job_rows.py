"""Reading job rows for the routers: the row by id (404, region-checked) and its answer
shape. Routers import this module, never each other."""

from __future__ import annotations

from fastapi import HTTPException, status
from sqlalchemy.orm import Session

from api.principals import Principal, check_region
from api.services.job_schemas import JobOut
from api.storage.models import JobRow
from api.storage.store import public_record


def job_out(row: JobRow, principal: Principal) -> JobOut:
    return JobOut(
        id=row.id,
        kind=row.kind,
        status=row.status,
        due_date=row.due_date,
        region=row.region,
        zone=row.zone,
        priority=row.priority,
        order_id=row.order_id,
        received_at=row.received_at,
        crew_id=row.crew_id,
        plan_id=row.plan_id,
        visit=row.visit,
        callback_of=row.callback_of,
        fault=row.fault,
        arrived_at=row.arrived_at,
        completed_at=row.completed_at,
        cancel_reason=row.cancel_reason,
        version=row.version,
        record=public_record(row.record, principal.sees_personal_data),
    )


def get_job(session: Session, job_id: str, principal: Principal | None = None) -> JobRow:
    """The job row; 404 if there is none, 403 if `principal` (when given) is a dispatcher
    bound to other regions. Every job route passes its principal; callers that check
    access their own way may leave it out."""
    row = session.get(JobRow, job_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"job {job_id!r} not found")
    if principal is not None:
        check_region(principal, row.region)
    return row
