"""Season simulations for planners: ask for a peak season, follow it, read its report.

`POST /simulations` validates the request (the scenario overrides through
`dispatch.season.settings.settings_from_dict`, so a bad setting is a 422 naming it, e.g.
`demand.peak_days`; the lever search's fields through
`api.services.simulation_input.lever_search`), stores a `queued` row and answers 202 at once;
`api.background.simulation_runner`
runs it in a worker process (`api.background.simulation_worker`) and the row carries progress, then
the summary, the weekly figures, the recommendation (when asked for), the report page and
the daily table. `DELETE` cancels a queued or running simulation.

Who: planners ask for simulations, and so may dispatchers and admins; managers read them;
drivers get 403. Simulated customers have no names, so answers hold no personal data; logs
name simulation ids only.

The report is served as the self-contained HTML page `dispatch.season.report` writes (charts
embedded), under a Content-Security-Policy that allows nothing but its inline style and
`data:` images: the page holds scenario text (zone names) that is escaped, and the policy
makes sure nothing in it could ever run.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer, undefer

from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.http.pages import Page, PageParams, page_params, paginate
from api.principals import ANY_OFFICE, Principal, Role
from api.services.errors import Conflict
from api.services.simulation_input import (
    LEVER_OPTION_NAMES,
    check_zone_weights,
    city_from_snapshot,
    fixture_zone_ids,
    lever_search,
    own_city_snapshot,
    scenario,
)
from api.storage.models import SimulationRow
from dispatch.season.settings import settings_as_dict

router = APIRouter(prefix="/simulations", tags=["simulations"])

#: who may ask for (and cancel) a simulation
RUN = (Role.PLANNER, Role.DISPATCHER, Role.ADMIN)
#: the report page may show its inline style and embedded images, nothing else
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'"
#: columns too large for lists (kept out of `GET /simulations`)
LARGE = ("city", "summary", "weeks", "recommendation", "report_html", "days_csv")


# ---- request and answer shapes


class SimulationIn(BaseModel):
    """A peak season to simulate (see docs/api.md, "Simulations")."""

    model_config = ConfigDict(extra="forbid")
    fixture: Literal["shanghai", "own"] = Field(
        "shanghai",
        description="`shanghai`: the demo city (own fleet scaled with `scale`); `own`: the "
        "service's zones, depots and own crews, customers drawn in the zones",
    )
    days: int | None = Field(None, description="season length (setting `days`, 1..366)")
    seed: int | None = Field(None, ge=0, description="replication k uses seed + k")
    scale: float | None = Field(
        None, allow_inf_nan=False, description="demand (and the demo fleet) scale, (0, 4]"
    )
    replications: int = Field(1, ge=1, le=10, description="seeded replications (1..10)")
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="scenario overrides by section, as `dispatch simulate --scenario` takes "
        'them: {"demand": {"peak_days": 12}, "crews": {"temp_per_week": [0, 20, 40]}}',
    )
    recommend: bool = Field(
        False, description="search the fewest temporary crews per week holding `target_share`"
    )
    rounds: int = Field(
        5,
        ge=1,
        le=10,
        description="capacity search rounds (with `recommend`; with `levers`, per lever option)",
    )
    target_clock: Literal["planning", "customer"] | None = Field(
        None,
        description="the clock `target_share` is judged on (the top-level setting "
        "`target_clock`): `planning` (the planner's deadlines, an evening order counts from "
        "08:00; the default, as `dispatch simulate`) or `customer` (calendar hours from the "
        "order, what the customer is promised)",
    )
    levers: bool = Field(
        False,
        description="with `recommend`: search levers beyond hiring too (evening installation "
        "shifts, next-morning installation slots, specialist temporary crews), as `dispatch "
        "simulate --recommend --levers`: one hiring search per lever option "
        "(`lever_options`), so it runs about as many times longer; the recommendation is "
        "the cheapest option holding the target in every peak week, else the cheapest "
        "holding 90 %, else the best, with its binding constraint",
    )
    lever_options: list[str] | None = Field(
        None,
        min_length=1,
        description="with `levers`: the lever options to search, by name (default: all of "
        "them): " + "; ".join(f"`{n}`" for n in LEVER_OPTION_NAMES),
    )


class SimulationAccepted(BaseModel):
    id: str
    status: str
    links: dict[str, str]


class SimulationSummary(BaseModel):
    id: str
    status: str = Field(description="queued, running, done, failed or cancelled")
    progress: float = Field(description="0..1")
    message: str
    error: str | None
    cancel_requested: bool
    params: dict[str, Any] = Field(
        description="the request as validated: fixture, replications, recommend, rounds, "
        "levers, `lever_options` (the options searched, null without `levers`), "
        "`overrides` (as sent, with the top-level `days`, `seed`, `scale` and "
        "`target_clock`) and `settings` (every setting the season ran with)"
    )
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    links: dict[str, str]


class SimulationOut(SimulationSummary):
    summary: dict[str, Any] | None = Field(
        None,
        description="`across` (median/min/max of the headline figures over replications), "
        "`per_replication` (summary, ledger, timings), `seeds`, `settings`",
    )
    weeks: list[dict[str, Any]] | None = Field(
        None, description="weekly figures of every replication (`replication`, `seed`, ...)"
    )
    recommendation: dict[str, Any] | None = Field(
        None,
        description="when `recommend` was set: `target_share`, `target_clock`, `met` (the "
        "target held in every peak week), temporary crews per week (`per_week`: shares on "
        "the target clock) and per zone, `temp_crew_days`, `cost_cny` (the season's mean "
        "cost, premiums included), `extra_cost_cny`, `lever_cost_cny` (the levers' "
        "premiums), `rounds`, `notes`; `peak_week_shares`: per peak week the 24 h "
        "installation share on `customer_clock` and `planning_clock` (each with its "
        "`label`, mean, min, max) and `target_met`; with `levers`, `levers`: `chosen` (the "
        "option), `chosen_levers` (each lever's id and description: `next_morning_slots`, "
        "`evening_shifts`, `specialist_temp_crews`), `changes` (its settings), `verdict` "
        "(`met`, `fallback`: 90 % held, `not met`), `fallback_share`, "
        "`binding_constraint` (what holds the worst peak week below the target, in words) "
        "and `options` (every option's plan, worst peak week, cost and premiums)",
    )


# ---- helpers


def links(sim_id: str) -> dict[str, str]:
    base = f"/simulations/{sim_id}"
    return {"self": base, "report": f"{base}/report", "days_csv": f"{base}/days.csv"}


def summary_fields(row: SimulationRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "progress": row.progress,
        "message": row.message,
        "error": row.error,
        "cancel_requested": row.cancel_requested,
        "params": dict(row.params or {}),
        "created_by": row.created_by,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "links": links(row.id),
    }


def get_simulation(session: Session, sim_id: str, *load: str) -> SimulationRow:
    """The row with its large columns deferred except `load` (404 when there is none)."""
    options = [defer(getattr(SimulationRow, c)) for c in LARGE if c not in load]
    options += [undefer(getattr(SimulationRow, c)) for c in load]
    row = session.get(SimulationRow, sim_id, options=options)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"simulation {sim_id!r} not found")
    return row


def _not_done(row: SimulationRow, what: str) -> Conflict:
    return Conflict(
        f"simulation {row.id} is {row.status}: its {what} exists once it is done",
        status=row.status,
    )


# ---- routes


@router.post(
    "",
    status_code=202,
    response_model=SimulationAccepted,
    summary="Simulate a peak season (run in the background)",
    description="Validates the scenario (a bad setting is 422 naming it, e.g. "
    "`demand.peak_days`; so is `levers` without `recommend`, `lever_options` without "
    "`levers` or an unknown option, `lever_options[0]`) and answers 202 with the "
    "simulation id; follow `GET /simulations/{id}`, then read `GET /simulations/{id}/report`. "
    "With `recommend` and `levers`, the capacity search runs once per lever option "
    "(`dispatch.season.levers`, as `dispatch simulate --recommend --levers`).",
)
def create_simulation(
    body: SimulationIn,
    response: Response,
    *,
    principal: Principal = Depends(require(*RUN)),
    ctx: CtxDep,
    session: SessionDep,
) -> SimulationAccepted:
    season, overrides = scenario(
        body.settings,
        days=body.days,
        seed=body.seed,
        scale=body.scale,
        target_clock=body.target_clock,
    )
    lever_options = lever_search(body.recommend, body.levers, body.lever_options)
    snapshot = None
    if body.fixture == "own":
        snapshot = own_city_snapshot(session)
        city_from_snapshot(snapshot, season.seed, sites_per_zone=1)  # 422 if it cannot be built
    check_zone_weights(season, fixture_zone_ids(body.fixture, snapshot))
    now = ctx.settings.now()
    row = SimulationRow(
        id=str(uuid.uuid4()),
        status="queued",
        progress=0.0,
        message="queued",
        params={
            "fixture": body.fixture,
            "replications": body.replications,
            "recommend": body.recommend,
            "rounds": body.rounds,
            "levers": body.levers,
            "lever_options": lever_options,
            "overrides": overrides,
            "settings": settings_as_dict(season),
        },
        city=snapshot,
        cancel_requested=False,
        created_by=principal.subject,
        created_at=now,
    )
    session.add(row)
    session.commit()
    ctx.wake("simulations")
    response.headers["Location"] = f"/simulations/{row.id}"
    return SimulationAccepted(id=row.id, status=row.status, links=links(row.id))


@router.get("", response_model=Page[SimulationSummary], summary="List simulations (newest first)")
def list_simulations(
    *,
    status_: Literal["queued", "running", "done", "failed", "cancelled"] | None = Query(
        None, alias="status"
    ),
    page: PageParams = Depends(page_params),
    _p: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
) -> Page[SimulationSummary]:
    query = (
        select(SimulationRow)
        .options(*(defer(getattr(SimulationRow, c)) for c in LARGE))
        .order_by(SimulationRow.created_at.desc(), SimulationRow.id.desc())
    )
    if status_ is not None:
        query = query.where(SimulationRow.status == status_)
    rows, total = paginate(session, query, page)
    return Page[SimulationSummary](
        items=[SimulationSummary(**summary_fields(r)) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/{sim_id}",
    response_model=SimulationOut,
    summary="A simulation: status and progress, then its summary, weeks and recommendation",
)
def read_simulation(
    sim_id: str,
    *,
    _p: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
) -> SimulationOut:
    row = get_simulation(session, sim_id, "summary", "weeks", "recommendation")
    return SimulationOut(
        **summary_fields(row),
        summary=row.summary,
        weeks=row.weeks,
        recommendation=row.recommendation,
    )


@router.get(
    "/{sim_id}/report",
    response_class=HTMLResponse,
    summary="The simulation's report: one self-contained HTML page (charts embedded)",
    responses={409: {"description": "the simulation is not done"}},
)
def simulation_report(
    sim_id: str,
    *,
    _p: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
) -> HTMLResponse:
    row = get_simulation(session, sim_id, "report_html")
    if row.status != "done" or row.report_html is None:
        raise _not_done(row, "report")
    return HTMLResponse(
        row.report_html,
        headers={"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff"},
    )


@router.get(
    "/{sim_id}/days.csv",
    summary="The simulation's daily figures, every replication (CSV)",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "days.csv"},
        409: {"description": "the simulation is not done"},
    },
)
def simulation_days_csv(
    sim_id: str,
    *,
    _p: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
) -> Response:
    row = get_simulation(session, sim_id, "days_csv")
    if row.status != "done" or row.days_csv is None:
        raise _not_done(row, "daily table")
    return Response(
        row.days_csv,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="simulation-{row.id}-days.csv"'},
    )


@router.delete(
    "/{sim_id}",
    response_model=SimulationSummary,
    summary="Cancel a simulation: a queued one at once (200), a running one is stopped (202)",
    responses={202: {"description": "cancel requested: the worker is being stopped"}},
)
def cancel_simulation(
    sim_id: str,
    response: Response,
    *,
    _p: Principal = Depends(require(*RUN)),
    ctx: CtxDep,
    session: SessionDep,
) -> SimulationSummary:
    get_simulation(session, sim_id)
    now = ctx.settings.now()
    done = session.execute(
        update(SimulationRow)
        .where(SimulationRow.id == sim_id, SimulationRow.status == "queued")
        .values(status="cancelled", cancel_requested=True, message="cancelled", finished_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        asked = session.execute(
            update(SimulationRow)
            .where(SimulationRow.id == sim_id, SimulationRow.status == "running")
            .values(cancel_requested=True)
            .execution_options(synchronize_session=False)
        )
        if asked.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            row = get_simulation(session, sim_id)
            session.refresh(row)
            raise Conflict(
                f"simulation {sim_id} is {row.status}: only a queued or running simulation "
                "can be cancelled",
                status=row.status,
            )
        response.status_code = status.HTTP_202_ACCEPTED
    session.commit()
    ctx.wake("simulations")
    row = get_simulation(session, sim_id)
    session.refresh(row)
    return SimulationSummary(**summary_fields(row))
