"""Customers' tracking links: made by the office (and with every arrival notice), only the
token's hash stored; the status shows one job only and nothing personal (no crew, no
position, no name); the distance only once the crew left for the job; the link stops 2 h
after the job is closed and expires the day after; unknown, expired and closed links answer
the same 404; the page is served with its privacy headers; the token never reaches the log."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from api.http.auth import issue_token
from api.services.retention import apply_retention
from api.settings import Settings
from api.storage.models import CustomerNoticeRow, JobRow
from api.storage.tracking_models import TrackingLinkRow
from tests.api_support import Clock, migration_round_trip, publish_demo_plan

pytestmark = pytest.mark.api

MORNING = datetime(2026, 6, 18, 10, 30)
KEYS = {"kind", "window", "eta", "status", "distance_km", "stops_before", "updated_at"}


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock(MORNING)
    monkeypatch.setattr(Settings, "now", lambda self: c.now)
    return c


@pytest.fixture
def published(seeded, settings, clock):
    """The demo day published; (client, [assigned jobs], the first one's crew)."""
    publish_demo_plan(seeded, settings)
    with seeded.app.state.ctx.sessions() as session:
        jobs = list(
            session.scalars(select(JobRow).where(JobRow.status == "assigned").order_by(JobRow.id))
        )
    return seeded, jobs, jobs[0].crew_id


def make_link(client, auth, job_id: str) -> str:
    r = client.post(f"/jobs/{job_id}/tracking-link", headers=auth("dispatcher"))
    assert r.status_code == 201, r.text
    assert r.json()["url"].startswith("/track/")
    return r.json()["url"].removeprefix("/track/")


def status(client, token: str):
    return client.get(f"/track/{token}/status")


def event(client, auth, job: JobRow, type_: str, at: datetime):
    r = client.post(
        f"/jobs/{job.id}/events",
        json={"type": type_, "device_time": at.isoformat()},
        headers={**auth("driver", job.crew_id), "Idempotency-Key": f"{job.id}-{type_}"},
    )
    assert r.status_code == 201, r.text


def test_a_link_is_made_and_only_its_hash_is_stored(published, auth):
    client, jobs, _ = published
    r = client.post(f"/jobs/{jobs[0].id}/tracking-link", headers=auth("dispatcher"))
    assert r.status_code == 201
    body = r.json()
    token = body["url"].removeprefix("/track/")
    assert len(token) >= 22 and re.fullmatch(r"[A-Za-z0-9_-]+", token)  # 128+ bits
    assert body["expires_at"] == "2026-06-20T00:00:00"  # the end of the day after the job's
    with client.app.state.ctx.sessions() as session:
        rows = list(
            session.scalars(select(TrackingLinkRow).where(TrackingLinkRow.job_id == jobs[0].id))
        )
    mine = [row for row in rows if row.token_hash == hashlib.sha256(token.encode()).hexdigest()]
    assert len(mine) == 1
    assert token not in repr([(row.token_hash, row.job_id) for row in rows])
    # a second link is another token
    assert make_link(client, auth, jobs[0].id) != token


def test_who_may_make_links(published, auth, settings):
    client, jobs, crew = published
    job = jobs[0].id
    for role in ("planner", "manager"):
        assert client.post(f"/jobs/{job}/tracking-link", headers=auth(role)).status_code == 403
    driver = auth("driver", crew)
    assert client.post(f"/jobs/{job}/tracking-link", headers=driver).status_code == 403
    rural = {
        "Authorization": "Bearer " + issue_token(settings, "d", "dispatcher", regions=["rural"])
    }
    assert client.post(f"/jobs/{job}/tracking-link", headers=rural).status_code == 403
    assert client.post(f"/jobs/{job}/tracking-link", headers=auth("admin")).status_code == 201
    assert client.post("/jobs/NOPE/tracking-link", headers=auth("admin")).status_code == 404


def test_the_status_shows_one_job_and_nothing_personal(published, auth, clock):
    client, jobs, crew = published
    job = jobs[0]
    token = make_link(client, auth, job.id)
    r = status(client, token)
    assert r.status_code == 200, r.text
    for header, value in (
        ("Cache-Control", "no-store"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Robots-Tag", "noindex"),
    ):
        assert r.headers[header] == value
    body = r.json()
    assert set(body) == KEYS
    assert body["kind"] == job.kind and body["status"] == "planned"
    assert re.fullmatch(r"\d\d:\d\d", body["eta"])
    assert body["window"] is None or set(body["window"]) == {"start", "end"}
    assert isinstance(body["stops_before"], int) and body["distance_km"] is None
    assert body["updated_at"] == "2026-06-18T10:30:00"
    # nothing of the crew or of any customer, this one included; no other job
    with client.app.state.ctx.sessions() as session:
        everyone = list(session.scalars(select(JobRow)))
    text = r.text
    assert crew not in text
    for other in everyone:
        assert other.id not in text
        for field in ("customer_name", "customer_phone", "address"):
            value = str(other.record.get(field) or "")
            assert not value or value not in text, field
    # the ETA is the planned start the stop shows on the crew's route
    route = client.get(f"/routes/{crew}", headers=auth("dispatcher")).json()
    stop = next(s for s in route["stops"] if s["job_id"] == job.id)
    assert body["eta"] == stop["start"][11:16]
    before = [s for s in route["stops"] if s["seq"] < stop["seq"]]
    assert body["stops_before"] == len(before)
    # another job's link tells about that job, not this one
    second = next(j for j in jobs if j.crew_id == crew and j.id != job.id)
    other = status(client, make_link(client, auth, second.id)).json()
    stop2 = next(s for s in route["stops"] if s["job_id"] == second.id)
    assert other["eta"] == stop2["start"][11:16] and other["stops_before"] == stop2["seq"] - 1


def test_the_distance_shows_only_once_the_crew_left_for_the_job(published, auth, clock):
    client, jobs, crew = published
    job = jobs[0]
    token = make_link(client, auth, job.id)
    # the crew sends a position about 1.1 km north of the door: not on its way yet
    clock.now = MORNING + timedelta(minutes=10)
    lon, lat = job.record["lon"], job.record["lat"] + 0.01
    sent = client.post(
        "/me/position",
        json={"lon": lon, "lat": lat, "accuracy_m": 8, "device_time": clock.now.isoformat()},
        headers=auth("driver", crew),
    )
    assert sent.status_code == 204, sent.text
    assert status(client, token).json()["distance_km"] is None
    # departed for this job: the straight-line distance, to 0.1 km, and not the position
    event(client, auth, job, "departed", clock.now)
    body = status(client, token).json()
    assert body["status"] == "en_route" and body["distance_km"] == 1.1
    assert str(lat) not in status(client, token).text
    # a position older than 30 minutes gives no distance
    clock.now += timedelta(minutes=31)
    assert status(client, token).json()["distance_km"] is None
    # arrived: no distance, no ETA
    event(client, auth, job, "arrived", clock.now)
    body = status(client, token).json()
    assert body["status"] == "arrived" and body["distance_km"] is None and body["eta"] is None


def test_a_link_stops_two_hours_after_the_job_is_completed(published, auth, clock):
    client, jobs, _ = published
    job = jobs[0]
    token = make_link(client, auth, job.id)
    unknown = status(client, "x" * 32)
    assert unknown.status_code == 404
    event(client, auth, job, "completed", clock.now)
    assert status(client, token).json()["status"] == "completed"
    clock.now = MORNING + timedelta(hours=1, minutes=59)
    assert status(client, token).status_code == 200
    clock.now = MORNING + timedelta(hours=2)
    gone = status(client, token)
    assert gone.status_code == 404
    # the same answer as a token that never existed: nothing to tell them apart
    assert gone.json() == unknown.json() and gone.json()["type"] == "/problems/not-found"
    assert gone.headers["Cache-Control"] == "no-store"
    # a closed job gets no new link
    r = client.post(f"/jobs/{job.id}/tracking-link", headers=auth("dispatcher"))
    assert r.status_code == 409


def test_a_link_expires_the_day_after_the_job_and_retention_drops_it(published, auth, clock):
    client, jobs, _ = published
    token = make_link(client, auth, jobs[1].id)
    clock.now = datetime(2026, 6, 19, 23, 59)
    assert status(client, token).status_code == 200
    clock.now = datetime(2026, 6, 20, 0, 0)
    assert status(client, token).status_code == 404
    report = apply_retention(client.app.state.ctx.sessions, clock.now.date(), clock.now)
    assert report.purged["tracking_links"] >= 1
    with client.app.state.ctx.sessions() as session:
        assert session.scalars(select(TrackingLinkRow)).all() == []


def test_arrival_notices_carry_a_working_link_shown_only_to_the_office(published, auth):
    client, jobs, _ = published
    with client.app.state.ctx.sessions() as session:
        notice = session.scalars(
            select(CustomerNoticeRow).where(
                CustomerNoticeRow.kind == "eta", CustomerNoticeRow.job_id == jobs[0].id
            )
        ).one()
    assert notice.message.startswith("Arriving about ")
    link = re.search(r"Follow your visit: /track/([A-Za-z0-9_-]+)$", notice.message)
    assert link is not None, notice.message
    assert status(client, link.group(1)).json()["kind"] == jobs[0].kind
    params = {"job_id": jobs[0].id}
    office = client.get("/notices", params=params, headers=auth("dispatcher")).json()
    assert link.group(1) in office["items"][0]["message"]
    planner = client.get("/notices", params=params, headers=auth("planner")).json()
    assert link.group(1) not in planner["items"][0]["message"]
    assert planner["items"][0]["message"].endswith("Follow your visit: /track/...")


def test_links_are_whole_addresses_under_the_public_url(seeded, settings, auth, clock):
    """With FIELDROUTE_PUBLIC_URL set, the SMS carries an address a phone can open, and the
    office's link answer too; the token still works and is still hidden from planners."""
    seeded.app.state.ctx.settings.public_url = "https://dispatch.example.com"
    publish_demo_plan(seeded, settings)
    with seeded.app.state.ctx.sessions() as session:
        notice = session.scalars(
            select(CustomerNoticeRow).where(CustomerNoticeRow.kind == "eta").limit(1)
        ).one()
        job = session.get(JobRow, notice.job_id)
    pattern = r"Follow your visit: https://dispatch\.example\.com/track/([A-Za-z0-9_-]+)$"
    found = re.search(pattern, notice.message)
    assert found is not None, notice.message
    assert status(seeded, found.group(1)).status_code == 200
    r = seeded.post(f"/jobs/{job.id}/tracking-link", headers=auth("dispatcher"))
    assert r.status_code == 201 and r.json()["url"].startswith(
        "https://dispatch.example.com/track/"
    )
    planner = seeded.get("/notices", params={"job_id": job.id}, headers=auth("planner")).json()
    assert found.group(1) not in planner["items"][0]["message"]


def test_a_public_url_must_be_a_whole_http_address() -> None:
    for bad in ("dispatch.example.com", "ftp://x.example.com", "https://x.example.com/?a=1"):
        with pytest.raises(ValueError, match="public_url"):
            Settings(public_url=bad, secret_key="s" * 40)
    assert Settings(public_url="https://x.example.com/", secret_key="s" * 40).public_url == (
        "https://x.example.com"
    )


def test_the_page_is_served_with_its_privacy_headers_and_the_log_hides_the_token(
    published, auth, caplog
):
    client, jobs, _ = published
    token = make_link(client, auth, jobs[0].id)
    caplog.set_level(logging.INFO, logger="api.access")
    for token_ in (token, "no-such-token"):
        page = client.get(f"/track/{token_}")
        assert page.status_code == 200  # the same page: its script asks the status
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        for header, value in (
            ("Cache-Control", "no-store"),
            ("Referrer-Policy", "no-referrer"),
            ("X-Robots-Tag", "noindex"),
        ):
            assert page.headers[header] == value
        assert '<script type="module" src="/static/js/track.js">' in page.text
    status(client, token)
    assert token not in caplog.text
    assert "/track/<token>/status" in caplog.text


def test_migration_0010_downgrades_and_upgrades(tmp_path) -> None:
    migration_round_trip(tmp_path, "0009", {"crew_positions", "tracking_links"}, kept="uploads")
