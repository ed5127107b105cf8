"""Season simulator benchmark: a whole season's wall time, and the speed-up of replications.

    python -m scripts.bench_season season [--days 30] [--time-limit 8] [--out FILE]
    python -m scripts.bench_season speedup [--days 10] [--scale 0.25] [--replications 2]
    python -m scripts.bench_season levers [--days 30] [--scale 0.1] [--plan 0,22,45,30,0]
        [--options "hiring only,evening shifts"]

`season` runs one season of the demo city at full scale (a normal day about 1,500 jobs, the
peak about 4,000) with the default settings, serially (the planner uses both cores), and
reports wall time, planning and execution time, the slowest day, the largest day offered to
the planner, peak memory (this process and its children) and the season's headline figures.

`speedup` runs the same replications serially (each season's planner on one process, as on a
worker) and on a Dask local cluster of two worker processes, checks that both give the same
seasons (solution-limited planner), and reports both wall times and their ratio.

`levers` runs one season per lever option (`dispatch.season.levers.OPTIONS` and `MEASURED`)
with the same staffing plan, seed 0 and a solution-limited planner (30 solutions per solve,
as the capacity search), serially, and reports per option the peak weeks' 24 h
installation shares on both clocks, the own-only ceiling, the season's cost and the levers'
premiums: what each lever moves, measured alone and combined (docs/season.md, "Levers").

Results go to stdout as JSON and, with --out, to a file (docs/bench-results/season-*.json).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

from dispatch.planning.cluster import Cluster
from dispatch.season.settings import DemandSettings, PlannerSettings, SeasonSettings
from dispatch.season.simulator import check_conservation, simulate_season
from dispatch.season.study import run_replications
from fixtures.shanghai_season import season_city


def _peak_rss_mb() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"main_mb": round(own, 0), "largest_child_mb": round(kids, 0)}


def bench_season(days: int, time_limit: float, scale: float) -> dict:
    settings = SeasonSettings(
        days=days, scale=scale, planner=PlannerSettings(time_limit_s=time_limit)
    )
    day_times: list[float] = []
    started = time.monotonic()
    last = [started]

    def progress(done: int, total: int, message: str) -> None:
        now = time.monotonic()
        day_times.append(now - last[0])
        last[0] = now
        print(f"{now - started:7.0f}s {message}", file=sys.stderr, flush=True)

    result = simulate_season(settings, season_city(scale), progress)
    wall = time.monotonic() - started
    offered = [r["jobs_offered"] for r in result.days]
    return {
        "case": "season",
        "days": days,
        "scale": scale,
        "time_limit_s": time_limit,
        "wall_s": round(wall, 1),
        "target_s": 900,
        "day_s_median": round(sorted(day_times)[len(day_times) // 2], 1),
        "day_s_max": round(max(day_times), 1),
        "timings": result.timings,
        "jobs_offered_max": max(offered),
        "orders": result.summary["orders"],
        "orders_per_day_max": max(r["orders"] for r in result.days),
        "summary": result.summary,
        "ledger": result.ledger,
        "conservation_problems": check_conservation(result),
        "memory": _peak_rss_mb(),
        "weeks": result.weeks,
    }


def bench_speedup(
    days: int, scale: float, replications: int, time_limit: float, solution_limit: int
) -> dict:
    """Serial vs a 2-worker local cluster; the solution limit should bind before the clock."""
    # --solution-limit 0: a clock-limited planner (the seasons then need not agree)
    planner = PlannerSettings(
        time_limit_s=time_limit, solution_limit=solution_limit or None, workers=1
    )
    demand = _short_peak(DemandSettings(), days)
    settings = SeasonSettings(days=days, scale=scale, planner=planner, demand=demand)
    city = season_city(scale)
    t0 = time.monotonic()
    serial = [
        simulate_season(settings.with_changes(seed=settings.seed + k), city)
        for k in range(replications)
    ]
    t1 = time.monotonic()
    parallel = run_replications(settings, city, replications, Cluster("local", workers=2))
    t2 = time.monotonic()
    same = all(a.days == b.days for a, b in zip(serial, parallel, strict=True))
    return {
        "case": "speedup",
        "days": days,
        "scale": scale,
        "replications": replications,
        "planner": {"time_limit_s": time_limit, "solution_limit": solution_limit},
        "serial_s": round(t1 - t0, 1),
        "local_cluster_2_workers_s": round(t2 - t1, 1),
        "speedup": round((t1 - t0) / (t2 - t1), 2),
        "same_results": same,
    }


def bench_levers(days: int, scale: float, plan: list[int], names: list[str] | None) -> dict:
    """One season per lever option with the same plan (module doc)."""
    from dispatch.season.levers import MEASURED, OPTIONS
    from dispatch.season.recommend import SEARCH_SOLUTION_LIMIT, peak_weeks

    options = [*OPTIONS, *MEASURED]
    if names:
        unknown = sorted(set(names) - {o.name for o in options})
        if unknown:
            raise SystemExit(f"unknown option(s) {unknown}; known: {[o.name for o in options]}")
        options = [o for o in options if o.name in names]
    planner = PlannerSettings(time_limit_s=60, solution_limit=SEARCH_SOLUTION_LIMIT)
    base = SeasonSettings(days=days, scale=scale, planner=planner)
    base = base.with_changes(crews=dataclasses.replace(base.crews, temp_per_week=tuple(plan)))
    city = season_city(scale)
    rows = []
    for option in options:
        settings = option.apply(base)
        started = time.monotonic()
        result = simulate_season(settings, city)
        weeks = [result.weeks[w] for w in peak_weeks(settings)]
        keys = (
            "share_install_24h_customer",
            "share_install_24h",
            "share_install_24h_ceiling_customer",
            "share_install_24h_temp_capable_customer",
            "installs_due",
            "own_only_installs_due",
            "backlog_end",
        )
        rows.append(
            {
                "option": option.name,
                "changes": option.changes,
                "weeks": [{"week": w["week"], **{k: w[k] for k in keys}} for w in weeks],
                "worst_week_customer": min(w["share_install_24h_customer"] or 0 for w in weeks),
                "cost_cny": result.summary["cost_cny"],
                "lever_cost_cny": result.summary["lever_cost_cny"],
                "utilisation": result.summary["utilisation"],
                "jobs_lost": result.ledger["jobs_lost"],
                "wall_s": round(time.monotonic() - started, 1),
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return {
        "case": "levers",
        "days": days,
        "scale": scale,
        "seed": base.seed,
        "temp_per_week": plan,
        "planner": {"solution_limit": SEARCH_SOLUTION_LIMIT, "time_limit_s": 60},
        "options": rows,
    }


def _short_peak(d: DemandSettings, days: int) -> DemandSettings:
    """The default curve squeezed into `days`: ramp, plateau and decline each about a third."""
    start = max(1, days // 3)
    return dataclasses.replace(
        d,
        peak_start_day=start,
        peak_days=max(1, days // 3),
        ramp_days=min(d.ramp_days, start),
        decline_days=min(d.decline_days, max(0, days - 2 * max(1, days // 3) - start)),
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("case", choices=["season", "speedup", "levers"])
    p.add_argument("--days", type=int)
    p.add_argument("--scale", type=float)
    p.add_argument("--time-limit", type=float, default=8.0)
    p.add_argument("--replications", type=int, default=2)
    p.add_argument(
        "--solution-limit", type=int, default=30, help="speedup: planner limit (0: the clock)"
    )
    p.add_argument("--plan", default="0,22,45,30,0", help="levers: temporary crews per week")
    p.add_argument("--options", help="levers: option names, comma-separated (default: all)")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    if args.case == "season":
        out = bench_season(args.days or 30, args.time_limit, args.scale or 1.0)
    elif args.case == "levers":
        names = [n.strip() for n in args.options.split(",")] if args.options else None
        plan = [int(x) for x in args.plan.split(",") if x.strip()]
        out = bench_levers(args.days or 30, args.scale or 0.1, plan, names)
    else:
        out = bench_speedup(
            args.days or 10,
            args.scale or 0.25,
            args.replications,
            args.time_limit,
            args.solution_limit,
        )
    out["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
