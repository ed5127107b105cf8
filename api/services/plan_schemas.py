"""The plans API's request and answer shapes (`/plans`, its overrides, publication and
audit), shared by the plan routers and the re-plan router."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.storage.types import Day, Ident
from dispatch.planning.horizon import MAX_HORIZON_DAYS


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
    settings: dict[str, Any] | None = Field(
        None,
        description="plan settings, as a settings file holds them (docs/data-formats.md, "
        '"Plan settings"): `travel` (speeds_kmh per crew kind, detour_factor, rush_hours), '
        "`promises` per region, `link_gap_minutes`, `assist_tolerance_minutes` (0-240), "
        "`max_km_from_depot`, `service_time`, `certification`, `callbacks`, "
        "`max_link_gap_minutes` and `crew_mode` (by product category and/or region), "
        "`second_visit_cny`; "
        "left-out keys keep the defaults. The travel provider is the service's own: "
        "`travel.provider` is refused. Each problem is a 422 naming `settings.<key path>`.",
        examples=[{"travel": {"speeds_kmh": {"delivery_truck": 20}}, "link_gap_minutes": 45}],
    )
    horizon_days: int = Field(
        1,
        ge=1,
        le=MAX_HORIZON_DAYS,
        description="plan this many days (1-7) one after the other, each day's leftovers "
        "rolled over into the next (`dispatch.planning.horizon`): the plan is the first day's, "
        "`result.horizon` says per day what the later days would take and what stays open, "
        "and how many promises are kept on the customer's clock. Each day gets "
        "`time_limit_s`.",
    )


class PlanAccepted(BaseModel):
    id: str
    status: str
    links: dict[str, str]
    #: open jobs of earlier days carried into this day by the trigger (`api.services.roll_over`)
    rolled_over: int = 0


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
    settings: dict[str, Any] | None = Field(
        None, description="every setting the plan was made with, defaults included"
    )
    horizon: dict[str, Any] | None = Field(
        None,
        description="a horizon plan's days (`horizon_days` > 1): per day its jobs (new and "
        "carried in), planned, carried out, km, crews used; the jobs open at the end; and "
        "per promised kind the promises kept on the customer's clock over the horizon",
    )


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
