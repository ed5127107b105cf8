"""The worker process of a background job (a plan, a season simulation): what every worker
does around its own work, written once. `api.background.job_runner` starts `python -m
api.background.plan_worker PLAN_ID` or `python -m api.background.simulation_worker SIMULATION_ID`;
both modules only say what their work is (a `WorkerSpec`) and hand it to `main`, which

1. reads the settings from the environment (`DATABASE_URL`, `FIELDROUTE_*`, set by the
   runner), logs on stderr in the service's format (`api.logs`: JSON lines by default) and
   opens the database, whose schema must be the code's: a worker never migrates, and one
   that finds the schema behind (new code on disk, `dispatch db upgrade` not yet run) or
   ahead exits with code 1 naming the command (`api.storage.db.check_schema`);
2. reads the row (`run`): no such row is exit code 2; a row no longer `running` (cancelled
   or given up meanwhile) is nothing to do, exit code 0. With environment `test` and
   `FIELDROUTE_TEST_CRASH_<KIND>=1` (`WorkerSpec.crash_hook`) it then dies abruptly, exit
   code 3, as a segfault or an out-of-memory kill would;
3. does the work, which reports progress through a `ProgressWriter` (throttled, only ever
   forward, never raising into the work, no version bump: progress is not a change anyone
   edits against) and returns the row values of its outcome; any exception instead records
   `failed` with `describe(exc)` (exit code 1, or 4 when even that was not recorded);
4. records the outcome (`record`): only while the row is still `running` and not being
   cancelled, so a job cancelled or given up meanwhile is never overwritten; the row's
   optimistic-lock `version` is bumped where the table has one (`state_change`).

A failure to record anything (the database gone) is exit code 1 with the error's class on
stderr: the runner then records the exit. Logs name the row id, never customers.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import false, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.logs import configure_logging
from api.settings import Settings
from api.storage.db import SchemaNotCurrent, check_schema, make_engine, session_factory

#: at most one progress write per this many seconds (the last one, at 1.0, always goes)
PROGRESS_EVERY_S = 0.5
#: the longest error text kept on a row
MAX_ERROR_CHARS = 20_000

Sessions = sessionmaker[Session]


@dataclass(frozen=True)
class Task:
    """What the work of one row is given."""

    sessions: Sessions
    settings: Settings
    id: str
    #: `progress(fraction, message)`: see `ProgressWriter`
    progress: Callable[[float, str], None]


@dataclass(frozen=True)
class WorkerSpec:
    """One kind of background job, as its worker process sees it."""

    #: "plan", "simulation": logs, the usage line, the crash hook's name
    noun: str
    #: the ORM row class (`PlanRow`, `SimulationRow`)
    row: type[Any]
    #: what the work needs, taken from the row while its session is open: plain values
    read: Callable[[Any], Any]
    #: the work: the row values of its outcome (`status` and the rest); raises on failure
    work: Callable[[Task, Any], dict[str, Any]]

    @property
    def crash_hook(self) -> str:
        return f"FIELDROUTE_TEST_CRASH_{self.noun.upper()}"

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"api.{self.noun}_worker")


def state_change(row: type[Any], **values: Any) -> dict[str, Any]:
    """`values`, plus the row's optimistic-lock `version` bumped where the table has one
    (plans; simulations have none): a client holding an older version then gets 409 rather
    than overwriting the change."""
    if "version" in row.__table__.c:
        values["version"] = row.version + 1
    return values


class ProgressWriter:
    """`(fraction, message)` onto a `running` row: throttled to one write per
    `PROGRESS_EVERY_S` (a fraction of 1.0 always goes), monotonic, never raising."""

    def __init__(self, sessions: Sessions, spec: WorkerSpec, row_id: str) -> None:
        self.sessions = sessions
        self.spec = spec
        self.row_id = row_id
        self.fraction = 0.0
        self.last_write = 0.0

    def __call__(self, fraction: float, message: str) -> None:
        # The planner searches two constructions one after the other, each reporting from the
        # start: what the row shows only ever moves forward.
        self.fraction = max(self.fraction, min(max(fraction, 0.0), 1.0))
        now = time.monotonic()
        if now - self.last_write < PROGRESS_EVERY_S and fraction < 1.0:
            return
        self.last_write = now
        row = self.spec.row
        try:
            with self.sessions() as session, session.begin():
                session.execute(
                    update(row)
                    .where(row.id == self.row_id, row.status == "running")
                    .values(progress=round(self.fraction, 4), message=message[:500])
                    .execution_options(synchronize_session=False)
                )
        except Exception:  # a busy database must not abort the work; the next write may pass
            self.spec.log.warning(
                "%s %s: progress not recorded", self.spec.noun, self.row_id, exc_info=True
            )


def describe(exc: BaseException) -> str:
    """The error text stored on a failed row: the exception's class and message.

    A database error's message would quote the statement's parameters (a plan's result,
    customers' names in it): only its class and the driver's error class are kept.
    """
    if isinstance(exc, SQLAlchemyError):
        cause = getattr(exc, "orig", None)
        detail = f" ({type(cause).__name__})" if cause is not None else ""
        return f"{type(exc).__name__}: database error{detail}"
    text = str(exc).strip()
    described = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return described[:MAX_ERROR_CHARS]


def record(
    sessions: Sessions, settings: Settings, spec: WorkerSpec, row_id: str, values: dict[str, Any]
) -> bool:
    """Record the outcome if the row is still running and not being cancelled."""
    row = spec.row
    with sessions() as session, session.begin():
        result = session.execute(
            update(row)
            .where(row.id == row_id, row.status == "running", row.cancel_requested == false())
            .values(**state_change(row, **values, finished_at=settings.now()))
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


def run(spec: WorkerSpec, sessions: Sessions, settings: Settings, row_id: str) -> int:
    """Do the work of row `row_id` and record the outcome; the process exit code (module doc)."""
    noun, log = spec.noun, spec.log
    with sessions() as session:
        row = session.get(spec.row, row_id)
        if row is None:
            log.error("%s %s: no such %s", noun, row_id, noun)
            return 2
        if row.status != "running":
            log.warning("%s %s is %s, not running: nothing to do", noun, row_id, row.status)
            return 0
        data = spec.read(row)
    if settings.environment == "test" and os.environ.get(spec.crash_hook) == "1":
        sys.stderr.write(f"{noun} {row_id}: simulated worker crash ({spec.crash_hook})\n")
        sys.stderr.flush()
        os._exit(3)

    log.info("%s %s: started", noun, row_id)
    task = Task(sessions, settings, row_id, ProgressWriter(sessions, spec, row_id))
    try:
        values = spec.work(task, data)
    except Exception as exc:
        log.warning("%s %s failed: %s", noun, row_id, type(exc).__name__)
        failed = {"status": "failed", "error": describe(exc), "message": "failed"}
        return 1 if record(sessions, settings, spec, row_id, failed) else 4
    if record(sessions, settings, spec, row_id, values):
        log.info("%s %s: %s", noun, row_id, values.get("status"))
    else:
        log.info("%s %s: result not recorded (cancelled or given up meanwhile)", noun, row_id)
    return 0


def main(spec: WorkerSpec, argv: Sequence[str] | None = None) -> int:
    """The worker's entry point: `python -m api.<noun>_worker ID`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write(f"usage: python -m api.{spec.noun}_worker {spec.noun.upper()}_ID\n")
        return 2
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine)  # never migrates: a schema not the code's is refused
        return run(spec, session_factory(engine), settings, args[0])
    except SchemaNotCurrent as exc:
        spec.log.error("%s %s: refused to start: %s", spec.noun, args[0], exc)
        return 1
    except Exception as exc:  # recording the outcome failed: the runner records the exit
        spec.log.error("%s %s: %s", spec.noun, args[0], describe(exc))
        return 1
    finally:
        engine.dispose()
