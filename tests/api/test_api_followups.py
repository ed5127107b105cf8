"""Follow-up calls, the call centre's worklist, and callbacks (repeat visits) with their rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api.storage.models import FollowUpRow, JobRow, OutboxRow, WebhookRow
from tests.api_support import publish_demo_plan

pytestmark = pytest.mark.api

DAY = "2026-06-18"
WINDOWS = [{"start": "2026-06-25T09:00", "end": "2026-06-25T12:00"}]


@pytest.fixture
def published(seeded, settings):
    publish_demo_plan(seeded, settings)
    return seeded


def assigned(client, auth, kind: str, skip: int = 0) -> str:
    items = client.get(
        "/jobs", params={"status": "assigned", "kind": kind, "limit": 500}, headers=auth("admin")
    ).json()["items"]
    return items[skip]["id"]


def complete(client, auth, settings, job_id: str, days_ago: int = 3, fault: str | None = None):
    """Report the job completed, then date the completion `days_ago` before now (and set the
    original's fault) directly in the database, so the rules do not depend on the wall clock."""
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


def count(client, model, *where) -> int:
    with client.app.state.ctx.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


# ---- callbacks


def test_callback_for_a_repair_is_a_plannable_open_job(published, auth, settings):
    with published.app.state.ctx.sessions() as s, s.begin():
        s.add(
            WebhookRow(
                url="http://example.invalid/hook",
                secret="s" * 32,
                events=["callback.opened"],
                active=True,
                created_at=settings.now(),
            )
        )
    job = assigned(published, auth, "repair")
    complete(published, auth, settings, job, days_ago=170, fault="E4")
    body = {"windows": WINDOWS, "description": "leaking again"}
    r = published.post(f"/jobs/{job}/callbacks", json=body, headers=auth("dispatcher"))
    assert r.status_code == 201, r.text
    cb = r.json()
    assert cb["id"] == f"{job}-CB1" and cb["callback_of"] == job
    assert cb["kind"] == "repair" and cb["priority"] == "callback" and cb["status"] == "open"
    assert cb["fault"] == "E4" and cb["due_date"] == "2026-06-25"
    original = published.get(f"/jobs/{job}", headers=auth("dispatcher")).json()
    assert cb["order_id"] == original["order_id"]
    for key in ("lon", "lat", "category", "skills", "people", "address", "customer_phone"):
        assert cb["record"][key] == original["record"][key], key
    # planned like any job: it is in the open jobs the planner takes
    open_ids = [
        j["id"]
        for j in published.get(
            "/jobs", params={"status": "open", "limit": 500}, headers=auth("planner")
        ).json()["items"]
    ]
    assert cb["id"] in open_ids
    listed = published.get(f"/jobs/{job}/callbacks", headers=auth("manager")).json()["items"]
    assert [c["id"] for c in listed] == [cb["id"]] and "customer_phone" not in listed[0]["record"]
    # a second callback of the same job gets the next number
    r = published.post(
        f"/jobs/{job}/callbacks", json={"windows": WINDOWS, "fault": "E4"}, headers=auth("admin")
    )
    assert r.status_code == 201 and r.json()["id"] == f"{job}-CB2"
    with published.app.state.ctx.sessions() as s:
        notices = [r.payload["data"] for r in s.scalars(select(OutboxRow))]
    assert [n["job_id"] for n in notices] == [f"{job}-CB1", f"{job}-CB2"]
    assert notices[0]["callback_of"] == job and "customer_phone" not in notices[0]


def test_callback_rules(published, auth, settings):
    dispatcher = auth("dispatcher")
    repair = assigned(published, auth, "repair")
    r = published.post(f"/jobs/{repair}/callbacks", json={"windows": WINDOWS}, headers=dispatcher)
    assert r.status_code == 409  # not completed yet
    complete(published, auth, settings, repair, days_ago=200, fault="E4")
    r = published.post(f"/jobs/{repair}/callbacks", json={"windows": WINDOWS}, headers=dispatcher)
    assert r.status_code == 422
    done = (settings.now() - timedelta(days=200)).date().isoformat()
    assert r.json()["reasons"] == [f"outside the 180-day guarantee: completed {done}, 200 days ago"]
    with published.app.state.ctx.sessions() as s, s.begin():
        s.get(JobRow, repair).completed_at = settings.now() - timedelta(days=10)
    body = {"windows": WINDOWS, "fault": "E9"}
    r = published.post(f"/jobs/{repair}/callbacks", json=body, headers=dispatcher)
    assert r.status_code == 422
    assert "a different fault is a new repair, not a callback" in r.json()["reasons"][0]

    delivery = assigned(published, auth, "delivery")
    complete(published, auth, settings, delivery)
    r = published.post(f"/jobs/{delivery}/callbacks", json={"windows": WINDOWS}, headers=dispatcher)
    assert r.status_code == 422
    assert "open a return/exchange (pickup) job instead" in r.json()["reasons"][0]

    install = assigned(published, auth, "installation")
    complete(published, auth, settings, install, days_ago=31)
    r = published.post(f"/jobs/{install}/callbacks", json={"windows": WINDOWS}, headers=dispatcher)
    assert r.status_code == 422 and "30-day installation" in r.json()["reasons"][0]
    with published.app.state.ctx.sessions() as s, s.begin():
        s.get(JobRow, install).completed_at = settings.now() - timedelta(days=5)
    body = {"windows": WINDOWS, "fault": "drain pipe loose"}
    r = published.post(f"/jobs/{install}/callbacks", json=body, headers=dispatcher)
    assert r.status_code == 201 and r.json()["kind"] == "repair"
    assert count(published, JobRow, JobRow.callback_of.is_not(None)) == 1

    for role, code in (("planner", 403), ("driver", 403)):
        headers = auth(role, "RT001") if role == "driver" else auth(role)
        r = published.post(f"/jobs/{install}/callbacks", json={"windows": WINDOWS}, headers=headers)
        assert r.status_code == code
    r = published.post(f"/jobs/{install}/callbacks", json={"windows": []}, headers=dispatcher)
    assert r.status_code == 422
    r = published.post("/jobs/NOPE/callbacks", json={"windows": WINDOWS}, headers=dispatcher)
    assert r.status_code == 404


# ---- follow-up calls


def test_follow_up_needs_a_completed_job(published, auth):
    job = assigned(published, auth, "repair")
    r = published.post(f"/jobs/{job}/follow-ups", json={"reached": True}, headers=auth("manager"))
    assert r.status_code == 409 and "completed" in r.json()["detail"]


def test_follow_ups_and_the_worklist(published, auth, settings):
    first = assigned(published, auth, "delivery")
    second = assigned(published, auth, "delivery", skip=1)
    complete(published, auth, settings, first, days_ago=2)
    complete(published, auth, settings, second, days_ago=0)
    today = settings.now().date().isoformat()

    due = published.get("/follow-ups/due", params={"date": today}, headers=auth("dispatcher"))
    assert due.status_code == 200
    assert [d["job"]["id"] for d in due.json()["items"]] == [first, second]
    assert due.json()["items"][0]["job"]["record"]["customer_phone"]  # the call centre calls
    only_today = published.get(
        "/follow-ups/due", params={"date": today, "backlog": False}, headers=auth("manager")
    ).json()
    assert [d["job"]["id"] for d in only_today["items"]] == [second]
    assert "customer_phone" not in only_today["items"][0]["job"]["record"]

    # an explicit time: the second call below is at 10:00, and "now" may be later in the day
    missed = {"reached": False, "called_at": f"{today}T00:05:00+08:00"}
    r = published.post(f"/jobs/{first}/follow-ups", json=missed, headers=auth("manager"))
    assert r.status_code == 201 and r.json()["caller"] == "test-manager"
    due = published.get("/follow-ups/due", params={"date": today}, headers=auth("dispatcher"))
    assert due.json()["items"][0]["calls"] == 1 and due.json()["total"] == 2

    call = {"reached": True, "satisfied": True, "called_at": f"{today}T10:00:00+08:00"}
    r = published.post(f"/jobs/{first}/follow-ups", json=call, headers=auth("dispatcher"))
    assert r.status_code == 201 and r.json()["callback_job_id"] is None
    due = published.get("/follow-ups/due", params={"date": today}, headers=auth("dispatcher"))
    assert [d["job"]["id"] for d in due.json()["items"]] == [second]
    calls = published.get(f"/jobs/{first}/follow-ups", headers=auth("admin")).json()["items"]
    assert [c["reached"] for c in calls] == [False, True]
    assert calls[1]["called_at"] == f"{today}T10:00:00"

    assert published.get(f"/jobs/{first}/follow-ups", headers=auth("planner")).status_code == 403
    r = published.post(
        f"/jobs/{first}/follow-ups", json={"reached": True}, headers=auth("driver", "DT001")
    )
    assert r.status_code == 403
    r = published.post(
        f"/jobs/{first}/follow-ups",
        json={"reached": False, "satisfied": True},
        headers=auth("manager"),
    )
    assert r.status_code == 422  # nobody answered: no answers


def test_follow_up_with_a_problem_opens_a_callback(published, auth, settings):
    job = assigned(published, auth, "repair")
    complete(published, auth, settings, job, days_ago=20, fault="E2")
    call = {
        "reached": True,
        "satisfied": False,
        "problem_reported": True,
        "problem": "noise is back",
        "open_callback": True,
        "callback": {"windows": WINDOWS},
    }
    r = published.post(f"/jobs/{job}/follow-ups", json=call, headers=auth("manager"))
    assert r.status_code == 201, r.text
    assert r.json()["callback_job_id"] == f"{job}-CB1"
    assert r.json()["callback"]["priority"] == "callback"
    assert r.json()["callback"]["fault"] == "E2"
    stored = published.get(f"/jobs/{job}/follow-ups", headers=auth("manager")).json()["items"]
    assert stored[0]["callback_job_id"] == f"{job}-CB1"
    cb = published.get(f"/jobs/{job}-CB1", headers=auth("dispatcher")).json()
    assert cb["callback_of"] == job and cb["status"] == "open"

    # a refused callback stores nothing, not even the call
    bad = dict(call, callback={"windows": WINDOWS, "fault": "E7"})
    r = published.post(f"/jobs/{job}/follow-ups", json=bad, headers=auth("manager"))
    assert r.status_code == 422 and "different fault" in r.json()["reasons"][0]
    assert count(published, FollowUpRow, FollowUpRow.job_id == job) == 1
    # a callback needs its details, and a problem
    r = published.post(
        f"/jobs/{job}/follow-ups", json=dict(call, callback=None), headers=auth("manager")
    )
    assert r.status_code == 422
    r = published.post(
        f"/jobs/{job}/follow-ups",
        json=dict(call, problem_reported=False),
        headers=auth("manager"),
    )
    assert r.status_code == 422
