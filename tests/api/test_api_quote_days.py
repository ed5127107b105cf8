"""The days quotes read, kept between requests (`api.services.quote_days`); the slot grid as a
setting; quotes past their lifetime deleted by retention (issue 20 §1).

A day is read whole from the tables once, then found by its version (its rows' ids and
versions) until a job, crew, crew entry or depot changes; a booking keeps the day it changed
so the next quote need not read it whole; the kept day is the day as read whole."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from api.http.app import create_app
from api.services import quote_days
from api.services.quote_days import content_key, read_days
from api.services.retention import apply_retention
from api.settings import Settings
from api.storage.booking_models import QuoteRow
from api.storage.models import CrewDayRow, JobRow
from dispatch.day_problem import TravelSettings
from tests.api_support import DEMO_DAY, Clock, make_settings

pytestmark = pytest.mark.api

MORNING = datetime.combine(DEMO_DAY, time(6, 0))
ORDER = {
    "lon": 121.45,
    "lat": 31.22,
    "jobs": [{"kind": "delivery", "category": "refrigerator"}],
    "first_day": DEMO_DAY.isoformat(),
    "days": 1,
}


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock(MORNING)
    monkeypatch.setattr(Settings, "now", lambda self: c.now)
    return c


@pytest.fixture
def whole_reads(monkeypatch) -> list[int]:
    """Counts the days read whole from the tables (`build_problem`)."""
    quote_days.clear_caches()
    calls: list[int] = []
    real = quote_days.build_problem

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(quote_days, "build_problem", counted)
    return calls


def _read(client):
    with client.app.state.ctx.sessions() as session:
        return read_days(session, "urban", [DEMO_DAY], TravelSettings())[DEMO_DAY]


def _content(client):
    from api.services.problem_builder import build_problem

    with client.app.state.ctx.sessions() as session:
        return content_key(build_problem(session, "urban", DEMO_DAY, travel=TravelSettings()))


def test_a_day_is_read_whole_once_then_found_by_its_version(seeded, whole_reads):
    first = _read(seeded)
    assert len(whole_reads) == 1
    assert _read(seeded).prepared is first.prepared and len(whole_reads) == 1
    with seeded.app.state.ctx.sessions() as session, session.begin():
        row = session.scalars(select(JobRow).where(JobRow.due_date == DEMO_DAY)).first()
        assert row is not None
        row.record = {**row.record, "priority": "complaint"}
    changed = _read(seeded)
    assert len(whole_reads) == 2 and changed.version != first.version
    assert content_key(changed.prepared.problem) == _content(seeded)
    with seeded.app.state.ctx.sessions() as session, session.begin():
        crew = changed.prepared.problem.crews[0].id
        session.add(CrewDayRow(crew_id=crew, day=DEMO_DAY, status="sick"))
    sick = _read(seeded)
    assert len(whole_reads) == 3
    assert crew not in {c.id for c in sick.prepared.problem.crews}


def test_a_booking_keeps_the_day_it_changed(seeded, auth, clock, whole_reads):
    office = auth("dispatcher")
    r = seeded.post("/quotes", json={**ORDER, "order_id": "KEEP-1"}, headers=office)
    assert r.status_code == 201, r.text
    assert len(whole_reads) == 1
    option = r.json()["options"][0]["option_id"]
    booked = {"quote_id": r.json()["quote_id"], "option_id": option}
    assert seeded.post("/bookings", json=booked, headers=office).status_code == 201
    assert len(whole_reads) == 1  # the booking read the day by its version
    kept = _read(seeded)
    assert len(whole_reads) == 1  # and kept it as it left it
    assert "KEEP-1-D" in {j.id for j in kept.prepared.problem.jobs}
    jobs = sorted(kept.prepared.problem.jobs, key=lambda j: j.id)  # (booked ones added last)
    assert content_key(replace(kept.prepared.problem, jobs=jobs)) == _content(seeded)
    again = seeded.post("/quotes", json={**ORDER, "order_id": "KEEP-2"}, headers=office)
    assert again.status_code == 201 and len(whole_reads) == 1


def test_the_slot_grid_is_a_setting(tmp_path, auth, clock):
    settings = make_settings(tmp_path, quote_slots="09:00-12:00, 13:00-16:00", quote_lead_minutes=0)
    grid = settings.quote_grid()
    assert grid.minutes == 180 and grid.lead_minutes == 0 and len(grid.on(DEMO_DAY)) == 2
    from api.services.seed import seed_demo

    with TestClient(create_app(settings)) as client:
        seed_demo(client.app.state.ctx.sessions, MORNING, day=DEMO_DAY, jobs=30)
        r = client.post("/quotes", json=ORDER, headers=auth("dispatcher"))
        assert r.status_code == 201, r.text
        starts = {s["start"][11:16] for o in r.json()["options"] for s in o["slots"]}
        assert starts and starts <= {"09:00", "13:00"}
    for bad, says in (
        ("08:00-10:00,10:00-11:00", "as long as the first"),
        ("08:00-10:00,09:00-11:00", "overlap"),
        ("8h-10h", "not a slot"),
    ):
        with pytest.raises(ValidationError, match=says) as err:
            make_settings(tmp_path, quote_slots=bad)
        assert "quote_slots" in str(err.value)


def test_retention_deletes_quotes_past_their_lifetime(seeded, auth, clock, settings):
    office = auth("dispatcher")
    assert seeded.post("/quotes", json=ORDER, headers=office).status_code == 201
    sessions = seeded.app.state.ctx.sessions
    later = MORNING + timedelta(days=1, minutes=16)  # expired a day ago
    dry = apply_retention(sessions, DEMO_DAY - timedelta(days=400), later, dry_run=True)
    assert dry.purged["quotes"] == 1
    with sessions() as session:
        assert len(list(session.scalars(select(QuoteRow)))) == 1
    done = apply_retention(sessions, DEMO_DAY - timedelta(days=400), later)
    assert done.purged["quotes"] == 1
    with sessions() as session:
        assert list(session.scalars(select(QuoteRow))) == []
    fresh = seeded.post("/quotes", json={**ORDER, "order_id": "NEW-1"}, headers=office)
    assert fresh.status_code == 201
    assert apply_retention(sessions, DEMO_DAY - timedelta(days=400), MORNING).purged["quotes"] == 0


def test_the_day_lock_is_one_upsert_per_region_and_day(client, clock):
    """`lock_days`: what a booking takes (and counts), and what other writers of a day's
    jobs can take without counting a booking."""
    from api.services.job_rows import lock_days
    from api.storage.booking_models import BookingDayRow

    later = DEMO_DAY + timedelta(days=1)
    days = [("urban", later), ("urban", DEMO_DAY), ("urban", DEMO_DAY)]
    with client.app.state.ctx.sessions() as session, session.begin():
        lock_days(session, days, MORNING)
        lock_days(session, [("urban", DEMO_DAY)], MORNING, booking=True)
    with client.app.state.ctx.sessions() as session:
        rows = session.scalars(select(BookingDayRow).order_by(BookingDayRow.day)).all()
        assert [(r.region, r.day, r.bookings) for r in rows] == [
            ("urban", DEMO_DAY, 1),
            ("urban", later, 0),
        ]
