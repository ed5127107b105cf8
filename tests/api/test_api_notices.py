"""Customer notices: written with the publication (an `eta` per assigned job on a first
publication; on a replacement only moved-beyond-tolerance `eta_changed` and `late`), never
twice (dedupe key), superseded when a newer time replaces an unsent one; delivered through a
signed webhook to a real loopback receiver with the notice id as idempotency key, retried
with backoff, dead after the last attempt and retried by hand; listed by role (phones only
for dispatchers and admins); phones never logged."""

from __future__ import annotations

import copy
import functools
import json
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.background.notice_sender import (
    NoticeWorker,
    NullNoticeSender,
    WebhookNoticeSender,
    deliver_due_notices,
)
from api.principals import Principal, Role
from api.services.notices import (
    NO_PHONE,
    assignments,
    notice_text,
    queue_publication_notices,
    round_eta,
)
from api.services.publication import publish_plan
from api.storage.models import AuditRow, CustomerNoticeRow, JobRow, PlanRow
from fixtures.shanghai import demo_problem
from tests.api_support import DEMO_DAY, bearer
from tests.signed_receiver import SignedReceiver

pytestmark = pytest.mark.api

SECRET = "notice-secret-0123456789"


@functools.cache
def _demo_result() -> str:
    """The 30-job demo day planned once per test session (as JSON text, copied per use)."""
    from dispatch.files.plan_io import plan_to_dict
    from dispatch.planning.planner import PlanOptions, make_plan
    from fixtures.shanghai import demo_problem

    plan = make_plan(
        demo_problem(day=DEMO_DAY, jobs=30), PlanOptions(time_limit_s=10, solution_limit=50)
    )
    return json.dumps(plan_to_dict(plan))


def demo_result() -> dict[str, Any]:
    return json.loads(_demo_result())


def publish(client: TestClient, result: dict[str, Any], replaces: str | None = None) -> str:
    """Store `result` as a succeeded plan and publish it (replacing `replaces`)."""
    ctx = client.app.state.ctx
    now = ctx.settings.now()
    plan_id = str(uuid.uuid4())
    with ctx.sessions() as session, session.begin():
        row = PlanRow(
            id=plan_id, region="urban", day=DEMO_DAY, zones=[], status="succeeded",
            progress=1.0, message="done", options={}, result=result, created_by="test",
            created_at=now, finished_at=now,
        )  # fmt: skip
        session.add(row)
        session.flush()
        publish_plan(session, row, now, Principal("test", Role.DISPATCHER), replaces=replaces)
    return plan_id


def notices(client: TestClient, **where: Any) -> list[CustomerNoticeRow]:
    with client.app.state.ctx.sessions() as session:
        query = select(CustomerNoticeRow).order_by(CustomerNoticeRow.id)
        for key, value in where.items():
            query = query.where(getattr(CustomerNoticeRow, key) == value)
        return list(session.scalars(query))


def stops(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for r in result["routes"] for s in r["stops"]]


def shift(stop: dict[str, Any], minutes: int) -> None:
    """Move a stop's times in a stored result by `minutes` (deadline kept)."""
    for key in ("arrival", "start", "end"):
        moved = datetime.fromisoformat(stop[key]) + timedelta(minutes=minutes)
        stop[key] = moved.isoformat()


# ---- texts


def test_eta_is_rounded_to_five_minutes_and_texts_are_documented():
    at = datetime(2026, 6, 18, 13, 57, 40)
    assert round_eta(at) == datetime(2026, 6, 18, 14, 0)
    assert round_eta(datetime(2026, 6, 18, 13, 52, 29)) == datetime(2026, 6, 18, 13, 50)
    assert round_eta(datetime(2026, 6, 18, 13, 52, 30)) == datetime(2026, 6, 18, 13, 55)
    assert round_eta(datetime(2026, 6, 18, 23, 58)) == datetime(2026, 6, 19, 0, 0)
    eta = datetime(2026, 6, 18, 14, 0)
    assert notice_text("eta", eta, 30) == (
        "Arriving about 14:00 (between 13:30 and 14:30), please have someone at home."
    )
    assert notice_text("eta_changed", eta, 15).startswith("New arrival time: about 14:00")
    assert "(between 13:45 and 14:15)" in notice_text("eta_changed", eta, 15)
    assert notice_text("late", eta, 30).startswith("Sorry, the crew is running late")


