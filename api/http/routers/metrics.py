"""Metrics: service managers' figures for a period, and a Prometheus endpoint for operations.

`GET /metrics/service` answers `dispatch.metrics.service_metrics.service_metrics` for a period
(both days included, at most 366) and an optional region, zone, crew or crew kind, with the
filters echoed, and `crews_own_temporary`: own vs temporary crews' callback rate and rating
share on the same jobs (`dispatch.metrics.scorecard.own_temporary_summary`; a key added beside
the others, so older clients read the answer as before). Every figure is defined in
docs/service-metrics.md; `api.services.metrics_facts` reads the rows. Office roles only
(dispatcher, planner, manager, admin): figures, no personal data. A caller bound to regions
(`Principal.regions`) gets 403 asking for another region, and the figures of his own regions
when he names none (`filters.regions` then says which).

`GET /metrics` is the Prometheus text exposition, **without authentication**: a Prometheus
server scrapes it, and it holds counts and timings only (no ids, no personal data). Keep it off
the public internet at the proxy if the counts themselves are sensitive. It holds:

- `fieldroute_http_requests_total{method,route,status}` and
  `fieldroute_http_request_duration_seconds{method,route,status}`: requests by *route template*
  (`/jobs/{job_id}`, never the path with its ids, so the number of series stays bounded;
  paths that match no route are `<unmatched>`);
- `fieldroute_jobs{status}`, `fieldroute_plans{status}`, `fieldroute_webhook_deliveries{status}`
  (pending, dead) and `fieldroute_webhook_oldest_pending_seconds`: read from the database at
  scrape time, so every process of the service reports the same, true figure;
- `fieldroute_plan_solve_seconds`: a histogram of solve times (start to finish) of every plan
  that was solved, also from the database (it survives restarts and counts every process's
  plans; a scrape of any one process gives the whole picture);
- `fieldroute_database_up`: 0 when the database could not be read for this scrape.

The request metrics live in a registry per app (`install_prometheus`), not prometheus_client's
global one, so tests and tools can build many apps in one process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.context import AppContext
from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.principals import ANY_OFFICE, Principal
from api.services.complaints import answered_in_time_share
from api.services.figure_regions import figure_regions
from api.services.metrics_facts import load_facts
from api.services.scorecards import own_temporary_of
from api.storage.models import JobRow, OutboxRow, PlanRow
from api.storage.types import Day, Ident
from dispatch.errors import InputError
from dispatch.metrics.service_metrics import service_metrics
from dispatch.models import CrewKind
from dispatch.running.lifecycle import JobStatus

log = logging.getLogger("api")

router = APIRouter(prefix="/metrics", tags=["metrics"])

#: the longest period one request may ask for (a leap year)
MAX_PERIOD_DAYS = 366
PLAN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "published", "superseded")
#: plans whose solve ran to the end (their started_at..finished_at is a solve time)
SOLVED = ("succeeded", "published", "superseded")
SOLVE_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
UNMATCHED = "<unmatched>"
#: the classic text format every Prometheus version reads (our metric names need no escaping)
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


# --- service metrics --------------------------------------------------------------------------


@router.get(
    "/service",
    response_model=dict[str, Any],
    summary="Service metrics for a period, region, zone, crew or crew kind",
    description="Completion rate, same-day completion, deliveries within 12 h and installations "
    "within 24 h on the customer's clock (calendar hours from the order; rural 24 h and 48 h) "
    "and by the planning deadline beside them (`promise_clocks` names each clock), follow-up "
    "coverage, callback rate, lateness and utilisation, each with its "
    "numerator and denominator (`value` null when there is no data), the targets, and the "
    "filters echoed. Exact definitions: docs/service-metrics.md. A callback counts against the "
    "original job's zone, crew and region. The period is at most 366 days. `region` keeps the "
    "jobs of that region and the routes of its published plans; a caller bound to regions may "
    "ask only for his own (403 otherwise) and, naming none, gets his regions' figures; "
    "`filters.regions` lists the regions counted whenever the figures are restricted to some. "
    "`crews_own_temporary` compares own and temporary crews (jobs completed, callback rate, "
    "callbacks per 100 installations, share of ratings good) on the same jobs. "
    "`complaints_answered_within_4h`: the complaints received in the period (of the regions, "
    "about the crew when filtered) first answered within 4 hours; an unanswered one counts "
    "once overdue (`pending`: those whose 4 hours still run).",
)
def service(
    from_: Annotated[Day, Query(alias="from", description="first day (included)")],
    to: Annotated[Day, Query(description="last day (included)")],
    *,
    zone: Annotated[Ident | None, Query(description="only jobs and crews of this zone")] = None,
    crew_id: Annotated[Ident | None, Query(description="only this crew's jobs and routes")] = None,
    crew_kind: Annotated[CrewKind | None, Query(description="only crews of this kind")] = None,
    region: Annotated[
        str | None,
        Query(max_length=32, description="only jobs and published plans of this region"),
    ] = None,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
) -> dict[str, Any]:
    if to < from_:
        raise InputError("query", "to", f"the period ends ({to}) before it starts ({from_})")
    days = (to - from_).days + 1
    if days > MAX_PERIOD_DAYS:
        raise InputError(
            "query", "to", f"the period is {days} days; at most {MAX_PERIOD_DAYS} are allowed"
        )
    regions = figure_regions(principal, region)
    kind = crew_kind.value if crew_kind is not None else None
    facts = load_facts(
        session, (from_, to), zone=zone, crew_id=crew_id, crew_kind=kind, regions=regions
    )
    result = service_metrics(facts.jobs, facts.routes, (from_, to), callbacks=facts.callbacks)
    result["crews_own_temporary"] = own_temporary_of(session, facts, (from_, to))
    result["complaints_answered_within_4h"] = answered_in_time_share(
        session, (from_, to), ctx.settings.now(), regions=regions, crew_id=crew_id
    )
    filters: dict[str, Any] = {"zone": zone, "crew_id": crew_id, "crew_kind": kind}
    if region is not None:
        filters["region"] = region
    if regions is not None:
        filters["regions"] = sorted(regions)
    result["filters"] = filters
    return result


# --- Prometheus -------------------------------------------------------------------------------


@router.get(
    "",
    summary="Prometheus metrics (text exposition format; no authentication)",
    response_class=Response,
    responses={200: {"content": {PROMETHEUS_TEXT: {}}}},
)
def prometheus(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.prometheus
    return Response(generate_latest(registry), media_type=PROMETHEUS_TEXT)


def install_prometheus(app: FastAPI, ctx: AppContext) -> CollectorRegistry:
    """Give `app` its own registry (on `app.state.prometheus`), the request-metrics middleware
    and the database collector. Call before the app starts (it adds a middleware)."""
    registry = CollectorRegistry()
    requests = Counter(
        "fieldroute_http_requests",
        "HTTP requests answered, by method, route template and status code",
        ("method", "route", "status"),
        registry=registry,
    )
    latency = Histogram(
        "fieldroute_http_request_duration_seconds",
        "Time to answer an HTTP request, by method, route template and status code",
        ("method", "route", "status"),
        registry=registry,
    )
    registry.register(DatabaseCollector(ctx))
    app.state.prometheus = registry
    app.add_middleware(RequestMetrics, requests=requests, latency=latency)
    return registry


class RequestMetrics:
    """ASGI middleware counting and timing requests by route template (after routing, the
    matched route is in the scope; paths that match none are counted as `<unmatched>`)."""

    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app raises before answering

        async def send_and_see(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_see)
        finally:
            labels = (scope["method"], route_template(scope), str(status))
            self.requests.labels(*labels).inc()
            self.latency.labels(*labels).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The path template of the route that handled the request (`/jobs/{job_id}`)."""
    path = getattr(scope.get("route"), "path", None)
    if path:
        return str(path)
    app = scope.get("app")
    for route in getattr(app, "routes", ()):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", UNMATCHED))
    return UNMATCHED


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time (all processes see the same figures)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def _families(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("fieldroute_database_up", "1 if the database answered this scrape")
        yield GaugeMetricFamily("fieldroute_jobs", "Jobs by status", labels=["status"])
        yield GaugeMetricFamily("fieldroute_plans", "Plans by status", labels=["status"])
        yield GaugeMetricFamily(
            "fieldroute_webhook_deliveries",
            "Webhook deliveries waiting (pending) or given up (dead)",
            labels=["status"],
        )
        yield GaugeMetricFamily(
            "fieldroute_webhook_oldest_pending_seconds",
            "Age of the oldest pending webhook delivery (0 when none)",
        )
        yield HistogramMetricFamily(
            "fieldroute_plan_solve_seconds", "Solve time of the plans solved, start to finish"
        )

    def collect(self) -> Iterator[Metric]:
        try:
            with self.ctx.sessions() as session:
                figures = _read_figures(session, self.ctx.settings.now())
        except Exception as exc:  # a scrape must answer even when the database does not
            log.warning("metrics scrape could not read the database: %s", type(exc).__name__)
            yield GaugeMetricFamily(
                "fieldroute_database_up", "1 if the database answered this scrape", value=0
            )
            return
        yield GaugeMetricFamily(
            "fieldroute_database_up", "1 if the database answered this scrape", value=1
        )
        for name, doc, counts in (
            ("fieldroute_jobs", "Jobs by status", figures["jobs"]),
            ("fieldroute_plans", "Plans by status", figures["plans"]),
            (
                "fieldroute_webhook_deliveries",
                "Webhook deliveries waiting (pending) or given up (dead)",
                figures["outbox"],
            ),
        ):
            family = GaugeMetricFamily(name, doc, labels=["status"])
            for status, count in counts.items():
                family.add_metric([status], count)
            yield family
        yield GaugeMetricFamily(
            "fieldroute_webhook_oldest_pending_seconds",
            "Age of the oldest pending webhook delivery (0 when none)",
            value=figures["oldest_pending_s"],
        )
        solve = HistogramMetricFamily(
            "fieldroute_plan_solve_seconds", "Solve time of the plans solved, start to finish"
        )
        solve.add_metric([], figures["solve_buckets"], sum_value=figures["solve_sum"])
        yield solve


def _read_figures(session: Session, now: Any) -> dict[str, Any]:
    def counts(column: Any, known: Iterable[str]) -> dict[str, int]:
        found = {
            s: int(n) for s, n in session.execute(select(column, func.count()).group_by(column))
        }
        return {s: found.pop(s, 0) for s in known} | found  # known statuses always, 0 or more

    outbox = counts(OutboxRow.status, ("pending", "dead"))
    oldest = session.scalar(
        select(func.min(OutboxRow.created_at)).where(OutboxRow.status == "pending")
    )
    durations = [
        max((finished - started).total_seconds(), 0.0)
        for started, finished in session.execute(
            select(PlanRow.started_at, PlanRow.finished_at).where(
                PlanRow.status.in_(SOLVED),
                PlanRow.started_at.is_not(None),
                PlanRow.finished_at.is_not(None),
            )
        )
    ]
    buckets = [(_bucket_label(b), sum(1 for d in durations if d <= b)) for b in SOLVE_BUCKETS]
    buckets.append(("+Inf", len(durations)))
    return {
        "jobs": counts(JobRow.status, (s.value for s in JobStatus)),
        "plans": counts(PlanRow.status, PLAN_STATUSES),
        "outbox": {k: v for k, v in outbox.items() if k in ("pending", "dead")},
        "oldest_pending_s": max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        "solve_buckets": buckets,
        "solve_sum": sum(durations),
    }


def _bucket_label(bound: float) -> str:
    return str(float(bound))
