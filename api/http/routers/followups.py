"""Follow-up calls (回访): every completed job gets a call to the customer (target 100 %).

The call centre logs each call on the job (reached or not, satisfied, a problem reported);
a reported problem can open a callback in the same request (`open_callback`), with exactly
the rules and row of `POST /jobs/{id}/callbacks`. If the callback is refused (409/422),
nothing is stored, so the caller can fix the callback details or log the call without it.

`GET /follow-ups/due` is the call centre's worklist: completed jobs nobody has reached yet.
Customer names and phones in it are shown to the roles that may see personal data
(dispatchers, admins); managers see the jobs without them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import and_, exists, func, select

from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.http.pages import Page, PageParams, page_params, paginate
from api.principals import Principal, Role
from api.services.callback_service import CallbackIn, open_callback
from api.services.errors import Conflict
from api.services.job_rows import get_job, job_out
from api.services.job_schemas import JobOut
from api.storage.models import FollowUpRow, JobRow
from api.storage.types import Day, LongText, Moment

router = APIRouter(tags=["follow-ups"])

#: who logs follow-up calls and reads the worklist
FOLLOW_UP_ROLES = (Role.DISPATCHER, Role.MANAGER, Role.ADMIN)


class FollowUpIn(BaseModel):
    """One call to the customer of a completed job."""

    model_config = ConfigDict(extra="forbid")
    called_at: Moment | None = Field(None, description="when the call was made; default: now")
    reached: bool = Field(description="whether the customer answered")
    satisfied: bool | None = Field(None, description="only when reached")
    problem_reported: bool = False
    problem: LongText | None = None
    open_callback: bool = Field(
        False, description="open a callback for the reported problem (needs `callback`)"
    )
    callback: CallbackIn | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FollowUpIn:
        if not self.reached and (self.satisfied is not None or self.problem_reported):
            raise ValueError("a call that did not reach the customer has no answers")
        if self.open_callback and not self.problem_reported:
            raise ValueError("open_callback needs problem_reported")
        if self.open_callback and self.callback is None:
            raise ValueError("open_callback needs `callback` (at least its windows)")
        if self.callback is not None and not self.open_callback:
            raise ValueError("`callback` is given but open_callback is false")
        return self


class FollowUpOut(BaseModel):
    id: int
    job_id: str
    called_at: datetime
    caller: str
    reached: bool
    satisfied: bool | None
    problem_reported: bool
    problem: str | None
    callback_job_id: str | None


class FollowUpCreated(FollowUpOut):
    callback: JobOut | None = Field(None, description="the callback opened by this call")


class DueOut(BaseModel):
    """A completed job still waiting for a call that reaches the customer."""

    job: JobOut
    calls: int = Field(description="calls made so far (none reached the customer)")
    last_called_at: datetime | None


def _out(row: FollowUpRow) -> FollowUpOut:
    return FollowUpOut(
        id=row.id,
        job_id=row.job_id,
        called_at=row.called_at,
        caller=row.caller,
        reached=row.reached,
        satisfied=row.satisfied,
        problem_reported=row.problem_reported,
        problem=row.problem,
        callback_job_id=row.callback_job_id,
    )


@router.post(
    "/jobs/{job_id}/follow-ups",
    status_code=201,
    response_model=FollowUpCreated,
    summary="Log a follow-up call (optionally opening a callback)",
    description="409 unless the job is completed. With problem_reported and open_callback "
    "the callback is opened as by POST /jobs/{id}/callbacks (same 409/422 rules); "
    "then nothing is stored if it is refused.",
)
def create_follow_up(
    job_id: str,
    body: FollowUpIn,
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(*FOLLOW_UP_ROLES)),
) -> FollowUpCreated:
    job = get_job(session, job_id, principal)
    if job.status != "completed":
        raise Conflict(
            f"job {job_id!r} is {job.status}: follow-up calls are for completed jobs",
            field="status",
        )
    s = ctx.settings
    callback = None
    if body.open_callback and body.callback is not None:
        callback = open_callback(session, job, body.callback, s, principal, source="follow_up")
    row = FollowUpRow(
        job_id=job_id,
        called_at=s.local(body.called_at) if body.called_at else s.now(),
        caller=principal.subject,
        reached=body.reached,
        satisfied=body.satisfied,
        problem_reported=body.problem_reported,
        problem=body.problem,
        callback_job_id=callback.id if callback is not None else None,
    )
    session.add(row)
    session.commit()
    if callback is not None:
        ctx.wake("webhooks")
    return FollowUpCreated(
        **_out(row).model_dump(),
        callback=job_out(callback, principal) if callback is not None else None,
    )


@router.get(
    "/jobs/{job_id}/follow-ups",
    response_model=Page[FollowUpOut],
    summary="The follow-up calls of a job, oldest first (paginated)",
)
def list_follow_ups(
    job_id: str,
    session: SessionDep,
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require(*FOLLOW_UP_ROLES)),
) -> Page[FollowUpOut]:
    """By call time, then id."""
    get_job(session, job_id, principal)
    query = (
        select(FollowUpRow)
        .where(FollowUpRow.job_id == job_id)
        .order_by(FollowUpRow.called_at, FollowUpRow.id)
    )
    rows, total = paginate(session, query, page)
    return Page[FollowUpOut](
        items=[_out(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get(
    "/follow-ups/due",
    response_model=Page[DueOut],
    summary="The call centre's worklist: completed jobs not yet reached by a follow-up call",
    description="Jobs completed on `date` (default: today) and, unless backlog=false, every "
    "job completed before it, that no call has reached yet; oldest completion first.",
)
def due_follow_ups(
    ctx: CtxDep,
    session: SessionDep,
    date: Day | None = Query(None, description="completion day; default: today"),
    backlog: bool = Query(True, description="include jobs completed before `date`"),
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require(*FOLLOW_UP_ROLES)),
) -> Page[DueOut]:
    day = date or ctx.settings.now().date()
    start = datetime.combine(day, datetime.min.time())
    reached = exists().where(and_(FollowUpRow.job_id == JobRow.id, FollowUpRow.reached.is_(True)))
    query = (
        select(JobRow)
        .where(
            JobRow.status == "completed",
            JobRow.completed_at < start + timedelta(days=1),
            ~reached,
        )
        .order_by(JobRow.completed_at, JobRow.id)
    )
    if not backlog:
        query = query.where(JobRow.completed_at >= start)
    rows, total = paginate(session, query, page)
    calls: dict[str, tuple[int, datetime | None]] = {}
    if rows:
        for job_id, count, last in session.execute(
            select(FollowUpRow.job_id, func.count(), func.max(FollowUpRow.called_at))
            .where(FollowUpRow.job_id.in_([r.id for r in rows]))
            .group_by(FollowUpRow.job_id)
        ):
            calls[job_id] = (int(count), last)
    items = [
        DueOut(
            job=job_out(r, principal),
            calls=calls.get(r.id, (0, None))[0],
            last_called_at=calls.get(r.id, (0, None))[1],
        )
        for r in rows
    ]
    return Page[DueOut](items=items, total=total, limit=page.limit, offset=page.offset)
