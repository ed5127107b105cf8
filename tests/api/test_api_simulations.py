"""Season simulations through the service: a tiny season run to `done` by the real runner and
worker processes, its report and daily table served; bad settings refused naming the
setting; access by role; cancellation (queued and running); a killed worker ending `failed`;
the service's own territory as the city; the 0003 migration."""

from __future__ import annotations

import html
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import Point, Polygon, box
from sqlalchemy import inspect

from api.background.simulation_runner import SIMULATIONS, SimulationRunner
from api.storage.models import SimulationRow
from dispatch.errors import InputError
from dispatch.season.own_city import city_from_records, draw_sites
from dispatch.zones import Zone
from tests.api_support import poll_status

pytestmark = [pytest.mark.api, pytest.mark.service]  # worker processes

PLANNER_LIMITS = {"time_limit_s": 1, "solution_limit": 10}
#: two days on a 3 % demo city, a solution limit per day: seconds, reproducible
TINY: dict[str, Any] = {
    "fixture": "shanghai",
    "days": 2,
    "scale": 0.03,
    "replications": 2,
    "settings": {
        "planner": PLANNER_LIMITS,
        "demand": {"peak_start_day": 1, "peak_days": 1, "ramp_days": 1, "decline_days": 0},
    },
}
#: a month: long enough to be caught running
LONG: dict[str, Any] = {
    "fixture": "shanghai",
    "days": 30,
    "scale": 0.03,
    "settings": {"planner": PLANNER_LIMITS},
}
TERMINAL = ("done", "failed", "cancelled")


@pytest.fixture
def runner(client: TestClient) -> Iterator[SimulationRunner]:
    """A simulation runner on the app (the test settings start no background workers)."""
    ctx = client.app.state.ctx
    sim_runner = SimulationRunner(ctx)
    ctx.wakeups["simulations"] = sim_runner.wake
    sim_runner.start()
    yield sim_runner
    sim_runner.stop()
    ctx.wakeups.pop("simulations", None)


