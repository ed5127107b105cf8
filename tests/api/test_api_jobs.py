"""Jobs, crews, zones and access rules through FastAPI's test client."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.api

JOB = {
    "id": "J1",
    "kind": "repair",
    "confirmed_at": "2026-06-18T08:00",
    "lon": 121.47,
    "lat": 31.23,
    "windows": [{"start": "2026-06-18T10:00", "end": "2026-06-18T12:00"}],
    "customer_name": "Li Lei",
    "customer_phone": "13900000000",
    "address": "1 Nanjing Rd",
}


def test_create_read_and_personal_data_by_role(seeded, auth):
    r = seeded.post("/jobs", json=JOB, headers=auth("dispatcher"))
    assert r.status_code == 201, r.text
    assert r.json()["zone"] is not None  # located in a demo zone
    assert r.json()["record"]["customer_name"] == "Li Lei"
    r = seeded.get("/jobs/J1", headers=auth("manager"))
    assert r.status_code == 200
    assert "customer_name" not in r.json()["record"]
    assert "address" not in r.json()["record"]
    assert seeded.post("/jobs", json=JOB, headers=auth("dispatcher")).status_code == 409


def test_roles_and_tokens(seeded, auth, settings):
    assert seeded.get("/jobs").status_code == 401
    assert seeded.get("/jobs", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert seeded.post("/jobs", json=JOB, headers=auth("planner")).status_code == 403
    assert seeded.get("/jobs", headers=auth("driver", "DT001")).status_code == 403
    r = seeded.post(
        "/auth/tokens", json={"subject": "wang", "role": "driver"}, headers=auth("admin")
    )
    assert r.status_code == 422  # a driver token must name a crew
    r = seeded.post(
        "/auth/tokens",
        json={"subject": "wang", "role": "driver", "crew_id": "DT001"},
        headers=auth("admin"),
    )
    token = r.json()["token"]
    me = seeded.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {"subject": "wang", "role": "driver", "crew_id": "DT001", "regions": None}


def test_bad_input_names_the_field(seeded, auth):
    bad = dict(JOB, windows=[{"start": "2026-06-18T12:00", "end": "2026-06-18T10:00"}])
    r = seeded.post("/jobs", json=bad, headers=auth("dispatcher"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"].startswith("windows")
    r = seeded.post("/jobs", json=dict(JOB, lat="north"), headers=auth("dispatcher"))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][-1] == "lat"
    r = seeded.post(
        "/jobs",
        content=b"{not json",
        headers={**auth("dispatcher"), "content-type": "application/json"},
    )
    assert r.status_code == 422


def test_list_filters_and_pages(seeded, auth):
    r = seeded.get("/jobs", params={"due_date": "2026-06-18", "limit": 7}, headers=auth("planner"))
    body = r.json()
    assert r.status_code == 200 and body["total"] == 30 and len(body["items"]) == 7
    kinds = {j["kind"] for j in body["items"]}
    r = seeded.get("/jobs", params={"kind": "delivery"}, headers=auth("planner"))
    assert all(j["kind"] == "delivery" for j in r.json()["items"])
    assert kinds


def test_import_all_or_nothing(seeded, auth):
    rows = [dict(JOB, id=f"K{k}") for k in range(3)]
    rows[1]["lon"] = 999
    rows[2]["windows"] = []
    files = {"file": ("jobs.json", json.dumps({"jobs": rows}), "application/json")}
    r = seeded.post("/jobs/import", files=files, headers=auth("dispatcher"))
    assert r.status_code == 422, r.text
    assert len(r.json()["detail"]) >= 2  # every bad row reported at once
    assert seeded.get("/jobs/K0", headers=auth("dispatcher")).status_code == 404
    rows = [dict(JOB, id=f"K{k}") for k in range(3)]
    files = {"file": ("jobs.json", json.dumps({"jobs": rows}), "application/json")}
    r = seeded.post("/jobs/import", files=files, headers=auth("dispatcher"))
    assert r.status_code == 201 and r.json()["imported"] == 3


def test_update_with_version_and_cancel(seeded, auth):
    seeded.post("/jobs", json=JOB, headers=auth("dispatcher"))
    r = seeded.patch("/jobs/J1", json={"version": 1, "priority": "vip"}, headers=auth("dispatcher"))
    assert r.status_code == 200 and r.json()["priority"] == "vip" and r.json()["version"] == 2
    stale = seeded.patch(
        "/jobs/J1", json={"version": 1, "priority": "normal"}, headers=auth("dispatcher")
    )
    assert stale.status_code == 409
    r = seeded.post("/jobs/J1/cancel", json={"reason": "customer moved"}, headers=auth("admin"))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    again = seeded.post("/jobs/J1/cancel", json={"reason": "x"}, headers=auth("admin"))
    assert again.status_code == 409


def test_crews_and_days(seeded, auth):
    crew = {"id": "TMP900", "kind": "installation_crew", "start_depot": "SP01", "temporary": True}
    r = seeded.post("/crews", json=crew, headers=auth("dispatcher"))
    assert r.status_code == 201, r.text
    bad = dict(crew, id="X1", start_depot="NOWHERE")
    r = seeded.post("/crews", json=bad, headers=auth("dispatcher"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "start_depot"
    r = seeded.put(
        "/crews/TMP900/days/2026-06-18", json={"status": "available"}, headers=auth("dispatcher")
    )
    assert r.status_code == 200
    r = seeded.put("/crews/DT001/days/2026-06-18", json={"status": "sick"}, headers=auth("admin"))
    assert r.status_code == 200
    days = seeded.get("/crews/DT001/days", headers=auth("manager")).json()["items"]
    assert days[0]["status"] == "sick"
    update = dict(crew, version=1, shift_end="20:00")
    r = seeded.put("/crews/TMP900", json=update, headers=auth("dispatcher"))
    assert r.status_code == 200 and r.json()["record"]["shift_end"] == "20:00"
    assert seeded.put("/crews/TMP900", json=update, headers=auth("dispatcher")).status_code == 409


def test_zones_and_depots_geojson(seeded, auth):
    zones = seeded.get("/zones", headers=auth("planner")).json()
    assert zones["type"] == "FeatureCollection" and len(zones["features"]) > 5
    square = [[[121.0, 31.0], [121.1, 31.0], [121.1, 31.1], [121.0, 31.1], [121.0, 31.0]]]
    bow = [[[121.0, 31.0], [121.1, 31.1], [121.1, 31.0], [121.0, 31.1], [121.0, 31.0]]]
    upload = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": square},
             "properties": {"id": "ZX"}},
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": bow},
             "properties": {"id": "ZBAD"}},
        ],
    }  # fmt: skip
    r = seeded.put("/zones", json=upload, headers=auth("dispatcher"))
    assert r.status_code == 422 and "ZBAD" in r.json()["errors"][0]["record"]
    upload["features"].pop()
    assert seeded.put("/zones", json=upload, headers=auth("dispatcher")).status_code == 200
    depots = seeded.get("/depots", headers=auth("manager")).json()
    assert {f["properties"]["kind"] for f in depots["features"]} == {"warehouse", "service_point"}


def test_oversized_body_is_413(tmp_path, auth):
    from fastapi.testclient import TestClient

    from api.http.app import create_app
    from tests.api_support import make_settings

    settings = make_settings(tmp_path, max_body_bytes=1000)
    with TestClient(create_app(settings)) as c:
        r = c.post("/jobs", content=b"x" * 5000, headers={"content-type": "application/json"})
        assert r.status_code == 413


def test_gcj02_coordinates_are_stored_as_wgs84(seeded, auth):
    """A job geocoded with a Chinese map (GCJ-02) lands about 500 m from where its raw
    numbers would put it: the service stores the WGS84 point."""
    from dispatch.files.coords import gcj02_to_wgs84

    r = seeded.post(
        "/jobs", params={"coords": "gcj02"}, json=dict(JOB, id="G1"), headers=auth("dispatcher")
    )
    assert r.status_code == 201, r.text
    lon, lat = gcj02_to_wgs84(JOB["lon"], JOB["lat"])
    assert abs(r.json()["record"]["lon"] - lon) < 1e-6
    assert abs(r.json()["record"]["lat"] - lat) < 1e-6
    r = seeded.post("/jobs", params={"coords": "bd09"}, json=JOB, headers=auth("dispatcher"))
    assert r.status_code == 422
