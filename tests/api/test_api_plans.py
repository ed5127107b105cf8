"""Plans through the service: trigger (202), solved by the plan runner in worker processes,
read (routes, KPIs, unassigned with reasons, GeoJSON), cancel, crash and restart handling,
publication (one per region and day, versions), manual overrides with their audit log,
access by role and no personal data in plan answers."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import api.background.plan_runner as runner_module
from api.background.plan_runner import INTERRUPTED, PLANS, PlanRunner
from api.background.plan_worker import CRASH_HOOK
from api.http.app import create_app
from api.services.problem_builder import build_problem
from api.storage.models import CrewDayRow, CrewRow, JobRow, PlanRow
from dispatch.errors import InputErrors
from dispatch.files.plan_io import plan_from_dict
from dispatch.models import CREW_CAN_DO
from dispatch.plan import Plan
from dispatch.running.overrides import Move, OverrideRefused, apply_move
from tests.api_support import DEMO_DAY, bearer, poll_status

pytestmark = pytest.mark.api

DAY = DEMO_DAY.isoformat()
#: a few seconds' search: the 30-job demo day solves in well under a second of it
QUICK = {"date": DAY, "time_limit_s": 3, "solution_limit": 30}
TERMINAL = ("succeeded", "failed", "cancelled", "published", "superseded")


@pytest.fixture
def runner(seeded: TestClient) -> Iterator[PlanRunner]:
    """A plan runner on the seeded app (the test settings start no background workers)."""
    ctx = seeded.app.state.ctx
    plan_runner = PlanRunner(ctx)
    ctx.wakeups["plans"] = plan_runner.wake
    plan_runner.start()
    yield plan_runner
    plan_runner.stop()
    ctx.wakeups.pop("plans", None)


def trigger(client: TestClient, headers: dict[str, str], **body: Any) -> str:
    r = client.post("/plans", json={**QUICK, **body}, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def wait_for(
    client: TestClient,
    headers: dict[str, str],
    plan_id: str,
    *statuses: str,
    timeout: float = 60.0,
    until: Any = None,
) -> dict[str, Any]:
    """Poll the plan until it is in one of `statuses` (and `until(body)`)."""
    return poll_status(client, headers, f"/plans/{plan_id}", statuses, TERMINAL, timeout, until)


def solved(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    return wait_for(client, headers, trigger(client, headers, **body), "succeeded")


def stored(client: TestClient, plan_id: str) -> Plan:
    """The plan object as the service stores it (with its problem)."""
    with client.app.state.ctx.sessions() as session:
        return plan_from_dict(session.get(PlanRow, plan_id).result)


def urban_jobs(client: TestClient) -> int:
    """The seeded day's jobs in the urban region (the demo day has a rural one too)."""
    with client.app.state.ctx.sessions() as session:
        return len(session.scalars(select(JobRow.id).where(JobRow.region == "urban")).all())


def customer_names(client: TestClient) -> list[str]:
    with client.app.state.ctx.sessions() as session:
        records = session.scalars(select(JobRow.record)).all()
    return [r["customer_name"] for r in records if r.get("customer_name")]


# ---- trigger, solve, read


def test_trigger_solve_and_read(seeded, runner, auth):
    office = auth("dispatcher")
    r = seeded.post("/plans", json=QUICK, headers=office)
    assert r.status_code == 202, r.text
    plan_id = r.json()["id"]
    assert r.json()["status"] == "queued"
    assert r.headers["location"] == f"/plans/{plan_id}"
    assert r.json()["links"]["geojson"] == f"/plans/{plan_id}/geojson"

    again = seeded.post("/plans", json=QUICK, headers=auth("admin"))
    assert again.status_code == 409, again.text  # one queued/running plan per region and day
    assert again.json()["running_plan_id"] == plan_id

    body = wait_for(seeded, auth("manager"), plan_id, "succeeded")
    assert body["progress"] == 1.0 and body["error"] is None and body["finished_at"]
    result = body["result"]
    assert result["routes"] and all(r["stops"] for r in result["routes"])
    stop = result["routes"][0]["stops"][0]
    assert set(stop) == {"job_id", "arrival", "start", "end", "deadline", "slack_minutes"}
    planned = sum(len(r["stops"]) for r in result["routes"])
    assert planned + len(result["unassigned"]) == urban_jobs(seeded)  # every job accounted for
    assert all(u["reason"] for u in result["unassigned"])
    assert body["kpis"]["jobs"] == urban_jobs(seeded) and body["kpis"]["planned"] == planned

    listed = seeded.get("/plans", params={"date": DAY, "status": "succeeded"}, headers=office)
    assert listed.json()["total"] == 1 and listed.json()["items"][0]["id"] == plan_id
    assert "result" not in listed.json()["items"][0]

    geo = seeded.get(f"/plans/{plan_id}/geojson", headers=auth("planner"))
    assert geo.status_code == 200 and geo.json()["type"] == "FeatureCollection"
    kinds = {f["properties"]["feature"] for f in geo.json()["features"]}
    assert {"route", "stop", "depot", "zone"} <= kinds

    # no personal data in plan answers, whoever reads them
    names = customer_names(seeded)
    assert names
    for path in (f"/plans/{plan_id}", f"/plans/{plan_id}/geojson", "/plans"):
        text = seeded.get(path, headers=auth("manager")).text
        assert not [n for n in names if n in text], path

    # a finished plan does not block the next trigger
    assert seeded.post("/plans", json=QUICK, headers=office).status_code == 202


