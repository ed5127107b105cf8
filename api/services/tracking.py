"""Customers' tracking links: a secret link per job that shows the customer, without signing
in, when the crew is expected and how far away it is once it set out for them.

**Links.** A link is `/track/<token>`, the token 192 random bits (`secrets.token_urlsafe`,
32 characters). Only its SHA-256 is stored (`tracking_links.token_hash`): the token is
answered once to whoever made it (`POST /jobs/{id}/tracking-link`) or written into the
customer's arrival notice (`link_for_notice`, called by `api.services.notices`). A link
expires at the end of the day after the job's day, and stops working `CLOSED_GRACE` (2 h)
after the job was completed, failed or cancelled (by the server's clock of that change, the
job's `updated_at`). An unknown token, an expired one and a closed job's all answer the same
404, so a token cannot be probed for. Retention deletes expired links (`purge_links`).

**What the page is told** (`tracking_status`), and nothing else: the job's kind, its booked
window, the planned start ("eta", what the customer's notice said), a status in the
customer's words, how many stops the crew still has before this one, the straight-line
distance from the crew's last position to the door (only while the crew is on its way to
this job, from a position of the job's day at most `POSITION_FRESH` old), and when the answer
was made. No crew member, no other customer, no crew position, not even the customer's own
name or phone: whoever holds the link (a forwarded message) learns no more than that.

The answer costs a few primary-key and indexed lookups (the link, the job, the crew's last
position, the statuses of the stops before it) and the crew's route from the plan cache the
drivers' routes already use, so a page polling every 30 s costs little.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.services.errors import Conflict
from api.services.positions import distance_km
from api.storage.models import JobRow, PlanRow
from api.storage.tracking_models import CrewPositionRow, TrackingLinkRow

#: random bytes in a token (192 bits; 32 URL-safe characters)
TOKEN_BYTES = 24
#: the path a token is used on
PATH = "/track/"
#: a link stops working this long after its job was closed
CLOSED_GRACE = timedelta(hours=2)
#: job statuses that close a job
CLOSED = ("completed", "failed", "cancelled")
#: a crew position older than this gives no distance
POSITION_FRESH = timedelta(minutes=30)
#: the job's status in the customer's words
STATUS_OF = {
    "open": "planned",
    "assigned": "planned",
    "en_route": "en_route",
    "on_site": "arrived",
    "in_progress": "in_progress",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
#: statuses of a stop the crew has still to do (or is doing)
STILL_TO_DO = ("assigned", "en_route", "on_site", "in_progress")
#: the answer for an unknown, expired or closed link alike
NOT_FOUND = "this tracking link is unknown or has expired"
#: a link in a text (a notice's message)
_LINK = re.compile(r"/track/[A-Za-z0-9_-]+")

#: the crew's route on a published plan (`api.http.route_cache`): (plan id, version, crew id)
#: -> the route as `dispatch.running.driver_route` writes it, or None
RouteOf = Callable[[str, int, str], dict[str, Any] | None]


def token_hash(token: str) -> str:
    """The stored form of a token: SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def link_expiry(day: date) -> datetime:
    """When a link for a job of `day` expires: the end of the day after it."""
    return datetime.combine(day + timedelta(days=2), time.min)


def new_link(session: Session, job: JobRow, now: datetime) -> tuple[str, datetime]:
    """A new link for `job` (added to the caller's transaction): its path and expiry.

    Refused (`Conflict`) for a closed job: there is nothing left to follow."""
    if job.status in CLOSED:
        raise Conflict(
            f"job {job.id!r} is {job.status}: there is nothing left to track", status=job.status
        )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires = link_expiry(job.due_date)
    session.add(
        TrackingLinkRow(
            token_hash=token_hash(token), job_id=job.id, created_at=now, expires_at=expires
        )
    )
    return PATH + token, expires


def link_for_notice(session: Session, job: JobRow, now: datetime, public_url: str = "") -> str:
    """A new link for a customer's arrival notice (the caller's transaction): the whole
    address under `public_url` (`FIELDROUTE_PUBLIC_URL`), else its path."""
    return public_url + new_link(session, job, now)[0]


