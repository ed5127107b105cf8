"""Callbacks: a repeat visit for the same problem after a completed job (返修).

A callback is a new repair job linked to the completed job it repeats (`callback_of`), planned
like any other job, with the `callback` priority. It is only a callback while the original
work is guaranteed (domain.md):

- a **repair** is guaranteed for the same fault for `repair_guarantee_days` (half a year);
  a different fault is a new repair, not a callback;
- an **installation** problem is a callback within `installation_callback_days`;
- a **delivery** (or pick-up) is never repaired: a damaged or wrong product is a
  return/exchange, i.e. a pick-up job.

(The rule is `dispatch.running.callbacks.callback_refusal`; opening the job,
`api.services.callback_service`.)

The callback rate (callbacks per completed job, target under 4 %) is computed from these links.

Roles: dispatchers and admins open callbacks, and so do service managers, who also log
follow-up calls (`api.http.routers.followups`), where a reported problem can open a callback
through `api.services.callback_service.open_callback`: the rules and the row are the same either
way.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import select

from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.http.pages import Page, PageParams, page_params, paginate
from api.principals import ANY_OFFICE, Principal, Role
from api.services.callback_service import CallbackIn, open_callback
from api.services.job_rows import get_job, job_out
from api.services.job_schemas import JobOut
from api.storage.models import JobRow

router = APIRouter(tags=["callbacks"])

#: who may open a callback (directly, or through a follow-up call)
CALLBACK_ROLES = (Role.DISPATCHER, Role.MANAGER, Role.ADMIN)


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
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(*CALLBACK_ROLES)),
) -> JobOut:
    original = get_job(session, job_id, principal)
    row = open_callback(session, original, body, ctx.settings, principal)
    session.commit()
    ctx.wake("webhooks")
    return job_out(row, principal)


@router.get(
    "/jobs/{job_id}/callbacks",
    response_model=Page[JobOut],
    summary="The callbacks opened for a job, oldest first (paginated)",
)
def list_callbacks(
    job_id: str,
    session: SessionDep,
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require(*ANY_OFFICE)),
) -> Page[JobOut]:
    """By creation time, then id."""
    get_job(session, job_id, principal)
    query = (
        select(JobRow).where(JobRow.callback_of == job_id).order_by(JobRow.created_at, JobRow.id)
    )
    rows, total = paginate(session, query, page)
    return Page[JobOut](
        items=[job_out(r, principal) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )
