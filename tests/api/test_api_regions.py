"""Region-bound dispatchers: a token naming `regions` sees and changes only those regions'
plans, jobs, crews, routes and events; unbound office roles are not affected.

The seeded demo day is an urban plan, urban crews and 30 jobs of which one (`RURAL_JOB`) is
in the rural region: a job's region is its own, whatever plan it is on."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from api.http.auth import issue_token
from api.settings import Settings
from tests.api_support import DEMO_DAY, publish_demo_plan

pytestmark = pytest.mark.api

DAY = DEMO_DAY.isoformat()
#: the one rural job of the 30-job demo day
RURAL_JOB = "O061800005-I"
QUICK = {"time_limit_s": 3, "solution_limit": 30}
JOB = {
    "id": "R1",
    "kind": "repair",
    "confirmed_at": f"{DAY}T08:00",
    "lon": 121.47,
    "lat": 31.23,
    "windows": [{"start": f"{DAY}T10:00", "end": f"{DAY}T12:00"}],
    "customer_name": "Li Lei",
    "customer_phone": "13900000000",
    "address": "1 Nanjing Rd",
}


def bound(settings: Settings, *regions: str) -> dict[str, str]:
    """Headers of a dispatcher bound to `regions`."""
    token = issue_token(settings, f"d-{'-'.join(regions)}", "dispatcher", regions=list(regions))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def published(seeded: TestClient, settings: Settings) -> tuple[TestClient, str]:
    """The seeded demo day with its (urban) plan published: (client, plan id)."""
    return seeded, publish_demo_plan(seeded, settings)


def assigned_job(client: TestClient, headers: dict[str, str]) -> dict:
    """An assigned urban job of the published plan, as `headers` read it."""
    params = {"status": "assigned", "region": "urban"}
    return client.get("/jobs", params=params, headers=headers).json()["items"][0]


def test_rural_dispatcher_cannot_touch_the_urban_plan(published, settings, auth):
    client, plan_id = published
    rural = bound(settings, "rural")
    version = client.get(f"/plans/{plan_id}", headers=auth("dispatcher")).json()["version"]

    r = client.get(f"/plans/{plan_id}", headers=rural)
    assert r.status_code == 403
    assert "rural" in r.json()["detail"] and "urban" in r.json()["detail"]
    for path in ("geojson", "audit", "explanations", "diff"):
        assert client.get(f"/plans/{plan_id}/{path}", headers=rural).status_code == 403, path
    r = client.post(f"/plans/{plan_id}/publish", json={"version": version}, headers=rural)
    assert r.status_code == 403
    job = assigned_job(client, auth("dispatcher"))
    move = {"version": version, "job_id": job["id"], "crew_id": None}
    assert client.post(f"/plans/{plan_id}/overrides", json=move, headers=rural).status_code == 403
    assert client.delete(f"/plans/{plan_id}", headers=rural).status_code == 403
    r = client.post(
        f"/plans/{plan_id}/replan", json={**QUICK, "at": f"{DAY}T10:00:00"}, headers=rural
    )
    assert r.status_code == 403
    r = client.post("/plans", json={"date": DAY, "region": "urban", **QUICK}, headers=rural)
    assert r.status_code == 403
    # nothing was changed by the refused calls
    after = client.get(f"/plans/{plan_id}", headers=auth("dispatcher")).json()
    assert after["version"] == version and after["status"] == "published"
    notices = client.get("/notices", headers=rural).json()["items"]
    assert {n["job_id"] for n in notices} <= {RURAL_JOB}
    assert len(client.get("/notices", headers=auth("dispatcher")).json()["items"]) > len(notices)

    listed = client.get("/plans", headers=rural).json()
    assert listed["total"] == 0 and listed["items"] == []
    assert client.get("/plans", params={"region": "urban"}, headers=rural).json()["total"] == 0


@pytest.mark.parametrize("who", ["unbound", "urban", "urban+rural"])
def test_unbound_and_urban_dispatchers_still_can(published, settings, auth, who):
    client, plan_id = published
    office = {
        "unbound": auth("dispatcher"),
        "urban": bound(settings, "urban"),
        "urban+rural": bound(settings, "urban", "rural"),
    }[who]
    assert client.get(f"/plans/{plan_id}", headers=office).status_code == 200
    assert client.get(f"/plans/{plan_id}/geojson", headers=office).status_code == 200
    assert client.get(f"/plans/{plan_id}/audit", headers=office).status_code == 200
    assert client.get(f"/plans/{plan_id}/explanations", headers=office).status_code == 200
    assert plan_id in [p["id"] for p in client.get("/plans", headers=office).json()["items"]]
    jobs = client.get("/jobs", params={"region": "urban"}, headers=office).json()
    assert jobs["total"] == 29
    job = assigned_job(client, office)
    assert client.get(f"/jobs/{job['id']}", headers=office).status_code == 200
    crews = client.get("/crews", headers=office).json()["items"]
    assert crews and client.get(f"/crews/{crews[0]['id']}", headers=office).status_code == 200

    version = client.get(f"/plans/{plan_id}", headers=office).json()["version"]
    move = {"version": version, "job_id": job["id"], "crew_id": None}
    r = client.post(f"/plans/{plan_id}/overrides", json=move, headers=office)
    assert r.status_code == 200, r.text
    r = client.post(
        f"/plans/{plan_id}/replan", json={**QUICK, "at": f"{DAY}T10:00:00"}, headers=office
    )
    assert r.status_code == 202, r.text
    replan_id = r.json()["id"]
    r = client.get(f"/plans/{replan_id}/diff", headers=office)
    assert r.status_code == 409  # queued: not solved yet, but readable
    assert client.get(f"/plans/{replan_id}", headers=bound(settings, "rural")).status_code == 403
    r = client.delete(f"/plans/{replan_id}", headers=office)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


def test_bound_dispatcher_triggers_only_his_regions(seeded, settings):
    urban = bound(settings, "urban")
    r = seeded.post("/plans", json={"date": DAY, "region": "urban", **QUICK}, headers=urban)
    assert r.status_code == 202, r.text
    rural = bound(settings, "rural")
    assert seeded.delete(f"/plans/{r.json()['id']}", headers=rural).status_code == 403
    r = seeded.post("/plans", json={"date": DAY, "region": "urban", **QUICK}, headers=rural)
    assert r.status_code == 403


def test_rural_dispatcher_sees_no_urban_jobs_or_crews(published, settings, auth):
    client, _plan_id = published
    rural = bound(settings, "rural")
    jobs = client.get("/jobs", headers=rural).json()
    assert [j["id"] for j in jobs["items"]] == [RURAL_JOB] and jobs["total"] == 1
    assert client.get("/jobs", params={"region": "urban"}, headers=rural).json()["total"] == 0
    assert client.get("/jobs", headers=bound(settings, "urban")).json()["total"] == 29
    assert client.get("/jobs", headers=auth("dispatcher")).json()["total"] == 30
    crews = client.get("/crews", headers=rural).json()
    assert crews["total"] == 0

    job = assigned_job(client, auth("dispatcher"))
    assert job["region"] == "urban"
    assert client.get(f"/jobs/{job['id']}", headers=rural).status_code == 403
    patch = {"version": job["version"], "priority": "vip"}
    assert client.patch(f"/jobs/{job['id']}", json=patch, headers=rural).status_code == 403
    r = client.post(f"/jobs/{job['id']}/cancel", json={"reason": "x"}, headers=rural)
    assert r.status_code == 403
    assert client.get(f"/jobs/{job['id']}/events", headers=rural).status_code == 403
    r = client.post(
        f"/jobs/{job['id']}/events",
        json={"type": "departed", "device_time": f"{DAY}T09:00"},
        headers={**rural, "Idempotency-Key": "rural-1"},
    )
    assert r.status_code == 403
    crew = job["crew_id"]
    assert client.get(f"/crews/{crew}", headers=rural).status_code == 403
    assert client.get(f"/crews/{crew}/days", headers=rural).status_code == 403
    r = client.put(f"/crews/{crew}/days/{DAY}", json={"status": "sick"}, headers=rural)
    assert r.status_code == 403
    assert client.delete(f"/crews/{crew}", headers=rural).status_code == 403
    r = client.get(f"/routes/{crew}", params={"date": DAY}, headers=rural)
    assert r.status_code == 403
    for office in (auth("dispatcher"), bound(settings, "urban")):
        assert client.get(f"/routes/{crew}", params={"date": DAY}, headers=office).is_success
    # the refused calls changed nothing
    assert client.get(f"/jobs/{job['id']}", headers=auth("dispatcher")).json() == job


def test_bound_dispatcher_creates_only_in_his_regions(seeded, settings, auth):
    rural = bound(settings, "rural")
    r = seeded.post("/jobs", json=JOB, headers=rural)  # region defaults to urban
    assert r.status_code == 403
    r = seeded.post("/jobs", json=dict(JOB, region="rural"), headers=rural)
    assert r.status_code == 201, r.text
    listed = seeded.get("/jobs", headers=rural).json()
    assert sorted(j["id"] for j in listed["items"]) == sorted(["R1", RURAL_JOB])
    assert seeded.get("/jobs/R1", headers=rural).status_code == 200
    assert seeded.get("/jobs/R1", headers=bound(settings, "urban")).status_code == 403
    assert seeded.get("/jobs/R1", headers=auth("dispatcher")).status_code == 200
    # an import holding a job of another region is refused whole
    rows = [dict(JOB, id="R2", region="rural"), dict(JOB, id="U2")]
    files = {"file": ("jobs.json", json.dumps({"jobs": rows}), "application/json")}
    r = seeded.post("/jobs/import", files=files, headers=rural)
    assert r.status_code == 403 and "urban" in r.json()["detail"]
    assert seeded.get("/jobs/R2", headers=auth("dispatcher")).status_code == 404

    crew = {"id": "RC1", "kind": "installation_crew", "start_depot": "SP01"}
    assert seeded.post("/crews", json=crew, headers=rural).status_code == 403
    r = seeded.post("/crews", json=dict(crew, region="rural"), headers=rural)
    assert r.status_code == 201, r.text
    assert [c["id"] for c in seeded.get("/crews", headers=rural).json()["items"]] == ["RC1"]
    # nor may he move his crew into a region that is not his
    moved = dict(crew, region="urban", version=1)
    assert seeded.put("/crews/RC1", json=moved, headers=rural).status_code == 403
    assert seeded.get("/crews/RC1", headers=rural).json()["region"] == "rural"
