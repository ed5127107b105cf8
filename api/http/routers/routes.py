"""Drivers' routes: one crew's day from the published plan, as compact JSON for a phone.

`GET /me/route` is the driver's own route (crew from the token); `GET /routes/{crew_id}` any
crew's for the office. Stops come in planned order with ETA, start, end, window, the door,
what to bring and the jobs of the same order other crews do (`dispatch.running.driver_route`), plus
each job's live `status`; cancelled jobs are left out. A stop that is half of a two-crew
visit (an assisted job, `Job.assists`) says so in `assist`: the partner crew and when they
meet. Customer contact (address, name, phone) is shown to the crew's own driver and to
dispatchers and admins; planners and managers get the route without those keys.

The body is compact JSON with a strong `ETag`: a phone polling on a weak connection sends
`If-None-Match` and gets `304` with no body while nothing changed. The ETag is derived from
what the body is made of, not from the body (`route_etag`: the plan id and version, whether
contact is shown, and each job's status and row version), so a 304 costs one small query and
no body is built or hashed. Any change the phone should see (a new plan version, a cancelled
job, a status, a corrected phone number) changes one of those, so the ETag.
`Cache-Control: private, no-cache`: a cache may keep it but must revalidate, and shared
caches must not keep it (personal data); `Vary: Authorization` since the body
depends on the caller's role.

Hot path: parsed plans and built bodies are kept in process (`api.http.route_cache`). A
request costs two small queries: the published plans' ids and versions for the day, and the
statuses and versions of the crew's jobs (plus their contact when a body not yet cached is
built), read on one pooled connection in a single thread-pool hop (no ORM session, async
dependencies).

What changed: when the published plan is an approved re-plan (it has a `parent_id`, the plan
it superseded), each stop carries `change` - `"new"` (not on this crew's previous route),
`"eta_moved"` (its ETA moved by `route_cache.ETA_MOVED_MINUTES` or more; `previous_eta` says
from when), or null - and the route lists `removed`: the jobs taken off this crew's route.
The previous routes are read once per plan version, with the plan, into the same cache.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from api.context import AppContext
from api.http.auth import require
from api.http.deps import CtxDep
from api.http.http_cache import etag_matches
from api.http.route_cache import PlanCache, body_cache, plan_cache

__all__ = ["DriverRouteOut", "PlanCache", "plan_cache", "route_body", "router"]
from api.principals import ANY_OFFICE, Principal, Role, check_own_crew, check_region
from api.storage.models import JobRow, PlanRow
from api.storage.types import Day
from dispatch.privacy import PERSONAL_FIELDS

router = APIRouter(tags=["routes"])

#: job statuses left off a driver's route
HIDDEN_STATUSES = frozenset({"cancelled"})


# ---- response documentation (the body itself is serialised by hand, compactly; the tests
# check it against these models, so the documented schema cannot drift from it)

_STRICT = ConfigDict(extra="forbid")


class DepotOut(BaseModel):
    model_config = _STRICT
    id: str
    name: str
    lon: float
    lat: float


class LunchOut(BaseModel):
    model_config = _STRICT
    start: str
    minutes: int


class WindowOut(BaseModel):
    model_config = _STRICT
    start: str
    end: str


class BringOut(BaseModel):
    model_config = _STRICT
    category: str
    quantity: int
    volume_l: float
    weight_kg: float
    people: int
    skills: list[str]


class LinkedOut(BaseModel):
    model_config = _STRICT
    job_id: str
    kind: str
    crew_id: str
    end: str


class PartnerOut(BaseModel):
    model_config = _STRICT
    job_id: str
    crew_id: str | None = Field(description="null while the partner's job is not on the plan")


class AssistOut(BaseModel):
    """A two-crew visit (`Job.assists`): this crew's part, when the crews meet, the others."""

    model_config = _STRICT
    role: Literal["assisted", "assisting"] = Field(
        description="assisted: this crew leads the visit; assisting: it helps the crew that does"
    )
    meet: str | None = Field(
        description="the assisted job's planned start: when the crews meet at the door (the "
        "assisting crew starts within the plan's `assist_tolerance_minutes` of it)"
    )
    partners: list[PartnerOut] = Field(
        description="the other half (or halves): job and crew only, no route or times of theirs"
    )