def ask(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> str:
    r = client.post("/simulations", json=body, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def wait_for(
    client: TestClient,
    headers: dict[str, str],
    sim_id: str,
    *statuses: str,
    timeout: float = 90.0,
    until: Any = None,
) -> dict[str, Any]:
    """Poll the simulation until it is in one of `statuses` (and `until(body)`)."""
    url = f"/simulations/{sim_id}"
    return poll_status(client, headers, url, statuses, TERMINAL, timeout, until)


def worker_pid(client: TestClient, sim_id: str) -> int | None:
    with client.app.state.ctx.sessions() as session:
        return session.get(SimulationRow, sim_id).worker_pid


def fields(response) -> list[str]:
    return [e.get("field") for e in response.json()["errors"]]


# ---- run, read, report


def test_a_tiny_season_runs_to_done_and_its_report_is_served(client, runner, auth):
    planner = auth("planner")
    r = client.post("/simulations", json=TINY, headers=planner)
    assert r.status_code == 202, r.text
    sim_id = r.json()["id"]
    assert r.headers["location"] == f"/simulations/{sim_id}"
    assert r.json()["links"]["report"] == f"/simulations/{sim_id}/report"

    body = wait_for(client, auth("manager"), sim_id, "done")
    assert body["progress"] == 1.0 and body["error"] is None and body["finished_at"]
    assert body["params"]["settings"]["days"] == 2
    assert body["params"]["settings"]["planner"]["solution_limit"] == 10
    summary = body["summary"]
    assert summary["replications"] == 2 and summary["seeds"] == [0, 1]
    orders = [p["summary"]["orders"] for p in summary["per_replication"]]
    assert summary["across"]["orders"]["min"] == min(orders) > 0
    assert [(w["replication"], w["week"]) for w in body["weeks"]] == [(0, 0), (1, 0)]
    assert body["recommendation"] is None

    report = client.get(f"/simulations/{sim_id}/report", headers=planner)
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in report.headers["content-security-policy"]
    assert report.text.count('<img src="data:image/png;base64,') == 6
    assert "Shanghai demo" in report.text

    days = client.get(f"/simulations/{sim_id}/days.csv", headers=auth("dispatcher"))
    assert days.status_code == 200 and days.headers["content-type"].startswith("text/csv")
    lines = days.text.strip().splitlines()
    assert lines[0].startswith("replication,seed,day,date,")
    assert len(lines) == 1 + 2 * 2  # two replications of two days

    listed = client.get("/simulations", headers=auth("manager")).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == sim_id
    assert "summary" not in listed["items"][0]  # lists stay small
    done = client.get("/simulations?status=done", headers=planner).json()
    assert [s["id"] for s in done["items"]] == [sim_id]
    assert client.delete(f"/simulations/{sim_id}", headers=planner).status_code == 409


def test_a_capacity_recommendation_is_stored_and_reported(client, runner, auth):
    body = {**TINY, "replications": 1, "recommend": True, "rounds": 2}
    sim_id = ask(client, auth("planner"), body)
    done = wait_for(client, auth("planner"), sim_id, "done")
    rec = done["recommendation"]
    assert rec["replications"] == 1 and [w["week"] for w in rec["per_week"]] == [0]
    assert 1 <= len(rec["rounds"]) <= 2
    assert done["summary"]["recommendation"] == rec
    report = client.get(f"/simulations/{sim_id}/report", headers=auth("manager")).text
    assert "Capacity recommendation" in report and "Temporary crews per week" in report


#: the two lever options the API test searches (of `dispatch.season.levers.OPTIONS`)
LEVER_OPTIONS = ["hiring only", "next-morning slots + evening shifts + specialists"]


def test_a_lever_recommendation_is_stored_and_reported(client, runner, auth):
    """The lever search through the service on the tiny season: two options, one round each
    (about 2 s of seasons). Seed 0, 2026-12-07: hiring only held about 79 % of week 0's
    installations on the customer's clock, all three levers about 89 %, neither 95 % nor
    90 %; the checks hold for whichever option the search chooses."""
    body = {
        **TINY,
        "replications": 1,
        "recommend": True,
        "rounds": 1,
        "levers": True,
        "target_clock": "customer",
        "lever_options": LEVER_OPTIONS[::-1],  # searched in the options' own order
    }
    sim_id = ask(client, auth("planner"), body)
    done = wait_for(client, auth("planner"), sim_id, "done")
    params = done["params"]
    assert params["levers"] is True and params["lever_options"] == LEVER_OPTIONS
    assert params["overrides"]["target_clock"] == params["settings"]["target_clock"] == "customer"

    rec = done["recommendation"]
    levers = rec["levers"]
    assert rec["target_clock"] == "customer" and rec["target_share"] == 0.95
    assert [o["name"] for o in levers["options"]] == LEVER_OPTIONS
    by_name = {o["name"]: o for o in levers["options"]}
    assert by_name["hiring only"]["lever_cost_cny"] == 0
    assert by_name[LEVER_OPTIONS[1]]["lever_cost_cny"] > 0  # evening and specialist premiums
    chosen = by_name[levers["chosen"]]
    worst = {o["name"]: o["worst_week_share"] for o in levers["options"]}
    assert levers["verdict"] in ("met", "fallback", "not met")
    assert rec["met"] is (levers["verdict"] == "met")
    if levers["verdict"] == "not met":  # the best worst week wins
        assert chosen["worst_week_share"] == max(worst.values()) < 0.9
    expected = {  # the levers of each option, as ids
        "hiring only": [],
        LEVER_OPTIONS[1]: ["next_morning_slots", "evening_shifts", "specialist_temp_crews"],
    }
    assert [c["lever"] for c in levers["chosen_levers"]] == expected[levers["chosen"]]
    assert all(c["description"] for c in levers["chosen_levers"])
    assert rec["cost_cny"] == chosen["cost_cny"] > 0  # premiums included
    assert rec["lever_cost_cny"] == chosen["lever_cost_cny"]
    binding = "none: every peak week" if rec["met"] else "week 0 (customer's clock) holds"
    assert levers["binding_constraint"].startswith(binding)

    (week,) = rec["peak_week_shares"]
    assert week["week"] == 0 and week["temp_crews"] == 0
    assert week["target_met"] is (week["customer_clock"]["share_mean"] >= 0.95)
    assert week["customer_clock"]["label"] == "customer's clock"
    assert week["planning_clock"]["label"] == "planning clock"
    (row,) = done["weeks"]  # the replication that backs the plan
    assert week["customer_clock"]["share_mean"] == round(row["share_install_24h_customer"], 4)
    assert week["planning_clock"]["share_mean"] == round(row["share_install_24h"], 4)
    assert week["customer_clock"]["share_mean"] == chosen["worst_week_share"]
    assert done["summary"]["recommendation"] == rec

    report = client.get(f"/simulations/{sim_id}/report", headers=auth("manager")).text
    for text in (
        "Levers beyond hiring",
        f"Chosen: <strong>{levers['chosen']}</strong>",
        *(f"<li>{html.escape(c['description'])}</li>" for c in levers["chosen_levers"]),
        f"in every peak week: {'reached' if rec['met'] else 'not reached'}",
        "lever premiums",
        "Peak weeks on both clocks",
        "within 24 h, customer&#x27;s clock",
        "within 24 h, planning clock",
        f"Binding constraint: {html.escape(levers['binding_constraint'])}",
    ):
        assert text in report, text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"levers": True}, "levers"),  # the lever search is a recommendation
        ({"recommend": True, "lever_options": ["hiring only"]}, "lever_options"),
        (
            {"recommend": True, "levers": True, "lever_options": ["hiring only", "night"]},
            "lever_options[1]",
        ),
        ({"recommend": True, "levers": True, "lever_options": []}, "lever_options"),
        ({"target_clock": "wall"}, "target_clock"),
        (
            {"target_clock": "customer", "settings": {"target_clock": "planning"}},
            "settings.target_clock",
        ),
        ({"settings": {"target_clock": "wall"}}, "target_clock"),
    ],
)
def test_bad_lever_requests_are_422_naming_the_field(client, auth, body, field):
    r = client.post("/simulations", json={**TINY, **body}, headers=auth("planner"))
    assert r.status_code == 422, r.text
    assert field in fields(r), r.text
    assert client.get("/simulations", headers=auth("planner")).json()["total"] == 0