def hide_links(text: str) -> str:
    """`text` with the tokens of its tracking links left out (`/track/...`), for the roles
    that do not see personal data."""
    return _LINK.sub(PATH + "...", text)


def usable_job(session: Session, token: str, now: datetime) -> JobRow | None:
    """The job a token follows, or None when the token is unknown, expired, or its job was
    closed more than `CLOSED_GRACE` ago (all alike: see the module docstring)."""
    if not token or len(token) > 200:
        return None
    link = session.get(TrackingLinkRow, token_hash(token))
    if link is None or link.expires_at <= now:
        return None
    job = session.get(JobRow, link.job_id)
    if job is None:
        return None
    if job.status in CLOSED and job.updated_at + CLOSED_GRACE <= now:
        return None
    return job


def _clock(iso: str | None) -> str | None:
    """ "HH:MM" of a local ISO time."""
    return iso[11:16] if iso else None


def _window(job: JobRow, stop: dict[str, Any] | None) -> dict[str, str] | None:
    """The booked window the crew is due in (the planned stop's), else the job's first."""
    found = (stop or {}).get("window")
    if found is None:
        windows = (job.record or {}).get("windows") or []
        found = windows[0] if windows else None
    if not found:
        return None
    return {"start": str(_clock(found["start"])), "end": str(_clock(found["end"]))}


def _route_stop(
    session: Session, job: JobRow, route_of: RouteOf
) -> tuple[dict[str, Any] | None, list[str]]:
    """The job's stop on its crew's route of the day's published plan, and the job ids of
    the stops before it (None and [] when it is on no published route)."""
    if job.crew_id is None:
        return None, []
    plan = session.execute(
        select(PlanRow.id, PlanRow.version).where(
            PlanRow.region == job.region,
            PlanRow.day == job.due_date,
            PlanRow.status == "published",
        )
    ).first()
    if plan is None:
        return None, []
    route = route_of(plan[0], plan[1], job.crew_id)
    stops = (route or {}).get("stops", [])
    for k, stop in enumerate(stops):
        if stop["job_id"] == job.id:
            return stop, [s["job_id"] for s in stops[:k]]
    return None, []


def _stops_before(session: Session, ids: list[str]) -> int:
    if not ids:
        return 0
    return len(
        session.scalars(
            select(JobRow.id).where(JobRow.id.in_(ids), JobRow.status.in_(STILL_TO_DO))
        ).all()
    )


def _distance(session: Session, job: JobRow, now: datetime) -> float | None:
    """Straight-line km from the crew's last position to the job, once it left for it."""
    if job.status != "en_route" or job.crew_id is None:
        return None
    position = session.get(CrewPositionRow, job.crew_id)
    if (
        position is None
        or position.day != job.due_date
        or now - position.device_time > POSITION_FRESH
    ):
        return None
    record = job.record or {}
    if record.get("lon") is None or record.get("lat") is None:
        return None
    km = distance_km(position.lon, position.lat, float(record["lon"]), float(record["lat"]))
    return round(km, 1)


def tracking_status(
    session: Session, job: JobRow, now: datetime, route_of: RouteOf
) -> dict[str, Any]:
    """What the tracking page shows about `job` (see the module docstring): exactly the keys
    `kind`, `window`, `eta`, `status`, `distance_km`, `stops_before`, `updated_at`."""
    status = STATUS_OF.get(job.status, "planned")
    coming = status in ("planned", "en_route")
    stop, before = _route_stop(session, job, route_of) if coming else (None, [])
    return {
        "kind": job.kind,
        "window": _window(job, stop),
        "eta": _clock(stop["start"]) if stop is not None else None,
        "status": status,
        "distance_km": _distance(session, job, now),
        "stops_before": _stops_before(session, before) if stop is not None else None,
        "updated_at": now.isoformat(timespec="seconds"),
    }


def purge_links(session: Session, now: datetime) -> int:
    """Delete the expired links (in the caller's transaction); how many."""
    result = session.execute(delete(TrackingLinkRow).where(TrackingLinkRow.expires_at <= now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
