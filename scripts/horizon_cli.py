"""`dispatch plan --days N`: the first day's plan as `dispatch plan` writes it, then the
following days with each day's leftovers rolled over (`dispatch.planning.horizon`).

Where day k's new jobs come from: with `--fixture` the demo city's orders of that day (the
same generator, seed + k - 1, so every day has its own orders); with `--jobs-file`, the
file's jobs whose windows lie on that day (they are in day 1's problem and wait there,
unassigned "window not on the plan day", until their day). Later days are written under
`day-K/` (plan.json, kpis.json, summary.txt) and the horizon's table to `horizon.json`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

from dispatch.day_problem import DispatchProblem
from dispatch.files.plan_io import save_plan_json
from dispatch.metrics.kpis import format_kpis, plan_kpis
from dispatch.planning.horizon import Horizon, HorizonDay, plan_horizon
from dispatch.planning.planner import PlanOptions


def later_days(
    args: argparse.Namespace, first: DispatchProblem
) -> Callable[[date], DispatchProblem]:
    """Each later day's problem before the carried jobs join it: day 1's crews, depots and
    rules, with the day's new orders (see the module docstring)."""

    def later(day: date) -> DispatchProblem:
        name = f"{first.name or 'horizon'}: day {(day - first.date).days + 1} ({day.isoformat()})"
        if not args.fixture:
            return replace(first, date=day, jobs=[], name=name)
        from fixtures.shanghai import demo_problem

        offset = (day - first.date).days
        jobs = demo_problem(day=day, jobs=args.jobs, seed=args.seed + offset, peak=args.peak).jobs
        return replace(first, date=day, jobs=jobs, name=name)

    return later


def run_horizon(
    args: argparse.Namespace,
    first: DispatchProblem,
    options: PlanOptions,
    settings: Callable[[DispatchProblem], dict],
) -> Horizon:
    """Plan `args.days` days from `first`, write days 2.. under `args.out/day-K/` and
    `horizon.json`, print the horizon's table; the caller writes day 1 as a single plan."""

    def written(k: int, day: HorizonDay) -> None:
        if k == 0:
            return
        plan = day.plan
        plan.settings = settings(plan.problem)
        folder: Path = args.out / f"day-{k + 1}"
        folder.mkdir(parents=True, exist_ok=True)
        save_plan_json(plan, folder / "plan.json", include_personal_data=not args.no_personal_data)
        kpis = plan_kpis(plan)
        (folder / "kpis.json").write_text(json.dumps(kpis.as_dict(), indent=2), encoding="utf-8")
        (folder / "summary.txt").write_text(format_kpis(kpis) + "\n", encoding="utf-8")

    horizon = plan_horizon(first, args.days, later_days(args, first), options, written)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "horizon.json").write_text(
        json.dumps(horizon.as_dict(), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    return horizon


def horizon_lines(horizon: Horizon) -> list[str]:
    """The horizon's table for the terminal, the promise on the customer's clock below it."""
    lines = [
        f"horizon of {len(horizon.days)} days (each day's leftovers roll over into the next):",
        "  day         jobs   new  carried in  planned (of them carried)  carried out      km",
    ]
    for d in horizon.days:
        row = d.as_dict()
        lines.append(
            f"  {row['date']}  {row['jobs']:5d} {row['new_jobs']:5d} {row['carried_in']:11d}"
            f" {row['planned']:8d} {row['carried_planned']:18d} {row['carried_out']:12d}"
            f" {row['km']:8.1f}"
        )
    for kind, t in horizon.promise_kept().items():
        share = f"{t['share']:.1%}" if t["share"] is not None else "-"
        lines.append(
            f"  {kind} within {t['hours']:g} h (customer's clock, hours from the order): "
            f"{t['kept']} of {t['jobs']} ({share}) over the horizon"
        )
    last = horizon.days[-1]
    lines.append(f"  open at the horizon's end: {len(last.carried_out)} jobs")
    return lines
