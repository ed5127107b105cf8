"""Customer notices: `GET /notices` lists them with their delivery status (phones only for
the roles that see personal data); `POST /notices/{id}/retry` sends a dead one again. What
is said when is `api.services.notices`, the delivery `api.background.notice_sender`.

A dispatcher bound to regions lists and retries only the notices of his regions' jobs.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.http.pages import Page, PageParams, page_params, paginate
from api.principals import ANY_OFFICE, OFFICE, Principal, check_region
from api.services.errors import Conflict
from api.services.plan_rows import audit
from api.services.tracking import hide_links
from api.storage.models import CustomerNoticeRow, JobRow
from api.storage.types import Ident, RowId

#: tagged "re-plans" and "notices", as when these routes were part of the re-plans router
router = APIRouter(tags=["re-plans", "notices"])


# ---- answer shapes


class NoticeStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    SUPERSEDED = "superseded"


class NoticeOut(BaseModel):
    id: int
    job_id: str
    plan_id: str
    kind: str
    eta: datetime
    message: str = Field(
        description="the text sent; an `eta` notice's tracking link only for dispatchers "
        "and admins (`/track/...` for the others)"
    )
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    phone: str | None = Field(None, description="dispatchers and admins only (left out else)")


def notice_out(row: CustomerNoticeRow, personal: bool) -> NoticeOut:
    fields: dict[str, Any] = {
        "id": row.id,
        "job_id": row.job_id,
        "plan_id": row.plan_id,
        "kind": row.kind,
        "eta": row.eta,
        "message": row.message if personal else hide_links(row.message),
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "last_error": row.last_error,
        "created_at": row.created_at,
        "sent_at": row.sent_at,
    }
    if personal:
        fields["phone"] = row.phone
    return NoticeOut(**fields)


# ---- customer notices


@router.get(
    "/notices",
    response_model=Page[NoticeOut],
    response_model_exclude_unset=True,
    summary="Customer notices (expected arrival, changed arrival, late) and their delivery",
    description="Newest first. The customer's phone is shown to dispatchers and admins only.",
)
def list_notices(
    *,
    plan_id: Ident | None = Query(None, description="notices of this publication"),
    job_id: Ident | None = Query(None, description="notices of this job"),
    status_: NoticeStatus | None = Query(None, alias="status"),
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
) -> Page[NoticeOut]:
    """Newest first; a region-bound dispatcher sees the notices of his regions' jobs only."""
    query = select(CustomerNoticeRow).order_by(CustomerNoticeRow.id.desc())
    if principal.regions is not None:
        in_regions = select(JobRow.id).where(JobRow.region.in_(sorted(principal.regions)))
        query = query.where(CustomerNoticeRow.job_id.in_(in_regions))
    for column, value in (
        (CustomerNoticeRow.plan_id, plan_id),
        (CustomerNoticeRow.job_id, job_id),
        (CustomerNoticeRow.status, status_.value if status_ else None),
    ):
        if value is not None:
            query = query.where(column == value)
    rows, total = paginate(session, query, page)
    personal = principal.sees_personal_data
    return Page[NoticeOut](
        items=[notice_out(r, personal) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/notices/{notice_id}/retry",
    response_model=NoticeOut,
    summary="Send a dead notice again (with a fresh set of attempts)",
    description="The phone is taken again from the job (it may have been corrected). 409 for "
    "a notice that is not dead, or when the job still has no phone.",
)
def retry_notice(
    notice_id: RowId,
    *,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
) -> NoticeOut:
    row = session.get(CustomerNoticeRow, notice_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"notice {notice_id} not found")
    job = session.get(JobRow, row.job_id)
    if job is not None:  # the region is the job's (a notice has none of its own)
        check_region(principal, job.region)
    if row.status != "dead":
        raise Conflict(
            f"notice {notice_id} is {row.status}: only dead notices are retried",
            status=row.status,
        )
    phone = str((job.record if job is not None else {}).get("customer_phone") or "").strip()
    if not phone:
        raise Conflict(
            f"job {row.job_id} has no customer phone: correct the job first", field="phone"
        )
    now = ctx.settings.now()
    row.phone = phone
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = now
    row.last_error = None
    audit(
        session,
        principal,
        now,
        "notice_retried",
        row.plan_id,
        row.job_id,
        {"notice_id": notice_id, "kind": row.kind},
    )
    session.commit()
    ctx.wake("notices")
    return notice_out(row, True)