# ---- writing notices with publications


def test_first_publication_tells_every_assigned_customer_once(seeded, caplog):
    caplog.set_level(logging.DEBUG)
    result = demo_result()
    plan_id = publish(seeded, result)
    rows = notices(seeded)
    with seeded.app.state.ctx.sessions() as session:
        assigned = {
            j.id: j for j in session.scalars(select(JobRow).where(JobRow.status == "assigned"))
        }
    planned = {s["job_id"]: s for s in stops(result)}
    assert assigned and set(assigned) <= set(planned)
    assert sorted(n.job_id for n in rows) == sorted(assigned)  # one per assigned job
    for n in rows:
        assert n.kind == "eta" and n.status == "pending" and n.plan_id == plan_id
        assert n.eta == round_eta(datetime.fromisoformat(planned[n.job_id]["start"]))
        # the arrival text, then the customer's tracking link (tests/api/test_api_tracking.py)
        text, link = n.message.split(" Follow your visit: ")
        assert text == notice_text("eta", n.eta, 30) and link.startswith("/track/")
        assert n.phone == assigned[n.job_id].record["customer_phone"] and n.phone
        assert n.dedupe_key == f"{plan_id}:{n.job_id}:eta:{n.eta:%H:%M}"
    with seeded.app.state.ctx.sessions() as session:
        entry = session.scalar(select(AuditRow).where(AuditRow.action == "plan_published"))
        assert entry.details["customer_notices"]["eta"] == len(rows)
    phones = {n.phone for n in rows}
    assert not [p for p in phones if p in caplog.text]  # never logged


def test_republication_tells_only_moves_beyond_the_tolerance_and_lateness(seeded):
    first = publish(seeded, demo_result())
    told = {n.job_id: n for n in notices(seeded)}

    same = publish(seeded, demo_result(), replaces=first)
    assert notices(seeded, plan_id=same) == []  # nothing moved: nobody is told again

    moved = demo_result()
    windows = {j.id: j.windows for j in demo_problem(day=DEMO_DAY, jobs=30).jobs}

    def in_window_after(stop: dict[str, Any], minutes: int) -> bool:
        start = datetime.fromisoformat(stop["start"]) + timedelta(minutes=minutes)
        return any(w.start <= start <= w.end for w in windows[stop["job_id"]])

    # three stops on time whose first two stay inside their windows when moved: the moves
    # alone must not make them late, whatever route the planner chose for them
    route = next(
        r
        for r in moved["routes"]
        if len(r["stops"]) >= 3
        and all(s["slack_minutes"] >= 0 for s in r["stops"][:3])
        and in_window_after(r["stops"][0], 20)
        and in_window_after(r["stops"][1], 45)
    )
    small, far, late = route["stops"][:3]
    shift(small, 20)  # within the 30-minute tolerance
    shift(far, 45)  # beyond it, still before the deadline
    far["deadline"] = (datetime.fromisoformat(far["end"]) + timedelta(hours=2)).isoformat()
    late["deadline"] = (datetime.fromisoformat(late["end"]) - timedelta(minutes=1)).isoformat()
    third = publish(seeded, moved, replaces=same)
    written = {n.job_id: n for n in notices(seeded, plan_id=third)}
    assert set(written) == {far["job_id"], late["job_id"]}
    assert written[far["job_id"]].kind == "eta_changed"
    assert written[far["job_id"]].eta == round_eta(datetime.fromisoformat(far["start"]))
    assert written[late["job_id"]].kind == "late"
    assert written[late["job_id"]].message.startswith("Sorry, the crew is running late")
    # the unsent first notices of those two jobs are superseded by the new ones
    for job_id in written:
        assert notices(seeded, id=told[job_id].id)[0].status == "superseded"
    assert notices(seeded, id=told[small["job_id"]].id)[0].status == "pending"

    # still late, same time: no second apology
    fourth = publish(seeded, copy.deepcopy(moved), replaces=third)
    assert notices(seeded, plan_id=fourth) == []