def test_the_hang_deadline_allows_a_search_per_lever_option():
    from api.background.simulation_runner import FIXED_OVERHEAD_S, deadline_s

    plain = {"recommend": True, "rounds": 2, "settings": {"days": 2}}
    two = {**plain, "levers": True, "lever_options": LEVER_OPTIONS}
    every = {**plain, "levers": True, "lever_options": None}
    base = deadline_s(plain) - FIXED_OVERHEAD_S
    assert deadline_s(two) - FIXED_OVERHEAD_S == pytest.approx(2 * base)
    assert deadline_s(every) - FIXED_OVERHEAD_S == pytest.approx(4 * base)


def test_report_of_an_unfinished_or_unknown_simulation(client, auth):
    planner = auth("planner")
    sim_id = ask(client, planner, TINY)  # no runner: stays queued
    r = client.get(f"/simulations/{sim_id}/report", headers=planner)
    assert r.status_code == 409 and r.json()["current_status"] == "queued"
    assert client.get(f"/simulations/{sim_id}/days.csv", headers=planner).status_code == 409
    assert client.get("/simulations/nope", headers=planner).status_code == 404
    assert client.get("/simulations/nope/report", headers=planner).status_code == 404
    time.sleep(1.05)  # the service's clock has whole seconds
    second = ask(client, auth("admin"), {**TINY, "seed": 5})
    items = client.get("/simulations", headers=planner).json()["items"]
    assert [s["id"] for s in items] == [second, sim_id]  # newest first
    assert items[0]["params"]["settings"]["seed"] == 5


