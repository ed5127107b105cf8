"""Re-planning a published day through the service: the day state read from the tables,
refusals (not published, `at` before the last event, a re-plan already running, roles),
a sick crew's jobs moved in a new plan with its diff, approval by publication (parent
superseded, drivers' ETags change and routes say what changed, customers told of moves
beyond the tolerance), a failing or stale re-plan leaving the published plan untouched,
explanations per unassigned job, and the migration of a database at revision 0001."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from api.background.plan_runner import PlanRunner
from api.background.plan_worker import CRASH_HOOK, run_plan
from api.http.routers.explanations import explain_cache
from api.http.routers.routes import DriverRouteOut
from api.services.day_state import Overrun, Unavailable, build_day_state, day_state_from_dict
from api.services.day_state import day_state_to_dict as to_dict
from api.storage.models import CrewDayRow, CustomerNoticeRow, PlanRow
from dispatch.errors import InputError, InputErrors
from dispatch.files.plan_io import plan_from_dict
from dispatch.plan import Plan
from tests.api_support import DEMO_DAY, publish_demo_plan

pytestmark = pytest.mark.api

DAY = DEMO_DAY.isoformat()
QUICK = {"time_limit_s": 3, "solution_limit": 30}
TERMINAL = ("succeeded", "failed", "cancelled", "published", "superseded")


@pytest.fixture
def published(seeded: TestClient, settings) -> tuple[TestClient, str]:
    """The seeded demo day with its plan published: (client, plan id)."""
    return seeded, publish_demo_plan(seeded, settings)


@pytest.fixture
def runner(seeded: TestClient) -> Iterator[PlanRunner]:
    ctx = seeded.app.state.ctx
    plan_runner = PlanRunner(ctx)
    ctx.wakeups["plans"] = plan_runner.wake
    plan_runner.start()
    yield plan_runner
    plan_runner.stop()
    ctx.wakeups.pop("plans", None)


def stored(client: TestClient, plan_id: str) -> Plan:
    with client.app.state.ctx.sessions() as session:
        return plan_from_dict(session.get(PlanRow, plan_id).result)


def wait_for(client, headers, plan_id, *statuses, timeout=60.0) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/plans/{plan_id}", headers=headers).json()
        if body["status"] in statuses:
            return body
        if body["status"] in TERMINAL:
            pytest.fail(f"plan ended {body['status']}: {body['error']}")
        assert time.monotonic() < deadline, f"plan still {body['status']}"
        time.sleep(0.1)


def solve_here(client: TestClient, plan_id: str) -> None:
    """Solve a queued (re-)plan in this process, as the worker would (no runner)."""
    ctx = client.app.state.ctx
    with ctx.sessions() as session, session.begin():
        session.execute(
            update(PlanRow)
            .where(PlanRow.id == plan_id)
            .values(status="running", started_at=ctx.settings.now(), version=PlanRow.version + 1)
        )
    assert run_plan(ctx.sessions, ctx.settings, plan_id) in (0, 1)


def event(client, headers, job_id: str, kind: str, at: datetime) -> None:
    r = client.post(
        f"/jobs/{job_id}/events",
        json={"type": kind, "device_time": at.isoformat()},
        headers={**headers, "Idempotency-Key": f"{job_id}-{kind}-{uuid.uuid4()}"},
    )
    assert r.status_code in (200, 201), r.text


def busiest(plan: Plan) -> tuple[str, list[Any]]:
    """The crew with the most stops (at least 3) and its stops."""
    route = max(plan.routes, key=lambda r: (len(r.stops), r.crew_id))
    assert len(route.stops) >= 3, "the demo plan has no crew with three stops"
    return route.crew_id, route.stops


def replan(client, headers, plan_id: str, **body: Any):
    return client.post(f"/plans/{plan_id}/replan", json={**QUICK, **body}, headers=headers)


# ---- the day state


def test_day_state_from_the_tables(published, auth):
    client, plan_id = published
    office = auth("dispatcher")
    plan = stored(client, plan_id)
    crew, stops = busiest(plan)
    first, second, third = stops[0], stops[1], stops[2]
    event(client, office, first.job_id, "arrived", first.arrival)
    event(client, office, first.job_id, "completed", first.end)
    event(client, office, second.job_id, "started", second.start)
    assert client.post(
        f"/jobs/{third.job_id}/cancel", json={"reason": "customer away"}, headers=office
    ).status_code in (200, 201)
    r = client.post(
        "/jobs",
        json={
            "id": "URGENT-1", "kind": "repair", "lon": 121.47, "lat": 31.23,
            "priority": "complaint", "region": "urban", "confirmed_at": f"{DAY}T09:00:00",
            "windows": [{"start": f"{DAY}T13:00:00", "end": f"{DAY}T18:00:00"}],
        },
        headers=office,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    other = next(r.crew_id for r in plan.routes if r.crew_id != crew)
    with client.app.state.ctx.sessions() as session, session.begin():
        session.add(CrewDayRow(crew_id=other, day=DEMO_DAY, status="sick"))

    at = second.start + timedelta(minutes=5)
    with client.app.state.ctx.sessions() as session:
        parent = session.get(PlanRow, plan_id)
        state = build_day_state(
            session,
            parent,
            plan,
            at,
            [Unavailable(crew, at + timedelta(minutes=30))],
            [Overrun(second.job_id, second.end + timedelta(minutes=40))],
        )
        assert state.at == at
        assert state.done == {first.job_id: (first.arrival, first.end)}
        assert state.in_progress == {second.job_id: second.start}
        assert state.expected_end == {second.job_id: second.end + timedelta(minutes=40)}
        assert state.unavailable == {crew: at + timedelta(minutes=30), other: at}
        assert [j.id for j in state.new_jobs] == ["URGENT-1"]
        assert state.cancelled == frozenset({third.job_id})
        # customers were told their (rounded) arrival at the publication (the first job's
        # notice, unsent when it was done, gave way to its "done" notice: its planned arrival)
        told = session.scalar(
            select(CustomerNoticeRow.eta).where(
                CustomerNoticeRow.job_id == second.job_id, CustomerNoticeRow.kind == "eta"
            )
        )
        assert state.notified_eta[second.job_id] == told
        assert state.notified_eta[first.job_id] == first.arrival
        assert set(state.notified_eta) == set(plan.stop_of())
        assert day_state_from_dict(to_dict(state)) == state  # the stored form reads back

        with pytest.raises(InputError) as caught:
            build_day_state(session, parent, plan, first.end - timedelta(minutes=1))
        assert caught.value.field == "at" and "last reported event" in caught.value.message
        with pytest.raises(InputErrors) as many:
            build_day_state(
                session, parent, plan, at, [Unavailable("NOPE", at)], [Overrun("NOPE", at)]
            )
        assert [e.field for e in many.value.errors] == [
            "unavailable[0].crew_id",
            "overruns[0].job_id",
        ]


# ---- refusals


def test_refusals_name_the_reason(published, auth, monkeypatch):
    client, plan_id = published
    office = auth("dispatcher")
    plan = stored(client, plan_id)
    crew, stops = busiest(plan)
    event(client, office, stops[0].job_id, "completed", stops[0].end)

    assert replan(client, auth("planner"), plan_id).status_code == 403
    assert replan(client, auth("manager"), plan_id).status_code == 403
    assert replan(client, auth("driver", crew), plan_id).status_code == 403
    assert replan(client, office, "no-such-plan").status_code == 404

    early = (stops[0].end - timedelta(minutes=10)).isoformat()
    r = replan(client, office, plan_id, at=early)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "at"
    assert "last reported event" in r.json()["errors"][0]["message"]
    r = replan(client, office, plan_id, at="2026-06-19T10:00:00")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "at"
    at = (stops[0].end + timedelta(minutes=5)).isoformat()
    r = replan(client, office, plan_id, at=at, unavailable=[{"crew_id": "NOPE", "from": at}])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "unavailable[0].crew_id"
    r = replan(client, office, plan_id, at=at, overruns=[{"job_id": "NOPE", "expected_end": at}])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "overruns[0].job_id"
    r = replan(client, office, plan_id, at=at, freeze_minutes=-1)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][-1] == "freeze_minutes"

    r = replan(client, office, plan_id, at=at)
    assert r.status_code == 202, r.text
    first = r.json()["id"]
    assert r.json()["parent_id"] == plan_id and r.json()["links"]["diff"].endswith("/diff")
    assert r.headers["location"] == f"/plans/{first}"
    again = replan(client, auth("admin"), plan_id, at=at)
    assert again.status_code == 409 and again.json()["running_plan_id"] == first
    full = client.post("/plans", json={"date": DAY, **QUICK}, headers=office)
    assert full.status_code == 409 and full.json()["running_plan_id"] == first
    # two requests passing the check at once: the partial unique index refuses the second
    import api.http.routers.replans as replans

    real = replans.active_plan
    blind = iter([None])
    monkeypatch.setattr(replans, "active_plan", lambda *a: next(blind, real(*a)))
    raced = replan(client, office, plan_id, at=at)
    assert raced.status_code == 409 and raced.json()["running_plan_id"] == first

    body = client.get(f"/plans/{first}", headers=auth("manager")).json()
    assert body["kind"] == "replan" and body["parent_id"] == plan_id
    assert body["status"] == "queued" and body["options"]["base_version"] >= 1
    r = client.get(f"/plans/{first}/diff", headers=office)
    assert r.status_code == 409 and r.json()["current_status"] == "queued"
    assert client.get(f"/plans/{plan_id}/diff", headers=office).status_code == 404

    # a re-plan is not published: re-planning it is refused
    r = replan(client, office, first, at=at)
    assert r.status_code == 409 and r.json()["current_status"] == "queued"
    assert client.delete(f"/plans/{first}", headers=office).status_code == 200
    assert client.get(f"/plans/{plan_id}", headers=office).json()["status"] == "published"
    actions = [
        a["action"] for a in client.get(f"/plans/{plan_id}/audit", headers=office).json()["items"]
    ]
    assert "replan_requested" in actions


# ---- the whole loop


def test_sick_crew_replan_approve_and_drivers_see_what_changed(published, runner, auth):
    client, plan_id = published
    office = auth("dispatcher")
    plan = stored(client, plan_id)
    sick, stops = busiest(plan)
    done = stops[0]
    event(client, office, done.job_id, "arrived", done.arrival)
    event(client, office, done.job_id, "completed", done.end)
    at = done.end + timedelta(minutes=1)
    left = [s.job_id for s in stops[1:]]

    # before: a first publication's route carries no change marks
    before = client.get(f"/routes/{sick}", params={"date": DAY}, headers=auth("driver", sick))
    assert before.status_code == 200 and "removed" not in before.json()
    assert all("change" not in s for s in before.json()["stops"])
    etag = before.headers["etag"]

    r = replan(
        client, office, plan_id, at=at.isoformat(),
        unavailable=[{"crew_id": sick, "from": at.isoformat()}],
    )  # fmt: skip
    assert r.status_code == 202, r.text
    new_id = r.json()["id"]
    body = wait_for(client, office, new_id, "succeeded")
    assert body["kind"] == "replan" and body["parent_id"] == plan_id and body["diff"]
    diff = client.get(f"/plans/{new_id}/diff", headers=auth("planner")).json()
    assert diff["parent_id"] == plan_id and diff["diff"] == body["diff"]
    changes = diff["diff"]
    assert sick in changes["crews_changed"]
    moved = {m["job_id"]: m for m in changes["moved"]}
    assert set(left) <= set(moved)  # every stop the sick crew had left goes elsewhere
    assert all(moved[j]["from_crew"] == sick and moved[j]["to_crew"] != sick for j in left)
    new_plan = stored(client, new_id)
    new_stops = new_plan.stop_of()
    assert new_stops[done.job_id][0].crew_id == sick  # done stays where it was done
    assert client.get(f"/plans/{plan_id}", headers=office).json()["status"] == "published"

    # approve: publish with replaces
    r = client.post(
        f"/plans/{new_id}/publish",
        json={"version": body["version"], "replaces": plan_id},
        headers=office,
    )
    assert r.status_code == 200, r.text
    assert client.get(f"/plans/{plan_id}", headers=office).json()["status"] == "superseded"

    after = client.get(
        f"/routes/{sick}",
        params={"date": DAY},
        headers={**auth("driver", sick), "If-None-Match": etag},
    )
    assert after.status_code == 200 and after.headers["etag"] != etag
    route = after.json()
    DriverRouteOut.model_validate(route)
    assert route["plan_id"] == new_id
    assert sorted(route["removed"]) == sorted(left)
    assert [s["job_id"] for s in route["stops"]] == [done.job_id]
    assert route["stops"][0]["change"] is None

    receivers = {moved[j]["to_crew"] for j in left} - {None}
    for crew in sorted(receivers):
        r = client.get(f"/routes/{crew}", params={"date": DAY}, headers=auth("dispatcher"))
        got = {s["job_id"]: s for s in r.json()["stops"]}
        DriverRouteOut.model_validate(r.json())
        for job_id in left:
            if moved[job_id]["to_crew"] == crew:
                assert got[job_id]["change"] == "new"
        for s in r.json()["stops"]:
            if s["change"] == "eta_moved":
                assert s["previous_eta"] and s["previous_eta"] != s["eta"]

    # customers: only moves beyond the tolerance (or lateness) are announced again
    with client.app.state.ctx.sessions() as session:
        sent = session.scalars(
            select(CustomerNoticeRow).where(CustomerNoticeRow.plan_id == new_id)
        ).all()
    beyond = {e["job_id"] for e in changes["eta_changes"] if e["beyond_tolerance"]}
    assert {n.job_id for n in sent if n.kind == "eta_changed"} <= beyond
    assert done.job_id not in {n.job_id for n in sent}
    assert {n.kind for n in sent} <= {"eta", "eta_changed", "late"}


def test_a_failing_replan_leaves_the_published_plan_untouched(published, runner, auth, monkeypatch):
    client, plan_id = published
    office = auth("dispatcher")
    before = client.get(f"/plans/{plan_id}", headers=office).json()
    at = f"{DAY}T08:00:00"
    monkeypatch.setenv(CRASH_HOOK, "1")
    r = replan(client, office, plan_id, at=at)
    assert r.status_code == 202, r.text
    failed = wait_for(client, office, r.json()["id"], "failed")
    assert "exited with code 3" in failed["error"] and failed["diff"] is None
    monkeypatch.delenv(CRASH_HOOK)
    after = client.get(f"/plans/{plan_id}", headers=office).json()
    assert after["status"] == "published" and after["version"] == before["version"]
    assert after["result"] == before["result"]
    r = client.post(
        f"/plans/{failed['id']}/publish",
        json={"version": failed["version"], "replaces": plan_id},
        headers=office,
    )
    assert r.status_code == 409 and r.json()["current_status"] == "failed"
    assert client.get(f"/plans/{failed['id']}/diff", headers=office).status_code == 409
    # the day is free for the next re-plan
    assert replan(client, office, plan_id, at=at).status_code == 202


def test_a_replan_of_a_plan_changed_meanwhile_is_refused(published, auth):
    client, plan_id = published
    office = auth("dispatcher")
    at = f"{DAY}T08:00:00"
    first = replan(client, office, plan_id, at=at).json()["id"]
    solve_here(client, first)
    body = client.get(f"/plans/{first}", headers=office).json()
    assert body["status"] == "succeeded", body["error"]
    assert "counts" in body["diff"]

    # an override of the published plan after the re-plan was asked for
    with client.app.state.ctx.sessions() as session, session.begin():
        session.execute(
            update(PlanRow).where(PlanRow.id == plan_id).values(version=PlanRow.version + 1)
        )
    r = client.post(
        f"/plans/{first}/publish",
        json={"version": body["version"], "replaces": plan_id},
        headers=office,
    )
    assert r.status_code == 409 and r.json()["field"] == "replaces"
    assert "re-plan it again" in r.json()["detail"]
    second = replan(client, office, plan_id, at=at).json()["id"]
    with client.app.state.ctx.sessions() as session, session.begin():
        session.execute(
            update(PlanRow).where(PlanRow.id == plan_id).values(version=PlanRow.version + 1)
        )
    solve_here(client, second)
    body = client.get(f"/plans/{second}", headers=office).json()
    assert body["status"] == "failed" and "changed" in body["error"]
    assert client.get(f"/plans/{plan_id}", headers=office).json()["status"] == "published"


# ---- explanations


def test_explanations_per_unassigned_job_and_zone(published, auth):
    client, plan_id = published
    plan = stored(client, plan_id)
    explain_cache.clear()
    r = client.get(f"/plans/{plan_id}/explanations", headers=auth("manager"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["plan_id"] == plan_id and isinstance(body["zones"], list)
    unassigned = [e for e in body["jobs"] if e["status"] == "unassigned"]
    assert sorted(e["job_id"] for e in unassigned) == sorted(u.job_id for u in plan.unassigned)
    assert all(e["binding"] and e["message"] for e in unassigned)
    assert all(isinstance(f["details"], dict) for e in body["jobs"] for f in e["fixes"])
    again = client.get(f"/plans/{plan_id}/explanations", headers=auth("planner"))
    assert again.json() == body and len(explain_cache._entries) == 1
    names = [j.customer_name for j in plan.problem.jobs if j.customer_name]
    assert not [n for n in names if n in r.text]
    assert (
        client.get(f"/plans/{plan_id}/explanations", headers=auth("driver", "DT001")).status_code
        == 403
    )
    queued = replan(client, auth("dispatcher"), plan_id, at=f"{DAY}T08:00:00").json()["id"]
    r = client.get(f"/plans/{queued}/explanations", headers=auth("manager"))
    assert r.status_code == 409


# ---- migration


def test_a_database_at_0001_upgrades_with_its_plans(tmp_path):
    from api.storage.db import make_engine, migrate
    from tests.api_support import database_url

    engine = make_engine(database_url(tmp_path))
    try:
        migrate(engine, "0001")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO plans (id, region, day, zones, status, progress, message, "
                    "options, cancel_requested, created_by, created_at, version) VALUES "
                    "('old', 'urban', '2026-06-18', '[]', 'published', 1, 'done', '{}', "
                    "false, 'test', '2026-06-18 07:00:00', 1)"
                )
            )
        migrate(engine)
        with engine.connect() as conn:
            row = conn.execute(text("SELECT kind, parent_id, diff FROM plans")).one()
            assert tuple(row) == ("plan", None, None)
            assert conn.execute(text("SELECT count(*) FROM customer_notices")).scalar() == 0
    finally:
        engine.dispose()
