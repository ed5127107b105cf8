"""Re-planning a published day, what it changes, why jobs stay unplanned, and customer notices.

`POST /plans/{id}/replan` takes the published plan and the day as it stands (`api.day_state`:
what is done or in progress, overruns, crews that dropped out, new urgent jobs, cancelled
ones, what customers were told) and queues a **new** plan row of kind `replan` (parent: the
published plan). The plan runner solves it in a worker process like any plan, with
`dispatch.replan.replan`; the row then holds the new routes and the **diff** against the
parent (crews that change, jobs that move, new ETAs, promises newly at risk), for the
dispatcher to approve. Approving is publishing it with `replaces` = the parent
(`POST /plans/{new}/publish`): the parent becomes `superseded` in the same transaction, the
drivers' routes change (new plan id and version, so new ETags, and each stop says what
changed), and customers whose arrival moved beyond the tolerance are told (`api.notices`).
A re-plan that fails, or is never approved, leaves the published plan as it was.

Refusals: re-planning a plan that is not published is 409; while another plan or re-plan of
the region's day is queued or running, 409 naming it (the same partial unique index as
`POST /plans`, so two concurrent requests cannot both pass); `at` before the plan's last
reported event, or a crew or job that is not on the plan, is 422 naming the field.

`GET /plans/{id}/explanations` says, per unassigned job, what binds it and what would fix it,
and sums the shortfall per zone (`dispatch.explain`); computed once per plan version.

`GET /notices` lists customer notices with their delivery status (phones only for the roles
that see personal data); `POST /notices/{id}/retry` sends a dead one again.

A dispatcher bound to regions re-plans and reads only his regions' plans (`get_plan` checks
the plan's region), and lists and retries only the notices of his regions' jobs.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections import OrderedDict
from datetime import date, datetime
from enum import Enum, StrEnum
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth import ANY_OFFICE, OFFICE, Principal, check_region, require
from api.context import AppContext, get_ctx, get_session
from api.day_state import Overrun, Unavailable, build_day_state, day_state_to_dict
from api.errors import Conflict, Unprocessable
from api.models import CustomerNoticeRow, JobRow, PlanRow
from api.pages import Page, PageParams, page_params, paginate
from api.plan_rows import active_plan, audit, get_plan, links, stored_plan
from api.plan_schemas import PlanAccepted
from api.types import Ident, Moment, RowId
from dispatch.explain import explain_plan, zone_shortages
from dispatch.records import PERSONAL_FIELDS
from dispatch.replan import ReplanRefused, refuse_bad_state

router = APIRouter(tags=["re-plans"])

#: plans whose explanations are kept in memory (explaining 1,500 jobs takes seconds)
EXPLAIN_CACHE_SIZE = 8
#: plan statuses that have routes (a diff, explanations)
FINISHED = ("succeeded", "published", "superseded")


# ---- request and answer shapes


class UnavailableIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    crew_id: Ident
    since: Moment = Field(alias="from", description="from when the crew cannot work")


class OverrunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_id: Ident
    expected_end: Moment = Field(description="when the job is now expected to end")


class ReplanIn(BaseModel):
    """Re-plan the published plan from `at` on. Crews off or sick that day (crew days) are
    taken as unavailable from `at` without being named here."""

    model_config = ConfigDict(extra="forbid")
    at: Moment | None = Field(None, description="re-plan from this time (default: now)")
    freeze_minutes: int | None = Field(
        None, ge=0, le=600, description="stops starting this soon stay as they are (default 60)"
    )
    eta_tolerance_minutes: int | None = Field(
        None, ge=1, le=240, description="an arrival moving more than this is a change (30)"
    )
    time_limit_s: float | None = Field(
        None, gt=0, le=600, allow_inf_nan=False, description="search time (default: settings)"
    )
    solution_limit: int | None = Field(None, ge=1, le=1_000_000)
    unavailable: list[UnavailableIn] = Field(
        default_factory=list, max_length=500, description="crews that stop working"
    )
    overruns: list[OverrunIn] = Field(
        default_factory=list, max_length=5000, description="jobs that will end later"
    )


class ReplanAccepted(PlanAccepted):
    parent_id: str


class DiffOut(BaseModel):
    plan_id: str
    parent_id: str
    status: str
    diff: dict[str, Any] = Field(description="crews changed, moves, ETA changes, risks")


class ExplanationsOut(BaseModel):
    plan_id: str
    version: int
    jobs: list[dict[str, Any]] = Field(description="one explanation per unassigned job")
    zones: list[dict[str, Any]] = Field(description="shortfalls summed per zone")


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
    message: str
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
        "message": row.message,
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


# ---- re-plan


@router.post(
    "/plans/{plan_id}/replan",
    status_code=202,
    response_model=ReplanAccepted,
    summary="Re-plan the published plan from now on (solved in the background)",
    description="Takes the day as it stands (events reported, overruns, crews that dropped "
    "out, new and cancelled jobs) and queues a new plan of kind `replan`; follow "
    "`GET /plans/{id}`, read the changes at `GET /plans/{id}/diff`, approve by publishing "
    "it with `replaces` = this plan. 409 if this plan is not the published one or a plan of "
    "the day is queued or running; 422 naming the field for `at` before the last reported "
    "event, or a crew or job not on the plan.",
)
def request_replan(
    plan_id: str,
    body: ReplanIn,
    response: Response,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: AppContext = Depends(get_ctx),
    session: Session = Depends(get_session),
) -> ReplanAccepted:
    parent = get_plan(session, plan_id, principal)
    if parent.status != "published":
        raise Conflict(
            f"plan {plan_id} is {parent.status}: only the published plan of a day can be "
            "re-planned",
            status=parent.status,
        )
    active = active_plan(session, parent.region, parent.day)
    if active is not None:
        raise _already_active(active)
    settings = ctx.settings
    at = settings.local(body.at) if body.at is not None else settings.now()
    plan = stored_plan(parent)
    state = build_day_state(
        session,
        parent,
        plan,
        at,
        [Unavailable(u.crew_id, settings.local(u.since)) for u in body.unavailable],
        [Overrun(o.job_id, settings.local(o.expected_end)) for o in body.overruns],
    )
    try:
        refuse_bad_state(plan, state)
    except ReplanRefused as exc:
        raise Unprocessable(exc.args[0], exc.reasons) from None
    now = settings.now()
    options = {
        "at": at.isoformat(),
        "freeze_minutes": _first(body.freeze_minutes, settings.freeze_minutes),
        "eta_tolerance_minutes": _first(body.eta_tolerance_minutes, settings.eta_tolerance_minutes),
        "time_limit_s": body.time_limit_s or settings.plan_time_limit_s,
        "solution_limit": body.solution_limit or settings.plan_solution_limit,
        "base_version": parent.version,
    }
    row = PlanRow(
        id=str(uuid.uuid4()),
        kind="replan",
        parent_id=parent.id,
        region=parent.region,
        day=parent.day,
        zones=list(parent.zones or []),
        status="queued",
        progress=0.0,
        message="queued",
        options=options,
        day_state=day_state_to_dict(state),
        cancel_requested=False,
        created_by=principal.subject,
        created_at=now,
    )
    session.add(row)
    details = {
        "parent_id": parent.id,
        "at": at.isoformat(),
        "done": len(state.done),
        "in_progress": len(state.in_progress),
        "overruns": sorted(state.expected_end),
        "unavailable": sorted(state.unavailable),
        "new_jobs": len(state.new_jobs),
        "cancelled": len(state.cancelled),
    }
    audit(session, principal, now, "replan_requested", row.id, details=details)
    audit(session, principal, now, "replan_requested", parent.id, details={"replan_id": row.id})
    try:
        session.commit()
    except IntegrityError:  # a concurrent plan or re-plan of the day won the race
        session.rollback()
        active = active_plan(session, parent.region, parent.day)
        if active is None:
            raise
        raise _already_active(active) from None
    ctx.wake("plans")
    response.headers["Location"] = f"/plans/{row.id}"
    return ReplanAccepted(
        id=row.id,
        status=row.status,
        parent_id=parent.id,
        links={**links(row.id), "diff": f"/plans/{row.id}/diff"},
    )


def _first(value: int | None, default: int) -> int:
    return default if value is None else value


def _already_active(plan: PlanRow) -> Conflict:
    return Conflict(
        f"plan {plan.id} is already {plan.status} for {plan.region} on {plan.day}; "
        "wait for it or cancel it before re-planning",
        running_plan_id=plan.id,
    )


@router.get(
    "/plans/{plan_id}/diff",
    response_model=DiffOut,
    summary="What a re-plan changes against the plan it re-plans",
    description="Crews whose route changes, jobs moved between crews, ETA changes (flagged "
    "beyond the tolerance against what the customer was told), jobs added, removed or newly "
    "unassigned, and promises newly at risk. 404 for a plan that is not a re-plan; 409 while "
    "it is not solved yet.",
)
def read_diff(
    plan_id: str,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: Session = Depends(get_session),
) -> DiffOut:
    row = get_plan(session, plan_id, principal)
    if row.kind != "replan" or row.parent_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"plan {plan_id} is not a re-plan")
    if row.status not in FINISHED or row.diff is None:
        raise Conflict(
            f"re-plan {plan_id} is {row.status}: it has no diff"
            + (f" ({row.error})" if row.error else ""),
            status=row.status,
        )
    return DiffOut(plan_id=row.id, parent_id=row.parent_id, status=row.status, diff=row.diff)


# ---- explanations


class _ExplainCache:
    """Explanations per (plan id, version): a small thread-safe LRU."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> dict[str, Any] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[str, int], value: dict[str, Any]) -> None:
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


