"""The background-job runner's rules (`api.background.job_runner`), on a stand-in worker rather
than a real solve: this module, run as `python -m tests.api.test_job_runner ROW_ID`, sleeps, crashes
or records its outcome through `api.background.worker_main` as its row id says. The
concurrency limit and oldest-first claims, the deadline, a crash's exit and output, cancelling
queued and running rows, recovery after a restart, requeueing on stop, and the version bump
where the table has a version (plans) and not where it has none (simulations). Several hosts:
the heartbeat a runner keeps on its rows, and rows of "another host" (written directly, with
`runner_host="elsewhere"`) judged by their heartbeat, never by a pid looked up or signalled
here; the 0005 -> 0006 migration that added those columns."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from api.background.job_runner import HEARTBEAT_TIMEOUT_S, Deadline, JobRunner, RunnerSpec
from api.background.plan_runner import PLANS
from api.background.simulation_runner import SIMULATIONS
from api.background.worker_main import Task, WorkerSpec, main, state_change
from api.context import AppContext
from api.storage.models import PlanRow, SimulationRow
from tests.api_support import DEMO_DAY

pytestmark = [pytest.mark.api, pytest.mark.service]  # worker processes

STAND_IN = "tests.api.test_job_runner"
OVERRAN = "the stand-in ran past its deadline"
#: a peak that fits in two simulated days
PEAK = {"peak_start_day": 1, "peak_days": 1, "ramp_days": 1, "decline_days": 0}


def _deadline(params: dict[str, Any], _settings: Any) -> Deadline:
    return Deadline(float(params.get("deadline_s", 60)), OVERRAN)


def stand_in(spec: RunnerSpec) -> RunnerSpec:
    """`spec` with this module as its worker, two at a time and a deadline from the row."""
    return dataclasses.replace(
        spec, worker_module=STAND_IN, max_running=lambda _s: 2, deadline=_deadline
    )


@pytest.fixture
def ctx(client: TestClient) -> AppContext:
    return client.app.state.ctx


@pytest.fixture
def runner(ctx: AppContext) -> Iterator[JobRunner]:
    """A simulation runner on the stand-in, driven pass by pass (`run_once`), no thread."""
    job_runner = JobRunner(ctx, stand_in(SIMULATIONS))
    yield job_runner
    job_runner.stop()


def add(ctx: AppContext, row_id: str, status: str = "queued", **values: Any) -> None:
    """A simulation row; rows added together are claimed in the order of their ids."""
    values = {"params": {}, "cancel_requested": False, **values}
    with ctx.sessions() as session, session.begin():
        session.add(
            SimulationRow(
                id=row_id, status=status, progress=0.0, message=status,
                created_by="test", created_at=ctx.settings.now(), **values,
            )
        )  # fmt: skip


def row(ctx: AppContext, row_id: str, table: type[Any] = SimulationRow) -> Any:
    with ctx.sessions() as session:
        found = session.get(table, row_id)
        session.expunge(found)
        return found


def add_plan(ctx: AppContext, plan_id: str, k: int = 0) -> None:
    """A queued plan of day `DEMO_DAY + k` (one queued or running plan per region and day)."""
    with ctx.sessions() as session, session.begin():
        session.add(
            PlanRow(
                id=plan_id, region="urban", day=DEMO_DAY + timedelta(days=k), zones=[],
                status="queued", progress=0.0, message="queued", options={},
                cancel_requested=False, created_by="test", created_at=ctx.settings.now(),
            )
        )  # fmt: skip


@contextmanager
def live_stand_in(runner: JobRunner, row_id: str) -> Iterator[subprocess.Popen[bytes]]:
    """A sleeping stand-in worker of `row_id` started here, not by the runner: alive by
    `/proc`, so a runner that looked it up or signalled it would be caught."""
    process = subprocess.Popen(
        [sys.executable, "-m", STAND_IN, row_id], env=runner.worker_env(), start_new_session=True
    )
    try:
        deadline = time.monotonic() + 10
        while not runner.spec.alive(process.pid, row_id):
            assert time.monotonic() < deadline, "the stand-in did not start"
            time.sleep(0.05)
        yield process
    finally:
        process.kill()
        process.wait()


def until(runner: JobRunner, check: Callable[[], Any], timeout: float = 30.0) -> None:
    """Run passes until `check()` holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        runner.run_once()
        time.sleep(0.05)


