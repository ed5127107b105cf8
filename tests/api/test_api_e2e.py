"""End to end through a real server process on a loopback port: a dispatcher's and drivers'
day, from seeding to metrics, with retried requests and a server restart in the middle.

The day is *today* in the region's clock (so the callback guarantee windows hold whatever
the date the suite runs on). The server is started with `dispatch serve`, exactly as a
deployment would; plans are solved by its plan runner in worker processes.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api.http.auth import issue_token
from scripts.live_server import DISPATCH, Server, wait_for
from tests.api_support import TEST_SECRET, database_url, make_settings
from tests.signed_receiver import SignedReceiver

pytestmark = [pytest.mark.api, pytest.mark.service]  # a real server process

_wait = wait_for


def test_a_day_through_the_real_server(tmp_path: Path) -> None:  # noqa: PLR0915 - one end-to-end story of a day against a live server; each step needs the last
    settings = make_settings(tmp_path)  # for tokens: the same secret as the server
    env = {
        **os.environ,
        "DATABASE_URL": database_url(tmp_path),
        "FIELDROUTE_ENVIRONMENT": "test",
        "FIELDROUTE_SECRET_KEY": TEST_SECRET,
        "FIELDROUTE_PLAN_TIME_LIMIT_S": "5",
        "FIELDROUTE_PLAN_SOLUTION_LIMIT": "40",
        "FIELDROUTE_WEBHOOK_BACKOFF_S": "0.2",
        "FIELDROUTE_WEBHOOK_POLL_S": "0.2",
        "FIELDROUTE_WEBHOOK_ALLOW_PRIVATE": "true",  # the subscriber listens on 127.0.0.1
    }
    today = settings.now().date()
    # as a deployment does: the schema migrated once (on PostgreSQL nothing else migrates)
    upgraded = subprocess.run(
        [*DISPATCH, "db", "upgrade"], env=env, capture_output=True, text=True, check=False
    )
    assert upgraded.returncode == 0, upgraded.stderr
    seeded = subprocess.run(
        [*DISPATCH, "seed", "--fixture", "shanghai", "--jobs", "30", "--date", today.isoformat()],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    assert "30 added" in seeded.stdout

    def h(role: str, crew: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(settings, f'e2e-{role}', role, crew)}"}

    receiver = SignedReceiver(ok_status=204)
    server = Server(env, tmp_path / "server.log")
    server.start()
    try:
        c = httpx.Client(base_url=server.base, timeout=30)
        hook = c.post("/webhooks", json={"url": receiver.url, "events": ["*"]}, headers=h("admin"))
        assert hook.status_code == 201, hook.text
        receiver.secret = hook.json()["secret"]

        # the dispatcher imports one more job: a repair reported this morning
        start = datetime.combine(today, datetime.min.time())
        repair = {
            "id": "E2E-R1", "kind": "repair",
            "confirmed_at": (start + timedelta(hours=7)).isoformat(),
            "lon": 121.47, "lat": 31.23, "category": "split_ac", "skills": [],
            "windows": [{"start": (start + timedelta(hours=9)).isoformat(),
                         "end": (start + timedelta(hours=17)).isoformat()}],
            "customer_name": "Zhang Wei", "customer_phone": "13800000001", "address": "8 Fuzhou Rd",
        }  # fmt: skip
        files = {"file": ("jobs.json", json.dumps({"jobs": [repair]}), "application/json")}
        r = c.post("/jobs/import", files=files, headers=h("dispatcher"))
        assert r.status_code == 201, r.text

        # plan: 202 and poll; a second trigger meanwhile is refused
        body = {"date": today.isoformat(), "region": "urban"}
        r = c.post("/plans", json=body, headers=h("dispatcher"))
        assert r.status_code == 202, r.text
        plan_id = r.json()["id"]
        again = c.post("/plans", json=body, headers=h("dispatcher"))
        assert again.status_code in (409, 202)  # 202 only if the first already finished
        plan = _wait(
            lambda: (
                (p := c.get(f"/plans/{plan_id}", headers=h("dispatcher")).json())["status"]
                in ("succeeded", "failed")
                and p
            )
        )
        assert plan["status"] == "succeeded", plan.get("error")
        assert plan["kpis"] and plan["result"]["routes"]
        if again.status_code == 202:
            c.delete(f"/plans/{again.json()['id']}", headers=h("dispatcher"))

        r = c.post(
            f"/plans/{plan_id}/publish", json={"version": plan["version"]}, headers=h("dispatcher")
        )
        assert r.status_code == 200, r.text

        # a driver fetches his route (ETag), and cannot read another crew's
        def kind(job_id: str) -> str:
            return c.get(f"/jobs/{job_id}", headers=h("dispatcher")).json()["kind"]

        # a crew whose first stop is an installation or repair (those can get callbacks)
        routes = [
            x
            for x in plan["result"]["routes"]
            if len(x["stops"]) >= 2 and kind(x["stops"][0]["job_id"]) in ("installation", "repair")
        ]
        assert routes, "the seeded day has no installer route with two stops"
        crew = routes[0]["crew_id"]
        other = next(x["crew_id"] for x in plan["result"]["routes"] if x["crew_id"] != crew)
        driver = h("driver", crew)
        r = c.get("/me/route", params={"date": today.isoformat()}, headers=driver)
        assert r.status_code == 200, r.text
        stops = r.json()["stops"]
        assert stops[0]["customer_phone"]  # his own stops carry the contact
        etag = r.headers["etag"]
        r304 = c.get(
            "/me/route",
            params={"date": today.isoformat()},
            headers={**driver, "If-None-Match": etag},
        )
        assert r304.status_code == 304
        assert (
            c.get(
                f"/routes/{other}", params={"date": today.isoformat()}, headers=driver
            ).status_code
            == 403
        )

        # events from the road: retried posts, one arriving out of order
        job, job2 = stops[0], stops[1]
        t0 = datetime.fromisoformat(job["start"])

        def post(job_id: str, key: str, kind: str, minutes: int, **extra: object) -> httpx.Response:
            payload = {"type": kind, "device_time": (t0 + timedelta(minutes=minutes)).isoformat(),
                       "lon": job["lon"], "lat": job["lat"], **extra}  # fmt: skip
            return c.post(f"/jobs/{job_id}/events", json=payload,
                          headers={**driver, "Idempotency-Key": key})  # fmt: skip

        first = post(job["job_id"], "k-dep", "departed", -30)
        retry = post(job["job_id"], "k-dep", "departed", -30)
        assert first.status_code == 201 and retry.status_code == 200
        assert retry.json()["id"] == first.json()["id"]
        assert post(job["job_id"], "k-start", "started", 5).status_code == 201
        assert post(job["job_id"], "k-arr", "arrived", 0).status_code == 201  # late, slots in
        done = post(job["job_id"], "k-done", "completed", 60, receipt="intact", items_received=1,
                    rating="good")  # fmt: skip
        assert done.status_code == 201, done.text
        illegal = post(job["job_id"], "k-late", "arrived", 90)
        assert illegal.status_code == 409
        assert post(job2["job_id"], "k2-dep", "departed", 70).status_code == 201
        failed = post(job2["job_id"], "k2-fail", "failed", 100, reason="customer_absent")
        assert failed.status_code == 201, failed.text

        # restart: nothing acknowledged is lost
        server.stop()
        server.start()
        r = c.get(f"/jobs/{job['job_id']}", headers=h("manager"))
        assert r.json()["status"] == "completed"
        events = c.get(f"/jobs/{job['job_id']}/events", headers=h("dispatcher")).json()["items"]
        assert [e["type"] for e in events] == ["departed", "arrived", "started", "completed"]
        assert c.get(f"/jobs/{job2['job_id']}", headers=h("manager")).json()["status"] == "failed"

        # follow-up call: a problem reported opens a callback for tomorrow
        tomorrow = start + timedelta(days=1)
        call = {
            "reached": True, "satisfied": False, "problem_reported": True,
            "problem": "still noisy", "open_callback": True,
            "callback": {"windows": [{"start": (tomorrow + timedelta(hours=9)).isoformat(),
                                      "end": (tomorrow + timedelta(hours=12)).isoformat()}]},
        }  # fmt: skip
        r = c.post(f"/jobs/{job['job_id']}/follow-ups", json=call, headers=h("dispatcher"))
        assert r.status_code == 201, r.text
        callback_id = r.json()["callback_job_id"]
        cb = c.get(f"/jobs/{callback_id}", headers=h("dispatcher")).json()
        assert cb["callback_of"] == job["job_id"] and cb["status"] == "open"
        assert cb["priority"] == "callback"

        # service metrics for today: one completed job, followed up; 31 jobs due
        m = c.get(
            "/metrics/service",
            params={"from": today.isoformat(), "to": today.isoformat()},
            headers=h("manager"),
        )
        assert m.status_code == 200, m.text
        metrics = m.json()
        assert metrics["completion_rate"]["numerator"] == 1
        assert metrics["completion_rate"]["denominator"] == 31
        assert metrics["follow_up_coverage"]["value"] == 1.0
        assert metrics["callback_rate"]["value"] == 1.0
        prometheus = c.get("/metrics").text
        assert 'fieldroute_jobs{status="completed"} 1.0' in prometheus

        # the subscriber heard of the publication and the job changes, all signed
        _wait(lambda: any(e["type"] == "plan.published" for e in receiver.bodies), 30)
        _wait(
            lambda: any(
                e["type"] == "job.status_changed"
                and e["data"]["job_id"] == job["job_id"]
                and e["data"]["status"] == "completed"
                for e in receiver.bodies
            ),
            30,
        )
        assert all(r["valid"] for r in receiver.requests)
        # no personal data in the service's log
        log = (tmp_path / "server.log").read_text()
        assert "Zhang Wei" not in log and "13800000001" not in log
    finally:
        server.stop()
        receiver.close()
