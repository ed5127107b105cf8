"""Plans: trigger a day's plan, follow it, read its routes, cancel, publish (hand moves:
`api/http/routers/overrides.py`).

A plan is solved outside the web process: `POST /plans` snapshots the day's problem from the
tables into a new `queued` row and answers 202 at once; `api.background.plan_runner` solves it in a
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
from typing import Any

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.http.pages import Page, PageParams, page_params, paginate
from api.principals import ANY_OFFICE, OFFICE, Principal, check_region
from api.services.errors import Conflict, Unprocessable
from api.services.plan_rows import (
    active_plan,
    audit,
    check_version,
    get_plan,
    links,
    plan_out,
    stored_plan,
    summary_fields,
)
from api.services.plan_schemas import (
    AuditOut,
    PlanAccepted,
    PlanIn,
    PlanOut,
    PlanSummary,
    PublishIn,
)
from api.services.problem_builder import build_problem
from api.services.publication import publish_plan, published_plan
from api.services.roll_over import roll_over
from api.storage.models import AuditRow, PlanRow, ZoneRow
from api.storage.types import Day
from dispatch.errors import InputError
from dispatch.files.geojson import plan_to_geojson
from dispatch.files.plan_settings import parse_settings, settings_to_dict
from dispatch.files.problem_io import problem_to_dict
from dispatch.privacy import PERSONAL_FIELDS
from dispatch.promises import default_policies

router = APIRouter(prefix="/plans", tags=["plans"])


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


def _plan_settings(body: PlanIn) -> dict[str, Any] | None:
    """The request's plan settings, checked and normalised for the row's options, where the
    worker (another process) reads them back; None when the request has none."""
    if body.settings is None:
        return None
    settings = parse_settings(body.settings, "request body", prefix="settings")
    if settings.provider is not None:  # a file or URL of the caller's choosing: never
        raise InputError(
            "request body",
            "settings.travel.provider",
            "the travel provider is the service's own setting, not a plan's",
        )
    return settings_to_dict(settings)


def _already_active(plan: PlanRow) -> Conflict:
    return Conflict(
        f"plan {plan.id} is already {plan.status} for {plan.region} on {plan.day}; "
        "wait for it or cancel it first",
        running_plan_id=plan.id,
    )


@router.post(
    "",
    status_code=202,
    response_model=PlanAccepted,
    summary="Trigger a plan for a region's day (solved in the background)",
    description="Snapshots the day's jobs and crews now and answers 202 with the plan id; "
    "follow `GET /plans/{id}`. A second trigger for the same region and day while one is "
    "queued or running is 409 and names it (`running_plan_id`). Optional `settings` (speeds, "
    'promise hours, link gap, service-time estimate: docs/data-formats.md, "Plan settings") '
    "are checked now and applied by the worker; the result records every setting it was made "
    "with (`result.settings`). Open jobs left over from earlier days are carried into the day "
    "first (roll-over: same clock times on this day, their age raising their priority; "
    "`rolled_over` says how many), when the day is today or tomorrow.",
)
def trigger_plan(
    body: PlanIn,
    response: Response,
    *,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
) -> PlanAccepted:
    check_region(principal, body.region)
    zones = _check_request(session, body)
    plan_settings = _plan_settings(body)
    active = active_plan(session, body.region, body.date)
    if active is not None:
        raise _already_active(active)
    travel = ctx.settings.travel_for(body.region)  # the region's provider (FIELDROUTE_TRAVEL*)
    settings = ctx.settings
    now = settings.now()
    # earlier days' open leftovers join the day first (committed with the plan row, or not at all)
    rolled = roll_over(session, body.region, body.date, now.date(), now, principal)
    problem = build_problem(
        session,
        body.region,
        body.date,
        zones,
        travel,
        settings.certification_rule,  # FIELDROUTE_CERTIFICATION
        settings.callback_rule,  # FIELDROUTE_CALLBACK_POLICY
    )
    if not problem.jobs:
        where = f" in zones {', '.join(zones)}" if zones else ""
        raise Unprocessable(
            f"nothing to plan: no open or assigned jobs in {body.region}{where} on {body.date}",
            ["no open or assigned jobs"],
        )
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
            **({"settings": plan_settings} if plan_settings is not None else {}),
            **({"horizon_days": body.horizon_days} if body.horizon_days > 1 else {}),
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
        details={
            "zones": zones,
            "jobs": len(problem.jobs),
            "crews": len(problem.crews),
            "rolled_over": len(rolled),
        },
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
    return PlanAccepted(id=row.id, status=row.status, links=links(row.id), rolled_over=len(rolled))


@router.get("", response_model=Page[PlanSummary], summary="List plans (newest first)")
def list_plans(
    *,
    day: Day | None = Query(None, alias="date"),
    region: str | None = Query(None, max_length=32),
    status_: str | None = Query(None, alias="status", max_length=20),
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
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
    *,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
) -> PlanOut:
    return plan_out(get_plan(session, plan_id, principal))


@router.get(
    "/{plan_id}/geojson",
    summary="The plan as GeoJSON: routes, stops, unassigned jobs, depots, zones",
    response_description="a GeoJSON FeatureCollection (RFC 7946), coordinates [lon, lat]",
)
def plan_geojson(
    plan_id: str,
    *,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
) -> dict[str, Any]:
    personal = principal.sees_personal_data
    plan = stored_plan(get_plan(session, plan_id, principal))
    collection = plan_to_geojson(plan, exact_locations=personal)
    if not personal:
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
    *,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
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
    *,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
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
            public_url=ctx.settings.public_url,
            language=ctx.settings.notice_language,
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


@router.get(
    "/{plan_id}/audit",
    response_model=Page[AuditOut],
    summary="Who did what to the plan: triggers, cancellations, publications, overrides "
    "(oldest first, paginated)",
)
def plan_audit(
    plan_id: str,
    *,
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
) -> Page[AuditOut]:
    """By time, then id."""
    get_plan(session, plan_id, principal)
    query = select(AuditRow).where(AuditRow.plan_id == plan_id).order_by(AuditRow.at, AuditRow.id)
    rows, total = paginate(session, query, page)
    items = [
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
    return Page[AuditOut](items=items, total=total, limit=page.limit, offset=page.offset)