# ---- validation


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"settings": {"demand": {"peak_dayz": 3}}}, "demand.peak_dayz"),
        ({"days": 5}, "demand.peak_days"),  # the default peak does not fit in 5 days
        ({"scale": 9}, "scale"),
        ({"settings": {"planner": {"time_limit_s": 0}}}, "planner.time_limit_s"),
        ({"settings": {"crews": {"temp_per_week": [0, -2]}}}, "crews.temp_per_week[1]"),
        ({"settings": {"crews": {"temp_zone_weights": {"Z99": 1}}}}, "crews.temp_zone_weights.Z99"),
        ({"days": 30, "settings": {"days": 20}}, "settings.days"),
        ({"settings": {"demand": {"heat_waves": 5}}}, "demand.heat_waves"),  # no 500 on odd shapes
        ({"settings": {"quality": {"callback_delay_days": [1]}}}, "quality.callback_delay_days"),
        ({"settings": {"seed": -1}}, "seed"),
    ],
)
def test_bad_settings_are_422_naming_the_setting(client, auth, body, field):
    r = client.post("/simulations", json={**LONG, **body}, headers=auth("planner"))
    assert r.status_code == 422, r.text
    assert field in fields(r), r.text


def test_bad_requests_store_nothing(client, auth):
    planner = auth("planner")
    for body in (
        {**TINY, "replications": 11},
        {**TINY, "replications": 0},
        {**TINY, "fixture": "paris"},
        {**TINY, "colour": "red"},
        {**TINY, "seed": -1},
    ):
        assert client.post("/simulations", json=body, headers=planner).status_code == 422, body
    r = client.post("/simulations", json={**TINY, "fixture": "own"}, headers=planner)
    assert r.status_code == 422 and fields(r) == ["zones"]  # an empty service has no territory
    assert client.get("/simulations", headers=planner).json()["total"] == 0


def test_access_by_role(client, auth):
    driver = auth("driver", "IC001")
    assert client.post("/simulations", json=TINY, headers=driver).status_code == 403
    assert client.post("/simulations", json=TINY, headers=auth("manager")).status_code == 403
    assert client.post("/simulations", json=TINY).status_code == 401
    ids = [ask(client, auth(role), TINY) for role in ("planner", "dispatcher", "admin")]
    for path in ("", f"/{ids[0]}", f"/{ids[0]}/report", f"/{ids[0]}/days.csv"):
        assert client.get(f"/simulations{path}", headers=driver).status_code == 403, path
    assert client.delete(f"/simulations/{ids[0]}", headers=driver).status_code == 403
    assert client.delete(f"/simulations/{ids[0]}", headers=auth("manager")).status_code == 403
    assert client.get(f"/simulations/{ids[0]}", headers=auth("manager")).status_code == 200
    created_by = client.get(f"/simulations/{ids[0]}", headers=auth("planner")).json()["created_by"]
    assert created_by == "test-planner"


# ---- cancel, crash


def test_cancel_queued_and_running_and_a_killed_worker_fails(client, runner, auth):
    planner = auth("planner")
    first, second, third = (ask(client, planner, {**LONG, "seed": k}) for k in range(3))

    # third waits behind the others (one simulation at a time): cancelled at once
    r = client.delete(f"/simulations/{third}", headers=planner)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    assert client.delete(f"/simulations/{third}", headers=planner).status_code == 409

    # first runs; its worker is killed as an out-of-memory kill would: failed, not stuck
    wait_for(client, planner, first, "running", until=lambda _b: worker_pid(client, first))
    pid = worker_pid(client, first)
    assert SIMULATIONS.alive(pid, first)
    os.kill(pid, signal.SIGKILL)
    body = wait_for(client, planner, first, "failed", timeout=30)
    assert "killed by signal 9" in body["error"]

    # second is claimed next; a cancel stops its worker
    wait_for(client, planner, second, "running", until=lambda _b: worker_pid(client, second))
    pid = worker_pid(client, second)
    r = client.delete(f"/simulations/{second}", headers=planner)
    assert r.status_code == 202 and r.json()["cancel_requested"] is True, r.text
    wait_for(client, planner, second, "cancelled", timeout=30)
    assert not SIMULATIONS.alive(pid, second)
    assert runner.running == []


