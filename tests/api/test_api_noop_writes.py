"""Writes that change nothing (`PATCH /jobs/{id}`, `PUT /crews/{id}`): they store nothing and
keep the version, and when a real change commits while one is under way, the answer is never
the stale version: the version is checked against a fresh read (409 when it no longer holds).

The race is made deterministic: the real change commits from another session right after the
no-op's version check, and the clock is held still, so the no-op's `updated_at` equals the
stored one (a no-op in the same second as the last change: nothing for the database to write,
and nothing that would have tripped the version check at commit).
"""

from __future__ import annotations

from datetime import datetime

import pytest

import api.http.routers.crews as crews_router
import api.http.routers.jobs as jobs_router
from api.settings import Settings
from api.storage.models import CrewRow, JobRow

pytestmark = pytest.mark.api

NOW = datetime(2026, 6, 17, 16, 0)


@pytest.fixture
def still_clock(monkeypatch):
    monkeypatch.setattr(Settings, "now", lambda self: NOW)


def test_a_no_op_job_patch_keeps_the_version(seeded, auth, still_clock):
    office = auth("dispatcher")
    job = seeded.get("/jobs", params={"status": "open", "limit": 1}, headers=office).json()
    job = job["items"][0]
    same = {"version": job["version"], "priority": job["priority"]}
    r = seeded.patch(f"/jobs/{job['id']}", json=same, headers=office)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == job["version"] and r.json()["record"] == job["record"]
    assert seeded.get(f"/jobs/{job['id']}", headers=office).json()["version"] == job["version"]


def test_a_no_op_job_patch_racing_a_real_change_is_never_stale(
    seeded, auth, still_clock, monkeypatch
):
    office = auth("dispatcher")
    job_id = seeded.get("/jobs", params={"status": "open", "limit": 1}, headers=office).json()[
        "items"
    ][0]["id"]
    # the caller's read: a change at NOW (the clock stands still)
    read = seeded.patch(f"/jobs/{job_id}", json={"version": 1, "priority": "vip"}, headers=office)
    assert read.status_code == 200 and read.json()["version"] == 2
    real = jobs_router.job_from_dict

    def change_meanwhile(record, where):
        with seeded.app.state.ctx.sessions() as s, s.begin():
            row = s.get(JobRow, job_id)
            row.record = {**row.record, "priority": "urgent"}
            row.priority = "urgent"
            row.updated_at = NOW
        return real(record, where)

    monkeypatch.setattr(jobs_router, "job_from_dict", change_meanwhile)
    r = seeded.patch(f"/jobs/{job_id}", json={"version": 2, "priority": "vip"}, headers=office)
    monkeypatch.setattr(jobs_router, "job_from_dict", real)
    stored = seeded.get(f"/jobs/{job_id}", headers=office).json()
    assert stored["version"] == 3 and stored["priority"] == "urgent"
    # before: 200 with version 2 and priority vip, a job that no longer exists
    assert r.status_code == 409, r.text
    assert "version 3, not 2" in r.text


def test_a_no_op_crew_put_racing_a_real_change_is_never_stale(
    seeded, auth, still_clock, monkeypatch
):
    office = auth("dispatcher")
    crew = {"id": "TMP900", "kind": "installation_crew", "start_depot": "SP01", "temporary": True}
    assert seeded.post("/crews", json=crew, headers=office).status_code == 201
    # no race: a no-op keeps the version
    r = seeded.put("/crews/TMP900", json=dict(crew, version=1), headers=office)
    assert r.status_code == 200 and r.json()["version"] == 1, r.text
    real = crews_router._checked_record

    def change_meanwhile(body, session):
        with seeded.app.state.ctx.sessions() as s, s.begin():
            row = s.get(CrewRow, "TMP900")
            row.record = {**row.record, "shift_end": "20:00"}
            row.updated_at = NOW
        return real(body, session)

    monkeypatch.setattr(crews_router, "_checked_record", change_meanwhile)
    r = seeded.put("/crews/TMP900", json=dict(crew, version=1), headers=office)
    monkeypatch.setattr(crews_router, "_checked_record", real)
    stored = seeded.get("/crews/TMP900", headers=office).json()
    assert stored["version"] == 2 and stored["record"]["shift_end"] == "20:00"
    assert r.status_code == 409, r.text  # before: 200 with version 1 and the old shift
    assert "version 2, not 1" in r.text
