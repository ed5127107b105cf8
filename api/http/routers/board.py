"""What the dispatcher board draws for one plan, in one answer: `GET /plans/{id}/board`.

The board needs, besides the routes `GET /plans/{id}` gives, every crew of the plan (idle ones
too: a stop may be dragged onto them), where each job is and its windows, the jobs' live
status from the drivers' reports, the depots and zone outlines, and the promise figures on
both clocks. Gathering that from five list endpoints would cost the board seconds on a
1,500-job day; this reads the plan row once and answers it with an ETag on the plan's version
and the jobs' latest change, so a reload that finds nothing new costs a 304. A plan timed on
roads ("osm", "osrm" travel) gives each route its `road_line`, which the map draws instead of
straight lines between the stops.

A job that assists another (a two-crew visit, `Job.assists`) carries `assists`, the assisted
job's id; the board marks both halves with the partner's crew and the time they meet.

Customer names, addresses and phones are included only for the roles that see personal data
(`Principal.sees_personal_data`); a planner's board shows ids and figures, and the jobs'
locations coarsened to about a kilometre, without floor (`dispatch.privacy`).

Each crew carries `last_position`, where its phone last said it was on the plan's day
(`api.services.positions`; null when none): exact for the roles that see personal data,
coarsened like the jobs for the others. The ETag covers it; the board also polls
`GET /plans/{id}/positions` to move the markers between reloads.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response, status
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, defer

from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.principals import ANY_OFFICE, Principal, check_region
from api.services.positions import latest_stamp, position_out, positions_of_day
from api.storage.models import JobRow, PlanRow
from dispatch.files.geojson import route_paths
from dispatch.files.plan_io import plan_from_dict
from dispatch.metrics.customer_clock import promise_shares
from dispatch.plan import Plan
from dispatch.privacy import coarse_job_fields
from dispatch.promise_clocks import CUSTOMER, PLANNING, clock_labels

router = APIRouter(prefix="/plans", tags=["plans"])
#: what the board asks before it has a plan: which days have work
days_router = APIRouter(prefix="/board", tags=["plans"])
#: the most days `GET /board/days` lists (newest first)
MAX_DAYS = 400

#: the job fields the board shows; personal ones only to the roles that see personal data
JOB_FIELDS = (
    "kind", "lon", "lat", "zone", "priority", "order_id", "category", "confirmed_at", "first_due",
)  # fmt: skip
PERSONAL = ("customer_name", "customer_phone", "address")
CREW_FIELDS = ("kind", "people", "skills", "shift_start", "shift_end", "home_zone", "start_depot")


def _load(session: Session, plan_id: str, principal: Principal) -> PlanRow:
    # the trigger-time snapshot is loaded only when there is no result yet (`_problem_of`)
    row = session.get(PlanRow, plan_id, options=[defer(PlanRow.problem), defer(PlanRow.day_state)])
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"plan {plan_id!r} not found")
    check_region(principal, row.region)
    return row


def _job_states(session: Session, ids: list[str]) -> tuple[dict[str, str], str]:
    """Each job's live status, and a stamp of the latest job change (for the ETag)."""
    states: dict[str, str] = {}
    latest = ""
    for start in range(0, len(ids), 900):  # keep IN lists within every database's limits
        chunk = ids[start : start + 900]
        for job_id, job_status in session.execute(
            select(JobRow.id, JobRow.status).where(JobRow.id.in_(chunk))
        ):
            states[job_id] = job_status
        stamp = session.scalar(select(func.max(JobRow.updated_at)).where(JobRow.id.in_(chunk)))
        if stamp is not None and stamp.isoformat() > latest:
            latest = stamp.isoformat()
    return states, latest


def _etag(row: PlanRow, latest: str, personal: bool) -> str:
    raw = f"{row.id}:{row.version}:{row.status}:{latest}:{int(personal)}"
    return 'W/"' + hashlib.sha256(raw.encode()).hexdigest()[:24] + '"'


def _problem_of(row: PlanRow) -> dict[str, Any]:
    """The problem the routes were solved on: embedded in the result once there is one,
    else the snapshot taken when the plan was triggered."""
    return (row.result or {}).get("problem") or row.problem or {}


def _with_road_lines(
    routes: list[dict[str, Any]], plan: Plan, personal: bool
) -> list[dict[str, Any]]:
    """The routes, each with its `road_line` ([lon, lat] along the roads, between the points
    the board shows) when the plan was timed on roads; without it the board draws straight
    lines between the stops (`dispatch.files.geojson.route_paths`)."""
    paths, source = route_paths(plan, exact_locations=personal)
    if source["geometry_source"] != "roads":
        return routes
    return [{**r, "road_line": paths.get(r["crew_id"])} for r in routes]


