"""The callback policy through the service (issue 21 §1): a callback in the day's snapshot
names its original crew (the crew of the job it repeats) and the region's policy
(`FIELDROUTE_CALLBACK_POLICY`, the original crew preferred where none is set)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.http.app import create_app
from api.services.seed import seed_demo
from api.settings import Settings
from api.storage.models import JobRow, PlanRow
from api.storage.store import job_of, new_job_row
from dispatch.models import TimeWindow
from tests.api_support import DEMO_DAY, bearer

pytestmark = pytest.mark.api

NEXT = DEMO_DAY + timedelta(days=1)


def snapshot_of_callback(settings: Settings) -> dict:
    """Seed the demo day, complete one urban repair by RT001, open its callback tomorrow and
    trigger tomorrow's plan; the callback's record in the plan's snapshot."""
    with TestClient(create_app(settings)) as client:
        sessions = client.app.state.ctx.sessions
        seed_demo(sessions, settings.now(), day=DEMO_DAY, jobs=30)
        with sessions() as session, session.begin():
            row = session.scalars(
                select(JobRow).where(JobRow.kind == "repair", JobRow.region == "urban")
            ).first()
            row.status, row.crew_id = "completed", "RT001"
            first = job_of(row)
            w = first.windows[0]
            again = replace(
                first,
                id=f"{first.id}-CB",
                windows=(TimeWindow(w.start + timedelta(days=1), w.end + timedelta(days=1)),),
            )
            session.add(new_job_row(again, settings.now(), callback_of=row.id))
        body = {"date": NEXT.isoformat(), "time_limit_s": 3, "solution_limit": 30}
        r = client.post("/plans", json=body, headers=bearer(settings, "dispatcher"))
        assert r.status_code == 202, r.text
        with sessions() as session:
            problem = session.scalars(select(PlanRow)).one().problem
    (job,) = [j for j in problem["jobs"] if j["id"].endswith("-CB")]
    return {**job, "problem_policy": problem.get("callback_policy")}


def test_a_callback_names_its_original_crew_and_the_default_policy(settings):
    job = snapshot_of_callback(settings)
    assert (job["original_crew"], job["callback_policy"]) == ("RT001", "prefer_original")
    assert job["problem_policy"] is None


def test_the_service_policy_bars_the_original_crew(settings):
    ruled = settings.model_copy(update={"callback_policy": "urban=different_crew"})
    job = snapshot_of_callback(ruled)
    assert (job["original_crew"], job["callback_policy"]) == ("RT001", "different_crew")
    assert job["problem_policy"] == {"urban": "different_crew"}


def test_a_bad_policy_is_refused_at_start():
    with pytest.raises(ValueError, match="region=policy"):
        Settings(callback_policy="urban=whoever")
