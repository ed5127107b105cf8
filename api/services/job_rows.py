"""Reading job rows for the routers: the row by id (404, region-checked) and its answer
shape; and the lock of a region's day that bookings take (`lock_days`). Routers import this
module, never each other."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from fastapi import HTTPException, status
from sqlalchemy.orm import Session

from api.principals import Principal, check_region
from api.services.job_schemas import JobOut
from api.storage.booking_models import BookingDayRow
from api.storage.db import dialect_insert
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


def lock_days(
    session: Session, days: Iterable[tuple[str, date]], now: datetime, *, booking: bool = False
) -> None:
    """Take the lock of each (region, day) for the rest of the transaction: an upsert of its
    `booking_days` row (counting a booking when `booking`), days in order, so two writers
    never wait on each other crosswise. On PostgreSQL it holds the row's lock, on SQLite the
    database's write lock, until the transaction ends: a booking checks a day and stores its
    jobs under it (`api.services.bookings`), and whatever else stores jobs on a day that is
    sold by quotes should take it too, so the check never reads the day without jobs another
    transaction is about to commit."""
    insert = dialect_insert(session)
    add = 1 if booking else 0
    for region, day in sorted(set(days)):
        statement = insert(BookingDayRow).values(
            region=region, day=day, bookings=add, updated_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=["region", "day"],
            set_={"bookings": BookingDayRow.bookings + add, "updated_at": now},
        )
        session.execute(statement)