def test_claims_oldest_first_up_to_the_limit(ctx, runner):
    for row_id in ("done-1", "sleep-2", "sleep-3"):
        add(ctx, row_id)
    runner.run_once()
    assert runner.running == ["done-1", "sleep-2"]
    assert row(ctx, "sleep-3").status == "queued"
    assert row(ctx, "sleep-2").worker_pid and row(ctx, "sleep-2").message == "starting"

    # the first one records its outcome and exits: its place goes to the next in line
    until(runner, lambda: runner.running == ["sleep-2", "sleep-3"])
    done = row(ctx, "done-1")
    assert done.status == "done" and done.progress == 1.0 and done.finished_at
    assert done.error is None


def test_a_worker_past_its_deadline_is_stopped(ctx, runner):
    add(ctx, "sleep-1", params={"deadline_s": 0.5})
    runner.run_once()
    pid = row(ctx, "sleep-1").worker_pid
    until(runner, lambda: row(ctx, "sleep-1").status != "running")
    stopped = row(ctx, "sleep-1")
    assert stopped.status == "failed" and stopped.error == OVERRAN and stopped.finished_at
    assert runner.running == [] and not runner.spec.alive(pid, "sleep-1")


def test_a_crashed_worker_fails_with_its_exit_and_output(ctx, runner):
    add(ctx, "crash-1")
    runner.run_once()
    assert runner.running == ["crash-1"]
    until(runner, lambda: not runner.running)
    crashed = row(ctx, "crash-1")
    assert crashed.status == "failed"
    assert crashed.error.startswith("the simulation worker exited with code 5 without")
    assert "; its last output:\n" in crashed.error
    assert crashed.error.endswith("\nboom: the stand-in crashed")


def test_cancel_queued_at_once_and_running_by_killing_it(ctx, runner, client, auth):
    planner = auth("planner")
    body = {"fixture": "shanghai", "days": 2, "scale": 0.03, "settings": {"demand": PEAK}}
    queued = client.post("/simulations", json=body, headers=planner).json()["id"]
    r = client.delete(f"/simulations/{queued}", headers=planner)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    runner.run_once()
    assert runner.running == [] and row(ctx, queued).status == "cancelled"  # never claimed

    add(ctx, "sleep-1")
    runner.run_once()
    pid = row(ctx, "sleep-1").worker_pid
    assert runner.spec.alive(pid, "sleep-1")
    with ctx.sessions() as session, session.begin():
        session.get(SimulationRow, "sleep-1").cancel_requested = True
    runner.run_once()
    cancelled = row(ctx, "sleep-1")
    assert cancelled.status == "cancelled" and cancelled.message == "cancelled"
    assert runner.running == [] and not runner.spec.alive(pid, "sleep-1")


def test_recovery_of_rows_left_running(ctx, runner):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    now = ctx.settings.now()
    add(ctx, "gone-1", status="running", worker_pid=gone.pid, started_at=now)
    add(ctx, "starting-2", status="running", started_at=now)  # being started elsewhere
    add(ctx, "stuck-3", status="running", started_at=now - timedelta(minutes=1))
    orphan = subprocess.Popen(
        [sys.executable, "-m", STAND_IN, "sleep-4"],
        env=runner.worker_env(),
        start_new_session=True,
    )
    try:
        add(ctx, "sleep-4", status="running", worker_pid=orphan.pid, started_at=now)
        until(runner, lambda: runner.spec.alive(orphan.pid, "sleep-4"), timeout=10)
        assert runner.recover() == 2
        for row_id in ("gone-1", "stuck-3"):
            failed = row(ctx, row_id)
            assert failed.status == "failed" and failed.error == SIMULATIONS.interrupted
        assert row(ctx, "starting-2").status == "running"
        assert row(ctx, "sleep-4").status == "running"  # a live orphan is left to finish...
        runner.run_once()
        assert row(ctx, "sleep-4").heartbeat_at is not None  # ... heartbeaten meanwhile...

        with ctx.sessions() as session, session.begin():
            session.get(SimulationRow, "sleep-4").cancel_requested = True
        assert runner.recover() == 1  # ... and is still cancellable
        assert row(ctx, "sleep-4").status == "cancelled"
        assert orphan.wait(10) != 0
    finally:
        orphan.kill()
        orphan.wait()


