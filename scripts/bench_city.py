"""`dispatch bench city`: the demo city's zone groups solved by the engine and by PyVRP.

    dispatch bench city [--cases normal-1500 peak-4000] [--time-limit S] --out DIR
                        [--seed N] [--decompose-above N] [--group-size N] [--routes]

Issue 19 asks how far the engine's routes are from a state-of-the-art solver's on the day it
actually plans. A day is split exactly as `make_plan` splits it (screening, `routed_day`,
`make_groups`), and each group gets the seconds the planner gives it (`time_limits` with the
planner's budget and worker count). Each group is then solved twice, one solve at a time in
this process, so each side has a whole core:

* the engine: `solve_group` with `GroupSearch.of(PlanOptions(...))`, the planner's defaults;
* PyVRP: `routing.pyvrp_start.pyvrp_start` on the same `translation.routing` (same matrices,
  same per-arc costs, skills as barred profiles, optional jobs at their drop penalties), the
  richest form PyVRP takes; what it relaxes is `RELAXED`, printed in the report.

Both sides' km are measured the same way: along each route of the group's distance matrix,
depot legs included. Then the engine's full plan for the day (`make_plan` at the case's time
limit, its own pool of local processes, second pass and repairs included) is set against the
sum of the PyVRP groups. Target: the full plan within 1 % of PyVRP's km at an equal or higher
number of planned jobs.

Writes DIR/city.md and DIR/city.json (and DIR/city-routes.json with `--routes`: per group,
PyVRP's and the engine's routes as crew id -> job ids).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dispatch.day_problem import DispatchProblem
    from dispatch.planning.planner import PlanOptions
    from dispatch.translate import Translation
    from routing.problem import RoutingProblem

#: the planner benchmark's day sizes and time limits (scripts/bench_plan.py)
CASES = {
    "normal-1500": {"jobs": 1500, "peak": False, "time_limit": 50.0},
    "peak-4000": {"jobs": 4000, "peak": True, "time_limit": 210.0},
}
TARGET_KM_PCT = 1.0
#: `make_plan`'s counts of the jobs its passes after the group solves placed (`Plan.stats`)
LATER_PASSES = ("left_after_first_pass", "rebalanced", "inserted_by_repair", "placed_by_last_pass")
EXECUTION = (
    "group solves: one at a time in this process (engine, then PyVRP), each with a whole "
    "core; full plan: make_plan with its default pool of local processes (one per core)"
)


@dataclass(frozen=True)
class Case:
    """A demo day: `normal-N` or `peak-N` jobs, and its time limit."""

    name: str
    jobs: int
    peak: bool
    time_limit: float


def parse_case(name: str, time_limit: float | None) -> Case:
    """`normal-1500`, `peak-4000` (the planner benchmark's days) or any `normal-N`/`peak-N`
    (then `time_limit` is required)."""
    kind, _, size = name.partition("-")
    if kind not in ("normal", "peak") or not size.isdigit() or int(size) < 1:
        raise ValueError(f"case {name!r}: expected normal-N or peak-N")
    known = CASES.get(name)
    limit = time_limit if time_limit is not None else (known or {}).get("time_limit")
    if limit is None or limit <= 0:
        raise ValueError(f"case {name!r}: give --time-limit (> 0)")
    return Case(name, int(size), kind == "peak", float(limit))


def add_city_command(kinds: argparse._SubParsersAction) -> None:
    """Register `dispatch bench city ...` beside `dispatch bench vrptw`."""
    p = kinds.add_parser(
        "city", help="each zone group of the demo days: the engine against PyVRP (issue 19)"
    )
    p.add_argument("--cases", nargs="+", default=list(CASES), help="normal-N / peak-N days")
    p.add_argument("--time-limit", type=float, help="plan seconds (default: 50 / 210 s)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--seed", type=int, default=0, help="demo day seed (default 0)")
    p.add_argument("--decompose-above", type=int, help="planner option (default its own)")
    p.add_argument("--group-size", type=int, help="planner option (default its own)")
    p.add_argument("--routes", action="store_true", help="also write city-routes.json")
    p.set_defaults(run=cmd_bench_city)


def planner_workers(groups: int, options: PlanOptions) -> int:
    """How many group solves `make_plan` runs at once without a cluster (its `_workers`):
    `options.workers`, 0 meaning one per CPU core, never more than the groups."""
    return max(1, min(options.workers or os.cpu_count() or 1, groups))


def route_km(problem: RoutingProblem, vehicle: int, visits: list[int]) -> float:
    """Km of one vehicle's route through `visits`, from its start depot back to its end
    depot, on the problem's own distance matrix (metres); 0 for an empty route."""
    if not visits:
        return 0.0
    veh = problem.vehicles[vehicle]
    path = [veh.start_location, *(problem.visits[i].location for i in visits), veh.end_location]
    dist = problem.travel.distances
    return sum(int(dist[a, b]) for a, b in itertools.pairwise(path)) / 1000


def routes_km(problem: RoutingProblem, routes: dict[int, list[int]]) -> float:
    return sum(route_km(problem, k, v) for k, v in routes.items())


def barred(problem: RoutingProblem, routes: dict[int, list[int]]) -> int:
    """Visits served by a vehicle outside their allowed list (must be 0)."""
    count = 0
    for k, visits in routes.items():
        for i in visits:
            allowed = problem.visits[i].allowed_vehicles
            count += allowed is not None and k not in allowed
    return count


def solve_both(tr: Translation, limit: float, options: PlanOptions) -> dict[str, Any]:
    """One group: the engine's solve as the planner runs it, then PyVRP's, same seconds."""
    from dispatch.planning.planner import GroupSearch, solve_group
    from routing.ortools_model import SolveParams
    from routing.pyvrp_start import pyvrp_start

    problem = tr.routing
    started = time.monotonic()
    params = SolveParams(time_limit_s=limit, solution_limit=options.solution_limit)
    sol = solve_group(tr, params, GroupSearch.of(options))
    engine_s = time.monotonic() - started
    engine = {r.vehicle: [s.visit for s in r.stops] for r in sol.routes if r.stops}
    started = time.monotonic()
    start = pyvrp_start(problem, limit)
    pyvrp_s = time.monotonic() - started
    pyvrp = {k: r for k, r in enumerate(start.routes) if r} if start else {}
    return {
        "jobs": len(problem.visits),
        "crews": len(problem.vehicles),
        "time_limit_s": round(limit, 2),
        "engine_planned": sum(len(v) for v in engine.values()),
        "engine_km": round(routes_km(problem, engine), 1),
        "engine_s": round(engine_s, 1),
        "pyvrp_planned": sum(len(v) for v in pyvrp.values()),
        "pyvrp_km": round(routes_km(problem, pyvrp), 1),
        "pyvrp_s": round(pyvrp_s, 1),
        "pyvrp_feasible": bool(start and start.stats.get("pyvrp_feasible")),
        "pyvrp_taken_off": start.taken_off if start else 0,
        "pyvrp_barred": barred(problem, pyvrp),
        "_routes": {
            side: {tr.crew_ids[k]: [tr.job_ids[i] for i in v] for k, v in routes.items()}
            for side, routes in (("engine", engine), ("pyvrp", pyvrp))
        },
    }


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The sums of the group rows."""
    keys = ("jobs", "crews", "engine_planned", "engine_km", "pyvrp_planned", "pyvrp_km")
    out: dict[str, Any] = {k: sum(r[k] for r in rows) for k in keys}
    out["engine_km"] = round(out["engine_km"], 1)
    out["pyvrp_km"] = round(out["pyvrp_km"], 1)
    return out


def target(full: dict[str, Any], total: dict[str, Any]) -> dict[str, Any]:
    """The engine's full plan against the PyVRP groups: km difference and planned jobs."""
    km_pct = 100 * (full["km"] - total["pyvrp_km"]) / total["pyvrp_km"] if total["pyvrp_km"] else 0
    fewer = total["pyvrp_planned"] - full["planned"]
    met = km_pct <= TARGET_KM_PCT and fewer <= 0
    km_text = f"{abs(km_pct):.1f} % {'more' if km_pct >= 0 else 'less'} km"
    jobs_text = f"{abs(fewer)} job{'' if abs(fewer) == 1 else 's'} "
    jobs_text += "fewer" if fewer >= 0 else "more"
    line = (
        f"engine full plan within {TARGET_KM_PCT:g} % of PyVRP's km at >= planned jobs: "
        f"{'met' if met else 'not met'} ({km_text}, {jobs_text})"
    )
    return {"met": met, "km_pct": round(km_pct, 2), "jobs_fewer": fewer, "line": line}


def run_case(
    case: Case,
    seed: int,
    decompose_above: int | None = None,
    group_size: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Split the day as the planner does, solve each group twice, then plan the whole day.

    `decompose_above` and `group_size` override the planner's defaults (None: keep them)."""
    from dispatch.metrics.kpis import plan_kpis
    from dispatch.planning.decompose import make_groups, time_limits
    from dispatch.planning.feasibility import screen
    from dispatch.planning.planner import FIRST_PASS_SHARE, PlanOptions, make_plan
    from dispatch.planning.routed_day import routed_day
    from dispatch.translate import build_travel
    from fixtures.shanghai import demo_problem

    problem: DispatchProblem = demo_problem(jobs=case.jobs, seed=seed, peak=case.peak)
    options = PlanOptions(time_limit_s=case.time_limit)
    if decompose_above is not None:
        options.decompose_above = decompose_above
    if group_size is not None:
        options.group_size = group_size
    travel = build_travel(problem, lazy=True)
    screening = screen(problem, travel)
    allowed = {j.id: screening.eligible.get(j.id, []) for j in problem.jobs}
    routed = routed_day(problem, travel, allowed=allowed)
    groups = make_groups(problem, screening.eligible, options.decompose_above, options.group_size)
    budget = options.time_limit_s * (FIRST_PASS_SHARE if len(groups) > 1 else 1.0)
    workers = planner_workers(len(groups), options)
    limits = time_limits([len(g.job_indices) for g in groups], workers, budget)
    rows = []
    for g, limit in zip(groups, limits, strict=True):
        tr = routed.part(g.job_indices, g.crew_indices, screening.eligible)
        row = {"group": g.name, **solve_both(tr, limit, options)}
        rows.append(row)
        if progress:
            print(
                f"{case.name} {g.name}: {row['jobs']} jobs, {limit:.1f} s; engine "
                f"{row['engine_planned']} / {row['engine_km']} km, PyVRP "
                f"{row['pyvrp_planned']} / {row['pyvrp_km']} km",
                file=sys.stderr,
                flush=True,
            )
    plan = make_plan(problem, options)
    kpis = plan_kpis(plan)
    full = {
        "planned": kpis.planned,
        "km": round(kpis.km, 1),
        "wall_s": plan.stats.get("wall_s"),
        "groups": plan.stats.get("groups"),
        # where the jobs beyond the first pass came from (planner's stats)
        **{k: plan.stats.get(k) for k in LATER_PASSES},
    }
    total = totals(rows)
    return {
        "case": case.name,
        "jobs": len(problem.jobs),
        "servable": len(screening.eligible),
        "crews": len(problem.crews),
        "seed": seed,
        "time_limit_s": case.time_limit,
        "first_pass_budget_s": round(budget, 2),
        "planner_workers": workers,
        "groups": rows,
        "total": total,
        "full_plan": full,
        "target": target(full, total),
    }


def markdown(results: list[dict[str, Any]], relaxed: tuple[str, ...], machine: str) -> str:
    """city.md: per case a table of groups, the totals, the full plan and the target line."""
    lines = [
        "# The city day: the engine against PyVRP, per zone group",
        "",
        f"Machine: {machine}. {EXECUTION}.",
        "",
        "PyVRP's problem (`routing.pyvrp_start`) relaxes:",
        "",
        *(f"- {r}" for r in relaxed),
    ]
    head = (
        "| group | jobs | crews | s | engine planned | engine km | PyVRP planned | PyVRP km "
        "| km diff % |"
    )
    for res in results:
        lines += [
            "",
            f"## {res['case']} (seed {res['seed']}, time limit {res['time_limit_s']:g} s)",
            "",
            f"{res['jobs']} jobs ({res['servable']} servable), {res['crews']} crews, "
            f"{len(res['groups'])} groups; the groups' seconds are the planner's: "
            f"{res['first_pass_budget_s']:g} s first-pass budget over "
            f"{res['planner_workers']} workers.",
            "",
            head,
            "|" + "---|" * 9,
        ]
        for r in [*res["groups"], {"group": "**groups total**", **res["total"]}]:
            diff = 100 * (r["engine_km"] - r["pyvrp_km"]) / r["pyvrp_km"] if r["pyvrp_km"] else 0
            secs = f"{r['time_limit_s']:.1f}" if "time_limit_s" in r else ""
            lines.append(
                f"| {r['group']} | {r['jobs']} | {r['crews']} | {secs} | {r['engine_planned']} "
                f"| {r['engine_km']:,.1f} | {r['pyvrp_planned']} | {r['pyvrp_km']:,.1f} "
                f"| {diff:+.1f} |"
            )
        full = res["full_plan"]
        odd = [f"{r['group']}: " + ", ".join(flags(r)) for r in res["groups"] if flags(r)]
        lines += [
            "",
            f"Engine full plan (`make_plan`, {res['time_limit_s']:g} s, {full['groups']} groups, "
            f"second pass and repairs): {full['planned']} planned, {full['km']:,.1f} km, "
            f"{full['wall_s']} s wall.{later_passes(full)}",
            "",
            f"Target: {res['target']['line']}.",
        ]
        if odd:
            lines += ["", "PyVRP notes: " + "; ".join(odd) + "."]
    return "\n".join(lines) + "\n"


def later_passes(full: dict[str, Any]) -> str:
    """The full plan's jobs left after its group solves and placed by each later pass."""
    if full.get("left_after_first_pass") is None:
        return ""
    return (
        f" After its group solves {full['left_after_first_pass']} jobs were left; the second "
        f"pass placed {full['rebalanced']}, the insertion repair {full['inserted_by_repair']}, "
        f"the last pass {full['placed_by_last_pass']}."
    )


def flags(row: dict[str, Any]) -> list[str]:
    """What is off about a group's PyVRP result (named in the report)."""
    out = [] if row["pyvrp_feasible"] else ["PyVRP's best solution infeasible"]
    if row["pyvrp_taken_off"]:
        out.append(f"{row['pyvrp_taken_off']} visits taken off for rules PyVRP did not see")
    if row["pyvrp_barred"]:
        out.append(f"{row['pyvrp_barred']} jobs on a barred crew")
    return out


def cmd_bench_city(args: argparse.Namespace) -> int:
    from importlib.metadata import version

    from routing.pyvrp_start import RELAXED

    try:
        cases = [parse_case(name, args.time_limit) for name in args.cases]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    machine = (
        f"{platform.platform()}, {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}, PyVRP {version('pyvrp')}, OR-Tools {version('ortools')}"
    )
    results = [run_case(case, args.seed, args.decompose_above, args.group_size) for case in cases]
    routes = {r["case"]: {g["group"]: g.pop("_routes") for g in r["groups"]} for r in results}
    args.out.mkdir(parents=True, exist_ok=True)
    md = markdown(results, RELAXED, machine)
    (args.out / "city.md").write_text(md, encoding="utf-8")
    doc = {"machine": machine, "execution": EXECUTION, "relaxed": list(RELAXED), "cases": results}
    (args.out / "city.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    written = f"{args.out / 'city.md'}, city.json"
    if args.routes:
        (args.out / "city-routes.json").write_text(json.dumps(routes), encoding="utf-8")
        written += ", city-routes.json"
    print(md)
    print(f"written: {written}")
    return 0
