"""Complaints (投诉): recorded against a job and its crew, a first answer within 4 hours
(`dispatch.running.complaints`), escalated when the clock runs out (`complaint.escalated`
webhook, and first in the worklist), closed with a resolution.

`GET /complaints` is the dispatchers' worklist: by default the open ones (due or overdue),
soonest due first. The complaint's and the answer's text are personal data: dispatchers and
admins see them, managers and planners see the figures and times without them. Dispatchers
bound to regions see and change only theirs.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.http.pages import Page, PageParams, page_params, paginate
from api.principals import ANY_OFFICE, OFFICE, Principal
from api.services.complaints import (
    Category,
    Channel,
    answer_complaint,
    close_complaint,
    escalate_overdue,
    fact_of,
    get_complaint,
    record_complaint,
)
from api.storage.complaint_models import ComplaintRow
from api.storage.types import Day, Ident, LongText, Moment
from dispatch.running.complaints import ANSWER_HOURS

router = APIRouter(prefix="/complaints", tags=["complaints"])
#: a complaint's id in a path: a positive database INTEGER (a larger one is a 422, not a 500)
ComplaintId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ONE_DAY = timedelta(days=1)


class ComplaintIn(BaseModel):
    """A customer's complaint about a job (and its crew)."""

    model_config = ConfigDict(extra="forbid")
    job_id: Ident
    text: LongText = Field(min_length=1, description="what the customer says (personal data)")
    channel: Channel = "phone"
    category: Category = "other"
    received_at: Moment | None = Field(None, description="when it came in; default: now")
    crew_id: Ident | None = Field(None, description="default: the job's crew")


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: LongText = Field(min_length=1, description="what the customer was told")


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolution: LongText = Field(min_length=1)


class ComplaintOut(BaseModel):
    id: int
    job_id: str
    crew_id: str | None
    region: str
    channel: str
    category: str
    state: str = Field(description="due, overdue, answered or closed")
    received_at: datetime
    answer_due_at: datetime
    minutes_left: int | None = Field(
        description="to the first-answer deadline, negative when overdue; null once answered"
    )
    answered_at: datetime | None
    answered_in_time: bool | None
    escalated_at: datetime | None
    closed_at: datetime | None
    recorded_by: str
    text: str | None = Field(description="only for the roles that see personal data")
    answer: str | None = Field(description="only for the roles that see personal data")
    resolution: str | None = Field(description="only for the roles that see personal data")


def complaint_out(row: ComplaintRow, now: datetime, principal: Principal) -> ComplaintOut:
    fact = fact_of(row)
    personal = principal.sees_personal_data
    return ComplaintOut(
        id=row.id,
        job_id=row.job_id,
        crew_id=row.crew_id,
        region=row.region,
        channel=row.channel,
        category=row.category,
        state=fact.state(now).value,
        received_at=row.received_at,
        answer_due_at=row.answer_due_at,
        minutes_left=fact.minutes_left(now),
        answered_at=row.answered_at,
        answered_in_time=fact.answered_in_time() if row.answered_at else None,
        escalated_at=row.escalated_at,
        closed_at=row.closed_at,
        recorded_by=row.recorded_by,
        text=row.text if personal else None,
        answer=row.answer if personal else None,
        resolution=row.resolution if personal else None,
    )


@router.post(
    "",
    status_code=201,
    response_model=ComplaintOut,
    responses={404: {"description": "No such job"}},
    summary=f"Record a complaint (first answer due within {ANSWER_HOURS} h)",
)
def create_complaint(
    body: ComplaintIn,
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(*OFFICE)),
) -> ComplaintOut:
    s = ctx.settings
    now = s.now()
    row = record_complaint(
        session,
        principal,
        now,
        job_id=body.job_id,
        text=body.text,
        channel=body.channel,
        category=body.category,
        received_at=s.local(body.received_at) if body.received_at else None,
        crew_id=body.crew_id,
    )
    escalate_overdue(session, now)  # one recorded late is overdue at once
    session.commit()
    ctx.wake("webhooks")
    return complaint_out(row, now, principal)


@router.get(
    "",
    response_model=Page[ComplaintOut],
    summary="The complaints worklist: open ones (due or overdue) soonest due first",
    description="`state=open` (default) lists those without a first answer, overdue ones "
    "first; `all` every complaint, newest first. Filters: `region`, `crew_id`, and the day "
    "received (`from`, `to`).",
)
def list_complaints(
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    page: PageParams = Depends(page_params),
    state: Literal["open", "all"] = "open",
    region: Ident | None = None,
    crew_id: Ident | None = None,
    from_: Day | None = Query(None, alias="from"),
    to: Day | None = None,
) -> Page[ComplaintOut]:
    now = ctx.settings.now()
    query = select(ComplaintRow)
    if state == "open":
        query = query.where(
            ComplaintRow.answered_at.is_(None), ComplaintRow.closed_at.is_(None)
        ).order_by(ComplaintRow.answer_due_at, ComplaintRow.id)
    else:
        query = query.order_by(ComplaintRow.received_at.desc(), ComplaintRow.id.desc())
    if principal.regions is not None:
        query = query.where(ComplaintRow.region.in_(sorted(principal.regions)))
    if region is not None:
        query = query.where(ComplaintRow.region == region)
    if crew_id is not None:
        query = query.where(ComplaintRow.crew_id == crew_id)
    if from_ is not None:
        query = query.where(ComplaintRow.received_at >= datetime.combine(from_, time(0)))
    if to is not None:
        query = query.where(ComplaintRow.received_at < datetime.combine(to + ONE_DAY, time(0)))
    rows, total = paginate(session, query, page)
    return Page(
        items=[complaint_out(r, now, principal) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{complaint_id}", response_model=ComplaintOut, summary="One complaint")
def read_complaint(
    complaint_id: ComplaintId,
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(*ANY_OFFICE)),
) -> ComplaintOut:
    return complaint_out(
        get_complaint(session, complaint_id, principal), ctx.settings.now(), principal
    )


@router.post(
    "/{complaint_id}/answer",
    response_model=ComplaintOut,
    summary="Give the first answer (stops the 4-hour clock)",
    description="409 when it is closed or already answered.",
)
def answer(
    complaint_id: ComplaintId,
    body: AnswerIn,
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(*OFFICE)),
) -> ComplaintOut:
    now = ctx.settings.now()
    row = get_complaint(session, complaint_id, principal)
    answer_complaint(session, row, principal, now, body.answer)
    session.commit()
    return complaint_out(row, now, principal)


@router.post(
    "/{complaint_id}/close",
    response_model=ComplaintOut,
    summary="Close with the resolution (after the first answer)",
)
def close(
    complaint_id: ComplaintId,
    body: CloseIn,
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(*OFFICE)),
) -> ComplaintOut:
    now = ctx.settings.now()
    row = get_complaint(session, complaint_id, principal)
    close_complaint(session, row, principal, now, body.resolution)
    session.commit()
    return complaint_out(row, now, principal)