def test_stop_requeues_the_rows_it_was_running(ctx, runner):
    add(ctx, "sleep-1")
    runner.run_once()
    pid = row(ctx, "sleep-1").worker_pid
    runner.stop()
    requeued = row(ctx, "sleep-1")
    assert requeued.status == "queued" and requeued.worker_pid is None
    assert requeued.started_at is None
    assert requeued.message == "requeued: the service stopped while it was running"
    assert not runner.spec.alive(pid, "sleep-1")


def test_state_changes_bump_the_version_where_the_table_has_one(ctx):
    assert state_change(PlanRow, status="failed")["version"] is not None
    assert state_change(SimulationRow, status="failed") == {"status": "failed"}

    runner = JobRunner(ctx, stand_in(PLANS))
    with ctx.sessions() as session, session.begin():
        for k, plan_id in enumerate(("plan-crash-1", "plan-done-2", "plan-sleep-3")):
            session.add(
                PlanRow(
                    id=plan_id, region="urban", day=DEMO_DAY + timedelta(days=k), zones=[],
                    status="queued", progress=0.0, message="queued", options={},
                    cancel_requested=False, created_by="test", created_at=ctx.settings.now(),
                )
            )  # fmt: skip
    try:
        runner.run_once()
        assert row(ctx, "plan-crash-1", PlanRow).version == 2  # claimed
        until(runner, lambda: runner.running == ["plan-sleep-3"])
    finally:
        runner.stop()
    versions = {
        plan_id: (found.status, found.version)
        for plan_id in ("plan-crash-1", "plan-done-2", "plan-sleep-3")
        for found in [row(ctx, plan_id, PlanRow)]
    }
    assert versions == {
        "plan-crash-1": ("failed", 3),  # claimed, failed by the runner
        "plan-done-2": ("succeeded", 3),  # claimed, recorded by the worker
        "plan-sleep-3": ("queued", 3),  # claimed, requeued on stop
    }


# ---- several hosts: heartbeats, and rows claimed on another host


def test_the_heartbeat_moves_while_a_worker_runs_and_bumps_no_version(ctx):
    runner = JobRunner(ctx, stand_in(PLANS))
    add_plan(ctx, "plan-sleep-1")
    try:
        runner.run_once()
        claimed = row(ctx, "plan-sleep-1", PlanRow)
        assert claimed.runner_host == runner.host and claimed.worker_pid
        assert claimed.heartbeat_at is not None and claimed.version == 2
        first = claimed.heartbeat_at
        until(runner, lambda: row(ctx, "plan-sleep-1", PlanRow).heartbeat_at > first, timeout=5)
        assert row(ctx, "plan-sleep-1", PlanRow).version == 2  # a heartbeat is no state change
    finally:
        runner.stop()
    requeued = row(ctx, "plan-sleep-1", PlanRow)
    assert requeued.status == "queued" and requeued.runner_host is None
    assert requeued.heartbeat_at is None


def test_a_row_of_another_host_with_a_fresh_heartbeat_is_left_alone(ctx, runner):
    now = ctx.settings.now()
    # a live process here whose pid the other host's row happens to carry: never signalled
    with live_stand_in(runner, "sleep-elsewhere-1") as process:
        add(
            ctx, "sleep-elsewhere-1", status="running", worker_pid=process.pid,
            runner_host="elsewhere", started_at=now - timedelta(hours=1), heartbeat_at=now,
            cancel_requested=True,  # cancelled by the runner on its host, not from here
        )  # fmt: skip
        # claimed long ago there, first heartbeat not yet: the claim still counts
        add(ctx, "starting-elsewhere-2", status="running", runner_host="elsewhere",
            started_at=now - timedelta(seconds=HEARTBEAT_TIMEOUT_S / 2))  # fmt: skip
        assert runner.recover() == 0
        for _ in range(3):
            runner.run_once()
        assert process.poll() is None and runner.running == []
        left = row(ctx, "sleep-elsewhere-1")
        assert left.status == "running" and left.heartbeat_at == now  # not ours to heartbeat
        assert row(ctx, "starting-elsewhere-2").status == "running"


