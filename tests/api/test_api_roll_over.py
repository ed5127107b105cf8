"""Roll-over through the service (issue 20 §2): triggering a day's plan first carries the
region's open jobs left over from earlier days into it, the same clock times on the new day,
`first_due` kept (the board shows it), audited; today's jobs wait until today's plan is
published or the day is past, and a plan more than a day ahead takes none."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from api.settings import Settings
from api.storage.models import AuditRow, JobRow, PlanRow
from tests.api_support import DEMO_DAY, Clock

pytestmark = pytest.mark.api

NEXT = DEMO_DAY + timedelta(days=1)
QUICK = {"time_limit_s": 3, "solution_limit": 30}


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock(datetime.combine(DEMO_DAY, time(6, 0)))
    monkeypatch.setattr(Settings, "now", lambda self: c.now)
    return c


def trigger(client, headers, day: date) -> dict:
    r = client.post("/plans", json={**QUICK, "date": day.isoformat()}, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()


def jobs(client) -> dict[str, JobRow]:
    with client.app.state.ctx.sessions() as session:
        return {j.id: j for j in session.scalars(select(JobRow).where(JobRow.region == "urban"))}


def publish_empty_day(client, day: date, now: datetime) -> None:
    """A published plan of `day` (its routes do not matter here: only that it was published)."""
    with client.app.state.ctx.sessions() as session, session.begin():
        session.add(
            PlanRow(
                id=str(uuid.uuid4()),
                region="urban",
                day=day,
                zones=[],
                status="published",
                progress=1.0,
                message="done",
                options={},
                created_by="test",
                created_at=now,
                published_at=now,
            )
        )


def test_a_past_days_open_jobs_roll_into_todays_plan(seeded, auth, clock):
    before = jobs(seeded)
    clock.move(days=1)  # the seeded day is over; nobody planned it
    body = trigger(seeded, auth("dispatcher"), NEXT)
    assert body["rolled_over"] == len(before) > 0
    after = jobs(seeded)
    for job_id, old in before.items():
        new = after[job_id]
        assert new.due_date == NEXT and new.status == "open"
        assert new.record["first_due"] == DEMO_DAY.isoformat()
        assert new.record["confirmed_at"] == old.record["confirmed_at"]  # the promise stays
        for w_old, w_new in zip(old.record["windows"], new.record["windows"], strict=True):
            assert datetime.fromisoformat(w_new["start"]) == datetime.fromisoformat(
                w_old["start"]
            ) + timedelta(days=1)
    with seeded.app.state.ctx.sessions() as session:
        entry = session.scalar(select(AuditRow).where(AuditRow.action == "jobs_rolled_over"))
        assert entry.details["count"] == len(before)
        assert sorted(entry.details["job_ids"]) == sorted(before)
        plan = session.get(PlanRow, body["id"])
    assert {j["first_due"] for j in plan.problem["jobs"]} == {DEMO_DAY.isoformat()}
    board = seeded.get(f"/plans/{body['id']}/board", headers=auth("planner")).json()
    assert {j["first_due"] for j in board["jobs"]} == {DEMO_DAY.isoformat()}


def test_todays_jobs_wait_for_todays_plan_to_be_published(seeded, auth, clock):
    office = auth("dispatcher")
    r = seeded.post("/plans", json={**QUICK, "date": NEXT.isoformat()}, headers=office)
    assert r.status_code == 422  # today is still to be planned: tomorrow has nothing yet
    assert {j.due_date for j in jobs(seeded).values()} == {DEMO_DAY}
    publish_empty_day(seeded, DEMO_DAY, clock.now)  # today published: its leftovers go
    assert trigger(seeded, office, NEXT)["rolled_over"] == len(jobs(seeded))
    assert {j.due_date for j in jobs(seeded).values()} == {NEXT}


def test_a_plan_two_days_ahead_takes_no_leftovers(seeded, auth, clock):
    publish_empty_day(seeded, DEMO_DAY, clock.now)
    r = seeded.post(
        "/plans",
        json={**QUICK, "date": (DEMO_DAY + timedelta(days=2)).isoformat()},
        headers=auth("dispatcher"),
    )
    assert r.status_code == 422  # nothing to plan that day: the leftovers wait for tomorrow's
    assert {j.due_date for j in jobs(seeded).values()} == {DEMO_DAY}
    with seeded.app.state.ctx.sessions() as session:
        assert session.scalar(select(AuditRow).where(AuditRow.action == "jobs_rolled_over")) is None
