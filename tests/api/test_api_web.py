"""The web pages as the service answers them (no browser: tests/browser drives one): pages,
their Content-Security-Policy, the public UI settings, and the board's one-answer read."""

from __future__ import annotations

import pytest

from api.http.auth import issue_token
from api.http.routers.web import content_security_policy
from tests.api_support import DEMO_DAY, make_settings, publish_demo_plan

pytestmark = pytest.mark.api


def test_pages_are_served_with_a_strict_policy(client) -> None:
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/board"
    for path in ("/sign-in", "/board", "/season"):
        page = client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-eval" not in policy
        assert "<script>" not in page.text  # scripts are modules from /static, never inline
    assert client.get("/static/vendor/leaflet-1.9.4/LICENSE").text.startswith("BSD 2-Clause")
    assert client.get("/static/js/board.js").status_code == 200
    assert client.get("/favicon.ico", follow_redirects=False).status_code == 308


def test_ui_config_is_public_and_the_tile_host_is_the_only_outside_image_source(tmp_path):
    from fastapi.testclient import TestClient

    from api.http.app import create_app

    settings = make_settings(
        tmp_path,
        map_tile_url="https://{s}.tiles.example.cn/{z}/{x}/{y}.png",
        map_tile_coords="gcj02",
    )
    with TestClient(create_app(settings)) as c:
        config = c.get("/ui/config").json()
        assert config["tile_coords"] == "gcj02" and "{z}" in config["tile_url"]
        policy = c.get("/board").headers["content-security-policy"]
    assert "img-src 'self' data: blob: https://*.tiles.example.cn" in policy
    assert "https://" not in content_security_policy("")


def test_board_answer_gives_every_crew_and_job_and_both_promise_clocks(seeded, settings, auth):
    plan_id = publish_demo_plan(seeded, settings)
    r = seeded.get(f"/plans/{plan_id}/board", headers=auth("dispatcher"))
    assert r.status_code == 200, r.text
    board = r.json()
    assert board["plan"]["status"] == "published"
    planned = {s["job_id"] for route in board["routes"] for s in route["stops"]}
    unassigned = {u["job_id"] for u in board["unassigned"]}
    assert {j["id"] for j in board["jobs"]} == planned | unassigned
    assert all(j["status"] == "assigned" for j in board["jobs"] if j["id"] in planned)
    assert all(j["customer_name"] for j in board["jobs"])  # a dispatcher sees personal data
    assert {c["id"] for c in board["crews"]} >= {r["crew_id"] for r in board["routes"]}
    clock = board["customer_clock"]["installation"]
    assert clock["hours"] == 24 and clock["planned"] <= clock["jobs"]
    assert 0 <= clock["within"] <= clock["planned"]
    # beside it the planning clock's share of the same jobs, and each clock's label
    planning = board["planning_clock"]["installation"]
    assert (planning["planned"], planning["jobs"]) == (clock["planned"], clock["jobs"])
    assert planning["of_planned"] == board["kpis"]["on_time_share_by_kind"]["installation"]
    assert clock["clock"] == "customer" and planning["clock"] == "planning"
    labels = board["promise_clocks"]
    assert labels["customer"].startswith("customer's clock: calendar hours")
    assert labels["planning"].startswith("planning clock: the plan's deadlines")
    assert clock["label"] == labels["customer"] and planning["label"] == labels["planning"]
    assert board["kpis"]["planned"] == len(planned)

    again = seeded.get(
        f"/plans/{plan_id}/board",
        headers={**auth("dispatcher"), "If-None-Match": r.headers["etag"]},
    )
    assert again.status_code == 304

    planner = seeded.get(f"/plans/{plan_id}/board", headers=auth("planner")).json()
    assert all("customer_name" not in j and "address" not in j for j in planner["jobs"])

    bound = issue_token(settings, "d-rural", "dispatcher", regions=["rural"])
    refused = seeded.get(f"/plans/{plan_id}/board", headers={"Authorization": f"Bearer {bound}"})
    assert refused.status_code == 403 and "rural" in refused.json()["detail"]
    assert seeded.get(f"/plans/{plan_id}/board", headers=auth("driver", "IC001")).status_code == 403


def test_days_with_jobs(seeded, auth) -> None:
    days = seeded.get("/board/days", params={"region": "urban"}, headers=auth("planner")).json()
    assert days["days"][0]["date"] == DEMO_DAY.isoformat()
    assert days["days"][0]["jobs"] >= days["days"][0]["open"] > 0
    assert "today" in days