def test_writing_a_publications_notices_twice_adds_nothing(seeded):
    plan_id = publish(seeded, demo_result())
    before = len(notices(seeded))
    ctx = seeded.app.state.ctx
    with ctx.sessions() as session, session.begin():
        row = session.get(PlanRow, plan_id)
        jobs = {j.id: j for j in session.scalars(select(JobRow))}
        counts = queue_publication_notices(
            session,
            plan_id,
            DEMO_DAY,
            assignments(row.result, jobs),
            ctx.settings.now(),
            replaces=None,
        )
    assert counts == {"eta": 0, "eta_changed": 0, "late": 0}
    assert len(notices(seeded)) == before
    # and the unique key holds even if the check above were bypassed
    from sqlalchemy.exc import IntegrityError

    existing = notices(seeded)[0]
    with pytest.raises(IntegrityError), ctx.sessions() as session, session.begin():
        dup = CustomerNoticeRow(
            job_id=existing.job_id, plan_id=plan_id, kind="eta", eta=existing.eta,
            message="x", phone="1", status="pending", attempts=0,
            next_attempt_at=existing.created_at, created_at=existing.created_at,
            dedupe_key=existing.dedupe_key,
        )  # fmt: skip
        session.add(dup)


def test_a_job_without_a_phone_gets_a_dead_notice_that_says_why(seeded, auth):
    result = demo_result()
    job_id = stops(result)[0]["job_id"]
    with seeded.app.state.ctx.sessions() as session, session.begin():
        job = session.get(JobRow, job_id)
        job.record = {**job.record, "customer_phone": ""}
    publish(seeded, result)
    (row,) = notices(seeded, job_id=job_id)
    assert row.status == "dead" and row.last_error == NO_PHONE
    office = auth("dispatcher")
    r = seeded.post(f"/notices/{row.id}/retry", headers=office)
    assert r.status_code == 409 and r.json()["field"] == "phone"
    with seeded.app.state.ctx.sessions() as session, session.begin():
        job = session.get(JobRow, job_id)
        job.record = {**job.record, "customer_phone": "13900000000"}
    r = seeded.post(f"/notices/{row.id}/retry", headers=office)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending" and r.json()["phone"] == "13900000000"


# ---- the API


def test_listing_by_role_and_filters(seeded, auth):
    plan_id = publish(seeded, demo_result())
    rows = notices(seeded)
    r = seeded.get("/notices", params={"plan_id": plan_id, "limit": 500}, headers=auth("admin"))
    assert r.status_code == 200 and r.json()["total"] == len(rows)
    assert all(item["phone"] for item in r.json()["items"])
    assert r.json()["items"][0]["id"] == rows[-1].id  # newest first
    for role in ("manager", "planner"):
        r = seeded.get("/notices", headers=auth(role))
        assert r.status_code == 200 and r.json()["items"]
        assert all("phone" not in item for item in r.json()["items"])
        assert not [n.phone for n in rows if n.phone in r.text]
    assert seeded.get("/notices", headers=auth("driver", "DT001")).status_code == 403
    job = rows[0].job_id
    r = seeded.get("/notices", params={"job_id": job}, headers=auth("dispatcher"))
    assert [i["job_id"] for i in r.json()["items"]] == [job]
    r = seeded.get("/notices", params={"status": "sent"}, headers=auth("dispatcher"))
    assert r.json()["total"] == 0
    r = seeded.get("/notices", params={"status": "lost"}, headers=auth("dispatcher"))
    assert r.status_code == 422


