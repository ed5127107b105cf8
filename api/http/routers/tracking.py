"""Customers' tracking links: `POST /jobs/{id}/tracking-link` makes one (dispatchers and
admins), `GET /track/{token}` is the customer's page (no sign-in) and
`GET /track/{token}/status` what the page polls. The rules, and what the customer is told
and not told, are `api.services.tracking`.

The page is the same static file for every token (no database read, nothing about the job
in it); its script reads the token from the address and asks for the status, which answers
404 alike for an unknown, expired or closed link, and the page then says the link has
expired. Every answer under `/track/` carries `Cache-Control: no-store`,
`Referrer-Policy: no-referrer` (the token is in the address: no request the page makes may
pass it on) and `X-Robots-Tag: noindex`; the page has a stricter Content-Security-Policy
than the office pages (no map tiles, no frames, no forms). The access log writes these paths
without the token (`api.http.request_log`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.http.route_cache import plan_cache
from api.principals import OFFICE, Principal
from api.services.job_rows import get_job
from api.services.tracking import NOT_FOUND, RouteOf, new_link, tracking_status, usable_job
from api.storage.models import PlanRow

router = APIRouter(tags=["tracking"])

TRACK_PAGE = Path(__file__).resolve().parent.parent / "web" / "pages" / "track.html"
#: the customer's page: its own scripts and styles only, nothing framed, no forms
TRACK_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
#: what every answer under /track/ carries
PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
}


class TrackingLinkOut(BaseModel):
    url: str = Field(
        description="the link: `/track/<token>` under `FIELDROUTE_PUBLIC_URL` when set, else "
        "the path; shown only this once"
    )
    expires_at: datetime = Field(description="local time: the end of the day after the job's")


class WindowOut(BaseModel):
    start: str = Field(description="HH:MM, local")
    end: str = Field(description="HH:MM, local")


class TrackingStatusOut(BaseModel):
    kind: str = Field(description="delivery, installation, repair, ...")
    window: WindowOut | None = Field(description="the booked window")
    eta: str | None = Field(description="the planned start, HH:MM local; null once arrived")
    status: Literal[
        "planned", "en_route", "arrived", "in_progress", "completed", "failed", "cancelled"
    ]
    distance_km: float | None = Field(
        description="straight-line km from the crew to the door, to 0.1: only while the crew "
        "is on its way to this job and has sent a recent position"
    )
    stops_before: int | None = Field(
        description="stops the crew still has before this one; null when not known"
    )
    updated_at: str = Field(description="when this answer was made: local, YYYY-MM-DDTHH:MM:SS")


@router.post(
    "/jobs/{job_id}/tracking-link",
    status_code=status.HTTP_201_CREATED,
    response_model=TrackingLinkOut,
    summary="Make a tracking link for a job's customer",
    description="A new secret link (`/track/<token>`, 192 random bits; only its hash is "
    "stored, so this is the one time it is shown). It expires at the end of the day after "
    "the job's day and stops working 2 hours after the job is completed, failed or "
    "cancelled. 409 for a job already closed.",
)
def create_tracking_link(
    job_id: str,
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(*OFFICE)),
) -> TrackingLinkOut:
    job = get_job(session, job_id, principal)
    path, expires = new_link(session, job, ctx.settings.now())
    session.commit()
    return TrackingLinkOut(url=ctx.settings.public_link(path), expires_at=expires)


@router.get("/track/{token}", include_in_schema=False)
def tracking_page(token: str) -> FileResponse:
    """The customer's page: the same file whatever the token (its script asks the status)."""
    return FileResponse(
        TRACK_PAGE,
        media_type="text/html; charset=utf-8",
        headers={**PRIVATE, "Content-Security-Policy": TRACK_CSP},
    )


def _route_reader(session: Session) -> RouteOf:
    """Reads a crew's route of a published plan through the drivers' plan cache (parsed once
    per plan version, shared with `GET /me/route`)."""

    def route_of(plan_id: str, version: int, crew_id: str) -> dict[str, Any] | None:
        parent = session.scalar(select(PlanRow.parent_id).where(PlanRow.id == plan_id))

        def result_of(pid: str | None) -> Any:
            return session.scalar(select(PlanRow.result).where(PlanRow.id == pid)) if pid else None

        entry = plan_cache.get(
            (plan_id, version), lambda: result_of(plan_id), lambda: result_of(parent)
        )
        return entry.route(crew_id, False) if crew_id in entry.crews else None

    return route_of


@router.get(
    "/track/{token}/status",
    response_model=TrackingStatusOut,
    responses={404: {"description": "Unknown, expired or closed link (all alike)"}},
    summary="What a customer's tracking page shows (no sign-in: the token is the key)",
    description="The job's kind, booked window, planned start, status, stops before it, "
    "and, while the crew is on its way to it, the straight-line distance: nothing else (no "
    "crew, no other customer, no position, no name or phone). 404 alike for an unknown, "
    "expired or closed link. Meant to be polled every 30 to 60 s.",
)
def tracking_status_answer(
    token: str, response: Response, ctx: CtxDep, session: SessionDep
) -> dict[str, Any]:
    now = ctx.settings.now()
    job = usable_job(session, token, now)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND, headers=PRIVATE)
    response.headers.update(PRIVATE)
    return tracking_status(session, job, now, _route_reader(session))
