"""Plan settings through the service: `POST /plans` takes a `settings` object in the settings
file's schema (docs/data-formats.md, "Plan settings"), refuses bad values with a 422 naming
`settings.<key path>`, keeps it on the row's options for the worker process, which plans
under it; the stored result records every setting (`result.settings`), and a hand move keeps
the record."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.background.plan_runner import PlanRunner
from api.storage.models import PlanRow
from dispatch.files.plan_io import plan_from_dict
from dispatch.models import JobKind
from dispatch.plan import Plan
from tests.api_support import DEMO_DAY, poll_status

pytestmark = pytest.mark.api

QUICK = {"date": DEMO_DAY.isoformat(), "time_limit_s": 3, "solution_limit": 30}
TERMINAL = ("succeeded", "failed", "cancelled", "published", "superseded")
SETTINGS = {
    "travel": {"speeds_kmh": {"delivery_truck": 12.5, "combined": 12.5}, "rush_hours": []},
    "promises": {"urban": {"delivery_hours": 6, "clock": "calendar"}},
    "link_gap_minutes": 45,
    "service_time": {"base_minutes": {"repair": {"tv": 95}}},
}


@pytest.fixture
def runner(seeded: TestClient) -> Iterator[PlanRunner]:
    """A plan runner on the seeded app (the test settings start no background workers)."""
    ctx = seeded.app.state.ctx
    plan_runner = PlanRunner(ctx)
    ctx.wakeups["plans"] = plan_runner.wake
    plan_runner.start()
    yield plan_runner
    plan_runner.stop()
    ctx.wakeups.pop("plans", None)


def solved(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = client.post("/plans", json={**QUICK, **body}, headers=headers)
    assert r.status_code == 202, r.text
    url = f"/plans/{r.json()['id']}"
    return poll_status(client, headers, url, ("succeeded",), TERMINAL, 60.0)


def stored(client: TestClient, plan_id: str) -> Plan:
    with client.app.state.ctx.sessions() as session:
        return plan_from_dict(session.get(PlanRow, plan_id).result)


BAD = [
    ({"travel": {"speeds_kmh": {"combined": 0}}}, "settings.travel.speeds_kmh.combined"),
    ({"promises": {"urban": {"cutoff": "21:00"}}}, "settings.promises.urban.cutoff"),
    ({"service_time": {"height_minutes": -1}}, "settings.service_time.height_minutes"),
    ({"link_gap": 10}, "settings.link_gap"),
    # a file or URL of the caller's choosing: the provider is the service's own setting
    ({"travel": {"provider": "osrm:http://169.254.169.254"}}, "settings.travel.provider"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "field"), BAD, ids=[b[1] for b in BAD])
def test_bad_settings_are_422_naming_the_key(seeded, auth, raw, field):
    r = seeded.post("/plans", json={**QUICK, "settings": raw}, headers=auth("dispatcher"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [(e["record"], e["field"]) for e in r.json()["errors"]] == [("request body", field)]
    with seeded.app.state.ctx.sessions() as session:
        assert session.query(PlanRow).count() == 0  # nothing queued


def test_settings_that_are_not_an_object_are_422(seeded, auth):
    r = seeded.post("/plans", json={**QUICK, "settings": [1]}, headers=auth("dispatcher"))
    assert r.status_code == 422, r.text


def test_the_worker_plans_under_the_settings_and_records_them(seeded, runner, auth):
    office = auth("dispatcher")
    body = solved(seeded, office, settings=SETTINGS)
    # the request, normalised, on the row: what the worker process read back
    assert body["options"]["settings"]["link_gap_minutes"] == 45
    recorded = body["result"]["settings"]
    assert recorded["travel"]["speeds_kmh"]["delivery_truck"] == 12.5
    assert recorded["travel"]["speeds_kmh"]["installation_crew"] == 30  # defaults recorded
    assert recorded["travel"]["provider"] == "haversine"  # the service's own provider
    assert recorded["promises"]["urban"]["delivery_hours"] == 6
    assert recorded["service_time"]["base_minutes"]["repair"]["tv"] == 95

    plan = stored(seeded, body["id"])
    problem = plan.problem
    assert plan.settings == recorded
    assert problem.link_gap_minutes == 45 and problem.travel.rush_hours == ()
    assert problem.travel.speeds_kmh["combined"] == 12.5
    assert all(j.service_minutes is not None for j in problem.jobs)  # estimates written in
    tv_repairs = [j for j in problem.jobs if j.kind is JobKind.REPAIR and j.category == "tv"]
    assert all(j.service_minutes == 95 for j in tv_repairs)
    deliveries = {
        j.id: j
        for j in problem.jobs
        if j.kind is JobKind.DELIVERY and j.region == "urban" and j.deadline is None
    }
    stops = [s for r in plan.routes for s in r.stops if s.job_id in deliveries]
    assert stops
    for stop in stops:
        assert stop.deadline == deliveries[stop.job_id].confirmed_at + timedelta(hours=6)

    # a hand move keeps the record (a repair taken off its route: no linked job to mind)
    repairs = {j.id for j in problem.jobs if j.kind is JobKind.REPAIR}
    job_id = next(s.job_id for r in plan.routes for s in r.stops if s.job_id in repairs)
    move = {"version": body["version"], "job_id": job_id, "crew_id": None}
    r = seeded.post(f"/plans/{body['id']}/overrides", json=move, headers=office)
    assert r.status_code == 200, r.text
    again = seeded.get(f"/plans/{body['id']}", headers=office).json()
    assert again["result"]["settings"] == recorded


def test_a_plan_without_settings_records_the_defaults(seeded, runner, auth):
    body = solved(seeded, auth("dispatcher"))
    assert "settings" not in body["options"]
    recorded = body["result"]["settings"]
    assert recorded["link_gap_minutes"] == 30
    assert recorded["travel"]["speeds_kmh"]["delivery_truck"] == 25
    assert recorded["promises"]["urban"]["delivery_hours"] == 12
    problem = stored(seeded, body["id"]).problem
    assert any(j.service_minutes is None for j in problem.jobs)  # left to the estimate


def test_a_horizon_plans_the_day_and_reports_the_days_after(seeded, runner, auth):
    """`horizon_days` 2: the plan is the first day's, `result.horizon` has both days, and the
    second day took the first day's leftovers (the seeded day is the only one with jobs)."""
    office = auth("dispatcher")
    body = solved(seeded, office, horizon_days=2)
    horizon = body["result"]["horizon"]
    first, second = horizon["days"]
    assert first["date"] == DEMO_DAY.isoformat()
    assert second["date"] == (DEMO_DAY + timedelta(days=1)).isoformat()
    assert second["carried_in"] == first["carried_out"] == len(body["result"]["unassigned"])
    assert second["new_jobs"] == 0 and horizon["open_at_end"] == second["carried_out"]
    assert stored(seeded, body["id"]).problem.date == DEMO_DAY  # the plan is day 1's
    for kind, tally in horizon["promise_kept_customer_clock"].items():
        assert kind in ("delivery", "installation")
        assert 0 <= tally["kept"] <= tally["planned"] <= tally["jobs"]
    r = seeded.post("/plans", json={**QUICK, "horizon_days": 8}, headers=office)
    assert r.status_code == 422 and "horizon_days" in r.text