def test_roles(seeded, auth):
    assert seeded.post("/plans", json=QUICK, headers=auth("planner")).status_code == 403
    assert seeded.post("/plans", json=QUICK, headers=auth("manager")).status_code == 403
    assert seeded.get("/plans", headers=auth("driver", "DT001")).status_code == 403
    assert seeded.get("/plans").status_code == 401
    plan_id = trigger(seeded, auth("dispatcher"))  # no runner: stays queued
    assert seeded.get(f"/plans/{plan_id}", headers=auth("manager")).status_code == 200
    assert seeded.get(f"/plans/{plan_id}", headers=auth("planner")).status_code == 200
    r = seeded.post(f"/plans/{plan_id}/publish", json={"version": 1}, headers=auth("planner"))
    assert r.status_code == 403
    r = seeded.post(
        f"/plans/{plan_id}/overrides",
        json={"version": 1, "job_id": "X", "crew_id": None},
        headers=auth("manager"),
    )
    assert r.status_code == 403
    assert seeded.delete(f"/plans/{plan_id}", headers=auth("planner")).status_code == 403


def test_bad_triggers_name_the_problem(seeded, auth):
    office = auth("dispatcher")
    r = seeded.post("/plans", json={**QUICK, "date": "2026-07-01"}, headers=office)
    assert r.status_code == 422 and "nothing to plan" in r.json()["detail"]
    r = seeded.post("/plans", json={**QUICK, "zones": ["NOPE"]}, headers=office)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "zones"
    r = seeded.post("/plans", json={**QUICK, "region": "mars"}, headers=office)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "region"
    r = seeded.post("/plans", json={**QUICK, "time_limit_s": 601}, headers=office)
    assert r.status_code == 422
    # a stored job that no longer validates is named, with its field
    with seeded.app.state.ctx.sessions() as session, session.begin():
        job = session.scalars(select(JobRow).order_by(JobRow.id)).first()
        job.record = {**job.record, "lon": 999}
        bad_id = job.id
    r = seeded.post("/plans", json=QUICK, headers=office)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["record"].startswith(f"stored job {bad_id!r}")
    assert r.json()["errors"][0]["field"] == "lon"


def test_concurrent_triggers_and_publications_are_409(seeded, runner, auth, monkeypatch):
    """The checks before writing can be passed by two requests at once; the partial unique
    indexes still refuse the second (simulated here by blinding the check once)."""
    import api.http.routers.plans as plans
    import api.services.publication

    office = auth("dispatcher")
    first = trigger(seeded, office)
    real_active = plans.active_plan
    blind = iter([None])
    monkeypatch.setattr(plans, "active_plan", lambda *a: next(blind, real_active(*a)))
    r = seeded.post("/plans", json=QUICK, headers=office)
    assert r.status_code == 409 and r.json()["running_plan_id"] == first
    one = wait_for(seeded, office, first, "succeeded")
    two = solved(seeded, office)
    assert (
        seeded.post(
            f"/plans/{one['id']}/publish", json={"version": one["version"]}, headers=office
        ).status_code
        == 200
    )
    real_published = api.services.publication.published_plan
    blind = iter([None])
    monkeypatch.setattr(
        api.services.publication, "published_plan", lambda *a: next(blind, real_published(*a))
    )
    r = seeded.post(f"/plans/{two['id']}/publish", json={"version": two["version"]}, headers=office)
    assert r.status_code == 409 and r.json()["published_plan_id"] == one["id"]