class StopOut(BaseModel):
    model_config = _STRICT
    seq: int
    job_id: str
    kind: str
    order_id: str
    status: str
    eta: str
    start: str
    end: str
    window: WindowOut | None
    lon: float = Field(
        description="exact for the crew and the office; about a kilometre for planners and managers"
    )
    lat: float
    floor: int | None = Field(description="null for planners and managers")
    has_lift: bool | None = Field(description="null for planners and managers")
    bring: BringOut
    priority: str
    linked: list[LinkedOut]
    assist: AssistOut | None = Field(
        None, description="only on a stop that is half of a two-crew visit (assisted job)"
    )
    address: str | None = None
    customer_name: str | None = None
    customer_phone: str | None = None
    change: Literal["new", "eta_moved"] | None = Field(
        None, description="after a re-plan: new on this route, or its ETA moved"
    )
    previous_eta: str | None = Field(None, description="the ETA before the re-plan")


class DriverRouteOut(BaseModel):
    """Times are local, to the minute (YYYY-MM-DDTHH:MM)."""

    model_config = _STRICT

    plan_id: str
    plan_version: int
    crew_id: str
    date: str
    depart: str | None
    return_at: str | None
    start_depot: DepotOut
    end_depot: DepotOut
    lunch: LunchOut | None
    distance_km: float
    stops: list[StopOut]
    removed: list[str] | None = Field(
        None, description="after a re-plan: jobs taken off this crew's route"
    )


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": DriverRouteOut, "description": "The route, with `ETag`"},
    304: {"description": "Not modified: the `If-None-Match` ETag is still current"},
    403: {"description": "A driver asking for another crew's route"},
    404: {"description": "No published plan for the day, or the crew is not on it"},
}


# ---- building the answer


def _crew_route(
    session: Session | Connection,
    crew_id: str,
    day: date,
    contact: bool,
    principal: Principal,
) -> tuple[str, int, dict[str, Any], dict[str, Any] | None]:
    """(plan id, version, the crew's route, what changed on it) from the day's published
    plan holding the crew; 403 if that plan's region is not one `principal` works on (a
    region-bound dispatcher; the plan's region comes with the query, so it costs nothing)."""
    published = session.execute(
        select(PlanRow.id, PlanRow.version, PlanRow.parent_id, PlanRow.region)
        .where(PlanRow.day == day, PlanRow.status == "published")
        .order_by(PlanRow.id)
    ).all()
    if not published:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no published plan for {day.isoformat()}: routes are given out once the "
            "dispatcher publishes the day's plan",
        )
    for plan_id, version, parent_id, region in published:

        def load(plan_id: str = plan_id) -> dict[str, Any]:
            result = session.scalar(select(PlanRow.result).where(PlanRow.id == plan_id))
            if result is None:  # pragma: no cover - a published plan always has a result
                raise RuntimeError(f"published plan {plan_id} has no result")
            return result

        def load_previous(parent_id: str | None = parent_id) -> dict[str, Any] | None:
            if parent_id is None:
                return None
            return session.scalar(select(PlanRow.result).where(PlanRow.id == parent_id))

        entry = plan_cache.get((plan_id, version), load, load_previous)
        if crew_id in entry.crews:
            check_region(principal, region)
            return plan_id, version, entry.route(crew_id, contact), entry.changes_of(crew_id)
    raise HTTPException(
        status.HTTP_404_NOT_FOUND,
        f"crew {crew_id!r} is not on the published plan for {day.isoformat()}",
    )


#: a job's live state on a route: (id, status, version); the version moves on every change
#: of the job row (SQLAlchemy's version counter), the status is read too because a bulk
#: status change need not go through the ORM
LiveJob = tuple[str, str, int]


def _live_jobs(session: Session | Connection, route: dict[str, Any]) -> list[LiveJob]:
    """The live (id, status, version) of the route's jobs, in stop order; deleted jobs out."""
    ids = [s["job_id"] for s in route["stops"]]
    if not ids:
        return []
    rows = session.execute(
        select(JobRow.id, JobRow.status, JobRow.version).where(JobRow.id.in_(ids))
    )
    live = {r[0]: (r[0], r[1], r[2]) for r in rows}
    return [live[i] for i in ids if i in live]


def route_etag(plan_id: str, version: int, contact: bool, live: list[LiveJob]) -> str:
    """The route answer's ETag, from what the body is made of, without building the body:
    the plan and its version (stops, times, what changed), whether contact is shown, and
    each job's status and version (cancelled jobs leave, statuses show, a corrected phone
    number shows)."""
    key = f"{plan_id}|{version}|{int(contact)}|" + ";".join(f"{i},{s},{v}" for i, s, v in live)
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:40] + '"'