def board_body(
    row: PlanRow,
    states: dict[str, str],
    personal: bool,
    positions: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The board's view of a plan row (see the module docstring); `positions`: each crew's
    last position as `api.services.positions.position_out` shapes it."""
    positions = positions or {}
    problem = _problem_of(row)
    fields = JOB_FIELDS + (PERSONAL if personal else ())
    shown = (lambda job: job) if personal else coarse_job_fields  # planners: no door
    jobs = [
        shown(
            {
                "id": j["id"],
                **{k: j.get(k) for k in fields},
                "windows": [[w["start"], w["end"]] for w in j.get("windows") or []],
                "status": states.get(j["id"], "unknown"),
                # an assisting job's: the job it assists (the board marks both halves)
                **({"assists": j["assists"]} if j.get("assists") else {}),
            }
        )
        for j in problem.get("jobs", [])
    ]
    crews = [
        {
            "id": c["id"],
            **{k: c.get(k) for k in CREW_FIELDS},
            "last_position": positions.get(c["id"]),
        }
        for c in problem.get("crews", [])
    ]
    depots = [
        {k: d.get(k) for k in ("id", "kind", "name", "lon", "lat", "zone")}
        for d in problem.get("depots", [])
    ]
    result = row.result or {}
    routes = result.get("routes", [])
    shares: dict[str, dict[str, Any]] = {CUSTOMER: {}, PLANNING: {}}
    labels = clock_labels()
    if row.result is not None:
        plan = plan_from_dict(row.result, source=f"plan {row.id}")
        shares = {
            clock: {k: v.as_dict() for k, v in by_kind.items()}
            for clock, by_kind in promise_shares(plan).items()
        }
        labels = clock_labels(plan.problem.promises.policies)
        routes = _with_road_lines(routes, plan, personal)
    return {
        "plan": {
            "id": row.id,
            "kind": row.kind or "plan",
            "parent_id": row.parent_id,
            "region": row.region,
            "date": row.day.isoformat(),
            "status": row.status,
            "version": row.version,
            "progress": row.progress,
            "message": row.message,
            "published_at": row.published_at.isoformat() if row.published_at else None,
        },
        "kpis": row.kpis,
        "customer_clock": shares[CUSTOMER],
        "planning_clock": shares[PLANNING],
        "promise_clocks": labels,
        "routes": routes,
        "unassigned": result.get("unassigned", []),
        "crews": crews,
        "jobs": jobs,
        "depots": depots,
        "zones": problem.get("zones", []),
    }


@router.get(
    "/{plan_id}/board",
    summary="Everything the dispatcher board draws for a plan, in one answer (with ETag)",
    description="The plan's routes, unassigned jobs, every crew of the plan, every job with "
    "its position, windows and live status, depots, zones, the plan KPIs, and the promise "
    "shares on both clocks, each labelled in `promise_clocks`: `customer_clock` (calendar "
    "hours from the order, what the customer counts) and `planning_clock` (the plan's "
    "deadlines). Each crew's `last_position` (`lon`, `lat`, `accuracy_m`, `at`, `age_s`; "
    "null when none that day) is exact for dispatchers and admins, about a kilometre for "
    "planners and managers. `If-None-Match` with the last ETag answers 304 when nothing "
    "changed.",
)
def plan_board(
    plan_id: str,
    response: Response,
    *,
    if_none_match: str | None = Header(None),
    principal: Principal = Depends(require(*ANY_OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
) -> Any:
    row = _load(session, plan_id, principal)
    ids = [j["id"] for j in _problem_of(row).get("jobs", [])]
    states, latest = _job_states(session, ids)
    seen = positions_of_day(session, row.day, region=row.region)
    personal = principal.sees_personal_data
    etag = _etag(row, f"{latest}|{latest_stamp(seen.values())}", personal)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    now = ctx.settings.now()
    positions = {crew: position_out(p, now, personal) for crew, p in seen.items()}
    return board_body(row, states, personal, positions)


@days_router.get(
    "/days",
    summary="Days with jobs in a region, newest first, and today's date in the region",
    description="For the board's day picker: each day with its job count and the jobs still "
    "open (not yet on a published route). At most 400 days.",
)
def days_with_jobs(
    *,
    region: str = Query("urban", max_length=32),
    principal: Principal = Depends(require(*ANY_OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
) -> dict[str, Any]:
    check_region(principal, region)
    open_jobs = func.sum(case((JobRow.status == "open", 1), else_=0))
    rows = session.execute(
        select(JobRow.due_date, func.count(), open_jobs)
        .where(JobRow.region == region)
        .group_by(JobRow.due_date)
        .order_by(JobRow.due_date.desc())
        .limit(MAX_DAYS)
    )
    return {
        "today": ctx.settings.now().date().isoformat(),
        "days": [{"date": d.isoformat(), "jobs": n, "open": int(o or 0)} for d, n, o in rows],
    }