def test_a_running_simulation_left_by_a_dead_service_fails_at_start(client, auth):
    """A row `running` with no live worker (the service died) is failed by the next runner."""
    planner = auth("planner")
    sim_id = ask(client, planner, TINY)
    with client.app.state.ctx.sessions() as session, session.begin():
        row = session.get(SimulationRow, sim_id)
        row.status, row.worker_pid, row.started_at = "running", 2**22 + 7, row.created_at
    sim_runner = SimulationRunner(client.app.state.ctx)
    assert sim_runner.recover() == 1
    body = client.get(f"/simulations/{sim_id}", headers=planner).json()
    assert body["status"] == "failed" and "service restart" in body["error"]


# ---- the service's own territory


def test_own_territory_runs_from_the_service_tables(seeded, runner, auth):
    planner = auth("planner")
    body = {
        "fixture": "own",
        "days": 1,
        "scale": 0.02,
        "settings": {
            "planner": PLANNER_LIMITS,
            "demand": {"peak_start_day": 0, "peak_days": 1, "ramp_days": 0, "decline_days": 0},
        },
    }
    sim_id = ask(seeded, planner, body)
    with seeded.app.state.ctx.sessions() as session:
        snapshot = session.get(SimulationRow, sim_id).city
    assert snapshot["zones"] and snapshot["depots"] and snapshot["crews"]
    done = wait_for(seeded, planner, sim_id, "done")
    assert "service territory" in done["summary"]["city"]
    assert done["summary"]["per_replication"][0]["summary"]["orders"] > 0
    assert seeded.get(f"/simulations/{sim_id}/report", headers=planner).status_code == 200


def test_sites_are_drawn_inside_zones_and_thin_zones_are_refused():
    zones = [
        Zone("A", "A", box(121.40, 31.20, 121.45, 31.25)),
        Zone("B", "B", Polygon([(121.5, 31.2), (121.6, 31.2), (121.5, 31.3)])),
    ]
    sites = draw_sites(zones, 300, seed=3)
    assert len(sites) == 600 and list(sites.zone).count("B") == 300
    for z in zones:
        inside = [
            z.polygon.contains(Point(x, y))
            for x, y, zone in zip(sites.lon, sites.lat, sites.zone, strict=True)
            if zone == z.id
        ]
        assert all(inside)
    again = draw_sites(zones, 300, seed=3)
    assert (again.lon == sites.lon).all()  # seeded
    sliver = Zone("S", "S", Polygon([(0, 0), (1, 1), (1, 1.000001)]))
    with pytest.raises(InputError) as refused:
        draw_sites([sliver], 5, seed=0)
    assert refused.value.record == "zone 'S'"
    with pytest.raises(InputError) as empty:
        city_from_records("x", zones, [], [], 10, 0)
    assert empty.value.field == "depots"


# ---- migration


def test_migration_0003_downgrades_and_upgrades(tmp_path):
    from alembic import command

    from api.storage.db import alembic_config, make_engine, migrate
    from tests.api_support import database_url

    engine = make_engine(database_url(tmp_path))
    try:
        migrate(engine)
        assert "simulations" in inspect(engine).get_table_names()
        command.downgrade(alembic_config(engine), "0002")
        assert "simulations" not in inspect(engine).get_table_names()
        migrate(engine)
        assert "simulations" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
