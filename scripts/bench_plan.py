"""Benchmark the daily plan on the demo city: wall time, planned share, validity, memory.

    python -m scripts.bench_plan [--runs 3] [--out docs/benchmarks-plan.json]

Each run plans in a fresh subprocess (so peak memory is that run's own) and prints one JSON
line; the summary gives medians. Not a test: these machines are shared and noisy, so the
figures go into docs/benchmarks.md by hand, with the machine they were taken on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

CASES = {
    "normal-1500": {"jobs": 1500, "peak": False, "time_limit": 50.0},
    "peak-4000": {"jobs": 4000, "peak": True, "time_limit": 210.0},
    # the scaling curve (issue 5): normal-day mix, crews scaled with the jobs; the search
    # limits leave room for set-up and validation under the 120 s / 300 s wall targets
    "scale-1000": {"jobs": 1000, "peak": False, "time_limit": 30.0},
    "scale-2000": {"jobs": 2000, "peak": False, "time_limit": 60.0},
    "scale-5000": {"jobs": 5000, "peak": False, "time_limit": 95.0},
    "scale-10000": {"jobs": 10000, "peak": False, "time_limit": 240.0},
}
#: what a plain run measures (the scaling cases are asked for by name)
DEFAULT_CASES = ("normal-1500", "peak-4000")


def run_case(jobs: int, peak: bool, time_limit: float, seed: int) -> dict:
    """Plan once in this process and return the figures (called in a subprocess)."""
    from dispatch.kpis import plan_kpis
    from dispatch.planner import PlanOptions, make_plan
    from dispatch.validation import validate_plan
    from fixtures.shanghai import demo_problem

    problem = demo_problem(jobs=jobs, seed=seed, peak=peak)
    started = time.monotonic()
    plan = make_plan(problem, PlanOptions(time_limit_s=time_limit))
    wall = time.monotonic() - started
    valid = validate_plan(plan) == []
    k = plan_kpis(plan)
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "jobs": jobs,
        "crews": len(problem.crews),
        "wall_s": round(wall, 1),
        "valid": valid,
        "planned_share": round(k.planned_share, 4),
        "unassigned_by_reason": k.unassigned_by_reason,
        "delivery_12h_of_planned": round(k.on_time_share_by_kind.get("delivery", 0), 4),
        "installation_24h_of_planned": round(k.on_time_share_by_kind.get("installation", 0), 4),
        "km": round(k.km, 1),
        "utilisation": round(k.utilisation, 3),
        "groups": plan.stats.get("groups"),
        "peak_rss_main_mb": round(self_kb / 1024),
        "peak_rss_worker_mb": round(child_kb / 1024),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--cases", nargs="*", default=list(DEFAULT_CASES), choices=list(CASES))
    p.add_argument("--out", help="write all runs and medians as JSON here")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.one:
        c = CASES[args.one]
        print(json.dumps(run_case(c["jobs"], c["peak"], c["time_limit"], args.seed)))
        return 0
    results: dict[str, list[dict]] = {}
    for name in args.cases:
        for r in range(args.runs):
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "scripts.bench_plan",
                    "--one",
                    name,
                    "--seed",
                    str(args.seed),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results.setdefault(name, []).append(row)
            print(name, r, json.dumps(row), flush=True)
    summary = {
        name: {
            key: statistics.median(row[key] for row in rows)
            for key in ("wall_s", "planned_share", "km", "peak_rss_main_mb", "peak_rss_worker_mb")
        }
        | {"all_valid": all(row["valid"] for row in rows), "runs": len(rows)}
        for name, rows in results.items()
    }
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(json.dumps({"machine": machine, "median": summary}, indent=2))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"machine": machine, "runs": results, "median": summary}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