def test_retry_only_dead_notices_by_office_roles(seeded, auth):
    publish(seeded, demo_result())
    row = notices(seeded)[0]
    office = auth("dispatcher")
    r = seeded.post(f"/notices/{row.id}/retry", headers=office)
    assert r.status_code == 409 and r.json()["current_status"] == "pending"
    assert seeded.post("/notices/999999/retry", headers=office).status_code == 404
    assert seeded.post(f"/notices/{row.id}/retry", headers=auth("manager")).status_code == 403


# ---- delivery


class Gateway(SignedReceiver):
    """Stands in for an SMS gateway: checks signatures, answers 500 to the first
    `fail_first` requests (all when negative), then 200."""

    def __init__(self, fail_first: int = 0) -> None:
        super().__init__(fail_first, secret=SECRET, path="/sms", ok_status=200)


@pytest.fixture
def gateway() -> Iterator[Any]:
    made: list[Gateway] = []

    def make(fail_first: int = 0) -> Gateway:
        made.append(Gateway(fail_first))
        return made[-1]

    yield make
    for g in made:
        g.close()


def _one_notice(client: TestClient) -> CustomerNoticeRow:
    """Publish the demo plan and keep one pending notice (the others marked sent)."""
    publish(client, demo_result())
    rows = notices(client)
    with client.app.state.ctx.sessions() as session, session.begin():
        for n in rows[1:]:
            session.get(CustomerNoticeRow, n.id).status = "sent"
    return rows[0]


def test_webhook_sender_delivers_signed_with_the_notice_id_as_idempotency_key(
    seeded, gateway, caplog
):
    caplog.set_level(logging.DEBUG)
    gw = gateway(fail_first=2)
    notice = _one_notice(seeded)
    ctx = seeded.app.state.ctx
    sender = WebhookNoticeSender(gw.url, SECRET)
    try:
        now = ctx.settings.now()
        assert deliver_due_notices(ctx, sender, now) == 1  # 500
        (row,) = notices(seeded, id=notice.id)
        assert row.status == "pending" and row.attempts == 1 and row.last_error == "HTTP 500"
        assert deliver_due_notices(ctx, sender, now) == 0  # backing off
        later = now + timedelta(seconds=1)
        assert deliver_due_notices(ctx, sender, later) == 1  # 500 again
        assert deliver_due_notices(ctx, sender, later + timedelta(seconds=2)) == 1  # 200
    finally:
        sender.close()
    (row,) = notices(seeded, id=notice.id)
    assert row.status == "sent" and row.attempts == 3 and row.sent_at and row.last_error is None
    assert len(gw.requests) == 3 and all(r["valid"] for r in gw.requests)
    keys = {r["headers"]["Idempotency-Key"] for r in gw.requests}
    assert keys == {f"notice-{notice.id}"}  # the same key on every retry
    body = gw.requests[-1]["body"]
    assert body == {
        "notice_id": notice.id,
        "job_id": notice.job_id,
        "kind": "eta",
        "eta": notice.eta.isoformat(timespec="minutes"),
        "phone": notice.phone,
        "message": notice.message,
    }
    assert notice.phone not in caplog.text and notice.message not in caplog.text


