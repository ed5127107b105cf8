"""Solve one plan in a process of its own: `python -m api.plan_worker PLAN_ID`.

`api.plan_runner` starts this process for a plan it has marked `running`; the solve (seconds
to minutes of OR-Tools search) thus never runs in the web process, and a crash, a memory
blow-up or a kill takes down only this process. The worker

1. reads the plan row and its problem snapshot (taken when the plan was triggered);
2. solves it with `dispatch.planner.make_plan`, writing progress and the planner's message
   to the row at most `PROGRESS_EVERY_S` apart (these writes do not bump the row's version:
   progress is not a change anyone edits against);
3. stores the result (`plan_to_dict`, personal data in: the row stays on the server, and
   answers are shaped by role) and the KPIs, status `succeeded`; or, on any exception,
   status `failed` with the error (a `PlanInvalid` lists every violation).

A re-plan row (`kind` `replan`) is solved with `dispatch.replan.replan` instead: from its
parent's stored plan (which must still be the published version the re-plan was asked
against) and the day-state snapshot on the row (`api.day_state`); it stores the new plan, the
KPIs and the diff against the parent. A refusal or any error ends the re-plan `failed` with
the reason; the parent is only ever read, so the published plan stays as it was.

Every write is conditional on the row still being `running`, so a plan cancelled or given
up meanwhile is never overwritten. The database and the few settings it needs come from the
environment (`DATABASE_URL`, `FIELDROUTE_*`), which the runner sets. Logs name the plan id,
never customers.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import false, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.db import make_engine, session_factory
from api.models import PlanRow
from api.settings import Settings
from dispatch.kpis import plan_kpis
from dispatch.plan_io import plan_from_dict, plan_to_dict
from dispatch.planner import PlanOptions, make_plan
from dispatch.problem_io import problem_from_dict

log = logging.getLogger("api.plan_worker")

#: at most one progress write per this many seconds (the last one, "done", always goes)
PROGRESS_EVERY_S = 0.5
#: the longest error text kept on a plan row
MAX_ERROR_CHARS = 20_000
#: test hook: with environment "test", this variable set to 1 makes the worker die abruptly
#: (exit code 3) once it has read its plan, as a segfault or an out-of-memory kill would
CRASH_HOOK = "FIELDROUTE_TEST_CRASH_PLAN"


class ProgressWriter:
    """The planner's progress callback: throttled, monotonic, never raising into the solver."""

    def __init__(self, sessions: sessionmaker[Session], plan_id: str) -> None:
        self.sessions = sessions
        self.plan_id = plan_id
        self.fraction = 0.0
        self.last_write = 0.0

    def __call__(self, message: str, fraction: float) -> None:
        # Two constructions are searched one after the other, each reporting from the start:
        # what the row shows only ever moves forward.
        self.fraction = max(self.fraction, min(max(fraction, 0.0), 1.0))
        now = time.monotonic()
        if now - self.last_write < PROGRESS_EVERY_S and fraction < 1.0:
            return
        self.last_write = now
        try:
            with self.sessions() as session, session.begin():
                session.execute(
                    update(PlanRow)
                    .where(PlanRow.id == self.plan_id, PlanRow.status == "running")
                    .values(progress=round(self.fraction, 4), message=message[:500])
                    .execution_options(synchronize_session=False)
                )
        except Exception:  # a busy database must not abort the solve; the next write may pass
            log.warning("plan %s: progress not recorded", self.plan_id, exc_info=True)


def run_plan(sessions: sessionmaker[Session], settings: Settings, plan_id: str) -> int:
    """Solve plan `plan_id` and record the outcome; the process exit code (0: recorded)."""
    with sessions() as session:
        row = session.get(PlanRow, plan_id)
        if row is None:
            log.error("plan %s: no such plan", plan_id)
            return 2
        if row.status != "running":
            log.warning("plan %s is %s, not running: nothing to do", plan_id, row.status)
            return 0
        snapshot, options = row.problem, dict(row.options or {})
        kind, parent_id, day_state = row.kind, row.parent_id, row.day_state
    if settings.environment == "test" and os.environ.get(CRASH_HOOK) == "1":
        sys.stderr.write(f"plan {plan_id}: simulated worker crash ({CRASH_HOOK})\n")
        sys.stderr.flush()
        os._exit(3)

    log.info("plan %s: solving", plan_id)
    try:
        if kind == "replan":
            values = _solve_replan(sessions, plan_id, parent_id, day_state, options, settings)
        else:
            values = _solve_plan(sessions, plan_id, snapshot, options, settings)
    except Exception as exc:
        log.warning("plan %s failed: %s", plan_id, type(exc).__name__)
        recorded = _finish(
            sessions,
            settings,
            plan_id,
            {"status": "failed", "error": describe(exc), "message": "failed"},
        )
        return 1 if recorded else 4
    if _finish(sessions, settings, plan_id, values):
        log.info("plan %s: succeeded", plan_id)
    else:
        log.info("plan %s: result not recorded (cancelled or given up meanwhile)", plan_id)
    return 0


