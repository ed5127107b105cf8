"""Planners and managers see no customer's door: coarse coordinates (about a kilometre), no
floor or lift, in jobs, routes, the plan's GeoJSON and the board; dispatchers see them exact."""

from __future__ import annotations

import pytest

from tests.api_support import publish_demo_plan

pytestmark = pytest.mark.api

DAY = "2026-06-18"


def _coarse(x: float) -> bool:
    return round(x, 2) == x


@pytest.fixture
def published(seeded, settings):
    return seeded, publish_demo_plan(seeded, settings)


def test_jobs_routes_geojson_and_board(published, auth):
    client, plan_id = published
    jobs = client.get(
        "/jobs", params={"status": "assigned", "limit": 50}, headers=auth("dispatcher")
    ).json()["items"]
    job = jobs[0]
    exact = client.get(f"/jobs/{job['id']}", headers=auth("dispatcher")).json()["record"]
    assert not (_coarse(exact["lon"]) and _coarse(exact["lat"]))  # the demo's points are exact
    assert exact["floor"] is not None
    for role in ("planner", "manager"):
        seen = client.get(f"/jobs/{job['id']}", headers=auth(role)).json()["record"]
        assert seen["lon"] == round(exact["lon"], 2) and seen["lat"] == round(exact["lat"], 2)
        assert seen["floor"] is None and seen["has_lift"] is None

    crew = job["crew_id"]
    route = client.get(f"/routes/{crew}", params={"date": DAY}, headers=auth("planner")).json()
    own = client.get(f"/routes/{crew}", params={"date": DAY}, headers=auth("driver", crew)).json()
    assert own["stops"][0]["floor"] is not None and not _coarse(own["stops"][0]["lon"])
    for stop in route["stops"]:
        assert _coarse(stop["lon"]) and _coarse(stop["lat"]) and stop["floor"] is None

    geo = client.get(f"/plans/{plan_id}/geojson", headers=auth("planner")).json()
    points = [
        f for f in geo["features"] if f["properties"].get("feature") in ("stop", "unassigned")
    ]
    assert points and all(all(_coarse(c) for c in f["geometry"]["coordinates"]) for f in points)
    depots = [f for f in geo["features"] if f["properties"].get("feature") == "depot"]
    office = client.get(f"/plans/{plan_id}/geojson", headers=auth("dispatcher")).json()
    office_depots = [f for f in office["features"] if f["properties"].get("feature") == "depot"]
    assert [d["geometry"] for d in depots] == [d["geometry"] for d in office_depots]

    board = client.get(f"/plans/{plan_id}/board", headers=auth("planner")).json()
    assert all(_coarse(j["lon"]) and _coarse(j["lat"]) for j in board["jobs"])
    board_office = client.get(f"/plans/{plan_id}/board", headers=auth("dispatcher")).json()
    assert any(not _coarse(j["lon"]) for j in board_office["jobs"])
