"""Retries racing their originals: every copy of a report (same Idempotency-Key, same body)
is answered with the one stored event, 201 once and 200 `Idempotent-Replay: true` for the
rest, never 409, however the race falls; and each job ends with exactly its reports.

Each job gets a burst: its four reports (departed, arrived, started, completed), each sent
`COPIES` times at the same moment (a phone on a flaky connection that gave up waiting and sent
again, while the other taps are in flight too). Before the job's row lock, a post that lost
three races in a row (to its own original or to the job's other reports) answered 409 even
though its event had been stored.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.services.seed import seed_demo
from api.settings import Settings
from scripts.live_server import Server
from tests.api_support import (
    DEMO_DAY,
    TEST_SECRET,
    bearer,
    database_url,
    make_settings,
    publish_demo_plan,
)

pytestmark = pytest.mark.api

DAY = DEMO_DAY.isoformat()
STAGES = (("departed", "09:00"), ("arrived", "09:30"), ("started", "09:35"), ("completed", "10:00"))
COPIES = 8

#: (job id, idempotency key, type, device time)
Report = tuple[str, str, str, str]
#: sends one report, answers (status code, event id or None, replay header)
Send = Callable[[Report], tuple[int, int | None, str | None]]


def seed_and_publish(settings: Settings) -> list[dict]:
    """The demo day seeded and its plan published; the assigned jobs."""
    with TestClient(create_app(settings)) as client:
        seed_demo(client.app.state.ctx.sessions, settings.now(), day=DEMO_DAY, jobs=30)
        publish_demo_plan(client, settings)
        return client.get(
            "/jobs",
            params={"status": "assigned", "limit": 500},
            headers=bearer(settings, "dispatcher"),
        ).json()["items"]


def bursts(jobs: list[dict], copies: int) -> list[list[Report]]:
    """One burst per job: each of its reports `copies` times, shuffled."""
    rng = random.Random(7)
    out = []
    for job in jobs:
        burst = [
            (job["id"], f"{job['id']}:{type_}", type_, f"{DAY}T{at}")
            for type_, at in STAGES
            for _ in range(copies)
        ]
        rng.shuffle(burst)
        out.append(burst)
    return out


def fire(send: Send, plan: list[list[Report]]) -> list[tuple[Report, int, int | None, str | None]]:
    """Each burst's requests released together (a barrier), burst after burst."""
    answers = []
    size = max(len(b) for b in plan)
    with ThreadPoolExecutor(size) as pool:
        for burst in plan:
            gate = threading.Barrier(len(burst))

            def go(report: Report, gate: threading.Barrier = gate):
                gate.wait()
                return (report, *send(report))

            answers += list(pool.map(go, burst))
    return answers


def check(answers, jobs: list[dict], events_of: Callable[[str], list[dict]], copies: int) -> None:
    refused = [(r, code) for r, code, _, _ in answers if code not in (200, 201)]
    assert not refused, f"{len(refused)} of {len(answers)} copies refused: {refused[:5]}"
    by_key: dict[str, list[tuple[int, int | None, str | None]]] = {}
    for (_, key, _, _), code, event_id, replay in answers:
        by_key.setdefault(key, []).append((code, event_id, replay))
    for key, got in by_key.items():
        assert Counter(code for code, _, _ in got) == {201: 1, 200: copies - 1}, key
        assert len({event_id for _, event_id, _ in got}) == 1, key
        assert all(replay == "true" for code, _, replay in got if code == 200), key
    for job in jobs:
        events = events_of(job["id"])
        assert sorted(e["type"] for e in events) == sorted(t for t, _ in STAGES), job["id"]


def test_retries_racing_their_originals_are_replays_in_process(seeded, settings, auth):
    """The quick tier: the burst through the in-process app (sync routes on its threads)."""
    client = seeded
    publish_demo_plan(client, settings)
    jobs = client.get(
        "/jobs", params={"status": "assigned", "limit": 500}, headers=auth("dispatcher")
    ).json()["items"][:10]
    office = auth("dispatcher")

    def send(report: Report) -> tuple[int, int | None, str | None]:
        job_id, key, type_, at = report
        r = client.post(
            f"/jobs/{job_id}/events",
            json={"type": type_, "device_time": at},
            headers={**office, "Idempotency-Key": key},
        )
        ok = r.status_code in (200, 201)
        return r.status_code, r.json()["id"] if ok else None, r.headers.get("Idempotent-Replay")

    answers = fire(send, bursts(jobs, COPIES))
    check(
        answers,
        jobs,
        lambda j: client.get(f"/jobs/{j}/events", headers=office).json()["items"],
        COPIES,
    )
    for job in jobs:
        assert client.get(f"/jobs/{job['id']}", headers=office).json()["status"] == "completed"


@pytest.mark.service  # a real server process
def test_retries_racing_their_originals_are_replays_on_a_real_server(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    settings = make_settings(tmp_path, database_url=url)
    jobs = seed_and_publish(settings)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FIELDROUTE_ENVIRONMENT": "test",
        "FIELDROUTE_SECRET_KEY": TEST_SECRET,
        "FIELDROUTE_BACKGROUND_WORKERS": "false",
    }
    office = bearer(settings, "dispatcher")
    server = Server(env, tmp_path / "server.log")
    server.start()
    try:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        with httpx.Client(base_url=server.base, timeout=60, limits=limits) as http:

            def send(report: Report) -> tuple[int, int | None, str | None]:
                job_id, key, type_, at = report
                r = http.post(
                    f"/jobs/{job_id}/events",
                    json={"type": type_, "device_time": at},
                    headers={**office, "Idempotency-Key": key},
                )
                ok = r.status_code in (200, 201)
                event_id = r.json()["id"] if ok else None
                return r.status_code, event_id, r.headers.get("Idempotent-Replay")

            answers = fire(send, bursts(jobs, COPIES))

            def events_of(job_id: str) -> list[dict]:
                return http.get(f"/jobs/{job_id}/events", headers=office).json()["items"]

            check(answers, jobs, events_of, COPIES)
            for job in jobs:
                r = http.get(f"/jobs/{job['id']}", headers=office)
                assert r.json()["status"] == "completed", job["id"]
    finally:
        server.stop()
