"""The dispatcher board's day-wide event feed: `GET /events/feed` after a cursor, with ETags
so that polling while nothing happens is a bodiless 304."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.http.auth import issue_token
from api.settings import Settings
from tests.api_support import DEMO_DAY, publish_demo_plan

pytestmark = pytest.mark.api

DAY = DEMO_DAY.isoformat()
FEED = "/events/feed"
PERSONAL = {"lon": 121.4, "lat": 31.2, "note": "gate code 1234"}


@pytest.fixture
def published(seeded: TestClient, settings: Settings) -> TestClient:
    """The seeded demo day with its (urban) plan published: jobs are `assigned`."""
    publish_demo_plan(seeded, settings)
    return seeded


def urban_jobs(client: TestClient, headers: dict[str, str], n: int) -> list[str]:
    params = {"status": "assigned", "region": "urban", "limit": 500}
    items = client.get("/jobs", params=params, headers=headers).json()["items"]
    return [j["id"] for j in items[:n]]


def report(
    client: TestClient, headers: dict[str, str], job_id: str, type_: str, at: str, **extra: object
) -> int:
    """Post an event (the office on the crew's behalf); its id."""
    r = client.post(
        f"/jobs/{job_id}/events",
        json={"type": type_, "device_time": f"{DAY}T{at}", **PERSONAL, **extra},
        headers={**headers, "Idempotency-Key": f"{job_id}-{type_}-{at}"},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def feed(client: TestClient, headers: dict[str, str], **params: object):
    return client.get(FEED, params={"date": DAY, "region": "urban", **params}, headers=headers)


def test_events_appear_after_the_cursor_in_order(published, auth):
    office = auth("dispatcher")
    r = feed(published, office)
    assert r.status_code == 200, r.text
    assert r.json() == {"items": [], "cursor": 0, "more": False}
    assert r.headers["cache-control"] == "private, no-cache"
    assert r.headers["vary"] == "Authorization"
    empty_tag = r.headers["etag"]
    assert empty_tag.startswith('W/"')

    first, second = urban_jobs(published, office, 2)
    ids = [
        report(published, office, first, "departed", "09:00"),
        report(published, office, second, "departed", "09:05"),
        report(published, office, first, "arrived", "09:30"),
    ]
    # the board's stale ETag no longer matches: it gets the new events
    r = feed(published, {**office, "If-None-Match": empty_tag})
    assert r.status_code == 200
    body = r.json()
    assert [e["id"] for e in body["items"]] == ids
    assert [(e["job_id"], e["type"]) for e in body["items"]] == [
        (first, "departed"),
        (second, "departed"),
        (first, "arrived"),
    ]
    # job_status is the job's status now, not as of the event
    assert [e["job_status"] for e in body["items"]] == ["on_site", "en_route", "on_site"]
    assert body["items"][0]["note"] == "gate code 1234" and body["items"][0]["lon"] == 121.4
    assert body["cursor"] == ids[-1] and body["more"] is False
    tag = r.headers["etag"]
    assert tag != empty_tag

    # polling on from the cursor with the last ETag: nothing new is a 304 with no body
    r = feed(published, {**office, "If-None-Match": tag}, after=body["cursor"])
    assert r.status_code == 304 and r.content == b""
    assert r.headers["etag"] == tag and r.headers["vary"] == "Authorization"
    # without If-None-Match the same poll is an empty page at the same cursor
    r = feed(published, office, after=body["cursor"])
    assert r.json() == {"items": [], "cursor": ids[-1], "more": False}

    # a new report moves the cursor on
    newest = report(published, office, second, "arrived", "09:40")
    r = feed(published, {**office, "If-None-Match": tag}, after=body["cursor"])
    assert r.status_code == 200
    assert [e["id"] for e in r.json()["items"]] == [newest] and r.json()["cursor"] == newest
    assert r.json()["items"][0]["job_status"] == "on_site"

    # `limit` pages through, `more` says there is more
    r = feed(published, office, limit=2)
    assert [e["id"] for e in r.json()["items"]] == ids[:2] and r.json()["more"] is True
    r = feed(published, office, limit=2, after=r.json()["cursor"])
    assert [e["id"] for e in r.json()["items"]] == [ids[2], newest]
    assert r.json()["more"] is False

    # other days and other regions are not in it
    assert feed(published, office, date="2026-06-19").json()["items"] == []
    assert feed(published, office, region="rural").json()["items"] == []


def test_roles_without_personal_data_see_none(published, auth):
    office = auth("dispatcher")
    (job,) = urban_jobs(published, office, 1)
    photo = published.post(
        "/uploads",
        files={"file": ("p.jpg", b"\xff\xd8\xff" + bytes(50), "image/jpeg")},
        data={"job_id": job, "kind": "photo"},
        headers=office,
    ).json()["id"]
    report(published, office, job, "departed", "09:00", photo_refs=[photo])
    seen = feed(published, office)
    planner = feed(published, auth("planner"))
    assert planner.status_code == 200
    (item,) = planner.json()["items"]
    assert item["lon"] is None and item["lat"] is None and item["note"] is None
    assert item["signature_ref"] is None and item["photo_refs"] == []
    assert item["type"] == "departed" and item["job_status"] == "en_route"
    assert seen.json()["items"][0]["photo_refs"] == [photo]
    # the ETag differs by what the role may see, so one role's copy never serves another
    assert planner.headers["etag"] != seen.headers["etag"]
    r = feed(published, {**auth("manager"), "If-None-Match": seen.headers["etag"]})
    assert r.status_code == 200 and r.json()["items"][0]["note"] is None
    assert feed(published, auth("driver", "DT001")).status_code == 403


def test_region_bound_dispatchers(published, settings, auth):
    office = auth("dispatcher")
    (job,) = urban_jobs(published, office, 1)
    report(published, office, job, "departed", "09:00")

    def bound(*regions: str) -> dict[str, str]:
        token = issue_token(settings, "d-bound", "dispatcher", regions=list(regions))
        return {"Authorization": f"Bearer {token}"}

    r = feed(published, bound("rural"))
    assert r.status_code == 403 and "rural" in r.json()["detail"]
    assert feed(published, bound("rural"), region="rural").status_code == 200
    r = feed(published, bound("urban"))
    assert r.status_code == 200 and [e["job_id"] for e in r.json()["items"]] == [job]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"region": "moon"}, "region"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"after": -1}, "after"),
        ({"after": 2**31}, "after"),
        ({"date": "yesterday"}, "date"),
    ],
)
def test_bad_queries_are_422_naming_the_field(published, auth, params, field):
    r = feed(published, auth("dispatcher"), **params)
    assert r.status_code == 422, r.text
    problem = r.json()["errors"][0]
    assert problem.get("field") == field or problem.get("loc", [])[-1] == field


def test_date_and_region_are_required(published, auth):
    office = auth("dispatcher")
    r = published.get(FEED, params={"region": "urban"}, headers=office)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "date"]
    r = published.get(FEED, params={"date": DAY}, headers=office)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "region"]
    assert published.get(FEED, params={"date": DAY, "region": "urban"}).status_code == 401
