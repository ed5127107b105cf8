"""Benchmark the midday re-plan on the demo city, beside a from-scratch plan of the same work.

    python -m scripts.bench_replan [--runs 3] [--cache morning-plan.json]
                                   [--scratch-time 40] [--out results.json]

The morning plan of the 1,500-job demo day (`fixtures.shanghai.demo_problem()`, planned with
`PlanOptions(time_limit_s=40)`) is cached as plan JSON (`--cache`) so later runs skip it. At
12:00 the day stands as planned (`state_as_planned`: stops that ended are done, stops that
span 12:00 are in progress); the installation crew with the most stops left after 12:00
drops out at 12:00, and 20 urgent repairs arrive (priority complaint, window 13:00-18:00, at
the addresses of 20 of the day's jobs drawn with a fixed seed).

* **re-plan**: `replan(plan, state)` with default options, `--runs` times (median wall time);
* **from scratch**: `make_plan` on the remaining work (jobs not started + the urgent ones,
  the sick crew left out), each crew starting where and when the state leaves it (a depot at
  its last stop, its shift from when it is free, no lunch if taken, fewer jobs allowed).

Both are compared with the morning plan: jobs moved to another crew (or off / onto the
unassigned list), ETAs moved beyond the 30-minute tolerance, unassigned jobs, and the km
still to drive after 12:00. Prints a table and one JSON document (also written to `--out`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import numpy as np

from dispatch.day_problem import DispatchProblem
from dispatch.files.plan_io import load_plan_json, save_plan_json
from dispatch.models import (
    CrewKind,
    Depot,
    DepotKind,
    Job,
    JobKind,
    Priority,
    ProductCategory,
    TimeWindow,
)
from dispatch.plan import Plan
from dispatch.planning.planner import PlanOptions, make_plan
from dispatch.running.plan_diff import diff_plans
from dispatch.running.replan import DayState, replan, state_as_planned
from dispatch.translate import build_travel
from fixtures.shanghai import demo_problem

AT = clock_time(12, 0)
URGENT = 20
SEED = 7
TOLERANCE_MIN = 30
REPAIR_CATEGORIES = (
    ProductCategory.SPLIT_AC,
    ProductCategory.WASHING_MACHINE,
    ProductCategory.REFRIGERATOR,
    ProductCategory.TV,
    ProductCategory.WATER_HEATER,
)


def morning_plan(cache: Path, time_limit: float) -> Plan:
    """The demo day's plan, from `cache` when it holds the same problem."""
    problem = demo_problem()
    if cache.exists():
        plan = load_plan_json(cache)
        if plan.problem.name == problem.name and len(plan.problem.jobs) == len(problem.jobs):
            return plan
    plan = make_plan(problem, PlanOptions(time_limit_s=time_limit))
    save_plan_json(plan, cache)
    return plan


def urgent_jobs(problem: DispatchProblem, at: datetime) -> tuple[Job, ...]:
    """20 complaint repairs, 13:00-18:00, at the addresses of 20 urban jobs (fixed seed)."""
    rng = np.random.default_rng(SEED)
    urban = [j for j in problem.jobs if j.region == "urban"]
    picks = rng.choice(len(urban), size=URGENT, replace=False)
    day = problem.date
    out = []
    for n, i in enumerate(sorted(int(x) for x in picks)):
        site = urban[i]
        category = REPAIR_CATEGORIES[n % len(REPAIR_CATEGORIES)]
        skills = (
            {"refrigeration"}
            if category in (ProductCategory.SPLIT_AC, ProductCategory.REFRIGERATOR)
            else {"electrical"}
            if category is ProductCategory.WATER_HEATER
            else set()
        )
        out.append(
            Job(
                id=f"URG-{n + 1:02d}",
                kind=JobKind.REPAIR,
                order_id=f"URG-O-{n + 1:02d}",
                confirmed_at=at - timedelta(minutes=20),
                location=site.location,
                windows=(
                    TimeWindow(
                        datetime.combine(day, clock_time(13)), datetime.combine(day, clock_time(18))
                    ),
                ),
                category=category,
                skills=frozenset(skills),
                priority=Priority.COMPLAINT,
                region="urban",
                zone=site.zone,
            )
        )
    return tuple(out)


