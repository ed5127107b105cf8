"""Roll-over in the service: when a region's day is planned, the region's jobs left open on an
earlier day are carried into it first, so nothing waits for a dispatcher to edit it.

A job is carried to `day` when it is still `open` (never on a published route, or back from
a superseded one), due before `day`, and its own day is done with: either that day is past,
or a plan of it has been published without the job. `day` must be today or tomorrow (the
region's clock): planning three days ahead does not take today's leftovers, they wait for
the next day's plan, and re-planning a past day moves nothing into it.

The move is `dispatch.roll_over.carried_to` (same clock times, windows on the new day,
`first_due` kept so the board shows its age and the planner raises its priority). The jobs
moved are listed in one audit entry, in the plan trigger's transaction, so a trigger that
fails moves nothing. Region-wide: a plan of some zones also carries the other zones'
leftovers, which their own zone plans then find on the day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.principals import Principal
from api.services.audit import record_audit
from api.services.job_rows import lock_days
from api.storage.models import JobRow, PlanRow
from api.storage.store import job_of, update_job_record
from dispatch.errors import InputError, InputErrors
from dispatch.roll_over import carried_to

#: the most job ids one audit entry lists (the count is always whole)
AUDIT_IDS = 500


def roll_over(
    session: Session, region: str, day: date, today: date, now: datetime, actor: Principal
) -> list[str]:
    """Carry `region`'s open leftovers of earlier days to `day` (see the module docstring) in
    the caller's transaction; the ids moved, sorted. A stored job that no longer reads is left
    where it is (`build_problem` reports it)."""
    if not today <= day <= today + timedelta(days=1):
        return []  # a past day is history; a day further ahead waits for its eve
    published = set(
        session.scalars(
            select(PlanRow.day).where(
                PlanRow.region == region,
                PlanRow.status == "published",
                PlanRow.day >= today,
                PlanRow.day < day,
            )
        )
    )
    rows = session.scalars(
        select(JobRow)
        .where(JobRow.region == region, JobRow.status == "open", JobRow.due_date < day)
        .order_by(JobRow.id)
    ).all()
    moved: list[str] = []
    for row in rows:
        if row.due_date >= today and row.due_date not in published:
            continue  # its own day is still to be planned
        try:
            job = carried_to(job_of(row), day)
        except (InputError, InputErrors):
            continue
        update_job_record(row, job, now)
        moved.append(row.id)
    if moved:
        lock_days(session, [(region, day)], now)  # the day's quotes see them, or wait
        record_audit(
            session,
            actor,
            "jobs_rolled_over",
            now,
            details={
                "region": region,
                "date": day.isoformat(),
                "count": len(moved),
                "job_ids": moved[:AUDIT_IDS],
            },
        )
    return moved
