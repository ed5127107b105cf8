"""Run queued background jobs (plans, season simulations; not the field jobs of `JobRow`),
each in a worker process of its own, and make sure every one ends.

`POST /plans` (`POST /simulations`) only stores a `queued` row and wakes the runner; the row
in the database is the acknowledgement, so a restart loses nothing. A `JobRunner` is a
daemon thread on the shared polling loop (`api.background.polling`) in each service process, one per
kind of job; `api.background.plan_runner` and `api.background.simulation_runner` give the kinds (a
`RunnerSpec`: the table, the worker module, the deadline rule, the concurrency limit, the messages).
Every pass (every `POLL_S` seconds, or at once when woken):

1. **reaps** its finished workers. A worker records its own outcome (`api.background.worker_main`);
   if one exits while its row is still `running` (killed, out of memory, crashed), the row is
   marked `failed` with the exit code and the last lines of the worker's stderr: never left
   `running`. A worker still running past its kind's deadline is stopped as hung, `failed`;
   then it **heartbeats**: one UPDATE sets `heartbeat_at` (now) on every row whose worker it
   holds (and on those of live workers it adopted, below);
2. **cancels**: a row with `cancel_requested` (set by `DELETE`, which cancels a `queued`
   row itself, at once) has its worker's process group terminated and is marked `cancelled`;
3. **claims** queued rows, oldest first, while fewer than the kind's limit of its own
   workers run: a conditional UPDATE (`... WHERE status = 'queued'`) marks the row
   `running` and records this host's name (`runner_host`), so two service processes never
   take the same one, then `python -m MODULE ID` starts in a new session (process group),
   with `DATABASE_URL` and the `FIELDROUTE_*` settings the worker needs in its environment;
   its pid and a first heartbeat are written to the row;
4. every `SWEEP_S` seconds (and once at start) **recovers** `running` rows that no worker of
   this runner holds, judged by the host that claimed them:

   - **this host** (or none recorded: a row claimed before migration 0006): if the worker
     recorded on the row is no longer alive (`/proc/PID/cmdline` must be this row's
     worker), the row is `failed` (the kind's "interrupted by a service restart" message).
     A worker left alive by a service that died is left to finish (its result is recorded
     as usual), is still cancellable, and is adopted: this runner heartbeats its row while
     it lives, so other hosts do not take it for lost. A row claimed less than
     `CLAIM_GRACE_S` ago without a worker pid yet is another process between claim and
     start, and is left alone;
   - **another host**: its pid means nothing here, so it is never looked up or signalled
     from here; that host's runner reaps it, cancels it (it checks `cancel_requested` of
     its own rows every pass) and heartbeats it. Only when the row's last sign of life (its
     `heartbeat_at`, or before the first heartbeat its claim, `started_at`: the claim grace
     and more) is older than `HEARTBEAT_TIMEOUT_S` is the host taken as gone: the row is
     `failed` with a message naming the host and how long it has been silent (`cancelled`
     if a cancel was asked for). A worker still alive there records nothing then (its
     outcome is written only while the row is `running`).

On `stop()` (service shutdown) the runner terminates its workers and puts their rows back to
`queued` (or `cancelled` when a cancel was asked for), so the next start runs them again.

Every state change the runner writes is conditional on the row being `running` (an outcome
already recorded stays) and bumps the row's optimistic-lock `version` where the table has one
(`api.background.worker_main.state_change`: plans do, simulations have no such column), so a client
holding an older version gets 409 rather than overwriting it. A heartbeat is not a state
change: it bumps no version.

Service processes sharing a database may run on several hosts. What that needs: each host
has a name of its own (`socket.gethostname()`; containers have theirs) that also names its
process space, since a pid is looked up only where its row's `runner_host` is this host's
name; and the hosts' clocks agree to well within `HEARTBEAT_TIMEOUT_S` (NTP), since one
host's heartbeat times are compared with another's clock (naive local times in the
service's time zone, like every time in the tables). Logs name row ids, hosts and exit codes
only, never customers.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, NamedTuple

from sqlalchemy import select, update

from api.background.polling import PollingWorker
from api.background.worker_main import state_change
from api.background.worker_processes import stderr_tail, terminate, this_host, worker_alive
from api.context import AppContext
from api.settings import Settings

#: seconds between passes when nothing wakes the runner
POLL_S = 0.5
#: seconds between recovery sweeps over rows this runner does not hold
SWEEP_S = 10.0
#: a row claimed this recently without a worker pid may be starting in another process
CLAIM_GRACE_S = 30.0
#: a row another host claimed is taken as interrupted once that host's runner has not
#: heartbeaten it for this long: three sweeps, at least a minute. Its runner writes a
#: heartbeat every pass (`POLL_S`), so this leaves room for slow passes (stopping workers
#: takes up to `worker_processes.TERMINATE_WAIT_S` each), the database away for a while and
#: clock skew.
HEARTBEAT_TIMEOUT_S = max(60.0, 3 * SWEEP_S)
#: seconds `stop()` waits for the pass in flight
STOP_WAIT_S = 10.0

#: the package root the worker imports `api` from
ROOT = Path(__file__).resolve().parents[2]


class Deadline(NamedTuple):
    """How long a worker may run before it is taken for hung, and the error then recorded."""

    seconds: float
    error: str


def _no_env(_settings: Settings) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class RunnerSpec:
    """One kind of background job, as the runner sees it."""

    #: "plan", "simulation": logs and messages
    noun: str
    #: the ORM row class: `id`, `status`, `progress`, `message`, `error`, `cancel_requested`,
    #: `worker_pid`, `created_at`, `started_at`, `finished_at` (and `version`, if any)
    row: type[Any]
    #: `python -m MODULE ID` is the worker (its command line is how liveness is checked)
    worker_module: str
    #: the row column the deadline rule reads (a plan's `options`, a simulation's `params`)
    params: str
    #: (that column's value, the service settings) -> the worker's deadline
    deadline: Callable[[dict[str, Any], Settings], Deadline]
    #: workers of this kind one service process runs at the same time
    max_running: Callable[[Settings], int]
    #: the error of a row whose worker is gone after a service restart
    interrupted: str
    #: what the worker does, for the requeue message ("solving", "running")
    doing: str = "running"
    #: environment variables this kind's worker needs besides the common ones
    extra_env: Callable[[Settings], dict[str, str]] = _no_env

    def alive(self, pid: int | None, row_id: str) -> bool:
        """Is process `pid` alive and the worker of `row_id` (not a recycled pid)?"""
        return worker_alive(pid, self.worker_module, row_id)


@dataclass
class _Worker:
    row_id: str
    process: subprocess.Popen[bytes]
    stderr: IO[bytes]
    #: `time.monotonic()` past which the worker is stopped as hung
    deadline: float
    overrun_error: str


class JobRunner(PollingWorker):
    """The runner of one kind of job in one service process (see the module docstring)."""

    def __init__(self, ctx: AppContext, spec: RunnerSpec) -> None:
        super().__init__(ctx)
        self.spec = spec
        self.name = f"{spec.noun}-runner"
        self.log = logging.getLogger(f"api.{spec.noun}s")
        self._workers: dict[str, _Worker] = {}
        #: live workers of this host found by recovery (left by a service that died):
        #: row id -> pid, heartbeaten while they live
        self._adopted: dict[str, int] = {}
        self._last_sweep = 0.0
        #: this host's name, recorded on the rows this runner claims
        self.host = this_host()

    # ---- life cycle (the loop itself is `PollingWorker`'s)

    def poll_s(self) -> float:
        return POLL_S

    def stop_timeout_s(self) -> float:
        return STOP_WAIT_S

    def on_start(self) -> None:
        """Recover rows left `running` by a previous process before the first pass."""
        try:
            self.recover()
        except Exception:  # the database away at start: the periodic sweep tries again
            self.log.exception("%s recovery at start failed", self.spec.noun)
        self._last_sweep = time.monotonic()

    def on_stop(self) -> None:
        """Terminate this runner's workers and requeue their rows."""
        for worker in list(self._workers.values()):
            terminate(worker.process.pid, worker.process)
            self._settle(worker, requeue=True)
        self._adopted.clear()  # left to finish: the next runner on this host adopts them

    @property
    def running(self) -> list[str]:
        """Ids of the rows this runner's workers are working on now."""
        return list(self._workers)

    def deliver(self) -> None:
        self.run_once()

    def run_once(self) -> None:
        """One pass: reap, heartbeat, cancel, recover (every `SWEEP_S`), claim."""
        self._reap()
        self._heartbeat()
        self._cancel_requested()
        if time.monotonic() - self._last_sweep >= SWEEP_S:
            self._last_sweep = time.monotonic()
            self.recover()
        if not self.stopping:
            self._claim()

    # ---- the passes

    def _reap(self) -> None:
        for worker in list(self._workers.values()):
            if worker.process.poll() is not None:
                self._settle(worker)
            elif time.monotonic() > worker.deadline:
                terminate(worker.process.pid, worker.process)
                self._settle(worker, overran=True)

    def _heartbeat(self) -> None:
        """One UPDATE: `heartbeat_at` now on the `running` rows of this runner's workers and
        of the live workers it adopted."""
        for row_id, pid in list(self._adopted.items()):
            if row_id in self._workers or not self.spec.alive(pid, row_id):
                del self._adopted[row_id]  # gone: the next sweep settles its row
        ids = [*self._workers, *self._adopted]
        if not ids:
            return
        row = self.spec.row
        with self.ctx.sessions() as session, session.begin():
            session.execute(
                update(row)
                .where(row.id.in_(ids), row.status == "running")
                .values(heartbeat_at=self.ctx.settings.now())  # not a state change: no version
                .execution_options(synchronize_session=False)
            )

    def _settle(self, worker: _Worker, *, requeue: bool = False, overran: bool = False) -> None:
        """Close the books on a worker that has exited: whatever it did not record is
        recorded here, so the row never stays `running`."""
        noun, row_id, row = self.spec.noun, worker.row_id, self.spec.row
        self._workers.pop(row_id, None)
        code = worker.process.wait()
        tail = stderr_tail(worker.stderr)
        worker.stderr.close()
        with self.ctx.sessions() as session:
            found = session.execute(
                select(row.status, row.cancel_requested).where(row.id == row_id)
            ).first()
        if found is None or found.status != "running":
            return  # the worker recorded its outcome (or the row was settled otherwise)
        if found.cancel_requested:
            self._mark(row_id, "cancelled", message="cancelled")
            self.log.info("%s %s cancelled", noun, row_id)
        elif requeue:
            self._requeue(row_id)
            self.log.info("%s %s requeued: the service is stopping", noun, row_id)
        elif overran:
            self._mark(row_id, "failed", error=worker.overrun_error, message="failed")
            self.log.warning("%s %s failed: worker overran its deadline", noun, row_id)
        else:
            how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
            error = f"the {noun} worker {how} without recording a result"
            if tail:
                error += "; its last output:\n" + tail
            self._mark(row_id, "failed", error=error, message="failed")
            self.log.warning("%s %s failed: worker %s", noun, row_id, how)

    def _cancel_requested(self) -> None:
        if not self._workers:
            return
        row = self.spec.row
        with self.ctx.sessions() as session:
            ids = session.scalars(
                select(row.id).where(
                    row.id.in_(list(self._workers)), row.cancel_requested.is_(True)
                )
            ).all()
        for row_id in ids:
            worker = self._workers.get(row_id)
            if worker is not None:
                terminate(worker.process.pid, worker.process)
                self._settle(worker)

    def recover(self) -> int:
        """Settle `running` rows that no live worker holds; returns how many were settled."""
        now, row = self.ctx.settings.now(), self.spec.row
        with self.ctx.sessions() as session:
            rows = session.execute(
                select(
                    row.id,
                    row.worker_pid,
                    row.started_at,
                    row.cancel_requested,
                    row.runner_host,
                    row.heartbeat_at,
                ).where(row.status == "running")
            ).all()
        adopted: dict[str, int] = {}
        settled = 0
        for found in rows:
            if found.id in self._workers:
                continue
            if found.runner_host is None or found.runner_host == self.host:
                settled += self._recover_here(found, now, adopted)
            else:
                settled += self._recover_elsewhere(found, now)
        self._adopted = adopted
        return settled

    def _recover_here(self, found: Any, now: datetime, adopted: dict[str, int]) -> int:
        """A row claimed on this host: its worker's liveness is looked up in `/proc`."""
        row_id, pid = found.id, found.worker_pid
        if pid is not None and self.spec.alive(pid, row_id):
            if found.cancel_requested:  # an orphan of a previous process: still ours to stop
                terminate(pid, None)
                return self._mark(row_id, "cancelled", message="cancelled")
            adopted[row_id] = pid  # left to finish, heartbeaten meanwhile
            return 0
        if pid is None and _recent(found.started_at, now):
            return 0  # another process may be starting its worker right now
        if found.cancel_requested:
            return self._mark(row_id, "cancelled", message="cancelled")
        settled = self._mark(row_id, "failed", error=self.spec.interrupted, message="failed")
        self.log.warning("%s %s failed: its worker is gone", self.spec.noun, row_id)
        return settled

    def _recover_elsewhere(self, found: Any, now: datetime) -> int:
        """A row claimed on another host: never looked up or signalled here; settled only
        once that host has been silent for longer than `HEARTBEAT_TIMEOUT_S`, and only if
        the row is still as read (not heartbeaten, requeued or claimed again meanwhile)."""
        row, row_id, host = self.spec.row, found.id, found.runner_host
        last = found.heartbeat_at or found.started_at
        if last is not None and now - last <= timedelta(seconds=HEARTBEAT_TIMEOUT_S):
            return 0  # its host's runner reaps, cancels and heartbeats it
        as_read = (
            row.runner_host == host,
            _same(row.heartbeat_at, found.heartbeat_at),
            _same(row.started_at, found.started_at),
        )
        if found.cancel_requested:
            return self._mark(row_id, "cancelled", where=as_read, message="cancelled")
        silent = (
            f"has been silent for {int((now - last).total_seconds())} s"
            if last is not None
            else "has never sent a heartbeat"
        )
        error = (
            f"the service on host {host} that ran its worker {silent} (a host is taken as "
            f"gone after {HEARTBEAT_TIMEOUT_S:g} s without a heartbeat): {self.spec.interrupted}"
        )
        settled = self._mark(row_id, "failed", where=as_read, error=error, message="failed")
        if settled:
            self.log.warning("%s %s failed: host %s %s", self.spec.noun, row_id, host, silent)
        return settled

    def _claim(self) -> None:
        spec, row, settings = self.spec, self.spec.row, self.ctx.settings
        free = spec.max_running(settings) - len(self._workers)
        if free <= 0:
            return
        with self.ctx.sessions() as session:
            queued = session.execute(
                select(row.id, getattr(row, spec.params))
                .where(row.status == "queued")
                .order_by(row.created_at, row.id)
                .limit(free)
            ).all()
        for row_id, params in queued:
            claim = state_change(
                row,
                status="running",
                started_at=settings.now(),
                progress=0.0,
                message="starting",
                worker_pid=None,
                runner_host=self.host,
                heartbeat_at=None,
            )
            if self._update(row_id, "queued", claim) != 1:
                continue  # another process took it, or it was cancelled
            self._spawn(row_id, spec.deadline(params or {}, settings))

    def _spawn(self, row_id: str, deadline: Deadline) -> None:
        noun = self.spec.noun
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 - kept open while the worker runs
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", self.spec.worker_module, row_id],
                env=self.worker_env(),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,  # its own process group: a cancel stops its pool too
            )
        except OSError as exc:
            stderr.close()
            error = f"the {noun} worker could not be started: {type(exc).__name__}: {exc}"
            self._mark(row_id, "failed", error=error, message="failed")
            self.log.error("%s %s: worker could not be started", noun, row_id)
            return
        self._workers[row_id] = _Worker(
            row_id, process, stderr, time.monotonic() + deadline.seconds, deadline.error
        )
        self._update(
            row_id, "running", {"worker_pid": process.pid, "heartbeat_at": self.ctx.settings.now()}
        )
        self.log.info("%s %s: worker %s started", noun, row_id, process.pid)

    def worker_env(self) -> dict[str, str]:
        """The worker's environment: this process's, with the service's own settings (not
        whatever `FIELDROUTE_*` happened to be inherited), the kind's extra variables and
        the package on the path; test hooks only ever reach a test worker."""
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
                "FIELDROUTE_LOG_FORMAT": s.log_format,  # the service's log format
                "FIELDROUTE_LOG_LEVEL": s.log_level,
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
                ),
            }
        )
        if s.plan_solution_limit is not None:
            env["FIELDROUTE_PLAN_SOLUTION_LIMIT"] = str(s.plan_solution_limit)
        env.update(s.travel_env())  # the road-matrix cache, specs with absolute paths
        env.update(self.spec.extra_env(s))
        if s.environment != "test":
            env = {k: v for k, v in env.items() if not k.startswith("FIELDROUTE_TEST_")}
        return env

    # ---- row updates (conditional on the status: an outcome already recorded stays)

    def _update(
        self, row_id: str, status: str, values: dict[str, Any], where: Sequence[Any] = ()
    ) -> int:
        """Write `values` to the row if it is still `status` (and matches `where`); how many
        rows were written."""
        row = self.spec.row
        with self.ctx.sessions() as session, session.begin():
            result = session.execute(
                update(row)
                .where(row.id == row_id, row.status == status, *where)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def _mark(self, row_id: str, status: str, where: Sequence[Any] = (), **values: Any) -> int:
        """End a `running` row: `status` (failed, cancelled) with `values`."""
        now = self.ctx.settings.now()
        change = state_change(self.spec.row, status=status, finished_at=now, **values)
        return self._update(row_id, "running", change, where)

    def _requeue(self, row_id: str) -> None:
        self._update(
            row_id,
            "running",
            state_change(
                self.spec.row,
                status="queued",
                progress=0.0,
                message=f"requeued: the service stopped while it was {self.spec.doing}",
                started_at=None,
                worker_pid=None,
                runner_host=None,
                heartbeat_at=None,
            ),
        )


def _same(column: Any, value: Any) -> Any:
    """`column` still holds `value` (SQL: `IS NULL` for None)."""
    return column.is_(None) if value is None else column == value


def _recent(started_at: datetime | None, now: datetime) -> bool:
    return started_at is not None and now - started_at < timedelta(seconds=CLAIM_GRACE_S)