def sick_crew(plan: Plan, at: datetime) -> str:
    """The installation crew with the most stops starting at or after `at`."""
    kinds = {c.id: c.kind for c in plan.problem.crews}
    counts = [
        (sum(1 for s in r.stops if s.start >= at), r.crew_id)
        for r in plan.routes
        if kinds[r.crew_id] is CrewKind.INSTALLATION_CREW
    ]
    return min(counts, key=lambda c: (-c[0], c[1]))[1]  # ties: the first crew id


def scenario(plan: Plan) -> DayState:
    at = datetime.combine(plan.problem.date, AT)
    base = state_as_planned(plan, at)
    return dataclasses.replace(
        base, unavailable={sick_crew(plan, at): at}, new_jobs=urgent_jobs(plan.problem, at)
    )


def remaining_problem(plan: Plan, state: DayState) -> DispatchProblem:
    """The work left at `state.at`, each crew starting where and when the state leaves it."""
    problem = plan.problem
    at = state.at
    started = set(state.done) | set(state.in_progress)
    jobs = [j for j in problem.jobs if j.id not in started] + list(state.new_jobs)
    by_id = problem.jobs_by_id()
    routes = {r.crew_id: r for r in plan.routes}
    depots = list(problem.depots)
    crews = []
    for crew in problem.crews:
        if crew.id in state.unavailable:
            continue
        r = routes.get(crew.id)
        pinned = [s for s in r.stops if s.job_id in started] if r else []
        free = at
        changes: dict = {}
        if pinned:
            last = pinned[-1]
            free = max(at, last.end)
            depot = Depot(f"AT-{crew.id}", DepotKind.SERVICE_POINT, by_id[last.job_id].location)
            depots.append(depot)
            changes["start_depot"] = depot.id
        if r is not None and r.lunch is not None and r.lunch.start < at:
            changes["lunch"] = None
        if crew.max_jobs is not None:
            changes["max_jobs"] = max(0, crew.max_jobs - len(pinned))
        start = datetime.combine(problem.date, crew.shift_start)
        if free >= datetime.combine(problem.date, crew.shift_end) - timedelta(minutes=30):
            continue
        changes["shift_start"] = max(start, free).time()
        crews.append(dataclasses.replace(crew, **changes))
    return dataclasses.replace(
        problem, jobs=jobs, crews=crews, depots=depots, name=problem.name + " (from 12:00)"
    )


def km_after(plan: Plan, state: DayState, depot_of_start: bool = False) -> float:
    """Km still to drive after `state.at`: from each crew's last started stop (or its start
    depot) through its other stops back to its end depot."""
    problem = plan.problem
    travel = build_travel(problem)
    n_dep = len(problem.depots)
    depot_pos = {d.id: k for k, d in enumerate(problem.depots)}
    job_pos = {j.id: n_dep + i for i, j in enumerate(problem.jobs)}
    crews = {c.id: c for c in problem.crews}
    started = set(state.done) | set(state.in_progress)
    metres = 0
    for r in plan.routes:
        crew = crews[r.crew_id]
        pinned = [s.job_id for s in r.stops if s.job_id in started]
        rest = [s.job_id for s in r.stops if s.job_id not in started]
        if not rest and pinned:
            continue  # its day's work is done; it goes home either way
        here = job_pos[pinned[-1]] if pinned else depot_pos[crew.start_depot]
        for loc in [job_pos[j] for j in rest] + [depot_pos[crew.end_depot]]:
            metres += int(travel.distances[here, loc])
            here = loc
    return round(metres / 1000, 1)


