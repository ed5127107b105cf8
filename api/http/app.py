"""The FastAPI application factory: `create_app(settings)` builds a service; nothing happens at
import time (no engine, no threads), so tests and the CLI build as many apps as they need.

On startup the schema is upgraded to the newest Alembic revision when the settings allow it
(`Settings.migrates_on_start`: an SQLite database by default; `dispatch serve` does it once
before its server processes start and they only check) or else checked: a schema behind the
code stops the start with `SchemaNotCurrent` naming `dispatch db upgrade`. Then the plan
runner (which solves plans in separate processes, outside the web event loop), the simulation
runner (season simulations, the same way), the webhook sender and the customer notice sender
start; on shutdown they stop. Routers live in `api/http/routers/`, one per resource.

Middleware, outermost first: Starlette's error middleware (the 500 handler), `RequestLog`
(request id, access log), the request metrics, `Compression` (gzip), `BodySizeLimit` (413),
`JsonBodyGuard` (bodies' unusable JSON values), then FastAPI's exception handlers and routes.
The size limit stays outside the JSON guard (the guard reads bounded bodies only); compression
only touches answers, so it sits outside both and their problem answers are compressed too.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.context import AppContext
from api.http.compression import Compression
from api.http.errors import BodySizeLimit, install_error_handlers
from api.http.json_guard import JsonBodyGuard
from api.http.openapi_errors import install_problem_responses
from api.http.request_log import RequestLog
from api.http.routers import (
    auth,
    board,
    callbacks,
    complaints,
    crews,
    driver_sign_in,
    events,
    explanations,
    followups,
    jobs,
    metrics,
    notices,
    overrides,
    plans,
    positions,
    quotes,
    replans,
    routes,
    scorecards,
    simulations,
    tracking,
    uploads,
    webhooks,
    zones,
)
from api.http.routers.driver_app import router as driver_app_router
from api.http.routers.web import install_web
from api.settings import Settings
from api.storage.db import make_engine, prepare_schema, session_factory
from api.storage.installation import check_installation
from dispatch.translate import use_travel_cache

log = logging.getLogger("api")

DESCRIPTION = """
Field-service dispatch service: jobs, crews, zones, daily plans, drivers' routes, job events,
follow-up calls, callbacks, webhooks, service metrics and peak-season simulations.

People use the web pages at `/` (sign-in, dispatcher board, season planner). Scripts
authenticate with `Authorization: Bearer <token>`: from `POST /auth/sign-in` with a user's
name and password, or minted with `dispatch token`. Roles:
dispatcher, driver (bound to one crew), planner, manager, admin. Times are local times of the
region (naive ISO 8601); times sent with an offset are converted.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.check_for_startup()
    # overrides and explanations time road days in this process too: the same cache
    use_travel_cache(settings.travel_cache_dir())
    log.info("travel times per region: %s", settings.region_travel())
    engine = make_engine(settings.database_url)
    ctx = AppContext(settings, engine, session_factory(engine))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # SchemaNotCurrent, InstallationMismatch: refused
        prepare_schema(engine, upgrade=settings.migrates_on_start(), settings=settings)
        check_installation(engine, settings)
        if settings.background_workers:
            from api.background.complaint_watch import ComplaintWatch
            from api.background.notice_sender import NoticeWorker
            from api.background.plan_runner import PlanRunner
            from api.background.simulation_runner import SimulationRunner
            from api.background.webhook_sender import WebhookSender

            for name, worker in (
                ("plans", PlanRunner(ctx)),
                ("simulations", SimulationRunner(ctx)),
                ("webhooks", WebhookSender(ctx)),
                ("notices", NoticeWorker(ctx)),
                ("complaints", ComplaintWatch(ctx)),
            ):
                ctx.workers[name] = worker
                ctx.wakeups[name] = worker.wake
                worker.start()
        try:
            yield
        finally:
            for worker in ctx.workers.values():
                worker.stop()
            ctx.workers.clear()
            ctx.wakeups.clear()
            engine.dispose()

    app = FastAPI(
        title="fieldroute dispatch service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    # The drivers' hot paths first: Starlette tries the routes in order, and matching
    # `/me/route` against every office route first took about an eighth of the event loop's
    # busy time under load (docs/benchmarks.md, "Route fetches against ...").
    for module in (
        routes,
        events,
        auth,
        jobs,
        crews,
        zones,
        plans,
        overrides,
        board,
        replans,
        explanations,
        notices,
        followups,
        complaints,
        callbacks,
        webhooks,
        metrics,
        scorecards,
        simulations,
        driver_sign_in,
        uploads,
        positions,
        tracking,
        quotes,
    ):
        app.include_router(module.router)
    app.include_router(events.feed_router)
    app.include_router(board.days_router)
    app.include_router(driver_app_router)  # /driver: the drivers' phone app
    install_web(app)
    install_problem_responses(app)
    # the last added is the outermost (see the module doc for the order)
    app.add_middleware(JsonBodyGuard)  # inside the size limit: it reads bounded bodies
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    if settings.compress_responses:
        app.add_middleware(Compression)  # answers only: outside the body checks
    metrics.install_prometheus(app, ctx)  # counts every answer, 413s too
    app.add_middleware(RequestLog)  # outermost: every answer has an id and an access line

    @app.get("/health", tags=["operations"], summary="Liveness and database check")
    def health() -> dict[str, str]:
        from sqlalchemy import text

        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    return app
