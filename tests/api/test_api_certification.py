"""Certification through the service (issue 21 §1): crews are stored with their scores, a bad
score is a 422 naming the field, and the service's rule (`FIELDROUTE_CERTIFICATION`) is in
every day it plans: the trigger's snapshot holds the rule and each job of a ruled kind its
least score, which the worker, overrides and explanations then read."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.http.app import create_app
from api.services.seed import seed_demo
from api.settings import Settings
from api.storage.models import PlanRow
from tests.api_support import DEMO_DAY, bearer

pytestmark = pytest.mark.api

CREW = {"id": "IC900", "kind": "installation_crew", "start_depot": "SP01"}


def test_crews_keep_their_certifications(seeded, auth):
    held = [
        {"kind": "installation", "score": 85, "expires": "2027-03-31"},
        {"kind": "repair", "score": 72},
    ]
    r = seeded.post("/crews", json={**CREW, "certifications": held}, headers=auth("dispatcher"))
    assert r.status_code == 201, r.text
    assert r.json()["record"]["certifications"] == [held[0], {**held[1], "expires": None}]
    bad = {**CREW, "id": "IC901", "certifications": [{"kind": "installation", "score": 101}]}
    r = seeded.post("/crews", json=bad, headers=auth("dispatcher"))
    assert r.status_code == 422, r.text
    assert "certifications" in r.text and "score" in r.text
    twice = {**CREW, "id": "IC902", "certifications": [held[0], {**held[0], "score": 90}]}
    r = seeded.post("/crews", json=twice, headers=auth("dispatcher"))
    assert r.status_code == 422 and "at most one certification per job kind" in r.text


def test_the_service_rule_is_in_the_plans_snapshot(settings: Settings):
    ruled = settings.model_copy(update={"certification": "installation=80,repair=70"})
    with TestClient(create_app(ruled)) as client:
        seed_demo(client.app.state.ctx.sessions, ruled.now(), day=DEMO_DAY, jobs=30)
        body = {"date": DEMO_DAY.isoformat(), "time_limit_s": 3, "solution_limit": 30}
        r = client.post("/plans", json=body, headers=bearer(ruled, "dispatcher"))
        assert r.status_code == 202, r.text
        with client.app.state.ctx.sessions() as session:
            snapshot = session.scalars(select(PlanRow)).one().problem
    assert snapshot["certification"] == {"installation": 80, "repair": 70}
    levels = {j["kind"]: j.get("min_certification") for j in snapshot["jobs"]}
    assert levels["installation"] == 80 and levels["repair"] == 70
    assert levels["delivery"] is None
    assert any(c.get("certifications") for c in snapshot["crews"])  # the demo's scores


def test_a_bad_rule_is_refused_at_start():
    with pytest.raises(ValueError, match="not a job kind"):
        Settings(certification="install=80")


def test_quotes_honour_the_rule(settings: Settings, monkeypatch):
    """A repair no crew is certified for (rule 100: the demo's best is 95) gets no slot; the
    same order without the rule does."""
    from datetime import datetime, time

    order = {
        "lon": 121.46, "lat": 31.23, "jobs": [{"kind": "repair", "service_minutes": 30}],
        "days": 1, "first_day": DEMO_DAY.isoformat(),
    }  # fmt: skip
    morning = datetime.combine(DEMO_DAY, time(6, 0))
    monkeypatch.setattr(Settings, "now", lambda self: morning)
    found = {}
    for rule in ("", "repair=100"):
        ruled = settings.model_copy(update={"certification": rule})
        with TestClient(create_app(ruled)) as client:
            if rule == "":
                seed_demo(client.app.state.ctx.sessions, morning, day=DEMO_DAY, jobs=30)
            r = client.post("/quotes", json=order, headers=bearer(ruled, "dispatcher"))
            assert r.status_code == 201, r.text
            found[rule] = len(r.json()["options"])
    assert found[""] > 0 and found["repair=100"] == 0