def test_problem_from_the_tables(seeded):
    """Crew days (sick, booked temporary crews, changed shifts) and zones shape the problem."""
    sessions = seeded.app.state.ctx.sessions
    with sessions() as session, session.begin():
        session.add(CrewDayRow(crew_id="DT001", day=DEMO_DAY, status="sick"))
        session.add(
            CrewDayRow(
                crew_id="IC001", day=DEMO_DAY, status="available", shift_start="10:00",
                shift_end="16:00",
            )
        )  # fmt: skip
        temp = session.get(CrewRow, "RT002")
        temp.temporary = True  # not booked for the day: not planned
    with sessions() as session:
        problem = build_problem(session, "urban", DEMO_DAY)
        crews = {c.id: c for c in problem.crews}
        assert "DT001" not in crews and "RT002" not in crews
        assert crews["IC001"].shift_start.hour == 10 and crews["IC001"].shift_end.hour == 16
        assert len(problem.jobs) == urban_jobs(seeded) and problem.zones
        only = build_problem(session, "urban", DEMO_DAY, ["Z07"])
        assert only.jobs and {j.zone for j in only.jobs} == {"Z07"}
        assert {c.home_zone for c in only.crews} <= {"Z07", None}
        assert [z.id for z in only.zones] == ["Z07"]
    with sessions() as session, session.begin():
        session.add(CrewDayRow(crew_id="RT002", day=DEMO_DAY, status="available"))
        row = session.get(CrewRow, "CB001")
        row.record = {**row.record, "shift_end": "25:99"}
    with sessions() as session:
        with pytest.raises(InputErrors) as caught:
            build_problem(session, "urban", DEMO_DAY)
        (error,) = caught.value.errors
        assert error.record.startswith("stored crew 'CB001'") and error.field == "shift_end"
        session.rollback()


# ---- cancel, crash, restart


def test_cancel_queued_and_running(seeded, auth):
    office = auth("dispatcher")
    queued = trigger(seeded, office)  # no runner yet: stays queued
    r = seeded.delete(f"/plans/{queued}", headers=office)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert seeded.delete(f"/plans/{queued}", headers=office).status_code == 409

    ctx = seeded.app.state.ctx
    plan_runner = PlanRunner(ctx)
    ctx.wakeups["plans"] = plan_runner.wake
    plan_runner.start()
    try:
        running = trigger(seeded, office, time_limit_s=120, solution_limit=None)
        wait_for(seeded, office, running, "running", until=lambda b: "solution" in b["message"])
        with ctx.sessions() as session:
            pid = session.get(PlanRow, running).worker_pid
        assert pid
        r = seeded.delete(f"/plans/{running}", headers=office)
        assert r.status_code == 202 and r.json()["cancel_requested"] is True
        body = wait_for(seeded, office, running, "cancelled", timeout=20)
        assert body["result"] is None
        assert running not in plan_runner.running
        assert not PLANS.alive(pid, running)
        actions = [
            a["action"]
            for a in seeded.get(f"/plans/{running}/audit", headers=office).json()["items"]
        ]
        assert actions == ["plan_triggered", "plan_cancel_requested"]
    finally:
        plan_runner.stop()


def test_crashing_worker_ends_failed(seeded, runner, auth, monkeypatch):
    office = auth("dispatcher")
    monkeypatch.setenv(CRASH_HOOK, "1")
    plan_id = trigger(seeded, office)
    body = wait_for(seeded, office, plan_id, "failed")
    assert "exited with code 3" in body["error"]
    assert "simulated worker crash" in body["error"]
    assert body["finished_at"] and plan_id not in runner.running
    monkeypatch.delenv(CRASH_HOOK)

    # an exception inside the worker (here: a snapshot that no longer reads) is recorded too
    with seeded.app.state.ctx.sessions() as session, session.begin():
        row = session.get(PlanRow, plan_id)
        broken = PlanRow(
            id=str(uuid.uuid4()), region="urban", day=DEMO_DAY, zones=[], status="queued",
            progress=0.0, message="queued", options={"time_limit_s": 3},
            problem={**row.problem, "crews": [{"id": "C1", "kind": "spaceship"}]},
            cancel_requested=False, created_by="test", created_at=row.created_at,
        )  # fmt: skip
        session.add(broken)
        broken_id = broken.id
    runner.wake()
    body = wait_for(seeded, office, broken_id, "failed")
    assert body["error"].startswith("InputErrors") and "crew 'C1'" in body["error"]

    # a worker that hangs past its time limit is stopped: the plan does not stay running
    monkeypatch.setattr(runner_module, "OVERRUN_S", -9.5)  # deadline 0.5 s after the start
    hung = trigger(seeded, office, time_limit_s=5, solution_limit=None)
    body = wait_for(seeded, office, hung, "failed")
    assert "time limit" in body["error"] and hung not in runner.running


