"""Drivers' routes from the published plan: access by role, contact fields, ETag and 304."""

from __future__ import annotations

import json

import pytest

from api.http.routers.routes import DriverRouteOut, PlanCache, plan_cache
from api.storage.models import JobRow
from tests.api_support import publish_demo_plan

pytestmark = pytest.mark.api

DAY = "2026-06-18"
CONTACT = ("address", "customer_name", "customer_phone")


@pytest.fixture
def published(seeded, settings):
    """The seeded day with its plan published; returns (client, plan id)."""
    return seeded, publish_demo_plan(seeded, settings)


def busy_crew(client, auth) -> str:
    """A crew with at least two stops on the published plan."""
    items = client.get(
        "/jobs", params={"status": "assigned", "limit": 500}, headers=auth("dispatcher")
    ).json()["items"]
    counts: dict[str, int] = {}
    for job in items:
        counts[job["crew_id"]] = counts.get(job["crew_id"], 0) + 1
    return max(sorted(counts), key=lambda c: counts[c])


def test_driver_reads_his_own_route(published, auth):
    client, plan_id = published
    crew = busy_crew(client, auth)
    r = client.get(f"/routes/{crew}", params={"date": DAY}, headers=auth("driver", crew))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    compact = json.dumps(r.json(), separators=(",", ":"), ensure_ascii=False).encode()
    assert r.content == compact
    DriverRouteOut.model_validate(r.json())  # the documented schema is the real one
    body = r.json()
    assert body["plan_id"] == plan_id and body["plan_version"] >= 1
    assert body["crew_id"] == crew and body["date"] == DAY
    stops = body["stops"]
    assert len(stops) >= 2 and [s["seq"] for s in stops] == sorted(s["seq"] for s in stops)
    for stop in stops:
        assert stop["status"] == "assigned"
        assert stop["customer_phone"] and stop["address"]
        assert stop["window"]["start"] <= stop["start"] <= stop["window"]["end"]
        assert {"eta", "bring", "floor", "has_lift", "linked"} <= set(stop)
    # the same answer through /me/route
    me = client.get("/me/route", params={"date": DAY}, headers=auth("driver", crew))
    assert me.status_code == 200 and me.content == r.content
    assert me.headers["etag"] == r.headers["etag"]


def test_access_by_role(published, auth):
    client, _ = published
    crew = busy_crew(client, auth)
    other = "DT001" if crew != "DT001" else "DT002"
    url = f"/routes/{crew}"
    assert client.get(url, params={"date": DAY}).status_code == 401
    r = client.get(url, params={"date": DAY}, headers=auth("driver", other))
    assert r.status_code == 403
    for role in ("dispatcher", "admin"):
        r = client.get(url, params={"date": DAY}, headers=auth(role))
        assert r.status_code == 200 and r.json()["stops"][0]["customer_phone"]
    for role in ("manager", "planner"):
        r = client.get(url, params={"date": DAY}, headers=auth(role))
        assert r.status_code == 200
        assert r.json()["stops"] and not any(k in s for s in r.json()["stops"] for k in CONTACT)
        assert not any(k in r.text for k in CONTACT)
        DriverRouteOut.model_validate(r.json())
    assert (
        client.get("/me/route", params={"date": DAY}, headers=auth("dispatcher")).status_code == 403
    )


def test_no_published_plan_or_crew_not_on_it_is_404(seeded, auth, settings):
    r = seeded.get("/routes/DT001", params={"date": DAY}, headers=auth("driver", "DT001"))
    assert r.status_code == 404 and "no published plan" in r.json()["detail"]
    publish_demo_plan(seeded, settings)
    r = seeded.get("/routes/NOPE", params={"date": DAY}, headers=auth("dispatcher"))
    assert r.status_code == 404 and "not on the published plan" in r.json()["detail"]
    r = seeded.get("/routes/DT001", params={"date": "2026-06-19"}, headers=auth("dispatcher"))
    assert r.status_code == 404
    r = seeded.get("/routes/DT001", params={"date": "2026-13-01"}, headers=auth("dispatcher"))
    assert r.status_code == 422


