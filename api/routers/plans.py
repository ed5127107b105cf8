"""Plans: trigger a day's plan, follow it, read its routes, cancel, publish, override by hand.

A plan is solved outside the web process: `POST /plans` snapshots the day's problem from the
tables into a new `queued` row and answers 202 at once; `api.plan_runner` solves it in a
worker process and the row carries progress, then the result or the error. One queued or
running plan per region and day, one published plan per region and day: both are partial
unique indexes, so concurrent requests get 409, not a silent overwrite.

Writes that depend on what the caller saw (publish, override) carry the plan's `version`;
a different version is 409, and a change that races with another one fails SQLAlchemy's
version check at commit (409 as well). Overrides and their refusals, publications,
triggers and cancellations go to the audit log (`GET /plans/{id}/audit`).

Answers hold no personal data: routes and unassigned jobs name job ids; the problem with the
customers' names and addresses stays in the row on the server.

A dispatcher bound to regions (`Principal.regions`) lists, reads, triggers and changes only
those regions' plans: every route that loads a plan by id goes through `get_plan`, which
checks the plan's region (403 naming the caller's regions).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from api.audit import record_audit
from api.auth import ANY_OFFICE, OFFICE, Principal, check_region, require
from api.context import AppContext, get_ctx, get_session
from api.errors import Conflict, Unprocessable
from api.models import AuditRow, JobRow, PlanRow, ZoneRow
from api.outbox import set_job_status
from api.pages import Page, PageParams, page_params, paginate
from api.prepared_days import stored_plan_prepared
from api.problem_builder import build_problem
from api.publication import publish_plan, published_plan, window_end_at
from api.types import Day, Ident
from dispatch.errors import InputError
from dispatch.geojson import plan_to_geojson
from dispatch.kpis import plan_kpis
from dispatch.overrides import Move, OverrideRefused, apply_move
from dispatch.plan import Plan
from dispatch.plan_io import plan_from_dict, plan_to_dict
from dispatch.problem_io import problem_to_dict
from dispatch.promises import default_policies
from dispatch.records import PERSONAL_FIELDS

router = APIRouter(prefix="/plans", tags=["plans"])

ACTIVE = ("queued", "running")
#: job statuses a plan may still move (nothing has happened on the road yet)
MOVABLE_JOB = ("open", "assigned")


# ---- request and answer shapes


class PlanIn(BaseModel):
    """Plan a region's day (or some of its zones)."""

    model_config = ConfigDict(extra="forbid")
    date: Day = Field(description="the day to plan")
    region: Ident = "urban"
    zones: list[Ident] | None = Field(
        None, min_length=1, max_length=500, description="only these zones (default: all)"
    )
    time_limit_s: float | None = Field(
        None, gt=0, le=600, allow_inf_nan=False, description="search time (default: settings)"
    )
    solution_limit: int | None = Field(
        None, ge=1, le=1_000_000, description="stop each solve after this many solutions"
    )


class PlanAccepted(BaseModel):
    id: str
    status: str
    links: dict[str, str]


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="the plan's version as you read it")
    replaces: Ident | None = Field(None, description="the published plan this one supersedes")


