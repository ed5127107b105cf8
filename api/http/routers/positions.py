"""Crews' live positions: the driver's phone sends where the crew is while its route runs
(`POST /me/position`), the dispatcher board reads the last one of each crew
(`GET /plans/{id}/positions`, also inside `GET /plans/{id}/board`).

The rules (when a position is taken, the clock, one stored per crew every 20 s, only the last
one kept) are `api.services.positions`. A position outside the crew's running route is a 422
`rule-violation` whose reason says "outside the shift": the phone app stops sending then.
Positions are never logged (the access log names the path only).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import defer

from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.principals import ANY_OFFICE, Principal, Role, check_region
from api.services.positions import PositionIn, position_out, positions_of_day, record_position
from api.storage.models import PlanRow
from api.storage.types import DeviceMoment, Lat, Lon

router = APIRouter(tags=["positions"])

#: the largest accuracy radius taken, in metres (a phone without a fix reports kilometres)
MAX_ACCURACY_M = 10_000


class PositionBody(BaseModel):
    """Where the crew is, as the phone's location service says."""

    model_config = ConfigDict(extra="forbid")
    lon: Lon
    lat: Lat
    accuracy_m: float | None = Field(
        None,
        ge=0,
        le=MAX_ACCURACY_M,
        allow_inf_nan=False,
        description="the fix's accuracy radius in metres (0 to 10,000), if the phone gives one",
    )
    device_time: DeviceMoment = Field(
        description="when the phone took the position (ISO 8601, local or with an offset), by "
        "the phone's clock: an unbelievable clock is replaced by the receive time"
    )


class CrewPositionOut(BaseModel):
    crew_id: str
    lon: float = Field(description="exact for dispatchers and admins; about a kilometre else")
    lat: float
    accuracy_m: float | None = Field(description="metres; null for planners and managers")
    at: str = Field(description="when the phone took it: local time, YYYY-MM-DDTHH:MM:SS")
    age_s: int = Field(description="seconds since `at`, when answered")


class PlanPositionsOut(BaseModel):
    plan_id: str
    date: str
    positions: list[CrewPositionOut] = Field(
        description="the last position of each crew of the plan's region that sent one on "
        "the plan's day, by crew id"
    )


@router.post(
    "/me/position",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="The calling driver's crew is here (its last known position)",
    description="Accepted (204) only while the crew's route runs: the crew has jobs on a "
    "published plan of the position's day and the position was taken within the crew's "
    "shift that day, 30 minutes either side; otherwise 422 `rule-violation` with a reason "
    'saying "outside the shift" (stop sending until the next shift). Only the last '
    "position is kept, and at most one per crew every 20 s: a position sent sooner (or "
    "older than the one stored) is answered 204 and dropped.",
)
def post_position(
    body: PositionBody,
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(Role.DRIVER)),
) -> Response:
    assert principal.crew_id is not None  # a driver token always names a crew (api.http.auth)
    s = ctx.settings
    position = PositionIn(body.lon, body.lat, body.accuracy_m, s.local(body.device_time))
    record_position(session, principal.crew_id, position, s.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"Cache-Control": "no-store"})


@router.get(
    "/plans/{plan_id}/positions",
    response_model=PlanPositionsOut,
    summary="The last known position of each crew of a plan's region on the plan's day",
    description="For the dispatcher board's map, polled every 30 s. Exact for dispatchers "
    "and admins; planners and managers get positions rounded to 0.01 degree (about a "
    "kilometre) without their accuracy.",
)
def plan_positions(
    plan_id: str,
    response: Response,
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(*ANY_OFFICE)),
) -> dict[str, Any]:
    row = session.get(
        PlanRow,
        plan_id,
        options=[defer(PlanRow.problem), defer(PlanRow.result), defer(PlanRow.day_state)],
    )
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"plan {plan_id!r} not found")
    check_region(principal, row.region)
    now = ctx.settings.now()
    exact = principal.sees_personal_data
    rows = positions_of_day(session, row.day, region=row.region)
    response.headers["Cache-Control"] = "no-store"
    return {
        "plan_id": row.id,
        "date": row.day.isoformat(),
        "positions": [
            {"crew_id": crew_id, **position_out(rows[crew_id], now, exact)}
            for crew_id in sorted(rows)
        ],
    }
