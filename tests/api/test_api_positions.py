"""Crews' live positions: accepted only while the crew's route runs (a published route that
day, within its shift and 30 minutes either side), refused otherwise with "outside the
shift"; only the last position kept, at most one per 20 s, never moved back in time by a late
queue; the phone's clock handled like events'; on the board exact for dispatchers and coarse
for planners; deleted by retention after a day."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from api.services.positions import KEEP
from api.services.retention import apply_retention
from api.settings import Settings
from api.storage.models import CrewRow, JobRow
from api.storage.tracking_models import CrewPositionRow
from dispatch.privacy import coarse
from tests.api_support import Clock, publish_demo_plan

pytestmark = pytest.mark.api

MORNING = datetime(2026, 6, 18, 10, 0)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock(MORNING)
    monkeypatch.setattr(Settings, "now", lambda self: c.now)
    return c


@pytest.fixture
def published(seeded, settings, clock):
    """The demo day published: (client, plan id, a crew with a route)."""
    plan_id = publish_demo_plan(seeded, settings)
    with seeded.app.state.ctx.sessions() as session:
        crew = session.scalar(
            select(JobRow.crew_id).where(JobRow.status == "assigned").order_by(JobRow.id)
        )
    return seeded, plan_id, crew


def send(client, headers, at: datetime, lon=121.47, lat=31.23, accuracy=12.0, **extra):
    body = {"lon": lon, "lat": lat, "accuracy_m": accuracy, "device_time": at.isoformat()}
    return client.post("/me/position", json={**body, **extra}, headers=headers)


def stored(client, crew: str) -> list[CrewPositionRow]:
    with client.app.state.ctx.sessions() as session:
        return list(session.scalars(select(CrewPositionRow).where(CrewPositionRow.crew_id == crew)))


def test_a_position_in_the_shift_is_kept_and_only_the_last_one(published, auth, clock):
    client, _, crew = published
    driver = auth("driver", crew)
    r = send(client, driver, clock.now, lon=121.40, lat=31.20)
    assert r.status_code == 204, r.text
    assert r.content == b""
    [row] = stored(client, crew)
    assert (row.lon, row.lat, row.accuracy_m, row.device_time) == (121.40, 31.20, 12.0, MORNING)
    assert row.day == MORNING.date() and row.received_at == MORNING

    # 10 s later: answered alike, not stored (one position per crew every 20 s)
    clock.move(seconds=10)
    assert send(client, driver, clock.now, lon=121.41).status_code == 204
    assert stored(client, crew)[0].lon == 121.40

    # 25 s after the stored one: overwrites it; still one row for the crew, no trail
    clock.move(seconds=15)
    assert send(client, driver, clock.now, lon=121.42, accuracy=None).status_code == 204
    [row] = stored(client, crew)
    assert (row.lon, row.accuracy_m, row.device_time) == (121.42, None, clock.now)
    with client.app.state.ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CrewPositionRow)) == 1

    # a late queue (taken before the stored one) never moves the crew back
    clock.move(minutes=5)
    assert send(client, driver, MORNING + timedelta(seconds=20), lon=121.0).status_code == 204
    assert stored(client, crew)[0].lon == 121.42


def test_positions_outside_the_shift_are_refused(published, auth, clock):
    client, _, crew = published
    driver = auth("driver", crew)
    record = client.get(f"/crews/{crew}", headers=auth("dispatcher")).json()["record"]
    start = datetime.combine(MORNING.date(), time.fromisoformat(record["shift_start"]))
    end = datetime.combine(MORNING.date(), time.fromisoformat(record["shift_end"]))
    shift = f"{start:%H:%M}-{end:%H:%M}"
    # 30 minutes either side of the shift are in, a minute more is out
    margin = timedelta(minutes=30)
    for at, ok in (
        (start - margin, True),
        (end + margin, True),
        (start - margin - timedelta(minutes=1), False),
        (end + margin + timedelta(minutes=1), False),
    ):
        clock.now = at + timedelta(seconds=30)  # past the 20 s of the previous one
        r = send(client, driver, at)
        if ok:
            assert r.status_code == 204, (at, r.text)
            continue
        assert r.status_code == 422, (at, r.text)
        body = r.json()
        assert body["type"] == "/problems/rule-violation"
        assert "outside the shift" in body["reasons"][0] and shift in body["reasons"][0]
    # a day without a published route (the next day)
    clock.now = datetime(2026, 6, 19, 10, 0)
    r = send(client, driver, clock.now)
    assert r.status_code == 422 and "no published route" in r.json()["reasons"][0]
    assert "outside the shift" in r.json()["reasons"][0]


def test_a_crew_without_a_route_is_refused(published, auth, clock):
    client, _, crew = published
    with client.app.state.ctx.sessions() as session, session.begin():
        row = session.get(CrewRow, crew)
        session.add(
            CrewRow(
                id="IDLE1",
                kind=row.kind,
                region=row.region,
                record={**row.record, "id": "IDLE1"},
                created_at=clock.now,
                updated_at=clock.now,
            )
        )
    for idle in ("IDLE1", "NO-SUCH-CREW"):
        r = send(client, auth("driver", idle), clock.now)
        assert r.status_code == 422 and "outside the shift" in r.json()["reasons"][0]
        assert stored(client, idle) == []


def test_the_phone_clock_is_handled_like_events(published, auth, clock):
    client, _, crew = published
    driver = auth("driver", crew)
    # a clock years ahead: taken at the receive time
    assert send(client, driver, datetime(2031, 1, 1, 9, 0)).status_code == 204
    assert stored(client, crew)[0].device_time == clock.now
    # a clock a few minutes fast: believed, but never later than the receive time
    clock.move(minutes=1)
    assert send(client, driver, clock.now + timedelta(minutes=3)).status_code == 204
    assert stored(client, crew)[0].device_time == clock.now
    # a time with an offset is converted to the region's clock (UTC+8)
    clock.move(minutes=1)
    at = (clock.now - timedelta(hours=8, seconds=5)).isoformat() + "+00:00"
    r = client.post(
        "/me/position", json={"lon": 121.5, "lat": 31.2, "device_time": at}, headers=driver
    )
    assert r.status_code == 204, r.text
    assert stored(client, crew)[0].device_time == clock.now - timedelta(seconds=5)


@pytest.mark.parametrize(
    "field, value",
    [("lon", 180.5), ("lat", -91), ("accuracy_m", -1), ("accuracy_m", 10_001), ("lon", "x")],
)
def test_bad_positions_are_refused_naming_the_field(published, auth, clock, field, value):
    client, _, crew = published
    r = send(client, auth("driver", crew), clock.now, **{field: value})
    assert r.status_code == 422
    assert r.json()["type"] == "/problems/invalid-request"
    assert r.json()["errors"][0]["field"] == field
    assert stored(client, crew) == []


def test_only_drivers_send_positions(published, auth, clock):
    client, _, _ = published
    for role in ("dispatcher", "admin", "planner"):
        assert send(client, auth(role), clock.now).status_code == 403
    assert send(client, {}, clock.now).status_code == 401


def test_the_board_shows_positions_exact_to_dispatchers_and_coarse_to_planners(
    published, auth, clock
):
    client, plan_id, crew = published
    office = auth("dispatcher")
    board = client.get(f"/plans/{plan_id}/board", headers=office)
    etag = board.headers["ETag"]
    assert all(c["last_position"] is None for c in board.json()["crews"])

    assert (
        send(client, auth("driver", crew), clock.now, lon=121.4567, lat=31.2345).status_code == 204
    )
    clock.move(minutes=3)
    r = client.get(f"/plans/{plan_id}/board", headers={**office, "If-None-Match": etag})
    assert r.status_code == 200, "a new position changes the board's ETag"
    crews = {c["id"]: c for c in r.json()["crews"]}
    assert crews[crew]["last_position"] == {
        "lon": 121.4567,
        "lat": 31.2345,
        "accuracy_m": 12.0,
        "at": "2026-06-18T10:00:00",
        "age_s": 180,
    }
    assert all(c["last_position"] is None for i, c in crews.items() if i != crew)

    planner = client.get(f"/plans/{plan_id}/board", headers=auth("planner")).json()
    seen = next(c for c in planner["crews"] if c["id"] == crew)["last_position"]
    assert (seen["lon"], seen["lat"]) == (coarse(121.4567), coarse(31.2345)) == (121.46, 31.23)
    assert seen["accuracy_m"] is None and seen["age_s"] == 180

    # what the board polls between reloads
    polled = client.get(f"/plans/{plan_id}/positions", headers=office)
    assert polled.status_code == 200 and polled.headers["Cache-Control"] == "no-store"
    assert polled.json()["positions"] == [{"crew_id": crew, **crews[crew]["last_position"]}]
    coarse_poll = client.get(f"/plans/{plan_id}/positions", headers=auth("manager")).json()
    assert coarse_poll["positions"][0]["lon"] == 121.46
    assert (
        client.get(f"/plans/{plan_id}/positions", headers=auth("driver", crew)).status_code == 403
    )
    assert client.get("/plans/nope/positions", headers=office).status_code == 404


def test_retention_deletes_positions_after_a_day(published, auth, clock):
    client, _, crew = published
    assert send(client, auth("driver", crew), clock.now).status_code == 204
    sessions = client.app.state.ctx.sessions
    soon = apply_retention(sessions, MORNING.date(), clock.now + KEEP - timedelta(minutes=1))
    assert soon.purged["crew_positions"] == 0 and len(stored(client, crew)) == 1
    later = clock.now + KEEP + timedelta(minutes=1)
    dry = apply_retention(sessions, MORNING.date(), later, dry_run=True)
    assert dry.purged["crew_positions"] == 1 and len(stored(client, crew)) == 1
    done = apply_retention(sessions, MORNING.date(), later)
    assert done.purged["crew_positions"] == 1 and stored(client, crew) == []
