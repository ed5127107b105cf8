"""Dispatchers' hand moves: `POST /plans/{id}/overrides` moves one job to another crew or
position, or off its route. The whole day is re-timed and validated (`dispatch.running.overrides`);
a move that breaks a hard rule is refused with each reason (422) and the plan is unchanged.
Accepted and refused moves are audited. On a published plan the jobs follow at once.

The board sends one of these per dragged stop, so the check is kept quick: the plan's
parsed problem, travel model and translation are kept between requests
(`api.services.prepared_days`).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.principals import OFFICE, Principal
from api.services.errors import Conflict, Unprocessable
from api.services.outbox import set_job_status
from api.services.plan_rows import audit, check_version, get_plan, plan_out
from api.services.plan_schemas import OverrideIn, PlanOut
from api.services.prepared_days import stored_plan_prepared
from api.services.publication import window_end_at
from api.storage.models import JobRow, PlanRow
from dispatch.files.plan_io import plan_to_dict
from dispatch.metrics.kpis import plan_kpis
from dispatch.plan import Plan
from dispatch.running.overrides import Move, OverrideRefused, apply_move

router = APIRouter(prefix="/plans", tags=["plans"])

#: job statuses a plan may still move (nothing has happened on the road yet)
MOVABLE_JOB = ("open", "assigned")


@router.post(
    "/{plan_id}/overrides",
    response_model=PlanOut,
    summary="Move a job by hand (another crew, another position, or off its route)",
    description="The day is re-timed and checked by the validator; a move that breaks a "
    "hard rule is refused with 422 and one reason per broken rule. Accepted and refused "
    "moves are both audited. On a published plan the job's crew changes at once; a job "
    "already on its way (en route, arrived, done) cannot be moved (409).",
)
def override(
    plan_id: str,
    body: OverrideIn,
    *,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
) -> PlanOut:
    row = get_plan(session, plan_id, principal)
    check_version(row, body.version)
    if row.status not in ("succeeded", "published"):
        raise Conflict(
            f"plan {plan_id} is {row.status}: only a succeeded or published plan can be "
            "changed by hand",
            status=row.status,
        )
    published = row.status == "published"
    job_row = session.get(JobRow, body.job_id) if published else None
    if job_row is not None and job_row.status not in MOVABLE_JOB:
        raise Conflict(
            f"job {body.job_id} is {job_row.status}: a job already on its way or done "
            "cannot be moved",
            status=job_row.status,
        )
    if row.result is None:
        raise Conflict(f"plan {row.id} is {row.status}: it has no routes", status=row.status)
    plan, prepared = stored_plan_prepared(row.id, row.version, row.result)
    on_route = plan.stop_of().get(body.job_id)
    from_crew = on_route[0].crew_id if on_route else None
    now = ctx.settings.now()
    details = {
        "job_id": body.job_id,
        "from_crew": from_crew,
        "to_crew": body.crew_id,
        "position": body.position,
    }
    try:
        new = apply_move(plan, Move(body.job_id, body.crew_id, body.position), prepared=prepared)
    except OverrideRefused as exc:
        audit(
            session,
            principal,
            now,
            "override_refused",
            plan_id,
            body.job_id,
            {**details, "reasons": exc.reasons},
        )
        session.commit()
        raise Unprocessable(
            f"override refused: moving job {body.job_id} would break a hard rule",
            exc.reasons,
        ) from None
    row.result = plan_to_dict(new)
    row.kpis = plan_kpis(new).as_dict()
    audit(session, principal, now, "override", plan_id, body.job_id, details)
    if published:
        _apply_to_jobs(session, row, new, {from_crew, body.crew_id}, body.job_id, now)
    session.commit()  # the version check: a concurrent change of the plan is 409 here
    if published:
        ctx.wake("webhooks")
    return plan_out(row)


def _apply_to_jobs(
    session: Session,
    row: PlanRow,
    plan: Plan,
    crews: set[str | None],
    moved: str,
    now: datetime,
) -> None:
    """Carry an override of a published plan to the jobs: the moved job's crew (or back to
    open when taken off), and the booked window of every job on the two routes re-timed."""
    stops = {s.job_id: (r.crew_id, s.start) for r in plan.routes for s in r.stops}
    ids = {moved} | {s.job_id for r in plan.routes if r.crew_id in crews for s in r.stops}
    for job in session.scalars(select(JobRow).where(JobRow.id.in_(sorted(ids)))):
        if job.status not in MOVABLE_JOB:
            continue
        if job.id in stops:
            crew_id, start = stops[job.id]
            window_end = window_end_at(job.record, start)
            if (job.crew_id, job.plan_id, job.window_end) != (crew_id, row.id, window_end):
                job.crew_id, job.plan_id, job.window_end = crew_id, row.id, window_end
                job.updated_at = now
            set_job_status(session, job, "assigned", now, plan_id=row.id)
        elif job.id == moved:
            job.crew_id, job.plan_id, job.window_end = None, None, None
            job.updated_at = now
            set_job_status(session, job, "open", now, plan_id=row.id)
