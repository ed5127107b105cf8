"""Phone clocks the service cannot trust: a device time far from the job's day is kept on
record but ordered by the receive time, and never locks a visit; an offline phone's queue is
never refused for its age; the office can always close a visit (complete or fail it on the
crew's behalf, or cancel it while nothing has happened at the customer's); a re-plan is not
blocked by a wrong clock."""

from __future__ import annotations

from datetime import datetime

import pytest

from api.storage.models import JobRow
from tests.api_support import publish_demo_plan

pytestmark = pytest.mark.api

DAY = "2026-06-18"


@pytest.fixture
def published(seeded, settings):
    """The seeded day with its plan published: (client, plan id); jobs are `assigned`."""
    return seeded, publish_demo_plan(seeded, settings)


def assigned(client, auth, skip: int = 0) -> tuple[str, str]:
    items = client.get(
        "/jobs", params={"status": "assigned", "limit": 500}, headers=auth("dispatcher")
    ).json()["items"]
    return items[skip]["id"], items[skip]["crew_id"]


def post(client, headers, job_id: str, key: str, type_: str, device_time: str, **extra):
    body = {"type": type_, "device_time": device_time, **extra}
    return client.post(
        f"/jobs/{job_id}/events", json=body, headers={**headers, "Idempotency-Key": key}
    )


def status_of(client, auth, job_id: str) -> str:
    return client.get(f"/jobs/{job_id}", headers=auth("dispatcher")).json()["status"]


def test_a_clock_years_ahead_is_kept_but_does_not_lock_the_visit(published, auth, settings):
    client, _ = published
    job, crew = assigned(client, auth)
    driver = auth("driver", crew)
    before = settings.now()
    bogus = post(client, driver, job, "d", "departed", "2030-06-18T09:00")
    assert bogus.status_code == 201, bogus.text
    # the real reports of the visit are accepted (this `arrived` was a 409 before)
    arrived = post(client, driver, job, "a", "arrived", f"{DAY}T09:40")
    assert arrived.status_code == 201, arrived.text
    started = post(client, driver, job, "s", "started", f"{DAY}T09:45")
    assert started.status_code == 201, started.text
    assert status_of(client, auth, job) == "in_progress"
    event = bogus.json()
    assert event["device_time"] == "2030-06-18T09:00:00"  # the phone's claim, on record
    assert event["device_time_believed"] is False
    assert event["effective_time"] == event["received_at"]  # ordered by the server's clock
    assert datetime.fromisoformat(event["received_at"]) >= before
    for r, at in ((arrived, "09:40"), (started, "09:45")):
        assert r.json()["device_time_believed"] is True
        assert r.json()["effective_time"] == r.json()["device_time"] == f"{DAY}T{at}:00"
    done = post(client, driver, job, "c", "completed", f"{DAY}T10:20")
    assert done.status_code == 201, done.text
    assert status_of(client, auth, job) == "completed"
    with client.app.state.ctx.sessions() as s:
        row = s.get(JobRow, job)
        assert row.arrived_at == datetime.fromisoformat(f"{DAY}T09:40")
        assert row.completed_at == datetime.fromisoformat(f"{DAY}T10:20")
    listed = client.get(f"/jobs/{job}/events", headers=driver).json()["items"]
    assert {e["type"]: e["device_time_believed"] for e in listed} == {
        "departed": False,
        "arrived": True,
        "started": True,
        "completed": True,
    }
    assert all(set(e) >= {"device_time", "received_at", "effective_time"} for e in listed)
    # the stage rules still hold whatever the clock: a second departure is refused
    r = post(client, driver, job, "d2", "departed", f"{DAY}T09:00")
    assert r.status_code == 409 and "only once" in r.json()["detail"]
    # and the board's feed shows the same fields
    feed = client.get(
        "/events/feed", params={"date": DAY, "region": "urban"}, headers=auth("dispatcher")
    ).json()
    mine = [i for i in feed["items"] if i["job_id"] == job]
    assert [i["device_time_believed"] for i in mine if i["type"] == "departed"] == [False]


