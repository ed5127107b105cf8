"""Every list is paginated alike: `{"items", "total", "limit", "offset"}`, `limit` 1..500
(default 100), `offset` from 0, in a stable order that ends with the id.

For each list answered by a job, a crew, a plan or the admin (job events, follow-up calls,
callbacks, the plan's audit log, crew days, webhooks): a small `limit` pages through every
item exactly once, in the list's order; a `limit` over the maximum (or 0) is a 422 problem
naming `query.limit`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from api.http.errors import PROBLEM_JSON
from api.storage.models import AuditRow, JobRow
from tests.api_support import publish_demo_plan

pytestmark = pytest.mark.api

DAY = "2026-06-18"
WINDOWS = [{"start": "2026-06-25T09:00", "end": "2026-06-25T12:00"}]
ENVELOPE = {"items", "total", "limit", "offset"}


def page_through(client, url: str, headers, limit: int, start: int = 0, **params) -> list[dict]:
    """The items of the list at `url` from `start` on, asked `limit` at a time; checks each
    page's envelope."""
    seen: list[dict] = []
    offset = start
    while True:
        r = client.get(url, params={**params, "limit": limit, "offset": offset}, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) == ENVELOPE
        assert (page["limit"], page["offset"]) == (limit, offset)
        assert len(page["items"]) == min(limit, max(page["total"] - offset, 0))
        seen += page["items"]
        offset += limit
        if offset >= page["total"]:
            return seen


def assert_paginated(client, url: str, headers, expected: list, key: str = "id", **params):
    """The list at `url` holds `expected` (values of `key`) in this order, whole and paged."""
    whole = client.get(url, params=params, headers=headers)
    assert whole.status_code == 200, whole.text
    body = whole.json()
    assert set(body) == ENVELOPE
    assert (body["limit"], body["offset"], body["total"]) == (100, 0, len(expected))
    assert [item[key] for item in body["items"]] == expected
    for limit in (1, 2, 3):
        items = page_through(client, url, headers, limit, **params)
        assert [item[key] for item in items] == expected, f"limit={limit}"
    past = client.get(url, params={**params, "offset": len(expected)}, headers=headers).json()
    assert past["items"] == [] and past["total"] == len(expected)
    for bad in (501, 0):
        assert_limit_refused(client.get(url, params={**params, "limit": bad}, headers=headers))
    r = client.get(url, params={**params, "offset": -1}, headers=headers)
    assert problem(r)["errors"][0]["field"] == "query.offset"


def problem(r) -> dict:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    body = r.json()
    assert body["type"] == "/problems/invalid-request" and body["status"] == 422
    assert isinstance(body["title"], str) and isinstance(body["detail"], str)
    return body


def assert_limit_refused(r) -> None:
    entries = problem(r)["errors"]
    assert [e["field"] for e in entries] == ["query.limit"]
    assert entries[0]["loc"] == ["query", "limit"]


@pytest.fixture
def plan_id(seeded, settings) -> str:
    """The seeded day's plan, published: jobs are `assigned` to crews."""
    return publish_demo_plan(seeded, settings)


def assigned(client, auth, kind: str, skip: int = 0) -> dict:
    params = {"status": "assigned", "kind": kind, "limit": 500}
    return client.get("/jobs", params=params, headers=auth("admin")).json()["items"][skip]


def complete(client, auth, settings, job_id: str, days_ago: int, fault: str | None = None):
    r = client.post(
        f"/jobs/{job_id}/events",
        json={"type": "completed", "device_time": f"{DAY}T15:00"},
        headers={**auth("dispatcher"), "Idempotency-Key": f"done-{job_id}"},
    )
    assert r.status_code == 201, r.text
    with client.app.state.ctx.sessions() as s, s.begin():
        row = s.get(JobRow, job_id)
        row.completed_at = settings.now() - timedelta(days=days_ago)
        row.fault = fault


def test_job_events_page_in_stage_order(seeded, plan_id, auth):
    job = assigned(seeded, auth, "delivery")
    driver = auth("driver", job["crew_id"])
    # reported out of order: ids (arrival order) differ from the stage order
    for key, type_, at in (
        ("s", "started", "09:45"),
        ("d", "departed", "09:00"),
        ("c", "completed", "10:20"),
        ("a", "arrived", "09:40"),
    ):
        r = seeded.post(
            f"/jobs/{job['id']}/events",
            json={"type": type_, "device_time": f"{DAY}T{at}"},
            headers={**driver, "Idempotency-Key": f"{job['id']}-{key}"},
        )
        assert r.status_code == 201, r.text
    url = f"/jobs/{job['id']}/events"
    stages = ["departed", "arrived", "started", "completed"]
    assert_paginated(seeded, url, driver, stages, key="type")
    ids = [e["id"] for e in page_through(seeded, url, auth("manager"), 2)]
    assert ids != sorted(ids) and len(set(ids)) == 4


def test_follow_up_calls_page_oldest_first(seeded, plan_id, auth, settings):
    job = assigned(seeded, auth, "delivery")["id"]
    complete(seeded, auth, settings, job, days_ago=1)
    today = settings.now().date().isoformat()
    ids: dict[str, int] = {}
    # logged out of order, two at the same minute (then by id)
    for name, at in (("b", "10:00"), ("a", "09:00"), ("d", "11:00"), ("c", "10:00")):
        call = {"reached": False, "called_at": f"{today}T{at}:00+08:00"}
        r = seeded.post(f"/jobs/{job}/follow-ups", json=call, headers=auth("manager"))
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    expected = [ids[n] for n in "abcd"]
    assert_paginated(seeded, f"/jobs/{job}/follow-ups", auth("manager"), expected)