explain_cache = _ExplainCache(EXPLAIN_CACHE_SIZE)


def to_json(value: Any) -> Any:
    """Explanation dataclasses as JSON-ready data (enums by value, sets sorted, times ISO),
    personal fields dropped should one ever appear."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_json(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in PERSONAL_FIELDS
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items() if k not in PERSONAL_FIELDS}
    if isinstance(value, set | frozenset):
        return sorted(to_json(v) for v in value)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


@router.get(
    "/plans/{plan_id}/explanations",
    response_model=ExplanationsOut,
    summary="Why jobs are unassigned (or late), what would fix it, and shortfalls per zone",
    description="One explanation per unassigned job: what binds it (no crew with the skill, "
    "windows, capacity, the day full) and the fixes; `zones` sums the shortfall per zone "
    "and crew kind for the dispatcher. Ids only, no personal data.",
)
def read_explanations(
    plan_id: str,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: Session = Depends(get_session),
) -> ExplanationsOut:
    row = get_plan(session, plan_id, principal)
    if row.status not in FINISHED:
        raise Conflict(f"plan {plan_id} is {row.status}: it has no routes", status=row.status)
    key = (row.id, row.version)
    cached = explain_cache.get(key)
    if cached is None:
        plan = stored_plan(row)
        explanations = explain_plan(plan)
        cached = {
            "jobs": to_json(explanations),
            "zones": to_json(zone_shortages(plan, explanations)),
        }
        explain_cache.put(key, cached)
    return ExplanationsOut(plan_id=row.id, version=row.version, **cached)


# ---- customer notices


@router.get(
    "/notices",
    response_model=Page[NoticeOut],
    response_model_exclude_unset=True,
    tags=["notices"],
    summary="Customer notices (expected arrival, changed arrival, late) and their delivery",
    description="Newest first. The customer's phone is shown to dispatchers and admins only.",
)
def list_notices(
    plan_id: Ident | None = Query(None, description="notices of this publication"),
    job_id: Ident | None = Query(None, description="notices of this job"),
    status_: NoticeStatus | None = Query(None, alias="status"),
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: Session = Depends(get_session),
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
    tags=["notices"],
    summary="Send a dead notice again (with a fresh set of attempts)",
    description="The phone is taken again from the job (it may have been corrected). 409 for "
    "a notice that is not dead, or when the job still has no phone.",
)
def retry_notice(
    notice_id: RowId,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: AppContext = Depends(get_ctx),
    session: Session = Depends(get_session),
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
