"""Run queued plans, each in a worker process of its own, and make sure every plan ends.

`POST /plans` only stores a plan row (`queued`, with the problem snapshot) and wakes the
runner; the row in the database is the acknowledgement, so a restart loses nothing. The
runner is a daemon thread in each service process. Every pass (every `POLL_S` seconds, or at
once when woken):

1. **reaps** its finished workers. A worker records its own outcome; if one exits while its
   row is still `running` (killed, out of memory, crashed), the plan is marked `failed` with
   the exit code and the last lines of the worker's stderr: never left `running`. A worker
   still running `OVERRUN_S` past twice its time limit is stopped as hung, its plan `failed`;
2. **cancels**: a plan with `cancel_requested` (set by `DELETE /plans/{id}`) has its worker's
   process group terminated and is marked `cancelled`;
3. **claims** queued plans, oldest first, while fewer than `max_running_plans` of its own
   workers run: a conditional UPDATE (`... WHERE status = 'queued'`) marks the plan
   `running`, so two service processes never take the same plan, then
   `python -m api.plan_worker PLAN_ID` starts in a new session (process group), with
   `DATABASE_URL` and the `FIELDROUTE_*` settings the worker needs in its environment;
4. every `SWEEP_S` seconds (and once at start) **recovers** `running` plans that no worker of
   this runner holds: if the worker recorded on the row is no longer alive, the plan is
   `failed` ("interrupted by a service restart; trigger the plan again"). A worker left
   alive by a service that died is left to finish (its result is recorded as usual) and is
   still cancellable. A row claimed less than `CLAIM_GRACE_S` ago without a worker pid yet
   is another process between claim and start, and is left alone.

On `stop()` (service shutdown) the runner terminates its workers and puts their plans back
to `queued` (or `cancelled` when a cancel was asked for), so the next start solves them again.

Liveness is checked on this host (`/proc/PID/cmdline` must be this plan's worker), so the
service processes sharing a database are assumed to run on one host. Logs name plan ids and
exit codes only, never customers.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select, update

from api.context import AppContext
from api.models import PlanRow

log = logging.getLogger("api.plans")

#: seconds between passes when nothing wakes the runner
POLL_S = 0.5
#: seconds between recovery sweeps over plans this runner does not hold
SWEEP_S = 10.0
#: a plan claimed this recently without a worker pid may be starting in another process
CLAIM_GRACE_S = 30.0
#: seconds a terminated worker gets to exit before it is killed
TERMINATE_WAIT_S = 5.0
#: a worker still running this long after twice its search time limit is stopped as hung
#: (timing, validation and writing a large day take a while after the search itself)
OVERRUN_S = 120.0
#: lines of a crashed worker's stderr kept in the plan's error
STDERR_LINES = 20
INTERRUPTED = "interrupted by a service restart; trigger the plan again"

#: the package root the worker imports `api` from
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class _Worker:
    plan_id: str
    process: subprocess.Popen[bytes]
    stderr: IO[bytes]
    #: `time.monotonic()` past which the worker is stopped as hung
    deadline: float
    limit_s: float


class PlanRunner:
    """The plan runner of one service process (see the module docstring)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers: dict[str, _Worker] = {}
        self._last_sweep = 0.0

    # ---- life cycle

    def start(self) -> None:
        """Recover plans left `running` by a previous process, then start the thread."""
        if self._thread is not None:
            return
        self._stopping.clear()
        try:
            self.recover()
        except Exception:  # the database away at start: the periodic sweep tries again
            log.exception("plan recovery at start failed")
        self._last_sweep = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="plan-runner", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread, terminate this runner's workers and requeue their plans."""
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
        """Ids of the plans this runner's workers are solving now."""
        return list(self._workers)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.run_once()
            except Exception:  # the database away for a moment, say: try again next pass
                log.exception("plan runner pass failed")
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
        recorded here, so the plan never stays `running`."""
        self._workers.pop(worker.plan_id, None)
        code = worker.process.wait()
        tail = _tail(worker.stderr)
        worker.stderr.close()
        with self.ctx.sessions() as session:
            row = session.execute(
                select(PlanRow.status, PlanRow.cancel_requested).where(PlanRow.id == worker.plan_id)
            ).first()
        if row is None or row.status != "running":
            return  # the worker recorded its outcome (or the plan was settled otherwise)
        if row.cancel_requested:
            self._mark(worker.plan_id, "cancelled", message="cancelled")
            log.info("plan %s cancelled", worker.plan_id)
        elif requeue:
            self._requeue(worker.plan_id)
            log.info("plan %s requeued: the service is stopping", worker.plan_id)
        elif overran:
            error = (
                f"the plan worker was still running long after its {worker.limit_s:g} s time "
                "limit and was stopped; trigger the plan again"
            )
            self._mark(worker.plan_id, "failed", error=error, message="failed")
            log.warning("plan %s failed: worker overran its time limit", worker.plan_id)
        else:
            how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
            error = f"the plan worker {how} without recording a result"
            if tail:
                error += "; its last output:\n" + tail
            self._mark(worker.plan_id, "failed", error=error, message="failed")
            log.warning("plan %s failed: worker %s", worker.plan_id, how)

    def _cancel_requested(self) -> None:
        if not self._workers:
            return
        with self.ctx.sessions() as session:
            ids = session.scalars(
                select(PlanRow.id).where(
                    PlanRow.id.in_(list(self._workers)), PlanRow.cancel_requested.is_(True)
                )
            ).all()
        for plan_id in ids:
            worker = self._workers.get(plan_id)
            if worker is not None:
                _terminate(worker.process.pid, worker.process)
                self._settle(worker)

    def recover(self) -> int:
        """Settle `running` plans that no live worker holds; returns how many were settled."""
        now = self.ctx.settings.now()
        with self.ctx.sessions() as session:
            rows = session.execute(
                select(
                    PlanRow.id, PlanRow.worker_pid, PlanRow.started_at, PlanRow.cancel_requested
                ).where(PlanRow.status == "running")
            ).all()
        settled = 0
        for plan_id, pid, started_at, cancel in rows:
            if plan_id in self._workers:
                continue
            if _worker_alive(pid, plan_id):
                if cancel:  # an orphan of a previous process: still ours to stop
                    _terminate(pid, None)
                    settled += self._mark(plan_id, "cancelled", message="cancelled")
                continue
            if pid is None and _recent(started_at, now):
                continue  # another process may be starting its worker right now
            if cancel:
                settled += self._mark(plan_id, "cancelled", message="cancelled")
            else:
                settled += self._mark(plan_id, "failed", error=INTERRUPTED, message="failed")
                log.warning("plan %s failed: its worker is gone (service restart)", plan_id)
        return settled

    def _claim(self) -> None:
        free = self.ctx.settings.max_running_plans - len(self._workers)
        if free <= 0:
            return
        with self.ctx.sessions() as session:
            queued = session.execute(
                select(PlanRow.id, PlanRow.options)
                .where(PlanRow.status == "queued")
                .order_by(PlanRow.created_at, PlanRow.id)
                .limit(free)
            ).all()
        for plan_id, options in queued:
            with self.ctx.sessions() as session, session.begin():
                taken = session.execute(
                    update(PlanRow)
                    .where(PlanRow.id == plan_id, PlanRow.status == "queued")
                    .values(
                        status="running",
                        started_at=self.ctx.settings.now(),
                        progress=0.0,
                        message="starting",
                        worker_pid=None,
                        version=PlanRow.version + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another process took it, or it was cancelled
            limit = (options or {}).get("time_limit_s") or self.ctx.settings.plan_time_limit_s
            self._spawn(plan_id, float(limit))

    def _spawn(self, plan_id: str, limit_s: float) -> None:
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 - kept open while the worker runs
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "api.plan_worker", plan_id],
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
                plan_id,
                "failed",
                error=f"the plan worker could not be started: {type(exc).__name__}: {exc}",
                message="failed",
            )
            log.error("plan %s: worker could not be started", plan_id)
            return
        deadline = time.monotonic() + 2 * limit_s + OVERRUN_S
        self._workers[plan_id] = _Worker(plan_id, process, stderr, deadline, limit_s)
        with self.ctx.sessions() as session, session.begin():
            session.execute(
                update(PlanRow)
                .where(PlanRow.id == plan_id, PlanRow.status == "running")
                .values(worker_pid=process.pid)
                .execution_options(synchronize_session=False)
            )
        log.info("plan %s: worker %s started", plan_id, process.pid)

    def worker_env(self) -> dict[str, str]:
        """The worker's environment: this process's, with the service's own settings (not
        whatever `FIELDROUTE_*` happened to be inherited) and the package on the path."""
        s = self.ctx.settings
        env = {
            k: v
            for k, v in os.environ.items()
            if k != "DATABASE_URL"
            and not (k.startswith("FIELDROUTE_") and not k.startswith("FIELDROUTE_TEST_"))
        }
        env.update(
            {
                "DATABASE_URL": s.database_url,
                "FIELDROUTE_ENVIRONMENT": s.environment,
                "FIELDROUTE_TIMEZONE": s.timezone,
                "FIELDROUTE_PLAN_TIME_LIMIT_S": str(s.plan_time_limit_s),
                "FIELDROUTE_PLAN_WORKERS": str(s.plan_workers),
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
                ),
            }
        )
        if s.plan_solution_limit is not None:
            env["FIELDROUTE_PLAN_SOLUTION_LIMIT"] = str(s.plan_solution_limit)
        if s.environment != "test":  # test hooks only ever reach a test worker
            env = {k: v for k, v in env.items() if not k.startswith("FIELDROUTE_TEST_")}
        return env

    # ---- row updates (conditional on `running`: an outcome already recorded stays)

    def _mark(self, plan_id: str, status: str, **values: Any) -> int:
        with self.ctx.sessions() as session, session.begin():
            result = session.execute(
                update(PlanRow)
                .where(PlanRow.id == plan_id, PlanRow.status == "running")
                .values(
                    status=status,
                    finished_at=self.ctx.settings.now(),
                    version=PlanRow.version + 1,
                    **values,
                )
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def _requeue(self, plan_id: str) -> None:
        with self.ctx.sessions() as session, session.begin():
            session.execute(
                update(PlanRow)
                .where(PlanRow.id == plan_id, PlanRow.status == "running")
                .values(
                    status="queued",
                    progress=0.0,
                    message="requeued: the service stopped while it was solving",
                    started_at=None,
                    worker_pid=None,
                    version=PlanRow.version + 1,
                )
                .execution_options(synchronize_session=False)
            )


def _recent(started_at: datetime | None, now: datetime) -> bool:
    return started_at is not None and now - started_at < timedelta(seconds=CLAIM_GRACE_S)


def _worker_alive(pid: int | None, plan_id: str) -> bool:
    """Is process `pid` alive and the worker of `plan_id` (not a recycled pid)?"""
    if pid is None:
        return False
    proc = Path("/proc")
    if proc.is_dir():
        try:
            cmdline = (proc / str(pid) / "cmdline").read_bytes()
        except OSError:
            return False
        # a zombie (exited, not yet reaped) has an empty command line: not alive
        return b"api.plan_worker" in cmdline and plan_id.encode() in cmdline
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _terminate(pid: int, process: subprocess.Popen[bytes] | None) -> None:
    """Stop a worker and its process pool: SIGTERM to its group, SIGKILL if it lingers."""
    if process is not None and process.poll() is not None:
        return
    _signal_group(pid, signal.SIGTERM)
    if process is None:
        return
    try:
        process.wait(TERMINATE_WAIT_S)
    except subprocess.TimeoutExpired:
        _signal_group(pid, signal.SIGKILL)
        process.wait()


def _signal_group(pid: int, sig: int) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(pid, sig)  # the worker leads its own session, so its group id is its pid
        else:  # pragma: no cover - not POSIX
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(stream: IO[bytes], lines: int = STDERR_LINES, max_bytes: int = 64_000) -> str:
    """The last `lines` lines of a worker's stderr (read from its temporary file)."""
    try:
        stream.flush()
        size = stream.seek(0, os.SEEK_END)
        stream.seek(max(0, size - max_bytes))
        text = stream.read().decode("utf-8", errors="replace")
    except (OSError, ValueError):
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