def _with_live_jobs(
    session: Session | Connection, route: dict[str, Any], live: list[LiveJob], contact: bool
) -> list[dict]:
    """The route's stops with each job's live status (and current contact), cancelled and
    deleted jobs left out. The cached route is not changed."""
    status_of = {i: s for i, s, _ in live if s not in HIDDEN_STATUSES}
    records: dict[str, dict[str, Any]] = {}
    if contact and status_of:
        rows = session.execute(select(JobRow.id, JobRow.record).where(JobRow.id.in_(status_of)))
        records = {r[0]: r[1] for r in rows}
    stops = []
    for stop in route["stops"]:
        job_status = status_of.get(stop["job_id"])
        if job_status is None:
            continue
        out = {**stop, "status": job_status}
        if contact:  # the job's current contact: the office may have corrected a phone number
            record = records.get(stop["job_id"], {})
            out.update({k: record.get(k, "") for k in PERSONAL_FIELDS})
        stops.append(out)
    return stops


def route_body(
    db: Session | Connection,
    principal: Principal,
    crew_id: str,
    day: date,
    if_none_match: str | None = None,
) -> tuple[bytes | None, str]:
    """The compact JSON body of the crew's route and its ETag (blocking: database reads).

    The ETag comes first, from the plan's version and the jobs' statuses and versions
    (`route_etag`); when it matches `if_none_match` the body is not built at all and None
    comes back in its place (a phone polling an unchanged route costs one small query).
    """
    contact = principal.sees_personal_data or principal.role is Role.DRIVER
    plan_id, version, route, changes = _crew_route(db, crew_id, day, contact, principal)
    live = _live_jobs(db, route)
    etag = route_etag(plan_id, version, contact, live)
    if etag_matches(if_none_match, etag):
        return None, etag
    cached = body_cache.get(crew_id, etag)
    if cached is not None:
        return cached, etag
    stops = _with_live_jobs(db, route, live, contact)
    body = {"plan_id": plan_id, "plan_version": version, **route, "stops": stops}
    if changes is not None:
        for stop in stops:  # copies made by `_with_live_jobs`: the cache is not touched
            stop["change"], stop["previous_eta"] = changes["stops"].get(
                stop["job_id"], (None, None)
            )
        body["removed"] = changes["removed"]
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    body_cache.put(crew_id, etag, data)
    return data, etag


#: route reads run on at most this many threads: measured on the 1,500-job demo day, 40
#: threads (anyio's default pool) serve half as many routes per second as 4, for the
#: contention on the GIL and the database
ROUTE_READ_THREADS = 4
_limiter: anyio.CapacityLimiter | None = None


def _read_limiter() -> anyio.CapacityLimiter:
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(ROUTE_READ_THREADS)
    return _limiter


async def route_response(
    request: Request, ctx: AppContext, principal: Principal, crew_id: str, day: date
) -> Response:
    """The route answer, with one thread-pool hop for the database reads.

    This is the drivers' hot path (every phone polls it), so it avoids the per-request
    Session and the extra hops of sync dependencies: the reads go through one pooled Core
    connection in a worker thread; everything else runs on the event loop.
    """

    if_none_match = request.headers.get("if-none-match")

    def read() -> tuple[bytes | None, str]:
        with ctx.engine.connect() as conn:
            return route_body(conn, principal, crew_id, day, if_none_match)

    data, etag = await anyio.to_thread.run_sync(read, limiter=_read_limiter())
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}
    if data is None:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(data, media_type="application/json", headers=headers)


@router.get(
    "/routes/{crew_id}",
    response_model=None,
    responses=RESPONSES,
    summary="A crew's route for a day, from the published plan",
    description="Drivers read only their own crew's route (403 otherwise); dispatchers and "
    "admins any, with customer contact; planners and managers any, without it. "
    "Send `If-None-Match` with the last ETag to get 304 while nothing changed.",
)
async def crew_route(
    request: Request,
    crew_id: str,
    ctx: CtxDep,
    date: Day | None = Query(None, description="the day (default: today)"),
    principal: Principal = Depends(require(*ANY_OFFICE, Role.DRIVER)),
) -> Response:
    check_own_crew(principal, crew_id)
    return await route_response(request, ctx, principal, crew_id, date or ctx.settings.now().date())


@router.get(
    "/me/route",
    response_model=None,
    responses=RESPONSES,
    summary="The calling driver's own route for a day",
    description="The crew is the one the driver's token names.",
)
async def my_route(
    request: Request,
    ctx: CtxDep,
    date: Day | None = Query(None, description="the day (default: today)"),
    principal: Principal = Depends(require(Role.DRIVER)),
) -> Response:
    assert principal.crew_id is not None  # a driver token always names a crew (api.http.auth)
    return await route_response(
        request, ctx, principal, principal.crew_id, date or ctx.settings.now().date()
    )