def test_a_row_of_another_host_with_a_stale_heartbeat_is_failed(ctx, runner):
    now = ctx.settings.now()
    silent = timedelta(seconds=HEARTBEAT_TIMEOUT_S + 15)
    with live_stand_in(runner, "sleep-elsewhere-1") as process:
        add(
            ctx, "sleep-elsewhere-1", status="running", worker_pid=process.pid,
            runner_host="elsewhere", started_at=now - timedelta(hours=1),
            heartbeat_at=now - silent,
        )  # fmt: skip
        add(
            ctx, "sleep-elsewhere-2", status="running", worker_pid=process.pid,
            runner_host="elsewhere", started_at=now - timedelta(hours=1),
            heartbeat_at=now - silent, cancel_requested=True,
        )  # fmt: skip
        # claimed there, and the host went away before its first heartbeat
        add(ctx, "starting-elsewhere-3", status="running", runner_host="elsewhere",
            started_at=now - 2 * silent)  # fmt: skip
        assert runner.recover() == 3
        assert process.poll() is None  # the pid is another host's: not signalled here

    failed = row(ctx, "sleep-elsewhere-1")
    assert failed.status == "failed" and failed.finished_at and failed.message == "failed"
    assert re.fullmatch(
        r"the service on host elsewhere that ran its worker has been silent for \d+ s \(a "
        rf"host is taken as gone after {HEARTBEAT_TIMEOUT_S:g} s without a heartbeat\): "
        + re.escape(SIMULATIONS.interrupted),
        failed.error,
    ), failed.error
    seconds = int(re.search(r"silent for (\d+) s", failed.error)[1])
    assert silent.total_seconds() <= seconds <= silent.total_seconds() + 5
    assert row(ctx, "sleep-elsewhere-2").status == "cancelled"
    never = row(ctx, "starting-elsewhere-3")
    assert never.status == "failed" and "host elsewhere" in never.error


def test_a_row_of_this_host_whose_worker_died_fails_whatever_its_heartbeat(ctx, runner):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    now = ctx.settings.now()
    add(
        ctx, "gone-1", status="running", worker_pid=gone.pid, runner_host=runner.host,
        started_at=now, heartbeat_at=now,
    )  # fmt: skip
    assert runner.recover() == 1
    failed = row(ctx, "gone-1")
    assert failed.status == "failed" and failed.error == SIMULATIONS.interrupted


def test_migration_0006_downgrades_and_upgrades(tmp_path: Path) -> None:
    from alembic import command

    from api.storage.db import alembic_config, make_engine, migrate
    from tests.api_support import database_url

    added = {"runner_host", "heartbeat_at"}

    def columns(table: str) -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns(table)}

    def indexes(table: str) -> set[str | None]:
        return {i["name"] for i in inspect(engine).get_indexes(table)}

    engine = make_engine(database_url(tmp_path))
    try:
        migrate(engine)
        plan_indexes = indexes("plans")
        assert {"uq_plans_active_region_day", "uq_plans_published_region_day"} <= plan_indexes
        for table in ("plans", "simulations"):
            assert added <= columns(table)
        command.downgrade(alembic_config(engine), "0005")
        for table in ("plans", "simulations"):
            assert not added & columns(table) and "worker_pid" in columns(table)
        assert indexes("plans") == plan_indexes  # the partial unique indexes survive
        migrate(engine)
        for table in ("plans", "simulations"):
            assert added <= columns(table)
    finally:
        engine.dispose()


# ---- the stand-in worker


def _stand_in_work(task: Task, _data: Any) -> dict[str, Any]:
    task.progress(0.5, "halfway")
    status = "succeeded" if task.id.startswith("plan-") else "done"
    return {"status": status, "progress": 1.0, "message": "done", "error": None}


def _stand_in(row_id: str) -> int:
    """The worker the runner starts in these tests: crash, sleep until killed, or record."""
    if "crash" in row_id:
        sys.stderr.write("boom: the stand-in crashed\n")
        return 5
    if "sleep" in row_id:
        time.sleep(300)
        return 0
    table = PlanRow if row_id.startswith("plan-") else SimulationRow
    noun = "plan" if table is PlanRow else "simulation"
    return main(WorkerSpec(noun, table, read=lambda _row: None, work=_stand_in_work), [row_id])


if __name__ == "__main__":
    sys.exit(_stand_in(sys.argv[1]))