def _solve_plan(
    sessions: sessionmaker[Session],
    plan_id: str,
    snapshot: dict[str, Any] | None,
    options: dict[str, Any],
    settings: Settings,
) -> dict[str, Any]:
    """Solve plan `plan_id` from its problem snapshot; the row values of its outcome."""
    if snapshot is None:
        raise ValueError("the plan has no problem snapshot; trigger the plan again")
    problem = problem_from_dict(snapshot, source=f"plan {plan_id} problem")
    plan = make_plan(
        problem,
        PlanOptions(
            time_limit_s=float(options.get("time_limit_s") or settings.plan_time_limit_s),
            solution_limit=options.get("solution_limit") or settings.plan_solution_limit,
            workers=settings.plan_workers,
            progress=ProgressWriter(sessions, plan_id),
        ),
    )
    return {
        "status": "succeeded",
        "result": plan_to_dict(plan),
        "kpis": plan_kpis(plan).as_dict(),
        "progress": 1.0,
        "message": "done",
        "error": None,
    }


class ReplanFailed(Exception):
    """A re-plan that cannot start (its parent changed) or that the re-planner refused."""


def _solve_replan(
    sessions: sessionmaker[Session],
    plan_id: str,
    parent_id: str | None,
    day_state: dict[str, Any] | None,
    options: dict[str, Any],
    settings: Settings,
) -> dict[str, Any]:
    """Solve re-plan `plan_id`; the row values of its outcome (raises on failure)."""
    from api.day_state import day_state_from_dict
    from dispatch.replan import ReplanOptions, ReplanRefused, replan

    with sessions() as session:
        parent = session.get(PlanRow, parent_id) if parent_id else None
        if parent is None or day_state is None:
            raise ReplanFailed("the re-plan has no parent plan or day state; ask again")
        if parent.status != "published" or parent.result is None:
            raise ReplanFailed(
                f"plan {parent.id} is {parent.status}, no longer published; re-plan the "
                "published plan"
            )
        base = options.get("base_version")
        if base is not None and parent.version != base:
            raise ReplanFailed(
                f"plan {parent.id} changed (version {base} -> {parent.version}) after the "
                "re-plan was asked for; ask again"
            )
        base_plan = plan_from_dict(parent.result, source=f"plan {parent.id}")
    state = day_state_from_dict(day_state, source=f"re-plan {plan_id} day state")
    try:
        result = replan(
            base_plan,
            state,
            ReplanOptions(
                freeze_minutes=int(options.get("freeze_minutes", settings.freeze_minutes)),
                eta_tolerance_minutes=int(
                    options.get("eta_tolerance_minutes", settings.eta_tolerance_minutes)
                ),
                time_limit_s=float(options.get("time_limit_s") or settings.plan_time_limit_s),
                solution_limit=options.get("solution_limit") or settings.plan_solution_limit,
            ),
        )
    except ReplanRefused as exc:
        raise ReplanFailed(f"re-plan refused: {exc.reason}") from None
    return {
        "status": "succeeded",
        "result": plan_to_dict(result.plan),
        "kpis": plan_kpis(result.plan).as_dict(),
        "diff": result.diff.summary(),
        "progress": 1.0,
        "message": "done",
        "error": None,
    }


def describe(exc: BaseException) -> str:
    """The error text stored on a failed plan: the exception's class and message.

    A database error's message would quote the statement's parameters (the plan result,
    customers' names in it): only its class and the driver's error class are kept.
    """
    if isinstance(exc, SQLAlchemyError):
        cause = getattr(exc, "orig", None)
        detail = f" ({type(cause).__name__})" if cause is not None else ""
        return f"{type(exc).__name__}: database error{detail}"
    text = str(exc).strip()
    described = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return described[:MAX_ERROR_CHARS]


def _finish(
    sessions: sessionmaker[Session], settings: Settings, plan_id: str, values: dict[str, Any]
) -> bool:
    """Record the outcome if the plan is still running and not being cancelled."""
    with sessions() as session, session.begin():
        result = session.execute(
            update(PlanRow)
            .where(
                PlanRow.id == plan_id,
                PlanRow.status == "running",
                PlanRow.cancel_requested == false(),
            )
            .values(**values, finished_at=settings.now(), version=PlanRow.version + 1)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write("usage: python -m api.plan_worker PLAN_ID\n")
        return 2
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        return run_plan(session_factory(engine), settings, args[0])
    except Exception as exc:  # recording the outcome failed: the runner records the exit
        log.error("plan %s: %s", args[0], describe(exc))
        return 1
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