def test_callbacks_page_oldest_first(seeded, plan_id, auth, settings):
    job = assigned(seeded, auth, "repair")["id"]
    complete(seeded, auth, settings, job, days_ago=10, fault="E4")
    for _ in range(4):
        body = {"windows": WINDOWS, "fault": "E4"}
        r = seeded.post(f"/jobs/{job}/callbacks", json=body, headers=auth("dispatcher"))
        assert r.status_code == 201, r.text
    expected = [f"{job}-CB{n}" for n in range(1, 5)]
    assert_paginated(seeded, f"/jobs/{job}/callbacks", auth("manager"), expected)


def test_plan_audit_pages_by_time_then_id(seeded, plan_id, auth, settings):
    now = settings.now()
    with seeded.app.state.ctx.sessions() as s, s.begin():
        for minutes in (30, 10, 20, 10, 40):  # two at the same time: then by id
            s.add(
                AuditRow(
                    at=now + timedelta(minutes=minutes),
                    actor="test",
                    role="dispatcher",
                    action=f"note_{minutes}",
                    plan_id=plan_id,
                )
            )
    with seeded.app.state.ctx.sessions() as s:
        rows = s.scalars(select(AuditRow).where(AuditRow.plan_id == plan_id)).all()
        expected = [r.id for r in sorted(rows, key=lambda r: (r.at, r.id))]
    assert len(expected) >= 6  # the publication's own entries and the five above
    assert_paginated(seeded, f"/plans/{plan_id}/audit", auth("manager"), expected)
    # a later entry written between two pages comes last: nothing skipped or repeated
    office = auth("dispatcher")
    url = f"/plans/{plan_id}/audit"
    first = seeded.get(url, params={"limit": 3}, headers=office).json()["items"]
    with seeded.app.state.ctx.sessions() as s, s.begin():
        late = AuditRow(
            at=now + timedelta(hours=1), actor="test", role="admin", action="late", plan_id=plan_id
        )
        s.add(late)
        s.flush()
        late_id = late.id
    rest = page_through(seeded, url, office, 3, start=3)
    assert [a["id"] for a in first + rest] == [*expected, late_id]


def test_crew_days_page_by_day(seeded, auth):
    office = auth("dispatcher")
    days = ["2026-06-20", "2026-06-18", "2026-06-22", "2026-06-19", "2026-06-21"]
    for day in days:
        r = seeded.put(f"/crews/DT001/days/{day}", json={"status": "off"}, headers=office)
        assert r.status_code == 200, r.text
    assert_paginated(seeded, "/crews/DT001/days", auth("manager"), sorted(days), key="day")
    window = {"from": "2026-06-19", "to": "2026-06-21"}
    expected = ["2026-06-19", "2026-06-20", "2026-06-21"]
    assert_paginated(seeded, "/crews/DT001/days", office, expected, key="day", **window)


def test_webhooks_page_by_id(client, auth):
    admin = auth("admin")
    ids = []
    for n in range(5):
        body = {"url": f"https://hooks{n}.example.com/in", "events": ["*"]}
        r = client.post("/webhooks", json=body, headers=admin)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    assert client.delete(f"/webhooks/{ids[1]}", headers=admin).status_code == 204
    active = [i for i in ids if i != ids[1]]
    assert_paginated(client, "/webhooks", admin, active)
    assert_paginated(client, "/webhooks", admin, ids, include_inactive=True)
    # one registered between two pages comes last: nothing skipped or repeated
    first = client.get("/webhooks", params={"limit": 2}, headers=admin).json()["items"]
    late = {"url": "https://late.example.com", "events": ["*"]}
    r = client.post("/webhooks", json=late, headers=admin)
    assert r.status_code == 201
    rest = page_through(client, "/webhooks", admin, 2, start=2)
    assert [w["id"] for w in first + rest] == [*active, r.json()["id"]]


def test_lists_not_found_before_their_parameters(client, auth):
    """A list of something that does not exist is a 404 whatever the paging asked."""
    r = client.get("/jobs/NOPE/events", params={"limit": 5}, headers=auth("dispatcher"))
    assert r.status_code == 404
    r = client.get("/crews/NOPE/days", params={"offset": 5}, headers=auth("dispatcher"))
    assert r.status_code == 404


@pytest.mark.parametrize("url", ["/zones", "/depots"])
def test_zones_and_depots_page_as_geojson(seeded, auth, url):
    """A page is still a FeatureCollection (GIS tools read it); the paging figures ride
    beside `features` as foreign members."""
    office = auth("dispatcher")
    whole = seeded.get(url, params={"limit": 500}, headers=office).json()
    assert whole["type"] == "FeatureCollection" and whole["total"] == len(whole["features"]) > 3
    expected = [f["properties"]["id"] for f in whole["features"]]
    assert expected == sorted(expected)
    seen, offset = [], 0
    while offset < whole["total"]:
        page = seeded.get(url, params={"limit": 2, "offset": offset}, headers=office).json()
        assert set(page) == {"type", "features", "total", "limit", "offset"}
        assert (page["limit"], page["offset"], page["total"]) == (2, offset, whole["total"])
        seen += [f["properties"]["id"] for f in page["features"]]
        offset += 2
    assert seen == expected
    assert_limit_refused(seeded.get(url, params={"limit": 501}, headers=office))
