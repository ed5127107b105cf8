"""Service metrics over a small hand-built database (exact values for every metric and every
filter), the period guard, roles, and the Prometheus endpoint."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.storage.models import (
    CrewDayRow,
    CrewRow,
    FollowUpRow,
    JobRow,
    OutboxRow,
    PlanRow,
    WebhookRow,
)

pytestmark = pytest.mark.api

JUNE = {"from": "2026-06-01", "to": "2026-06-30"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-{text}")


def crew(crew_id: str, kind: str, zone: str, start: str, end: str) -> CrewRow:
    now = at("05-01T00:00")
    record = {"id": crew_id, "kind": kind, "home_zone": zone, "shift_start": start}
    return CrewRow(
        id=crew_id,
        kind=kind,
        home_zone=zone,
        region="urban",
        record=record | {"shift_end": end},
        created_at=now,
        updated_at=now,
    )


def job(
    job_id: str,
    kind: str,
    zone: str,
    crew_id: str | None,
    received: str,
    due: str,
    status: str,
    completed: str | None = None,
    arrived: str | None = None,
    window_end: str | None = None,
    callback_of: str | None = None,
) -> JobRow:
    received_at = at(received)
    return JobRow(
        id=job_id,
        due_date=date.fromisoformat(f"2026-{due}"),
        kind=kind,
        status=status,
        region="urban",
        zone=zone,
        priority="callback" if callback_of else "normal",
        order_id=f"O-{job_id}",
        received_at=received_at,
        record={},
        callback_of=callback_of,
        crew_id=crew_id,
        arrived_at=at(arrived) if arrived else None,
        completed_at=at(completed) if completed else None,
        window_end=at(window_end) if window_end else None,
        created_at=received_at,
        updated_at=received_at,
    )


def route(crew_id: str, drive_s: int, *stops: tuple[str, str]) -> dict[str, Any]:
    return {
        "crew_id": crew_id,
        "drive_s": drive_s,
        "stops": [
            {"job_id": "x", "start": at(a).isoformat(), "end": at(b).isoformat()} for a, b in stops
        ],
    }


def plan(
    plan_id: str,
    region: str,
    day: str,
    status: str,
    routes: list[dict[str, Any]],
    shifts: dict[str, tuple[str, str]],
    solve_s: float | None = None,
) -> PlanRow:
    created = at(f"{day}T06:00") - timedelta(days=1)
    return PlanRow(
        id=plan_id,
        region=region,
        day=date.fromisoformat(f"2026-{day}"),
        zones=[],
        status=status,
        progress=1.0,
        message="",
        options={},
        result={
            "problem": {
                "crews": [
                    {"id": c, "shift_start": a, "shift_end": b} for c, (a, b) in shifts.items()
                ]
            },
            "routes": routes,
            "unassigned": [],
        },
        kpis={},
        created_by="test",
        created_at=created,
        started_at=created if solve_s is not None else None,
        finished_at=created + timedelta(seconds=solve_s) if solve_s is not None else None,
    )


@pytest.fixture
def june(client: TestClient) -> TestClient:
    """A June of three crews and eleven jobs; expected figures are worked out in each test.

    Crews: C1 installation crew (zone Z1, 08-18), C2 delivery truck (Z2, 09-17), C3 repair
    technician (Z1, 08-16). Jobs (received -> completed):
      A delivery Z2 C2  06-10 08:00 -> 06-10 15:00  arrived 14:00, window to 13:00 (60 min late)
      B delivery Z2 C2  06-10 20:00 -> 06-11 09:00  arrived 08:30, window to 10:00
      C install  Z1 C1  06-12 10:00 -> 06-13 09:00  arrived 08:50, window to 09:00
      D install  Z1 C1  06-12 10:00, due 06-12, failed
      E repair   Z1 C3  06-15 09:00 -> 06-15 11:00  arrived 10:20, window to 10:00 (20 min late)
      F repair   Z2 C2  07-05 open: callback of E (another zone and crew, after the period)
      G repair   Z1 C3  06-16 cancelled
      H delivery Z2 -   06-29 10:00, due 06-30, open
      I repair   Z1 -   06-20 cancelled callback of C (does not count)
      J delivery Z2 C2  05-20 -> 05-20 (before the period)
      K repair   Z1 C3  05-31 18:00, due 06-01 -> 06-01 10:00
    Follow-up calls reached A, C (twice), E; B's call did not get through; K had none.
    Published routes: 06-10 C1 (shift 08-18 in the plan: 600 min, busy 60 + 90 + 60 = 210) and
    C2 (shift 09-13 in the plan: 240, busy 30 + 60 = 90); 06-20 rural C3, not in its plan's
    problem: shift from the record changed for that day to 08-12 (240), busy 120. A superseded
    plan on 06-10 and a published one on 07-01 do not count.
    """
    ctx = client.app.state.ctx
    with ctx.sessions() as session, session.begin():
        session.add_all(
            [
                crew("C1", "installation_crew", "Z1", "08:00", "18:00"),
                crew("C2", "delivery_truck", "Z2", "09:00", "17:00"),
                crew("C3", "repair_technician", "Z1", "08:00", "16:00"),
            ]
        )
        session.flush()
        session.add(
            CrewDayRow(
                crew_id="C3",
                day=date(2026, 6, 20),
                status="available",
                shift_start="08:00",
                shift_end="12:00",
            )
        )
        jobs = [
            job("A", "delivery", "Z2", "C2", "06-10T08:00", "06-10", "completed",
                "06-10T15:00", "06-10T14:00", "06-10T13:00"),
            job("B", "delivery", "Z2", "C2", "06-10T20:00", "06-11", "completed",
                "06-11T09:00", "06-11T08:30", "06-11T10:00"),
            job("C", "installation", "Z1", "C1", "06-12T10:00", "06-13", "completed",
                "06-13T09:00", "06-13T08:50", "06-13T09:00"),
            job("D", "installation", "Z1", "C1", "06-12T10:00", "06-12", "failed"),
            job("E", "repair", "Z1", "C3", "06-15T09:00", "06-15", "completed",
                "06-15T11:00", "06-15T10:20", "06-15T10:00"),
            job("G", "repair", "Z1", "C3", "06-16T09:00", "06-16", "cancelled"),
            job("H", "delivery", "Z2", None, "06-29T10:00", "06-30", "open"),
            job("J", "delivery", "Z2", "C2", "05-20T08:00", "05-20", "completed", "05-20T12:00"),
            job("K", "repair", "Z1", "C3", "05-31T18:00", "06-01", "completed", "06-01T10:00"),
        ]  # fmt: skip
        session.add_all(jobs)
        session.flush()
        session.add_all(
            [
                job("F", "repair", "Z2", "C2", "07-05T09:00", "07-06", "open", callback_of="E"),
                job("I", "repair", "Z1", None, "06-20T09:00", "06-21", "cancelled",
                    callback_of="C"),
            ]
        )  # fmt: skip
        calls = [("A", True), ("B", False), ("C", True), ("C", True), ("E", True)]
        session.add_all(
            FollowUpRow(job_id=j, called_at=at("06-28T10:00"), caller="t", reached=r)
            for j, r in calls
        )
        session.add_all(
            [
                plan(
                    "P1", "urban", "06-10", "published",
                    [route("C1", 3600, ("06-10T09:00", "06-10T10:30"),
                           ("06-10T11:00", "06-10T12:00")),
                     route("C2", 1800, ("06-10T14:00", "06-10T15:00"))],
                    {"C1": ("08:00", "18:00"), "C2": ("09:00", "13:00")},
                    solve_s=12,
                ),
                plan("P2", "urban", "06-10", "superseded",
                     [route("C3", 6000, ("06-10T09:00", "06-10T10:00"))], {}, solve_s=3),
                plan("P3", "urban", "07-01", "published",
                     [route("C1", 600, ("07-01T09:00", "07-01T10:00"))], {}),
                plan("P4", "rural", "06-20", "published",
                     [route("C3", 0, ("06-20T08:30", "06-20T10:30"))], {}, solve_s=45),
            ]
        )  # fmt: skip
    return client


def get(client: TestClient, auth, role: str = "manager", **params: str) -> dict[str, Any]:
    response = client.get("/metrics/service", params=JUNE | params, headers=auth(role))
    assert response.status_code == 200, response.text
    return response.json()


def ratio(numerator: float, denominator: float, **extra: Any) -> dict[str, Any]:
    return {
        "numerator": numerator,
        "denominator": denominator,
        "value": numerator / denominator if denominator else None,
        **extra,
    }


def test_whole_network(june, auth):
    m = get(june, auth)
    assert m["period"] == {"from": "2026-06-01", "to": "2026-06-30"}
    assert m["filters"] == {"zone": None, "crew_id": None, "crew_kind": None}
    assert m["completion_rate"] == ratio(5, 7, unfinished=1)  # A B C D E H K due; H open
    assert m["same_day_completion"] == ratio(2, 6, unfinished=1)  # A E of A B C D E H
    assert m["deliveries_within_12h"] == ratio(1, 3, unfinished=1)  # A of A B H
    assert m["installations_within_24h"] == ratio(1, 2, unfinished=0)  # C of C D
    assert m["follow_up_coverage"] == ratio(3, 5)  # A C E of A B C E K
    assert m["callback_rate"] == ratio(1, 5)  # E (by F, after the period); I is cancelled
    assert m["lateness"] == ratio(2, 4, mean_minutes_late=40.0, p90_minutes_late=60.0)
    assert m["utilisation"] == ratio(420, 1080)
    assert m["meets_targets"] == {
        "follow_up_coverage": False,
        "same_day_completion": False,
        "callback_rate": False,
    }
    assert m["targets"]["callback_rate_max"] == 0.04


def test_zone_filter_counts_callbacks_for_the_original_job(june, auth):
    z1 = get(june, auth, zone="Z1")
    assert z1["filters"]["zone"] == "Z1"
    assert z1["completion_rate"] == ratio(3, 4, unfinished=0)  # C E K of C D E K
    assert z1["same_day_completion"] == ratio(1, 3, unfinished=0)  # E of C D E
    assert z1["deliveries_within_12h"] == ratio(0, 0, unfinished=0)
    assert z1["installations_within_24h"] == ratio(1, 2, unfinished=0)
    assert z1["follow_up_coverage"] == ratio(2, 3)
    assert z1["callback_rate"] == ratio(1, 3)  # E's callback F is in zone Z2: counts for Z1
    assert z1["lateness"] == ratio(1, 2, mean_minutes_late=20.0, p90_minutes_late=20.0)
    assert z1["utilisation"] == ratio(330, 840)  # C1 and C3 live in Z1

    z2 = get(june, auth, zone="Z2")
    assert z2["completion_rate"] == ratio(2, 3, unfinished=1)
    assert z2["same_day_completion"] == ratio(1, 3, unfinished=1)
    assert z2["deliveries_within_12h"] == ratio(1, 3, unfinished=1)
    assert z2["installations_within_24h"] == ratio(0, 0, unfinished=0)
    assert z2["follow_up_coverage"] == ratio(1, 2)
    assert z2["callback_rate"] == ratio(0, 2)  # F is not Z2's callback
    assert z2["lateness"] == ratio(1, 2, mean_minutes_late=60.0, p90_minutes_late=60.0)
    assert z2["utilisation"] == ratio(90, 240)
    assert z2["meets_targets"]["callback_rate"] is True

    nowhere = get(june, auth, zone="Z9")
    assert nowhere["completion_rate"]["value"] is None
    assert nowhere["meets_targets"] == {
        "follow_up_coverage": None,
        "same_day_completion": None,
        "callback_rate": None,
    }


def test_crew_filter(june, auth):
    c3 = get(june, auth, crew_id="C3")
    assert c3["filters"]["crew_id"] == "C3"
    assert c3["completion_rate"] == ratio(2, 2, unfinished=0)  # E K (G cancelled)
    assert c3["same_day_completion"] == ratio(1, 1, unfinished=0)  # E (K received in May)
    assert c3["follow_up_coverage"] == ratio(1, 2)
    assert c3["callback_rate"] == ratio(1, 2)  # F was made by C2, it counts against C3's E
    assert c3["lateness"] == ratio(1, 1, mean_minutes_late=20.0, p90_minutes_late=20.0)
    assert c3["utilisation"] == ratio(120, 240)  # the 06-20 route on a shortened shift


def test_crew_kind_filter(june, auth):
    trucks = get(june, auth, crew_kind="delivery_truck")
    assert trucks["filters"]["crew_kind"] == "delivery_truck"
    assert trucks["completion_rate"] == ratio(2, 2, unfinished=0)  # A B (H has no crew)
    assert trucks["same_day_completion"] == ratio(1, 2, unfinished=0)
    assert trucks["deliveries_within_12h"] == ratio(1, 2, unfinished=0)
    assert trucks["follow_up_coverage"] == ratio(1, 2)
    assert trucks["callback_rate"] == ratio(0, 2)
    assert trucks["utilisation"] == ratio(90, 240)

    installers = get(june, auth, crew_kind="installation_crew")
    assert installers["completion_rate"] == ratio(1, 2, unfinished=0)
    assert installers["installations_within_24h"] == ratio(1, 2, unfinished=0)
    assert installers["follow_up_coverage"] == ratio(1, 1)
    assert installers["callback_rate"] == ratio(0, 1)  # I, C's callback, was cancelled
    assert installers["utilisation"] == ratio(210, 600)

    both = get(june, auth, crew_kind="repair_technician", zone="Z2")
    assert both["completion_rate"] == ratio(0, 0, unfinished=0)


def test_one_day_period(june, auth):
    day = get(june, auth, **{"from": "2026-06-10", "to": "2026-06-10"})
    assert day["completion_rate"] == ratio(1, 1, unfinished=0)  # A due that day
    assert day["same_day_completion"] == ratio(1, 2, unfinished=0)  # A B received that day
    assert day["follow_up_coverage"] == ratio(1, 1)  # A completed that day
    assert day["utilisation"] == ratio(300, 840)


def test_period_guard_and_parameters(client, auth):
    def status(**params: str) -> int:
        return client.get("/metrics/service", params=params, headers=auth("manager")).status_code

    assert status(**{"from": "2026-06-02", "to": "2026-06-01"}) == 422
    assert status(**{"from": "2025-01-01", "to": "2026-01-02"}) == 422  # 367 days
    assert status(**{"from": "2024-01-01", "to": "2024-12-31"}) == 200  # 366 days
    assert status(**{"from": "2026-06-01"}) == 422
    assert status(**{"from": "2026-06-01", "to": "2026-13-01"}) == 422
    assert status(**JUNE, crew_kind="spaceship") == 422
    assert status(**JUNE, zone="bad zone!") == 422
    answer = client.get(
        "/metrics/service", params={"from": "2026-06-02", "to": "2026-06-01"}, headers=auth("admin")
    )
    assert answer.json()["errors"][0]["field"] == "to"


def test_roles(client, auth):
    for role in ("manager", "planner", "dispatcher", "admin"):
        assert client.get("/metrics/service", params=JUNE, headers=auth(role)).status_code == 200
    driver = auth("driver", "C1")
    assert client.get("/metrics/service", params=JUNE, headers=driver).status_code == 403
    assert client.get("/metrics/service", params=JUNE).status_code == 401


# --- Prometheus -------------------------------------------------------------------------------


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a text exposition (None if absent)."""
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{name}{{{inner}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return None


def test_prometheus_scrape(june, auth):
    ctx = june.app.state.ctx
    now = ctx.settings.now()
    with ctx.sessions() as session, session.begin():
        hook = WebhookRow(url="https://x.example.com", secret="s", events=["*"], created_at=now)
        session.add(hook)
        session.flush()
        for status, age_s in (("pending", 120), ("pending", 10), ("dead", 900), ("delivered", 5)):
            session.add(
                OutboxRow(
                    webhook_id=hook.id,
                    event_type="job.status_changed",
                    payload={},
                    status=status,
                    attempts=1,
                    next_attempt_at=now,
                    created_at=now - timedelta(seconds=age_s),
                )
            )
    assert june.get("/jobs/A", headers=auth("dispatcher")).status_code == 200
    assert june.get("/jobs/A", headers=auth("dispatcher")).status_code == 200
    assert june.get("/jobs/NOPE", headers=auth("dispatcher")).status_code == 404
    june.get("/no/such/path")

    scrape = june.get("/metrics")  # no token: operations scrape it
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = scrape.text
    total = "fieldroute_http_requests_total"
    assert sample(text, total, method="GET", route="/jobs/{job_id}", status="200") == 2
    assert sample(text, total, method="GET", route="/jobs/{job_id}", status="404") == 1
    assert sample(text, total, method="GET", route="<unmatched>", status="404") == 1
    assert "/jobs/A" not in text and "NOPE" not in text  # templates, never raw paths
    latency = "fieldroute_http_request_duration_seconds_count"
    assert sample(text, latency, method="GET", route="/jobs/{job_id}", status="200") == 2

    assert sample(text, "fieldroute_database_up") == 1
    jobs = {s: sample(text, "fieldroute_jobs", status=s) for s in ("completed", "failed", "open")}
    assert jobs == {"completed": 6, "failed": 1, "open": 2}
    assert sample(text, "fieldroute_jobs", status="cancelled") == 2
    assert sample(text, "fieldroute_jobs", status="en_route") == 0
    assert sample(text, "fieldroute_plans", status="published") == 3
    assert sample(text, "fieldroute_plans", status="superseded") == 1
    assert sample(text, "fieldroute_plans", status="running") == 0
    assert sample(text, "fieldroute_webhook_deliveries", status="pending") == 2
    assert sample(text, "fieldroute_webhook_deliveries", status="dead") == 1
    assert sample(text, "fieldroute_webhook_deliveries", status="delivered") is None
    assert 120 <= sample(text, "fieldroute_webhook_oldest_pending_seconds") < 180
    # solved plans: P1 12 s, P2 3 s, P4 45 s (P3 has no solve times)
    solve = "fieldroute_plan_solve_seconds"
    assert sample(text, f"{solve}_count") == 3
    assert sample(text, f"{solve}_sum") == 60
    assert sample(text, f"{solve}_bucket", le="5.0") == 1
    assert sample(text, f"{solve}_bucket", le="30.0") == 2
    assert sample(text, f"{solve}_bucket", le="60.0") == 3
    assert sample(text, f"{solve}_bucket", le="+Inf") == 3

    # the scrape itself is counted on the next one
    again = june.get("/metrics").text
    assert sample(again, total, method="GET", route="/metrics", status="200") == 1


def test_each_app_has_its_own_registry(client):
    """Two apps in one process (on the same database) count their own requests only."""
    route = {"method": "GET", "route": "/health", "status": "200"}
    client.get("/health")
    with TestClient(create_app(client.app.state.ctx.settings)) as other:
        text = other.get("/metrics").text
    assert sample(text, "fieldroute_http_requests_total", **route) is None
    assert sample(client.get("/metrics").text, "fieldroute_http_requests_total", **route) == 1
