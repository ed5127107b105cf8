"""Re-planning a published day, and what a re-plan changes.

`POST /plans/{id}/replan` takes the published plan and the day as it stands
(`api.services.day_state`:
what is done or in progress, overruns, crews that dropped out, new urgent jobs, cancelled
ones, what customers were told) and queues a **new** plan row of kind `replan` (parent: the
published plan). The plan runner solves it in a worker process like any plan, with
`dispatch.running.replan.replan`; the row then holds the new routes and the **diff** against the
parent (crews that change, jobs that move, new ETAs, promises newly at risk), for the
dispatcher to approve. Approving is publishing it with `replaces` = the parent
(`POST /plans/{new}/publish`): the parent becomes `superseded` in the same transaction, the
drivers' routes change (new plan id and version, so new ETags, and each stop says what
changed), and customers whose arrival moved beyond the tolerance are told (`api.services.notices`).
A re-plan that fails, or is never approved, leaves the published plan as it was.

Refusals: re-planning a plan that is not published is 409; while another plan or re-plan of
the region's day is queued or running, 409 naming it (the same partial unique index as
`POST /plans`, so two concurrent requests cannot both pass); `at` before the plan's last
reported event, or a crew or job that is not on the plan, is 422 naming the field.

Why jobs stay unplanned is `api.http.routers.explanations`; customer notices are
`api.http.routers.notices`.

A dispatcher bound to regions re-plans and reads only his regions' plans (`get_plan` checks
the plan's region).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.principals import ANY_OFFICE, OFFICE, Principal
from api.services.day_state import Overrun, Unavailable, build_day_state, day_state_to_dict
from api.services.errors import Conflict, Unprocessable
from api.services.plan_rows import FINISHED, active_plan, audit, get_plan, links, stored_plan
from api.services.plan_schemas import PlanAccepted
from api.storage.models import PlanRow
from api.storage.types import Ident, Moment
from dispatch.running.replan import ReplanRefused, refuse_bad_state

router = APIRouter(tags=["re-plans"])


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
    *,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
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
    *,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
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