def test_restart_loses_nothing_acknowledged(tmp_path, settings, auth):
    """A service that dies leaves a plan `running` (its worker gone) and one `queued`: the
    next start fails the first with a clear message and solves the second."""
    from api.services.seed import seed_demo

    with TestClient(create_app(settings)) as first:
        seed_demo(first.app.state.ctx.sessions, settings.now(), day=DEMO_DAY, jobs=30)
        queued = trigger(first, auth("dispatcher"))
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        with first.app.state.ctx.sessions() as session, session.begin():
            session.add(
                PlanRow(
                    id="interrupted-plan", region="urban", day=DEMO_DAY.replace(day=19),
                    zones=[], status="running", progress=0.4, message="solving", options={},
                    cancel_requested=False, worker_pid=gone.pid, created_by="test",
                    created_at=settings.now(), started_at=settings.now(),
                )
            )  # fmt: skip

    restarted = settings.model_copy(update={"background_workers": True})
    with TestClient(create_app(restarted)) as second:
        office = bearer(restarted, "dispatcher")
        body = second.get("/plans/interrupted-plan", headers=office).json()
        assert body["status"] == "failed" and body["error"] == INTERRUPTED
        body = wait_for(second, office, queued, "succeeded")
        assert body["result"]["routes"]


def test_stopping_the_service_requeues_its_running_plans(seeded, auth):
    office = auth("dispatcher")
    ctx = seeded.app.state.ctx
    plan_runner = PlanRunner(ctx)
    ctx.wakeups["plans"] = plan_runner.wake
    plan_runner.start()
    plan_id = trigger(seeded, office, time_limit_s=120, solution_limit=None)
    wait_for(seeded, office, plan_id, "running")
    plan_runner.stop()
    body = seeded.get(f"/plans/{plan_id}", headers=office).json()
    assert body["status"] == "queued" and "requeued" in body["message"]
    # the next runner takes it up again (and a cancel ends it quickly)
    plan_runner = PlanRunner(ctx)
    ctx.wakeups["plans"] = plan_runner.wake
    plan_runner.start()
    try:
        wait_for(seeded, office, plan_id, "running")
        assert seeded.delete(f"/plans/{plan_id}", headers=office).status_code == 202
        wait_for(seeded, office, plan_id, "cancelled", timeout=20)
    finally:
        plan_runner.stop()


# ---- publish and override