def compare(old: Plan, new: Plan, state: DayState) -> dict:
    """Moves and ETA changes of the work left, against the morning plan."""
    started = set(state.done) | set(state.in_progress)
    diff = diff_plans(old, new, tolerance_minutes=TOLERANCE_MIN, started=started)
    old_ids = {j.id for j in old.problem.jobs}
    moved = [m for m in diff.moved if m.job_id not in started]
    handed = {s.job_id for r in old.routes if r.crew_id in state.unavailable for s in r.stops}
    new_ids = {j.id for j in state.new_jobs}
    planned_new = {s.job_id for r in new.routes for s in r.stops} & new_ids
    return {
        "moved_jobs": len(moved),
        "moved_not_from_sick_crew": sum(1 for m in moved if m.job_id not in handed),
        "eta_changes": sum(1 for e in diff.eta_changes if e.job_id in old_ids),
        "eta_beyond_tolerance": sum(1 for e in diff.notices if e.job_id in old_ids),
        "crews_changed": _crews_changed(old, new, started),
        "unassigned": len(new.unassigned),
        "unassigned_not_started": sum(1 for u in new.unassigned if u.job_id not in started),
        "urgent_planned": len(planned_new),
        "urgent_on_time": sum(
            1 for r in new.routes for s in r.stops if s.job_id in new_ids and s.end <= s.deadline
        ),
        "km_after_12": km_after(new, state),
    }


def _crews_changed(old: Plan, new: Plan, started: set[str]) -> int:
    """Crews whose stops not yet started (jobs, order or arrivals) differ."""

    def rest(plan: Plan) -> dict[str, list]:
        return {
            r.crew_id: [(s.job_id, s.arrival) for s in r.stops if s.job_id not in started]
            for r in plan.routes
        }

    before, after = rest(old), rest(new)
    return sum(1 for c in before.keys() | after.keys() if before.get(c, []) != after.get(c, []))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "bench_replan_plan.json"))
    p.add_argument("--plan-time", type=float, default=40.0, help="morning plan time limit")
    p.add_argument("--scratch-time", type=float, default=40.0)
    p.add_argument("--skip-scratch", action="store_true")
    p.add_argument("--out")
    args = p.parse_args(argv)

    plan = morning_plan(Path(args.cache), args.plan_time)
    state = scenario(plan)
    sick = next(iter(state.unavailable))
    at = state.at
    handed = sum(
        1
        for r in plan.routes
        if r.crew_id == sick
        for s in r.stops
        if s.job_id not in set(state.done) | set(state.in_progress)
    )
    walls = []
    result = None
    for _ in range(args.runs):
        started = time.monotonic()
        result = replan(plan, state)
        walls.append(time.monotonic() - started)
    assert result is not None
    rows = {
        "morning plan": {
            "unassigned": len(plan.unassigned),
            "km_after_12": km_after(plan, state),
        },
        "re-plan": compare(plan, result.plan, state)
        | {"wall_s": round(statistics.median(walls), 2), "walls_s": [round(w, 2) for w in walls]},
    }
    if not args.skip_scratch:
        rest = remaining_problem(plan, state)
        started = time.monotonic()
        scratch = make_plan(rest, PlanOptions(time_limit_s=args.scratch_time))
        wall = time.monotonic() - started
        rows["from scratch"] = compare(plan, scratch, state) | {"wall_s": round(wall, 1)}
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "scenario": {
            "jobs": len(plan.problem.jobs),
            "crews": len(plan.problem.crews),
            "at": at.isoformat(),
            "done": len(state.done),
            "in_progress": len(state.in_progress),
            "sick_crew": sick,
            "sick_crew_jobs_handed_over": handed,
            "urgent_jobs": len(state.new_jobs),
        },
        "replan_stats": result.stats,
        "results": rows,
    }
    _table(rows)
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


def _table(rows: dict[str, dict]) -> None:
    keys = [
        "wall_s",
        "moved_jobs",
        "moved_not_from_sick_crew",
        "eta_changes",
        "eta_beyond_tolerance",
        "crews_changed",
        "unassigned",
        "urgent_planned",
        "urgent_on_time",
        "km_after_12",
    ]
    names = list(rows)
    print(f"{'':28}" + "".join(f"{n:>16}" for n in names))
    for k in keys:
        cells = "".join(f"{rows[n].get(k, '')!s:>16}" for n in names)
        print(f"{k:28}{cells}")


if __name__ == "__main__":
    raise SystemExit(main())