class OverrideIn(BaseModel):
    """Move one job: onto crew `crew_id` at `position` (0-based; default: last), or off its
    route (`crew_id` null). Reorder a route by moving a job on its own crew."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="the plan's version as you read it")
    job_id: Ident
    crew_id: Ident | None = None
    position: int | None = Field(None, ge=0, le=10_000)


class StopOut(BaseModel):
    job_id: str
    arrival: datetime
    start: datetime
    end: datetime
    deadline: datetime
    slack_minutes: int = Field(description="minutes between the end and the promise deadline")


class LunchOut(BaseModel):
    start: datetime
    minutes: int
    after_stop: int
    before_travel: bool


class RouteOut(BaseModel):
    crew_id: str
    depart: datetime
    return_at: datetime
    distance_m: int
    drive_s: int
    lunch: LunchOut | None = None
    stops: list[StopOut]


class UnassignedOut(BaseModel):
    job_id: str
    reason: str
    detail: str


class PlanResult(BaseModel):
    routes: list[RouteOut]
    unassigned: list[UnassignedOut]
    stats: dict[str, float | None]


class PlanSummary(BaseModel):
    id: str
    kind: str = Field("plan", description="`plan`, or `replan` (a published plan re-planned)")
    parent_id: str | None = Field(None, description="the published plan a re-plan re-plans")
    region: str
    date: Day
    zones: list[str]
    status: str
    progress: float
    message: str
    error: str | None
    cancel_requested: bool
    version: int
    options: dict[str, Any]
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    published_at: datetime | None
    published_by: str | None
    kpis: dict[str, Any] | None


class PlanOut(PlanSummary):
    result: PlanResult | None = Field(
        None, description="routes, unassigned jobs with reasons, and solver stats"
    )
    diff: dict[str, Any] | None = Field(
        None, description="a re-plan's changes against its parent (`GET /plans/{id}/diff`)"
    )


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    plan_id: str | None
    job_id: str | None
    details: dict[str, Any]


# ---- helpers


def summary_fields(row: PlanRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind or "plan",
        "parent_id": row.parent_id,
        "region": row.region,
        "date": row.day,
        "zones": list(row.zones or []),
        "status": row.status,
        "progress": row.progress,
        "message": row.message,
        "error": row.error,
        "cancel_requested": row.cancel_requested,
        "version": row.version,
        "options": dict(row.options or {}),
        "created_by": row.created_by,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "published_at": row.published_at,
        "published_by": row.published_by,
        "kpis": row.kpis,
    }


def plan_out(row: PlanRow) -> PlanOut:
    """The plan as answered: routes and unassigned jobs, never the embedded problem."""
    result = None
    if row.result is not None:
        result = PlanResult(
            routes=row.result.get("routes", []),
            unassigned=row.result.get("unassigned", []),
            stats=row.result.get("stats", {}),
        )
    return PlanOut(**summary_fields(row), result=result, diff=row.diff)


def links(plan_id: str) -> dict[str, str]:
    base = f"/plans/{plan_id}"
    return {
        "self": base,
        "geojson": f"{base}/geojson",
        "publish": f"{base}/publish",
        "overrides": f"{base}/overrides",
        "audit": f"{base}/audit",
    }


def get_plan(session: Session, plan_id: str, principal: Principal) -> PlanRow:
    """The plan row, without its problem or day-state snapshot (large, never answered).

    404 if there is none; 403 if `principal` is a dispatcher bound to other regions. The
    principal is required, not optional, so that no route reading a plan by id can forget
    the region check.
    """
    row = session.get(PlanRow, plan_id, options=[defer(PlanRow.problem), defer(PlanRow.day_state)])
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"plan {plan_id!r} not found")
    check_region(principal, row.region)
    return row


def active_plan(session: Session, region: str, day: object) -> PlanRow | None:
    return session.scalar(
        select(PlanRow).where(
            PlanRow.region == region, PlanRow.day == day, PlanRow.status.in_(ACTIVE)
        )
    )


def check_version(row: PlanRow, version: int) -> None:
    if row.version != version:
        raise Conflict(
            f"plan {row.id} is at version {row.version}, not {version}: reload it",
            field="version",
            version=row.version,
        )


def stored_plan(row: PlanRow) -> Plan:
    """The plan object of a finished row (its result, with the problem it solved)."""
    if row.result is None:
        raise Conflict(f"plan {row.id} is {row.status}: it has no routes", status=row.status)
    return plan_from_dict(row.result, source=f"plan {row.id}")


def audit(
    session: Session,
    principal: Principal,
    now: datetime,
    action: str,
    plan_id: str,
    job_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    record_audit(session, principal, action, now, plan_id=plan_id, job_id=job_id, details=details)


def _check_request(session: Session, body: PlanIn) -> list[str] | None:
    """The zones asked for (sorted, unique), after checking region and zones exist."""
    regions = default_policies()
    if body.region not in regions:
        known = ", ".join(sorted(regions))
        raise InputError("request body", "region", f"{body.region!r} is not one of: {known}")
    if body.zones is None:
        return None
    zones = sorted(set(body.zones))
    known_zones = set(session.scalars(select(ZoneRow.id).where(ZoneRow.region == body.region)))
    unknown = [z for z in zones if z not in known_zones]
    if unknown:
        raise InputError(
            "request body",
            "zones",
            f"not zones of region {body.region!r}: {', '.join(unknown)}",
        )
    return zones


def _already_active(plan: PlanRow) -> Conflict:
    return Conflict(
        f"plan {plan.id} is already {plan.status} for {plan.region} on {plan.day}; "
        "wait for it or cancel it first",
        running_plan_id=plan.id,
    )


# ---- routes


@router.post(
    "",
    status_code=202,
    response_model=PlanAccepted,
    summary="Trigger a plan for a region's day (solved in the background)",
    description="Snapshots the day's jobs and crews now and answers 202 with the plan id; "
    "follow `GET /plans/{id}`. A second trigger for the same region and day while one is "
    "queued or running is 409 and names it (`running_plan_id`).",
)
def trigger_plan(
    body: PlanIn,
    response: Response,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: AppContext = Depends(get_ctx),
    session: Session = Depends(get_session),
) -> PlanAccepted:
    check_region(principal, body.region)
    zones = _check_request(session, body)
    active = active_plan(session, body.region, body.date)
    if active is not None:
        raise _already_active(active)
    problem = build_problem(session, body.region, body.date, zones)
    if not problem.jobs:
        where = f" in zones {', '.join(zones)}" if zones else ""
        raise Unprocessable(
            f"nothing to plan: no open or assigned jobs in {body.region}{where} on {body.date}",
            ["no open or assigned jobs"],
        )
    settings = ctx.settings
    now = settings.now()
    row = PlanRow(
        id=str(uuid.uuid4()),
        region=body.region,
        day=body.date,
        zones=zones or [],
        status="queued",
        progress=0.0,
        message="queued",
        options={
            "time_limit_s": body.time_limit_s or settings.plan_time_limit_s,
            "solution_limit": body.solution_limit or settings.plan_solution_limit,
        },
        problem=problem_to_dict(problem),
        cancel_requested=False,
        created_by=principal.subject,
        created_at=now,
    )
    session.add(row)
    audit(
        session,
        principal,
        now,
        "plan_triggered",
        row.id,
        details={"zones": zones, "jobs": len(problem.jobs), "crews": len(problem.crews)},
    )
    try:
        session.commit()
    except IntegrityError:  # a concurrent trigger won the race for the region's day
        session.rollback()
        active = active_plan(session, body.region, body.date)
        if active is None:
            raise
        raise _already_active(active) from None
    ctx.wake("plans")
    response.headers["Location"] = f"/plans/{row.id}"
    return PlanAccepted(id=row.id, status=row.status, links=links(row.id))


@router.get("", response_model=Page[PlanSummary], summary="List plans (newest first)")
def list_plans(
    day: Day | None = Query(None, alias="date"),
    region: str | None = Query(None, max_length=32),
    status_: str | None = Query(None, alias="status", max_length=20),
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: Session = Depends(get_session),
) -> Page[PlanSummary]:
    """Newest first; a region-bound dispatcher sees his regions' plans only."""
    query = (
        select(PlanRow)
        .options(
            defer(PlanRow.problem),
            defer(PlanRow.result),
            defer(PlanRow.day_state),
            defer(PlanRow.diff),
        )
        .order_by(PlanRow.created_at.desc(), PlanRow.id)
    )
    for column, value in ((PlanRow.day, day), (PlanRow.region, region), (PlanRow.status, status_)):
        if value is not None:
            query = query.where(column == value)
    if principal.regions is not None:
        query = query.where(PlanRow.region.in_(sorted(principal.regions)))
    rows, total = paginate(session, query, page)
    return Page[PlanSummary](
        items=[PlanSummary(**summary_fields(r)) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/{plan_id}",
    response_model=PlanOut,
    summary="A plan: status, progress, then routes, KPIs and unassigned jobs with reasons",
)
def read_plan(
    plan_id: str,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: Session = Depends(get_session),
) -> PlanOut:
    return plan_out(get_plan(session, plan_id, principal))


@router.get(
    "/{plan_id}/geojson",
    summary="The plan as GeoJSON: routes, stops, unassigned jobs, depots, zones",
    response_description="a GeoJSON FeatureCollection (RFC 7946), coordinates [lon, lat]",
)
def plan_geojson(
    plan_id: str,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: Session = Depends(get_session),
) -> dict[str, Any]:
    collection = plan_to_geojson(stored_plan(get_plan(session, plan_id, principal)))
    if not principal.sees_personal_data:
        # `plan_to_geojson` writes no customer data today; this keeps it so if it ever does
        for feature in collection["features"]:
            props = feature.get("properties") or {}
            for key in PERSONAL_FIELDS:
                props.pop(key, None)
    return collection


@router.delete(
    "/{plan_id}",
    response_model=PlanSummary,
    summary="Cancel a plan: a queued one at once (200), a running one is stopped (202)",
    responses={202: {"description": "cancel requested: the worker is being stopped"}},
)
def cancel_plan(
    plan_id: str,
    response: Response,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: AppContext = Depends(get_ctx),
    session: Session = Depends(get_session),
) -> PlanSummary:
    row = get_plan(session, plan_id, principal)
    now = ctx.settings.now()
    done = session.execute(
        update(PlanRow)
        .where(PlanRow.id == plan_id, PlanRow.status == "queued")
        .values(
            status="cancelled",
            cancel_requested=True,
            message="cancelled",
            finished_at=now,
            version=PlanRow.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if done.rowcount == 1:  # type: ignore[attr-defined]
        audit(session, principal, now, "plan_cancelled", plan_id)
    else:
        asked = session.execute(
            update(PlanRow)
            .where(PlanRow.id == plan_id, PlanRow.status == "running")
            .values(cancel_requested=True, version=PlanRow.version + 1)
            .execution_options(synchronize_session=False)
        )
        if asked.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            row = get_plan(session, plan_id, principal)
            session.refresh(row)
            raise Conflict(
                f"plan {plan_id} is {row.status}: only a queued or running plan can be cancelled",
                status=row.status,
            )
        audit(session, principal, now, "plan_cancel_requested", plan_id)
        response.status_code = status.HTTP_202_ACCEPTED
    session.commit()
    ctx.wake("plans")
    session.refresh(row)
    return PlanSummary(**summary_fields(row))


@router.post(
    "/{plan_id}/publish",
    response_model=PlanSummary,
    summary="Publish a succeeded plan: its routes become drivers' work",
    description="One published plan per region and day: publishing another is 409 naming "
    "the published plan (`published_plan_id`) unless `replaces` names it, which then "
    "becomes `superseded`. `version` must be the plan's current version.",
)
def publish(
    plan_id: str,
    body: PublishIn,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: AppContext = Depends(get_ctx),
    session: Session = Depends(get_session),
) -> PlanSummary:
    row = get_plan(session, plan_id, principal)
    check_version(row, body.version)
    now = ctx.settings.now()
    try:
        publish_plan(
            session,
            row,
            now,
            principal,
            replaces=body.replaces,
            eta_tolerance_minutes=(row.options or {}).get("eta_tolerance_minutes")
            or ctx.settings.eta_tolerance_minutes,
        )
        session.commit()
    except IntegrityError:  # another plan of the day was published meanwhile
        session.rollback()
        current = published_plan(session, row.region, row.day)
        raise Conflict(
            f"plan {current.id if current else '?'} was published for {row.region} on "
            f"{row.day} meanwhile; publish with replaces to supersede it",
            published_plan_id=current.id if current else None,
        ) from None
    ctx.wake("webhooks")
    ctx.wake("notices")
    return PlanSummary(**summary_fields(row))


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
    principal: Principal = Depends(require(*OFFICE)),
    ctx: AppContext = Depends(get_ctx),
    session: Session = Depends(get_session),
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


@router.get(
    "/{plan_id}/audit",
    response_model=list[AuditOut],
    summary="Who did what to the plan: triggers, cancellations, publications, overrides",
)
def plan_audit(
    plan_id: str,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: Session = Depends(get_session),
) -> list[AuditOut]:
    get_plan(session, plan_id, principal)
    rows = session.scalars(
        select(AuditRow).where(AuditRow.plan_id == plan_id).order_by(AuditRow.at, AuditRow.id)
    )
    return [
        AuditOut(
            id=r.id,
            at=r.at,
            actor=r.actor,
            role=r.role,
            action=r.action,
            plan_id=r.plan_id,
            job_id=r.job_id,
            details=r.details or {},
        )
        for r in rows
    ]
