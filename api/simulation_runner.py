"""Run queued season simulations in worker processes, and make sure every simulation ends.

The same design as `api.plan_runner` (read its docstring), on the `simulations` table and
with `python -m api.simulation_worker SIM_ID` as the worker; a daemon thread per service
process, started and stopped with the app. Every pass (every `POLL_S`, or at once when
`POST /simulations` or `DELETE` wakes it):

1. **reaps** finished workers: a worker that exits while its row is still `running`
   (killed, out of memory, crashed) has its simulation marked `failed` with the exit code
   and the last lines of its stderr; a worker still running past its deadline
   (`deadline_s`) is stopped and its simulation `failed`;
2. **cancels**: a row with `cancel_requested` has its worker's process group terminated and
   is marked `cancelled`;
3. **claims** the oldest queued simulation when none of its own runs (`MAX_RUNNING`): a
   conditional UPDATE (`... WHERE status = 'queued'`) makes two service processes never
   take the same one, then starts the worker in its own session (process group);
4. every `SWEEP_S` (and at start) **recovers** `running` rows that no worker of this runner
   holds and whose recorded worker is gone: `failed` ("interrupted by a service restart").

On `stop()` the runner terminates its workers and puts their simulations back to `queued`,
so the next start runs them again. A simulation is never left `running`.

Why a runner of its own rather than a generalised plan runner: the plan runner's row
updates, limits and liveness check are written against the plans table (versions, plan
options, the worker's module name), and plans are the service's daily work; bending it to
two tables would touch that path for a feature that only needs a few dozen lines. What
carries over unchanged is shared: process-group termination, the stderr tail, the worker's
sanitised environment and the claim grace period (imported from `api.plan_runner`).

Simulations run one at a time per service process: a season is many plans in a row, and
the planners' work must not starve the dispatchers' daily plans of cores.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select, update

from api.context import AppContext
from api.models import SimulationRow
from api.plan_runner import ROOT, PlanRunner, _recent, _tail, _terminate

log = logging.getLogger("api.simulations")

POLL_S = 0.5
SWEEP_S = 10.0
#: simulations run at the same time by one service process
MAX_RUNNING = 1
#: a simulated day may take several planner searches (one per zone group) plus execution and
#: bookkeeping: the hang deadline allows this many time limits and seconds per day
DAY_TIME_LIMITS = 12
DAY_OVERHEAD_S = 60.0
#: start-up (imports, the city) and the report
FIXED_OVERHEAD_S = 300.0
INTERRUPTED = "interrupted by a service restart; ask for the simulation again"
WORKER_MODULE = "api.simulation_worker"


def deadline_s(params: dict[str, Any]) -> float:
    """How long a worker may run before it is taken for hung (generous on purpose: it is a
    guard against a stuck process, not a budget)."""
    resolved = params.get("settings") or {}
    planner = resolved.get("planner") or {}
    limit = float(planner.get("time_limit_s") or 8.0)
    days = int(resolved.get("days") or 30)
    runs = int(params.get("replications") or 1)
    if params.get("recommend"):
        runs *= int(params.get("rounds") or 5)
    return FIXED_OVERHEAD_S + runs * days * (DAY_TIME_LIMITS * limit + DAY_OVERHEAD_S)


@dataclass
class _Worker:
    sim_id: str
    process: subprocess.Popen[bytes]
    stderr: IO[bytes]
    deadline: float  # `time.monotonic()` past which the worker is stopped as hung


class SimulationRunner:
    """The simulation runner of one service process (see the module docstring)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers: dict[str, _Worker] = {}
        self._last_sweep = 0.0

    # ---- life cycle

    def start(self) -> None:
        """Recover simulations left `running` by a previous process, then start the thread."""
        if self._thread is not None:
            return
        self._stopping.clear()
        try:
            self.recover()
        except Exception:  # the database away at start: the periodic sweep tries again
            log.exception("simulation recovery at start failed")
        self._last_sweep = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="simulation-runner", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread, terminate this runner's workers and requeue their simulations."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for worker in list(self._workers.values()):
            _terminate(worker.process.pid, worker.process)
            self._settle(worker, requeue=True)

    @property
    def running(self) -> list[str]:
        """Ids of the simulations this runner's workers are running now."""
        return list(self._workers)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.run_once()
            except Exception:  # the database away for a moment, say: try again next pass
                log.exception("simulation runner pass failed")
            self._wake.wait(POLL_S)

    def run_once(self) -> None:
        """One pass: reap, cancel, recover (every `SWEEP_S`), claim."""
        self._reap()
        self._cancel_requested()
        if time.monotonic() - self._last_sweep >= SWEEP_S:
            self._last_sweep = time.monotonic()
            self.recover()
        if not self._stopping.is_set():
            self._claim()

    # ---- the passes

    def _reap(self) -> None:
        for worker in list(self._workers.values()):
            if worker.process.poll() is not None:
                self._settle(worker)
            elif time.monotonic() > worker.deadline:
                _terminate(worker.process.pid, worker.process)
                self._settle(worker, overran=True)

    def _settle(self, worker: _Worker, *, requeue: bool = False, overran: bool = False) -> None:
        """Close the books on a worker that has exited: whatever it did not record is
        recorded here, so the simulation never stays `running`."""
        self._workers.pop(worker.sim_id, None)
        code = worker.process.wait()
        tail = _tail(worker.stderr)
        worker.stderr.close()
        with self.ctx.sessions() as session:
            row = session.execute(
                select(SimulationRow.status, SimulationRow.cancel_requested).where(
                    SimulationRow.id == worker.sim_id
                )
            ).first()
        if row is None or row.status != "running":
            return  # the worker recorded its outcome (or the row was settled otherwise)
        if row.cancel_requested:
            self._mark(worker.sim_id, "cancelled", message="cancelled")
            log.info("simulation %s cancelled", worker.sim_id)
        elif requeue:
            self._requeue(worker.sim_id)
            log.info("simulation %s requeued: the service is stopping", worker.sim_id)
        elif overran:
            error = "the simulation worker ran far past its expected time and was stopped"
            self._mark(worker.sim_id, "failed", error=error, message="failed")
            log.warning("simulation %s failed: worker overran", worker.sim_id)
        else:
            how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
            error = f"the simulation worker {how} without recording a result"
            if tail:
                error += "; its last output:\n" + tail
            self._mark(worker.sim_id, "failed", error=error, message="failed")
            log.warning("simulation %s failed: worker %s", worker.sim_id, how)

    def _cancel_requested(self) -> None:
        if not self._workers:
            return
        with self.ctx.sessions() as session:
            ids = session.scalars(
                select(SimulationRow.id).where(
                    SimulationRow.id.in_(list(self._workers)),
                    SimulationRow.cancel_requested.is_(True),
                )
            ).all()
        for sim_id in ids:
            worker = self._workers.get(sim_id)
            if worker is not None:
                _terminate(worker.process.pid, worker.process)
                self._settle(worker)

    def recover(self) -> int:
        """Settle `running` rows that no live worker holds; returns how many were settled."""
        now = self.ctx.settings.now()
        with self.ctx.sessions() as session:
            rows = session.execute(
                select(
                    SimulationRow.id,
                    SimulationRow.worker_pid,
                    SimulationRow.started_at,
                    SimulationRow.cancel_requested,
                ).where(SimulationRow.status == "running")
            ).all()
        settled = 0
        for sim_id, pid, started_at, cancel in rows:
            if sim_id in self._workers:
                continue
            if worker_alive(pid, sim_id):
                if cancel:  # an orphan of a previous process: still ours to stop
                    _terminate(pid, None)
                    settled += self._mark(sim_id, "cancelled", message="cancelled")
                continue
            if pid is None and _recent(started_at, now):
                continue  # another process may be starting its worker right now
            if cancel:
                settled += self._mark(sim_id, "cancelled", message="cancelled")
            else:
                settled += self._mark(sim_id, "failed", error=INTERRUPTED, message="failed")
                log.warning("simulation %s failed: its worker is gone", sim_id)
        return settled

    def _claim(self) -> None:
        if len(self._workers) >= MAX_RUNNING:
            return
        with self.ctx.sessions() as session:
            queued = session.execute(
                select(SimulationRow.id, SimulationRow.params)
                .where(SimulationRow.status == "queued")
                .order_by(SimulationRow.created_at, SimulationRow.id)
                .limit(MAX_RUNNING - len(self._workers))
            ).all()
        for sim_id, params in queued:
            with self.ctx.sessions() as session, session.begin():
                taken = session.execute(
                    update(SimulationRow)
                    .where(SimulationRow.id == sim_id, SimulationRow.status == "queued")
                    .values(
                        status="running",
                        started_at=self.ctx.settings.now(),
                        progress=0.0,
                        message="starting",
                        worker_pid=None,
                    )
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another process took it, or it was cancelled
            self._spawn(sim_id, deadline_s(params or {}))

    def _spawn(self, sim_id: str, limit_s: float) -> None:
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 - kept open while the worker runs
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, sim_id],
                env=self.worker_env(),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,  # its own process group: a cancel stops its pool too
            )
        except OSError as exc:
            stderr.close()
            self._mark(
                sim_id,
                "failed",
                error=f"the simulation worker could not be started: {type(exc).__name__}: {exc}",
                message="failed",
            )
            log.error("simulation %s: worker could not be started", sim_id)
            return
        self._workers[sim_id] = _Worker(sim_id, process, stderr, time.monotonic() + limit_s)
        with self.ctx.sessions() as session, session.begin():
            session.execute(
                update(SimulationRow)
                .where(SimulationRow.id == sim_id, SimulationRow.status == "running")
                .values(worker_pid=process.pid)
                .execution_options(synchronize_session=False)
            )
        log.info("simulation %s: worker %s started", sim_id, process.pid)

    def worker_env(self) -> dict[str, str]:
        """The plan worker's environment (the service's settings, not inherited ones; test
        hooks only in tests) plus the Dask scheduler the replications may run on."""
        env = PlanRunner(self.ctx).worker_env()
        if self.ctx.settings.dask_scheduler:
            env["FIELDROUTE_DASK_SCHEDULER"] = self.ctx.settings.dask_scheduler
        return env

    # ---- row updates (conditional on `running`: an outcome already recorded stays)

    def _mark(self, sim_id: str, status: str, **values: Any) -> int:
        with self.ctx.sessions() as session, session.begin():
            result = session.execute(
                update(SimulationRow)
                .where(SimulationRow.id == sim_id, SimulationRow.status == "running")
                .values(status=status, finished_at=self.ctx.settings.now(), **values)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def _requeue(self, sim_id: str) -> None:
        with self.ctx.sessions() as session, session.begin():
            session.execute(
                update(SimulationRow)
                .where(SimulationRow.id == sim_id, SimulationRow.status == "running")
                .values(
                    status="queued",
                    progress=0.0,
                    message="requeued: the service stopped while it was running",
                    started_at=None,
                    worker_pid=None,
                )
                .execution_options(synchronize_session=False)
            )


def worker_alive(pid: int | None, sim_id: str) -> bool:
    """Is process `pid` alive and the worker of `sim_id` (not a recycled pid)?"""
    if pid is None:
        return False
    proc = Path("/proc")
    if proc.is_dir():
        try:
            cmdline = (proc / str(pid) / "cmdline").read_bytes()
        except OSError:
            return False
        # a zombie (exited, not yet reaped) has an empty command line: not alive
        return WORKER_MODULE.encode() in cmdline and sim_id.encode() in cmdline
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


__all__ = ["INTERRUPTED", "SimulationRunner", "deadline_s", "worker_alive"]