def test_publish_once_per_day_with_versions(seeded, runner, auth):
    office = auth("dispatcher")
    first = solved(seeded, office)
    r = seeded.post(
        f"/plans/{first['id']}/publish", json={"version": first["version"] - 1}, headers=office
    )
    assert r.status_code == 409 and r.json()["field"] == "version"
    r = seeded.post(
        f"/plans/{first['id']}/publish", json={"version": first["version"]}, headers=office
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "published" and r.json()["version"] > first["version"]
    stop = first["result"]["routes"][0]["stops"][0]
    job = seeded.get(f"/jobs/{stop['job_id']}", headers=office).json()
    assert job["status"] == "assigned" and job["plan_id"] == first["id"]
    assert job["crew_id"] == first["result"]["routes"][0]["crew_id"]

    second = solved(seeded, office)
    r = seeded.post(
        f"/plans/{second['id']}/publish", json={"version": second["version"]}, headers=office
    )
    assert r.status_code == 409 and r.json()["published_plan_id"] == first["id"]
    r = seeded.post(
        f"/plans/{second['id']}/publish",
        json={"version": second["version"], "replaces": first["id"]},
        headers=office,
    )
    assert r.status_code == 200, r.text
    assert seeded.get(f"/plans/{first['id']}", headers=office).json()["status"] == "superseded"
    actions = [
        a["action"]
        for a in seeded.get(f"/plans/{second['id']}/audit", headers=office).json()["items"]
    ]
    assert actions == ["plan_triggered", "plan_published"]


def _valid_reorder(plan: Plan) -> Move:
    """A move of a job to another position on its own route that the validator accepts."""
    for route in plan.routes:
        for k, stop in enumerate(route.stops):
            for position in range(len(route.stops)):
                if position == k:
                    continue
                move = Move(stop.job_id, route.crew_id, position)
                try:
                    apply_move(plan, move)
                except OverrideRefused:
                    continue
                return move
    pytest.fail("the seeded plan should allow at least one valid reorder")


def _lacking_skill(plan: Plan) -> tuple[str, str]:
    """A planned job and a crew of a kind that may do it but lacks one of its skills."""
    routed = {s.job_id for r in plan.routes for s in r.stops}
    for job in plan.problem.jobs:
        if job.id not in routed or not job.skills:
            continue
        for crew in plan.problem.crews:
            if job.kind in CREW_CAN_DO[crew.kind] and not job.skills <= crew.skills:
                return job.id, crew.id
    pytest.fail("the seeded day should have a job and a crew lacking its skill")


def test_overrides_are_checked_and_audited(seeded, runner, auth):
    office = auth("dispatcher")
    body = solved(seeded, office)
    plan_id, version = body["id"], body["version"]
    plan = stored(seeded, plan_id)

    move = _valid_reorder(plan)
    r = seeded.post(
        f"/plans/{plan_id}/overrides",
        json={"version": version, "job_id": move.job_id, "crew_id": move.crew_id,
              "position": move.position},
        headers=office,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["version"] > version
    route = next(x for x in after["result"]["routes"] if x["crew_id"] == move.crew_id)
    assert route["stops"][move.position]["job_id"] == move.job_id
    assert after["kpis"]["jobs"] == urban_jobs(seeded)

    stale = seeded.post(
        f"/plans/{plan_id}/overrides",
        json={"version": version, "job_id": move.job_id, "crew_id": None},
        headers=office,
    )
    assert stale.status_code == 409 and stale.json()["version"] == after["version"]

    job_id, crew_id = _lacking_skill(plan)
    r = seeded.post(
        f"/plans/{plan_id}/overrides",
        json={"version": after["version"], "job_id": job_id, "crew_id": crew_id},
        headers=office,
    )
    assert r.status_code == 422, r.text
    assert any("lacks the skill" in reason for reason in r.json()["reasons"])
    unchanged = seeded.get(f"/plans/{plan_id}", headers=office).json()
    assert unchanged["version"] == after["version"]
    assert unchanged["result"] == after["result"]

    log = seeded.get(f"/plans/{plan_id}/audit", headers=auth("manager")).json()["items"]
    assert [a["action"] for a in log] == ["plan_triggered", "override", "override_refused"]
    assert log[1]["details"] == {
        "job_id": move.job_id, "from_crew": move.crew_id, "to_crew": move.crew_id,
        "position": move.position,
    }  # fmt: skip
    assert log[1]["actor"] == "test-dispatcher" and log[1]["job_id"] == move.job_id
    assert log[2]["details"]["to_crew"] == crew_id and log[2]["details"]["reasons"]

    r = seeded.post(
        f"/plans/{plan_id}/overrides",
        json={"version": after["version"], "job_id": "NO-SUCH-JOB", "crew_id": None},
        headers=office,
    )
    assert r.status_code == 422 and "NO-SUCH-JOB" in r.json()["reasons"][0]


def test_override_of_a_published_plan_moves_the_jobs(seeded, runner, auth):
    office = auth("dispatcher")
    body = solved(seeded, office)
    plan_id = body["id"]
    r = seeded.post(f"/plans/{plan_id}/publish", json={"version": body["version"]}, headers=office)
    assert r.status_code == 200, r.text
    version = r.json()["version"]
    route = next(x for x in body["result"]["routes"] if len(x["stops"]) >= 2)
    taken, started = route["stops"][0]["job_id"], route["stops"][1]["job_id"]

    with seeded.app.state.ctx.sessions() as session, session.begin():
        session.get(JobRow, started).status = "en_route"
    r = seeded.post(
        f"/plans/{plan_id}/overrides",
        json={"version": version, "job_id": started, "crew_id": None},
        headers=office,
    )
    assert r.status_code == 409 and r.json()["current_status"] == "en_route"

    r = seeded.post(
        f"/plans/{plan_id}/overrides",
        json={"version": version, "job_id": taken, "crew_id": None},
        headers=office,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "published"
    unassigned = {u["job_id"]: u["reason"] for u in r.json()["result"]["unassigned"]}
    assert unassigned[taken] == "removed_by_dispatcher"
    job = seeded.get(f"/jobs/{taken}", headers=office).json()
    assert job["status"] == "open" and job["crew_id"] is None and job["plan_id"] is None