def test_etag_304_and_a_new_etag_when_the_route_changes(published, auth):
    client, _ = published
    crew = busy_crew(client, auth)
    # uncompressed: a gzip answer's ETag is the weak form (test_api_operations.py)
    driver = {**auth("driver", crew), "Accept-Encoding": "identity"}
    url, params = "/me/route", {"date": DAY}
    first = client.get(url, params=params, headers=driver)
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["cache-control"] == "private, no-cache"
    again = client.get(url, params=params, headers={**driver, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    weak = client.get(url, params=params, headers={**driver, "If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304
    stale = client.get(url, params=params, headers={**driver, "If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.content == first.content

    # the dispatcher cancels one of the crew's jobs: it leaves the route, the ETag changes
    gone = first.json()["stops"][0]["job_id"]
    r = client.post(f"/jobs/{gone}/cancel", json={"reason": "moved"}, headers=auth("admin"))
    assert r.status_code == 200
    changed = client.get(url, params=params, headers={**driver, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert gone not in {s["job_id"] for s in changed.json()["stops"]}
    assert len(changed.json()["stops"]) == len(first.json()["stops"]) - 1

    # a reported event shows as the stop's live status, with a new ETag again
    job = changed.json()["stops"][0]["job_id"]
    r = client.post(
        f"/jobs/{job}/events",
        json={"type": "departed", "device_time": f"{DAY}T08:30"},
        headers={**driver, "Idempotency-Key": "dep-1"},
    )
    assert r.status_code == 201, r.text
    moving = client.get(
        url, params=params, headers={**driver, "If-None-Match": changed.headers["etag"]}
    )
    assert moving.status_code == 200 and moving.json()["stops"][0]["status"] == "en_route"


def test_a_304_builds_no_body_and_a_corrected_phone_changes_the_etag(published, auth, monkeypatch):
    """The ETag comes from the plan version and the jobs' statuses and row versions: a
    matching If-None-Match is answered before any body is built, and a change only the body
    would show (the office corrects a customer's phone number) still moves the ETag."""
    import api.http.routers.routes as routes

    client, _ = published
    crew = busy_crew(client, auth)
    driver = auth("driver", crew)
    url, params = "/me/route", {"date": DAY}
    first = client.get(url, params=params, headers=driver)
    etag = first.headers["etag"]
    built = []
    real = routes._with_live_jobs
    monkeypatch.setattr(routes, "_with_live_jobs", lambda *a: built.append(1) or real(*a))
    again = client.get(url, params=params, headers={**driver, "If-None-Match": etag})
    assert again.status_code == 304 and built == []

    job_id = first.json()["stops"][0]["job_id"]
    with client.app.state.ctx.sessions() as session:  # the office corrects the phone number
        row = session.get(JobRow, job_id)
        row.record = {**row.record, "customer_phone": "+86 138 0000 0000"}
        session.commit()
    changed = client.get(url, params=params, headers={**driver, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag and built == [1]
    stop = next(s for s in changed.json()["stops"] if s["job_id"] == job_id)
    assert stop["customer_phone"] == "+86 138 0000 0000"


def test_parsed_plans_are_cached_per_plan_version(published, auth):
    client, plan_id = published
    crew = busy_crew(client, auth)
    first = client.get(f"/routes/{crew}", params={"date": DAY}, headers=auth("dispatcher"))
    cached = [k for k in plan_cache._entries if k[0] == plan_id]
    assert len(cached) == 1
    entry = plan_cache._entries[cached[0]]
    again = client.get(f"/routes/{crew}", params={"date": DAY}, headers=auth("dispatcher"))
    assert again.content == first.content
    assert plan_cache._entries[cached[0]] is entry  # not parsed again


def test_plan_cache_is_bounded_and_loads_once():
    from dispatch.files.plan_io import plan_to_dict
    from dispatch.plan import Plan
    from fixtures.shanghai import demo_problem
    from tests.api_support import DEMO_DAY

    doc = plan_to_dict(Plan(demo_problem(day=DEMO_DAY, jobs=5), [], [], {}))
    loads = []

    def load() -> dict:
        loads.append(1)
        return json.loads(json.dumps(doc))

    cache = PlanCache(2)
    a = cache.get(("p", 1), load)
    assert cache.get(("p", 1), load) is a and len(loads) == 1
    assert a.route("DT001", True)["stops"] == []  # a crew of the problem without a route
    cache.get(("p", 2), load)
    cache.get(("q", 1), load)
    assert ("p", 1) not in cache._entries and len(cache._entries) == 2 and len(loads) == 3


def test_a_full_fetch_of_an_unchanged_route_reuses_the_built_body(published, auth, monkeypatch):
    """A phone fetching without If-None-Match gets the body built for the same ETag before
    (no contact read, no serialisation), byte for byte; a cancelled job moves the ETag and
    a fresh body is built without it."""
    import api.http.routers.routes as routes

    client, _ = published
    crew = busy_crew(client, auth)
    driver = auth("driver", crew)
    first = client.get("/me/route", params={"date": DAY}, headers=driver)
    built = []
    real = routes._with_live_jobs
    monkeypatch.setattr(routes, "_with_live_jobs", lambda *a: built.append(1) or real(*a))
    again = client.get("/me/route", params={"date": DAY}, headers=driver)
    assert again.status_code == 200 and again.content == first.content and built == []
    assert again.headers["etag"] == first.headers["etag"]

    job_id = first.json()["stops"][0]["job_id"]
    cancel = client.post(f"/jobs/{job_id}/cancel", json={"reason": "customer away"},
                         headers=auth("dispatcher"))  # fmt: skip
    assert cancel.status_code == 200, cancel.text
    after = client.get("/me/route", params={"date": DAY}, headers=driver)
    assert built == [1] and after.headers["etag"] != first.headers["etag"]
    assert job_id not in {s["job_id"] for s in after.json()["stops"]}


def test_the_body_cache_is_bounded_and_keyed_by_crew():
    from api.http.route_cache import BodyCache

    cache = BodyCache(2)
    cache.put("A", '"e"', b"a")
    cache.put("B", '"e"', b"b")  # two empty routes of one plan version share an ETag
    assert cache.get("A", '"e"') == b"a" and cache.get("B", '"e"') == b"b"
    cache.put("C", '"f"', b"c")
    assert cache.get("A", '"e"') is None and cache.get("C", '"f"') == b"c"