def test_failing_gateway_goes_dead_after_max_attempts_and_can_be_retried(tmp_path, gateway, auth):
    from api.http.app import create_app
    from api.services.seed import seed_demo
    from tests.api_support import make_settings

    settings = make_settings(tmp_path, webhook_max_attempts=3)
    gw = gateway(fail_first=-1)
    with TestClient(create_app(settings)) as client:
        seed_demo(client.app.state.ctx.sessions, settings.now(), day=DEMO_DAY, jobs=30)
        notice = _one_notice(client)
        ctx = client.app.state.ctx
        sender = WebhookNoticeSender(gw.url, SECRET)
        try:
            now = settings.now()
            for k in range(3):
                assert deliver_due_notices(ctx, sender, now + timedelta(minutes=k)) == 1
            assert deliver_due_notices(ctx, sender, now + timedelta(hours=1)) == 0
            (row,) = notices(client, id=notice.id)
            assert row.status == "dead" and row.attempts == 3 and row.last_error == "HTTP 500"

            office = bearer(settings, "dispatcher")
            r = client.post(f"/notices/{notice.id}/retry", headers=office)
            assert r.status_code == 200 and r.json()["status"] == "pending"
            assert r.json()["attempts"] == 0
            gw.fail_first = 0
            assert deliver_due_notices(ctx, sender, settings.now() + timedelta(seconds=1)) == 1
        finally:
            sender.close()
        (row,) = notices(client, id=notice.id)
        assert row.status == "sent" and row.attempts == 1
        with ctx.sessions() as session:
            actions = session.scalars(select(AuditRow.action)).all()
        assert "notice_retried" in actions


def test_without_a_gateway_notices_stay_pending(seeded):
    publish(seeded, demo_result())
    ctx = seeded.app.state.ctx
    assert deliver_due_notices(ctx, NullNoticeSender()) == 0
    assert {n.status for n in notices(seeded)} == {"pending"}
    assert {n.attempts for n in notices(seeded)} == {0}


def test_the_worker_thread_delivers_when_woken_and_a_retried_claim_is_not_resent(seeded, gateway):
    gw = gateway()
    notice = _one_notice(seeded)
    ctx = seeded.app.state.ctx
    worker = NoticeWorker(ctx, WebhookNoticeSender(gw.url, SECRET))
    worker.start()
    try:
        worker.wake()
        deadline = time.monotonic() + 10
        while notices(seeded, id=notice.id)[0].status != "sent":
            assert time.monotonic() < deadline, "the notice was not sent"
            time.sleep(0.05)
    finally:
        worker.stop()
    assert len(gw.requests) == 1
    # a second pass (another process, a restart) finds nothing to send
    sender = WebhookNoticeSender(gw.url, SECRET)
    try:
        assert deliver_due_notices(ctx, sender, ctx.settings.now() + timedelta(hours=1)) == 0
    finally:
        sender.close()
    assert len(gw.requests) == 1


def test_the_running_service_sends_notices_on_publication(tmp_path, gateway):
    """The app's own notice sender (started in its lifespan) delivers what a publication
    through the API queued, to the configured gateway."""
    from api.http.app import create_app
    from api.services.seed import seed_demo
    from tests.api_support import make_settings

    gw = gateway()
    settings = make_settings(
        tmp_path,
        background_workers=True,
        notice_webhook_url=gw.url,
        notice_webhook_secret=SECRET,
    )
    with TestClient(create_app(settings)) as client:
        ctx = client.app.state.ctx
        assert "notices" in ctx.workers
        seed_demo(ctx.sessions, settings.now(), day=DEMO_DAY, jobs=30)
        now = settings.now()
        plan_id = str(uuid.uuid4())
        with ctx.sessions() as session, session.begin():
            session.add(
                PlanRow(
                    id=plan_id, region="urban", day=DEMO_DAY, zones=[], status="succeeded",
                    progress=1.0, message="done", options={}, result=demo_result(),
                    created_by="test", created_at=now, finished_at=now,
                )
            )  # fmt: skip
        r = client.post(
            f"/plans/{plan_id}/publish", json={"version": 1}, headers=bearer(settings, "admin")
        )
        assert r.status_code == 200, r.text
        expected = len(notices(client))
        assert expected
        deadline = time.monotonic() + 15
        while {n.status for n in notices(client)} != {"sent"}:
            assert time.monotonic() < deadline, "the service did not send its notices"
            time.sleep(0.05)
    assert len(gw.requests) == expected and all(r["valid"] for r in gw.requests)
    assert len({r["body"]["notice_id"] for r in gw.requests}) == expected
