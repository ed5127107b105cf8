"""Solve one plan in a process of its own: `python -m api.background.plan_worker PLAN_ID`.

`api.background.plan_runner` starts this process for a plan it has marked `running`; the solve
(seconds to minutes of OR-Tools search) thus never runs in the web process, and a crash, a memory
blow-up or a kill takes down only this process. What every worker does around its work
(reading the row, recording the outcome only while the plan is still `running` and not being
cancelled, `failed` with the error on any exception, throttled progress, the exit codes) is
`api.background.worker_main`; this module is the plan's work (`PLAN`):

- a plan is solved from the problem snapshot on its row (taken when it was triggered), under
  the plan settings of the request (`options["settings"]`, `dispatch.files.plan_settings`),
  with `dispatch.planning.planner.make_plan`, progress and the planner's message written to the
  row; the result (`plan_to_dict`, personal data in: the row stays on the server, and answers
  are shaped by role; it records every setting the plan was made with, defaults included) and
  the KPIs are stored, status `succeeded` (a `PlanInvalid` that ends it
  `failed` lists every violation); the planner's warnings (a group of jobs that found no first
  solution in its time) are kept in the result and start the row's message ("done, WARNING; ...");
- a plan with `options["horizon_days"]` N > 1 plans the N-1 days after its own too
  (`dispatch.planning.horizon`, the later days read from the tables when the worker runs), each
  day's leftovers carried into the next; the row's plan is its own day's, and the later days'
  figures go to `result.horizon` (no personal data);
- a re-plan row (`kind` `replan`) is solved with `dispatch.running.replan.replan` instead: from its
  parent's stored plan (which must still be the published version the re-plan was asked
  against) and the day-state snapshot on the row (`api.services.day_state`); it stores the new plan,
  the KPIs and the diff against the parent. A refusal or any error ends the re-plan `failed`
  with the reason; the parent is only ever read, so the published plan stays as it was.

Logs name the plan id, never customers.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from api.background.worker_main import Task, WorkerSpec, main, run
from api.settings import Settings
from api.storage.models import PlanRow
from dispatch.day_problem import DispatchProblem
from dispatch.files.plan_io import plan_from_dict, plan_to_dict
from dispatch.files.plan_settings import (
    PlanSettings,
    apply_settings,
    effective_settings,
    parse_settings,
    service_rules,
)
from dispatch.files.problem_io import problem_from_dict
from dispatch.metrics.kpis import plan_kpis
from dispatch.planning.horizon import Horizon, HorizonDay, plan_horizon
from dispatch.planning.planner import PlanOptions, make_plan


def _read(row: PlanRow) -> dict[str, Any]:
    return {
        "region": row.region,
        "zones": list(row.zones or []),
        "kind": row.kind,
        "snapshot": row.problem,
        "options": dict(row.options or {}),
        "parent_id": row.parent_id,
        "day_state": row.day_state,
    }


def _work(task: Task, data: dict[str, Any]) -> dict[str, Any]:
    if data["kind"] == "replan":
        return _solve_replan(task, data["parent_id"], data["day_state"], data["options"])
    return _solve_plan(task, data["snapshot"], data["options"], data)


def _solve_plan(
    task: Task,
    snapshot: dict[str, Any] | None,
    options: dict[str, Any],
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Solve the plan from its problem snapshot (a horizon: then the later days, read from the
    tables as they are now); the row values of its outcome."""
    if snapshot is None:
        raise ValueError("the plan has no problem snapshot; trigger the plan again")
    settings = task.settings
    problem = problem_from_dict(snapshot, source=f"plan {task.id} problem")
    # the request's plan settings (checked when it was made), over the snapshot: what they
    # leave out, the travel provider the service chose included, stays as built
    asked = parse_settings(options.get("settings") or {}, f"plan {task.id}", prefix="settings")
    problem = apply_settings(problem, asked, record=f"plan {task.id}", prefix="settings")
    days = int(options.get("horizon_days") or 1)
    plan_options = PlanOptions(
        time_limit_s=float(options.get("time_limit_s") or settings.plan_time_limit_s),
        solution_limit=options.get("solution_limit") or settings.plan_solution_limit,
        workers=settings.plan_workers,
        progress=lambda message, fraction: task.progress(fraction, message),
    )
    horizon = None
    if days > 1:
        horizon = solve_horizon(task, problem, days, plan_options, data or {}, asked)
        plan = horizon.first
    else:
        plan = make_plan(problem, plan_options)
    plan.settings = effective_settings(plan.problem, service_rules(asked))
    result = plan_to_dict(plan)
    if horizon is not None:
        result["horizon"] = horizon.as_dict()  # figures and dates only: no personal data
    return {
        "status": "succeeded",
        "result": result,
        "kpis": plan_kpis(plan).as_dict(),
        "progress": 1.0,
        # the planner's warnings (a group with no first solution) stay visible on the row
        "message": "; ".join(["done, WARNING", *plan.warnings]) if plan.warnings else "done",
        "error": None,
    }


def solve_horizon(
    task: Task,
    first: DispatchProblem,
    days: int,
    plan_options: PlanOptions,
    data: dict[str, Any],
    asked: PlanSettings,
) -> Horizon:
    """The plan's day and the `days - 1` after it (`dispatch.planning.horizon`): each later
    day's crews and jobs as the tables hold them now, under the same plan settings; progress
    runs over the whole horizon."""
    from api.services.problem_builder import build_problem

    region, zones = data.get("region") or first.jobs[0].region, data.get("zones") or None
    travel = task.settings.travel_for(region)
    days_done = [0]

    def later(day: date) -> DispatchProblem:
        with task.sessions() as session:
            rules = task.settings
            problem = build_problem(
                session, region, day, zones, travel, rules.certification_rule, rules.callback_rule
            )
        return apply_settings(problem, asked, record=f"plan {task.id}", prefix="settings")

    def progress(message: str, fraction: float) -> None:
        task.progress((days_done[0] + fraction) / days, f"day {days_done[0] + 1}: {message}")

    def day_done(k: int, _day: HorizonDay) -> None:
        days_done[0] = k + 1

    return plan_horizon(first, days, later, replace(plan_options, progress=progress), day_done)


class ReplanFailed(Exception):
    """A re-plan that cannot start (its parent changed) or that the re-planner refused."""


def _solve_replan(
    task: Task,
    parent_id: str | None,
    day_state: dict[str, Any] | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    """Solve the re-plan; the row values of its outcome (raises on failure)."""
    from api.services.day_state import day_state_from_dict
    from dispatch.running.replan import ReplanOptions, ReplanRefused, replan

    settings = task.settings
    with task.sessions() as session:
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
    state = day_state_from_dict(day_state, source=f"re-plan {task.id} day state")
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


#: the plan's work, for `api.background.worker_main`
PLAN = WorkerSpec("plan", PlanRow, read=_read, work=_work)
#: test hook: with environment "test", this variable set to 1 makes the worker die abruptly
#: (exit code 3) once it has read its plan, as a segfault or an out-of-memory kill would
CRASH_HOOK = PLAN.crash_hook


def run_plan(sessions: sessionmaker[Session], settings: Settings, plan_id: str) -> int:
    """Solve plan `plan_id` and record the outcome; the process exit code (0: recorded)."""
    return run(PLAN, sessions, settings, plan_id)


if __name__ == "__main__":
    sys.exit(main(PLAN))
