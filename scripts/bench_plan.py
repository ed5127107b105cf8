"""Benchmark the daily plan on the demo city: wall time, planned share, validity, memory.

    python -m scripts.bench_plan [--runs 3] [--out docs/benchmarks-plan.json]
    python -m scripts.bench_plan --runs 1 --cases scale-1000 scale-2000 scale-5000 scale-10000

Each run plans in a fresh subprocess (so peak memory is that run's own) and prints one JSON
line; the summary gives medians. Not a test: these machines are shared and noisy, so the
figures go into docs/benchmarks.md by hand, with the machine they were taken on.

Every run also reports `placeable`: how many of the plan's unassigned jobs the independent
check (`dispatch.planning.placeable_check`) could still fit into a crew's route (issue 17:
0), and `imported-1500` plans a normal day after a round trip through the CSV and GeoJSON
files `dispatch plan --jobs-file` reads (`--cases imported-1500`).

The scaling cases (issue 5) use a fleet that grows with the jobs (`scale_fleet=True`; the
normal and peak days keep the capped fleet) and measure, per size:

* the decomposed plan at the case's time limit: wall time, planned share, km, on-time share,
  unassigned by reason, and peak memory of the main process plus its solver processes
  (psutil samples the resident sets of the process tree every 0.2 s and keeps the largest
  sum; pages shared after fork are counted in every process, so it errs high);
* time to the first valid plan: the same planner stopped at each solve's first solution
  (`solution_limit=1`), timed to the validated plan it returns;
* monolithic, where it is feasible (1,000 and 2,000 jobs): one solve over the whole day, the
  same time limit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dispatch.day_problem import DispatchProblem

CASES = {
    "normal-1500": {"jobs": 1500, "peak": False, "time_limit": 50.0},
    "peak-4000": {"jobs": 4000, "peak": True, "time_limit": 210.0},
    # the normal day written to CSV files (and zones to GeoJSON) and read back as
    # `dispatch plan --jobs-file` reads them: an imported day (seed 1, another day's jobs)
    "imported-1500": {"jobs": 1500, "time_limit": 50.0, "imported": True, "seed": 1},
    # the scaling curve (issue 5): normal-day mix, crews scaled with the jobs; the search
    # limits leave room for set-up, repair and validation under the 120 s / 300 s targets
    "scale-1000": {"jobs": 1000, "time_limit": 30.0, "scale": True, "monolithic": True},
    "scale-2000": {"jobs": 2000, "time_limit": 60.0, "scale": True, "monolithic": True},
    "scale-5000": {"jobs": 5000, "time_limit": 90.0, "scale": True},
    "scale-10000": {"jobs": 10000, "time_limit": 230.0, "scale": True},
}
#: what a plain run measures (the scaling cases are asked for by name)
DEFAULT_CASES = ("normal-1500", "peak-4000")
#: how a scaling case is planned: see the module docstring
MODES = ("decomposed", "first", "monolithic")


class TreeMemory:
    """Peak of the summed resident sets of this process and its children, sampled."""

    def __init__(self, every_s: float = 0.2) -> None:
        import psutil

        self._me = psutil.Process()
        self._every = every_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        total = 0
        for proc in [self._me, *self._me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):  # a worker that just ended
                total += proc.memory_info().rss
        self.peak = max(self.peak, total)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self._sample()

    def __enter__(self) -> TreeMemory:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def run_case(
    jobs: int,
    peak: bool,
    time_limit: float,
    seed: int,
    scale: bool = False,
    mode: str = "decomposed",
    imported: bool = False,
) -> dict:
    """Plan once in this process and return the figures (called in a subprocess).

    `placeable` counts the unassigned jobs that would still fit a crew's route as planned
    (`dispatch.planning.placeable_check`, issue 17: it should be 0), `placeable_check_s` its
    seconds (not in `wall_s`)."""
    from dispatch.metrics.kpis import plan_kpis
    from dispatch.plan_validator import validate_plan
    from dispatch.planning.placeable_check import placeable
    from dispatch.planning.planner import PlanOptions, make_plan
    from dispatch.translate import build_travel
    from fixtures.shanghai import demo_problem

    problem = demo_problem(jobs=jobs, seed=seed, peak=peak, scale_fleet=scale)
    if imported:
        problem = _through_files(problem)
    options = PlanOptions(time_limit_s=time_limit)
    if mode == "first":
        options.solution_limit = 1
    elif mode == "monolithic":
        options.decompose_above = len(problem.jobs) + 1
    started = time.monotonic()
    with TreeMemory() as memory:
        plan = make_plan(problem, options)
    wall = time.monotonic() - started
    # independent re-validation from the plan's own problem (a fresh travel model; the
    # on-demand one gives the dense model's entries bit for bit, without its all-pairs memory)
    travel = build_travel(problem, lazy=True)
    valid = validate_plan(plan, travel) == []
    checked = time.monotonic()
    fits = len(placeable(plan, travel))
    check_s = time.monotonic() - checked
    k = plan_kpis(plan)
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "jobs": jobs,
        "mode": mode,
        "time_limit": time_limit,
        "crews": len(problem.crews),
        "wall_s": round(wall, 1),
        "valid": valid,
        "planned_share": round(k.planned_share, 4),
        "unassigned": k.unassigned,
        "unassigned_by_reason": k.unassigned_by_reason,
        "placeable": fits,
        "placeable_check_s": round(check_s, 1),
        "on_time_share": round((k.planned - k.late_jobs) / k.planned, 4) if k.planned else 0.0,
        "delivery_12h_of_planned": round(k.on_time_share_by_kind.get("delivery", 0), 4),
        "installation_24h_of_planned": round(k.on_time_share_by_kind.get("installation", 0), 4),
        "km": round(k.km, 1),
        "utilisation": round(k.utilisation, 3),
        "groups": plan.stats.get("groups"),
        "phases": {
            key: plan.stats.get(key)
            for key in (
                "first_pass_s",
                "left_after_first_pass",
                "rebalanced",
                "inserted_by_repair",
                "search_s",
                "insertion_s",
                "validation_s",
                "unsolved_groups",
                "placed_by_last_pass",
                "last_pass_trials",
                "last_pass_s",
            )
        },
        "peak_rss_tree_mb": round(memory.peak / 2**20),
        "peak_rss_main_mb": round(self_kb / 1024),
        "peak_rss_worker_mb": round(child_kb / 1024),
    }


def _through_files(problem: DispatchProblem) -> DispatchProblem:
    """The problem written to jobs, crews and depots CSV and a zones GeoJSON, and read back
    with the importers `dispatch plan --jobs-file` uses."""
    import tempfile
    from pathlib import Path

    from dispatch.day_problem import DispatchProblem as Problem
    from dispatch.files import importers
    from dispatch.files.zone_files import read_zones

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        importers.write_jobs_csv(problem.jobs, d / "jobs.csv")
        importers.write_crews_csv(problem.crews, d / "crews.csv")
        importers.write_depots_csv(problem.depots, d / "depots.csv")
        features = [z.to_geojson() for z in problem.zones]
        zones_file = d / "zones.geojson"
        zones_file.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        return Problem(
            problem.date,
            importers.read_jobs(d / "jobs.csv"),
            importers.read_crews(d / "crews.csv"),
            importers.read_depots(d / "depots.csv"),
            read_zones(zones_file),
        )


def _modes(case: dict) -> list[str]:
    if not case.get("scale"):
        return ["decomposed"]
    return ["decomposed", "first"] + (["monolithic"] if case.get("monolithic") else [])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--cases", nargs="*", default=list(DEFAULT_CASES), choices=list(CASES))
    p.add_argument("--out", help="write all runs and medians as JSON here")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mode", choices=MODES, default="decomposed", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        c = CASES[args.one]
        row = run_case(
            c["jobs"],
            c.get("peak", False),
            c["time_limit"],
            c.get("seed", args.seed),
            c.get("scale", False),
            args.mode,
            c.get("imported", False),
        )
        print(json.dumps(row))
        return 0
    results: dict[str, list[dict]] = {}
    for name in args.cases:
        for mode in _modes(CASES[name]):
            for r in range(args.runs if mode == "decomposed" else 1):
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "scripts.bench_plan",
                        "--one",
                        name,
                        "--mode",
                        mode,
                        "--seed",
                        str(args.seed),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                row = json.loads(out.stdout.strip().splitlines()[-1])
                key = name if mode == "decomposed" else f"{name}/{mode}"
                results.setdefault(key, []).append(row)
                print(key, r, json.dumps(row), flush=True)
    summary = {
        name: {
            key: statistics.median(row[key] for row in rows)
            for key in (
                "wall_s",
                "planned_share",
                "km",
                "on_time_share",
                "peak_rss_tree_mb",
                "peak_rss_main_mb",
                "peak_rss_worker_mb",
            )
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