def test_a_reset_clock_and_an_old_queue_are_never_refused(published, auth):
    client, _ = published
    job, crew = assigned(client, auth)
    driver = auth("driver", crew)
    # a phone whose clock went back to the Unix epoch (was a 422 before)
    r = post(client, driver, job, "d", "departed", "1970-01-01T00:00:05")
    assert r.status_code == 201, r.text
    assert r.json()["device_time"] == "1970-01-01T00:00:05"
    assert r.json()["device_time_believed"] is False
    # the offline queue of the job's day, arriving months later in the tests' clock: believed
    # and slotted in by its device time, in any order
    for key, type_, at in (("s", "started", "09:45"), ("a", "arrived", "09:40")):
        r = post(client, driver, job, key, type_, f"{DAY}T{at}")
        assert r.status_code == 201 and r.json()["device_time_believed"] is True, r.text
    listed = client.get(f"/jobs/{job}/events", headers=driver).json()["items"]
    believed = [e["type"] for e in listed if e["device_time_believed"]]
    assert believed == ["arrived", "started"]
    # the day before the planned day still counts as the job's days (a night departure)
    other, other_crew = assigned(client, auth, skip=1)
    r = post(client, auth("driver", other_crew), other, "n", "departed", "2026-06-17T00:00")
    assert r.status_code == 201 and r.json()["device_time_believed"] is True
    r = post(client, auth("driver", other_crew), other, "n0", "arrived", "2026-06-16T23:59")
    assert r.status_code == 201 and r.json()["device_time_believed"] is False


def test_the_office_closes_a_visit_whatever_the_phone_reported(published, auth):
    client, _ = published
    office = auth("dispatcher")
    # a phone running a few minutes fast: its `started` is later than the office's clock
    job, crew = assigned(client, auth)
    driver = auth("driver", crew)
    assert post(client, driver, job, "a", "arrived", f"{DAY}T09:58").status_code == 201
    assert post(client, driver, job, "s", "started", f"{DAY}T10:05").status_code == 201
    r = post(client, driver, job, "c", "completed", f"{DAY}T10:00")  # from the phone: refused
    assert r.status_code == 409 and "completed earlier" in r.json()["detail"]
    r = post(client, office, job, "office-c", "completed", f"{DAY}T10:00")  # was a 409 before
    assert r.status_code == 201, r.text
    assert status_of(client, auth, job) == "completed"
    r = client.post(f"/jobs/{job}/cancel", json={"reason": "moved"}, headers=office)
    assert r.status_code == 409  # a completed job is settled
    # the stage rules hold for the office too
    r = post(client, office, job, "office-f", "failed", f"{DAY}T10:01", reason="other")
    assert r.status_code == 409 and "cannot also be" in r.json()["detail"]

    # a crew on its way, with a clock years ahead: the dispatcher can call the job off
    other, other_crew = assigned(client, auth, skip=1)
    r = post(client, auth("driver", other_crew), other, "d2", "departed", "2030-01-01T08:00")
    assert r.status_code == 201
    assert status_of(client, auth, other) == "en_route"
    r = client.post(f"/jobs/{other}/cancel", json={"reason": "customer away"}, headers=office)
    assert r.status_code == 200, r.text  # was a 409 before (only open or assigned)
    assert r.json()["status"] == "cancelled"
    r = client.post(f"/jobs/{other}/cancel", json={"reason": "again"}, headers=office)
    assert r.status_code == 409
    # a visit reached: the office closes it by reporting it, not by cancelling it
    third, third_crew = assigned(client, auth, skip=2)
    r = post(client, auth("driver", third_crew), third, "a3", "arrived", "2030-01-01T08:00")
    assert r.status_code == 201
    r = client.post(f"/jobs/{third}/cancel", json={"reason": "customer away"}, headers=office)
    assert r.status_code == 409 and "completed or failed" in r.json()["detail"]
    r = post(client, office, third, "f3", "failed", f"{DAY}T08:00", reason="customer_absent")
    assert r.status_code == 201, r.text
    assert status_of(client, auth, third) == "failed"


def test_a_wrong_clock_does_not_block_a_re_plan(published, auth):
    client, plan_id = published
    job, crew = assigned(client, auth)
    r = post(client, auth("driver", crew), job, "d", "departed", "2030-06-18T09:00")
    assert r.status_code == 201
    r = client.post(
        f"/plans/{plan_id}/replan",
        json={"at": f"{DAY}T11:00", "time_limit_s": 3, "solution_limit": 30},
        headers=auth("dispatcher"),
    )
    assert r.status_code == 202, r.text  # was a 422: "before the plan's last reported event"
