"""Webhooks: registration (admin only, secret shown once), signed at-least-once delivery to a
real local HTTP receiver with retries and backoff, dead letters and their retry, restart
safety, and the events the service emits (job status changes, plan publications)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.background.webhook_sender import WebhookSender, backoff_delay, deliver_due
from api.http.app import create_app
from api.services.outbox import enqueue
from api.settings import Settings
from api.storage.models import OutboxRow
from api.storage.webhook_secrets import secret_box
from tests.api_support import bearer, make_settings, publish_demo_plan
from tests.signed_receiver import SignedReceiver

pytestmark = pytest.mark.api


class Receiver(SignedReceiver):
    """The subscriber: answers 500 to the first `fail_first` requests, then 204 (401 to a
    request whose signature does not verify)."""

    def __init__(self, fail_first: int = 0) -> None:
        super().__init__(fail_first, path="/hooks/fieldroute")


@pytest.fixture
def receiver() -> Iterator[Any]:
    made: list[Receiver] = []

    def make(fail_first: int = 0) -> Receiver:
        made.append(Receiver(fail_first))
        return made[-1]

    yield make
    for r in made:
        r.close()


def closed_port_url() -> str:
    """A URL nothing listens on (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/gone"


def register(client: TestClient, settings: Settings, url: str, events=("*",)) -> dict:
    response = client.post(
        "/webhooks",
        json={"url": url, "events": list(events), "description": "order system"},
        headers=bearer(settings, "admin"),
    )
    assert response.status_code == 201, response.text
    return response.json()


def queue(client: TestClient, event_type: str = "callback.opened", **data: Any) -> None:
    ctx = client.app.state.ctx
    with ctx.sessions() as session, session.begin():
        enqueue(session, event_type, data or {"job_id": "J1"}, ctx.settings.now())


def outbox(client: TestClient) -> list[OutboxRow]:
    with client.app.state.ctx.sessions() as session:
        return list(session.query(OutboxRow).order_by(OutboxRow.id))


def new_job(client: TestClient, settings: Settings, job_id: str = "J1") -> None:
    response = client.post(
        "/jobs",
        json={
            "id": job_id,
            "kind": "repair",
            "lon": 121.47,
            "lat": 31.23,
            "windows": [{"start": "2026-06-18T09:00:00", "end": "2026-06-18T12:00:00"}],
        },
        headers=bearer(settings, "dispatcher"),
    )
    assert response.status_code == 201, response.text


# --- registration ---------------------------------------------------------------------------


def test_register_shows_the_secret_once_and_lists_without_it(client, settings, auth):
    created = register(client, settings, "https://orders.example.com/hook?key=abc")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["events"] == ["*"] and created["active"] is True

    listed = client.get("/webhooks", headers=auth("admin"))
    assert listed.status_code == 200
    assert listed.json()["items"][0]["id"] == created["id"]
    assert "secret" not in listed.json()["items"][0]
    assert created["secret"] not in listed.text


def test_register_validates_url_and_events(client, auth):
    def post(body: dict) -> int:
        return client.post("/webhooks", json=body, headers=auth("admin")).status_code

    assert post({"url": "ftp://files.example.com/x", "events": ["*"]}) == 422
    assert post({"url": "not a url", "events": ["*"]}) == 422
    assert post({"url": "https://x.example.com", "events": ["job.exploded"]}) == 422
    assert post({"url": "https://x.example.com", "events": []}) == 422
    assert post({"url": "https://x.example.com", "events": ["*"], "description": "x" * 201}) == 422
    assert post({"url": "https://x.example.com/" + "p" * 2000, "events": ["*"]}) == 422
    ok = client.post(
        "/webhooks",
        json={"url": "http://x.example.com", "events": ["plan.published", "job.status_changed"]},
        headers=auth("admin"),
    )
    assert ok.status_code == 201
    assert ok.json()["events"] == ["job.status_changed", "plan.published"]


def test_webhooks_are_admin_only(client, auth):
    body = {"url": "https://x.example.com", "events": ["*"]}
    for role in ("dispatcher", "planner", "manager"):
        assert client.post("/webhooks", json=body, headers=auth(role)).status_code == 403
        assert client.get("/webhooks", headers=auth(role)).status_code == 403
    assert client.get("/webhooks", headers=auth("driver", "C1")).status_code == 403
    assert client.get("/webhooks").status_code == 401


# --- delivery -------------------------------------------------------------------------------


def test_failing_receiver_gets_it_on_the_third_attempt_signed(client, settings, receiver):
    target = receiver(fail_first=2)
    target.secret = register(client, settings, target.url)["secret"]
    queue(client, "callback.opened", job_id="J7", callback_of="J1")
    ctx = client.app.state.ctx
    t0 = settings.now()

    assert deliver_due(ctx) == 1
    (row,) = outbox(client)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 500")
    # the first retry waits backoff_s (less up to a quarter of jitter), not less
    assert row.next_attempt_at >= t0 + timedelta(seconds=0.75 * settings.webhook_backoff_s)
    assert deliver_due(ctx, now=row.next_attempt_at - timedelta(seconds=1)) == 0  # not due yet

    assert deliver_due(ctx, now=t0 + timedelta(minutes=1)) == 1
    (row,) = outbox(client)
    assert (row.status, row.attempts) == ("pending", 2)
    assert deliver_due(ctx, now=t0 + timedelta(minutes=2)) == 1
    (row,) = outbox(client)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
    assert row.delivered_at == t0 + timedelta(minutes=2)
    assert deliver_due(ctx, now=t0 + timedelta(hours=1)) == 0  # delivered stays delivered

    assert len(target.requests) == 3
    assert all(r["valid"] and r["age_s"] < 60 for r in target.requests)
    ids = {r["headers"]["X-Fieldroute-Delivery"] for r in target.requests}
    assert ids == {str(row.id)}  # the same delivery id on every retry: receivers deduplicate
    last = target.requests[-1]
    assert last["headers"]["X-Fieldroute-Event"] == "callback.opened"
    assert last["headers"]["Content-Type"] == "application/json"
    assert last["body"]["delivery_id"] == row.id
    assert last["body"]["type"] == "callback.opened"
    assert last["body"]["data"] == {"job_id": "J7", "callback_of": "J1"}


def test_dead_receiver_goes_dead_after_max_attempts_and_can_be_retried(tmp_path, receiver):
    settings = make_settings(tmp_path, webhook_max_attempts=3, webhook_timeout_s=2.0)
    admin = bearer(settings, "admin")
    with TestClient(create_app(settings)) as client:
        hook = register(client, settings, closed_port_url())
        queue(client)
        ctx = client.app.state.ctx
        t0 = settings.now()
        for minute in range(3):
            assert deliver_due(ctx, now=t0 + timedelta(minutes=minute)) == 1
        (row,) = outbox(client)
        assert (row.status, row.attempts, row.last_error) == ("dead", 3, "ConnectError")
        assert deliver_due(ctx, now=t0 + timedelta(days=1)) == 0  # dead rows are left alone

        deliveries = f"/webhooks/{hook['id']}/deliveries"
        dead = client.get(deliveries, params={"status": "dead"}, headers=admin).json()
        assert dead["total"] == 1 and dead["items"][0]["id"] == row.id
        assert (
            client.get(deliveries, params={"status": "pending"}, headers=admin).json()["total"] == 0
        )
        assert client.get(deliveries, params={"status": "lost"}, headers=admin).status_code == 422

        # the receiver is back: an admin sends the dead delivery again, with fresh attempts
        target = receiver()
        with ctx.sessions() as session, session.begin():
            from api.storage.models import WebhookRow

            stored = session.get(WebhookRow, hook["id"])
            stored.url = target.url
            target.secret = secret_box(settings).open(stored.secret)
        retry = f"{deliveries}/{row.id}/retry"
        answer = client.post(retry, headers=admin)
        assert answer.status_code == 200, answer.text
        assert (answer.json()["status"], answer.json()["attempts"]) == ("pending", 0)
        assert client.post(retry, headers=admin).status_code == 409  # only dead ones
        assert client.post(retry, headers=bearer(settings, "dispatcher")).status_code == 403
        assert client.post(f"{deliveries}/999/retry", headers=admin).status_code == 404
        assert deliver_due(ctx) == 1
        assert outbox(client)[0].status == "delivered"
        assert target.requests[0]["valid"]


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter(tmp_path):
    settings = make_settings(tmp_path, webhook_backoff_s=2.0, webhook_backoff_max_s=60.0)
    for attempts, nominal in ((1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (30, 60.0)):
        delays = {backoff_delay(settings, attempts, delivery_id) for delivery_id in range(50)}
        assert all(0.75 * nominal <= d <= nominal for d in delays)
        assert len(delays) > 1  # spread, not all at the same moment
    assert backoff_delay(settings, 3, 7) == backoff_delay(settings, 3, 7)  # reproducible


def test_nothing_is_lost_on_restart(tmp_path, receiver):
    """Deliveries queued by one process (which never sent them, or died while sending) are
    delivered by the next one on the same database."""
    settings = make_settings(tmp_path)
    target = receiver()
    with TestClient(create_app(settings)) as client:
        target.secret = register(client, settings, target.url)["secret"]
        new_job(client, settings, "J1")
        new_job(client, settings, "J2")
        for job_id in ("J1", "J2"):
            cancelled = client.post(
                f"/jobs/{job_id}/cancel",
                json={"reason": "customer changed mind"},
                headers=bearer(settings, "dispatcher"),
            )
            assert cancelled.status_code == 200
        queue(client)
        # a process claims the first row and dies before sending it
        from api.background.webhook_sender import _claim

        first = outbox(client)[0].id
        assert _claim(client.app.state.ctx, first, settings.now()) is not None
    assert target.requests == []

    with TestClient(create_app(settings)) as client:
        ctx = client.app.state.ctx
        assert deliver_due(ctx) == 2  # the claimed row is not due until its claim runs out
        later = settings.now() + timedelta(minutes=5)
        assert deliver_due(ctx, now=later) == 1
        rows = outbox(client)
        assert [r.status for r in rows] == ["delivered"] * 3
        assert rows[0].attempts == 2  # the interrupted try counts
    events = sorted(r["headers"]["X-Fieldroute-Event"] for r in target.requests)
    assert events == ["callback.opened", "job.status_changed", "job.status_changed"]
    assert all(r["valid"] for r in target.requests)


def test_two_processes_do_not_send_the_same_row_twice(client, settings, receiver):
    """A claimed row is not due for anyone else: the second pass finds nothing to send."""
    from api.background.webhook_sender import _claim

    target = receiver()
    target.secret = register(client, settings, target.url)["secret"]
    queue(client)
    ctx = client.app.state.ctx
    row_id = outbox(client)[0].id
    now = settings.now()
    assert _claim(ctx, row_id, now) is not None
    assert _claim(ctx, row_id, now) is None
    assert deliver_due(ctx, now=now) == 0
    assert target.requests == []


def test_two_senders_at_once_deliver_each_row_once(client, settings, receiver):
    """Two service processes (two engines on one database) sending at the same time."""
    target = receiver()
    target.secret = register(client, settings, target.url)["secret"]
    for n in range(30):
        queue(client, job_id=f"J{n}")
    other = create_app(settings).state.ctx
    sent: list[int] = []
    threads = [
        threading.Thread(target=lambda c=c: sent.append(deliver_due(c)))
        for c in (client.app.state.ctx, other)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.engine.dispose()
    assert sum(sent) == 30
    ids = [r["headers"]["X-Fieldroute-Delivery"] for r in target.requests]
    assert len(ids) == len(set(ids)) == 30
    assert {r.status for r in outbox(client)} == {"delivered"}


def test_sender_thread_delivers_when_woken(client, settings, receiver):
    target = receiver()
    target.secret = register(client, settings, target.url)["secret"]
    sender = WebhookSender(client.app.state.ctx)
    sender.start()
    try:
        queue(client)
        sender.wake()
        deadline = time.monotonic() + 10
        while not target.requests and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sender.stop()
    assert len(target.requests) == 1 and target.requests[0]["valid"]
    assert outbox(client)[0].status == "delivered"


def test_the_running_service_delivers_on_its_own(tmp_path, receiver):
    """With the background workers on, a cancel reaches the receiver without a manual pass."""
    settings = make_settings(tmp_path, background_workers=True)
    target = receiver()
    with TestClient(create_app(settings)) as client:
        target.secret = register(client, settings, target.url)["secret"]
        new_job(client, settings, "J1")
        cancelled = client.post(
            "/jobs/J1/cancel", json={"reason": "moved"}, headers=bearer(settings, "dispatcher")
        )
        assert cancelled.status_code == 200
        deadline = time.monotonic() + 10
        while not target.requests and time.monotonic() < deadline:
            time.sleep(0.02)
    assert [r["body"]["data"]["status"] for r in target.requests] == ["cancelled"]
    assert target.requests[0]["valid"]


# --- what is emitted --------------------------------------------------------------------------


def test_job_cancel_queues_a_status_change(client, settings, auth, receiver):
    target = receiver()
    target.secret = register(client, settings, target.url, events=["job.status_changed"])["secret"]
    register(client, settings, "https://plans-only.example.com", events=["plan.published"])
    new_job(client, settings, "J1")
    response = client.post(
        "/jobs/J1/cancel", json={"reason": "duplicate order"}, headers=auth("dispatcher")
    )
    assert response.status_code == 200
    (row,) = outbox(client)  # the plans-only subscriber gets nothing
    assert row.event_type == "job.status_changed"
    assert deliver_due(client.app.state.ctx) == 1
    body = target.requests[0]["body"]
    assert body["type"] == "job.status_changed"
    assert body["data"]["job_id"] == "J1"
    assert (body["data"]["status"], body["data"]["previous"]) == ("cancelled", "open")
    assert "duplicate order" not in json.dumps(body)  # free text stays out of payloads


def test_publishing_a_plan_queues_plan_published(seeded, settings, auth):
    hook = register(seeded, settings, "https://orders.example.com/hook", events=["plan.published"])
    plan_id = publish_demo_plan(seeded, settings)
    rows = outbox(seeded)
    assert [r.event_type for r in rows] == ["plan.published"]
    assert rows[0].payload["data"]["plan_id"] == plan_id
    listed = seeded.get(f"/webhooks/{hook['id']}/deliveries", headers=auth("admin")).json()
    assert listed["total"] == 1
    assert listed["items"][0]["payload"]["data"]["plan_id"] == plan_id


def test_deleting_a_webhook_stops_its_deliveries(client, settings, auth):
    hook = register(client, settings, "https://orders.example.com/hook")
    queue(client)
    assert client.delete(f"/webhooks/{hook['id']}", headers=auth("dispatcher")).status_code == 403
    assert client.delete(f"/webhooks/{hook['id']}", headers=auth("admin")).status_code == 204
    assert client.delete(f"/webhooks/{hook['id']}", headers=auth("admin")).status_code == 204
    assert client.delete("/webhooks/999", headers=auth("admin")).status_code == 404
    (row,) = outbox(client)
    assert (row.status, row.last_error) == ("dead", "webhook deleted")
    queue(client)  # nothing more is queued for it
    assert len(outbox(client)) == 1
    assert client.get("/webhooks", headers=auth("admin")).json()["items"] == []
    listed = client.get("/webhooks", params={"include_inactive": True}, headers=auth("admin"))
    assert [w["active"] for w in listed.json()["items"]] == [False]
    retry = client.post(f"/webhooks/{hook['id']}/deliveries/{row.id}/retry", headers=auth("admin"))
    assert retry.status_code == 409


def test_deliveries_are_paginated_newest_first(client, settings, auth):
    hook = register(client, settings, "https://orders.example.com/hook")
    for n in range(5):
        queue(client, job_id=f"J{n}")
    url = f"/webhooks/{hook['id']}/deliveries"
    page = client.get(url, params={"limit": 2, "offset": 1}, headers=auth("admin")).json()
    assert page["total"] == 5 and (page["limit"], page["offset"]) == (2, 1)
    assert [d["payload"]["data"]["job_id"] for d in page["items"]] == ["J3", "J2"]
    assert client.get("/webhooks/999/deliveries", headers=auth("admin")).status_code == 404
