"""Reading and guarding plan rows for the plan routers: the row by id (region-checked), the
day's active plan, the version check, the stored plan object, the answer shapes built from a
row, and the audit entry. Routers import this module, never each other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import HTTPException, status
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from api.principals import Principal, check_region
from api.services.audit import record_audit
from api.services.errors import Conflict
from api.services.plan_schemas import PlanOut, PlanResult
from api.storage.models import PlanRow
from dispatch.files.plan_io import plan_from_dict
from dispatch.plan import Plan

#: the statuses of a plan still being solved
ACTIVE = ("queued", "running")
#: plan statuses that have routes (a diff, explanations)
FINISHED = ("succeeded", "published", "superseded")


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
            settings=row.result.get("settings"),
            horizon=row.result.get("horizon"),
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
