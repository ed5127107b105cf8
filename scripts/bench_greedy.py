"""The engine against greedy nearest-crew dispatch on the demo, peak and an imported day (issue 19).

    python -m scripts.bench_greedy --cases normal-1500 peak-4000 imported-1500
        [--time-limit SEC] [--out docs/bench-results/greedy-vs-engine]

Each case is built by `scripts.bench_plan` (`CASES`; the imported day goes through the CSV
and GeoJSON files `dispatch plan --jobs-file` reads) and planned twice in this process: by
the engine (`make_plan`, the case's time limit unless `--time-limit` is given) and by the
baseline a dispatcher knows (`dispatch.planning.greedy_baseline.greedy_plan`). Both plans are
re-validated (`dispatch.plan_validator.validate_plan`) and compared with
`dispatch.planning.greedy_compare`: km, planned, promises kept on the customer's clock (of all
jobs of the kind), crews needed, and the wall time of each. Writes OUT.json (every figure and
the machine) and OUT.md (the table for docs/benchmarks.md). Not a test: the machines are
shared and noisy, and the engine's 1,500-job day takes about a minute.

`--jobs N` shrinks every case to N jobs (a quick try of the script, not a benchmark);
`--table-from OUT.json` prints the table of a saved run again.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts.bench_plan import CASES, _through_files

if TYPE_CHECKING:
    from dispatch.plan import Plan

#: what a plain run measures
DEFAULT_CASES = ("normal-1500", "peak-4000", "imported-1500")
DEFAULT_OUT = Path("docs/bench-results/greedy-vs-engine")


def run_case(name: str, time_limit: float | None, jobs: int | None = None) -> dict[str, Any]:
    """Plan case `name` by the engine and by nearest-crew dispatch; both plans' figures."""
    from dispatch.plan_validator import validate_plan
    from dispatch.planning.greedy_baseline import greedy_plan
    from dispatch.planning.greedy_compare import compare
    from dispatch.planning.planner import PlanOptions, make_plan
    from dispatch.translate import build_travel
    from fixtures.shanghai import demo_problem

    case = CASES[name]
    problem = demo_problem(
        jobs=jobs or case["jobs"],
        seed=case.get("seed", 0),
        peak=case.get("peak", False),
        scale_fleet=case.get("scale", False),
    )
    if case.get("imported"):
        problem = _through_files(problem)
    limit = time_limit or case["time_limit"]
    started = time.monotonic()
    engine = make_plan(problem, PlanOptions(time_limit_s=limit))
    engine_s = time.monotonic() - started
    started = time.monotonic()
    greedy = greedy_plan(problem)  # validated inside, as `make_plan` validates its plan
    greedy_s = time.monotonic() - started
    travel = build_travel(problem, lazy=True)  # a fresh model for the independent check
    engine.stats["wall_s"], greedy.stats["wall_s"] = round(engine_s, 1), round(greedy_s, 2)
    comparison = compare(engine, greedy)
    plans = (("engine", engine), ("nearest_crew", greedy))
    valid = {key: not validate_plan(plan, travel) for key, plan in plans}
    reasons = {key: _reasons(plan) for key, plan in plans}
    return {
        "case": name,
        "jobs": len(problem.jobs),
        "crews": len(problem.crews),
        "engine_time_limit_s": limit,
        "valid": valid,
        "unassigned_by_reason": reasons,
        **comparison.as_dict(),
    }


def _reasons(plan: Plan) -> dict[str, int]:
    out: dict[str, int] = {}
    for u in plan.unassigned:
        out[u.reason.value] = out.get(u.reason.value, 0) + 1
    return dict(sorted(out.items()))


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f} %"


def _share(figures: dict[str, Any], kind: str) -> str:
    share = next((s for s in figures["promises"] if s["kind"] == kind), None)
    if share is None:
        return "–"
    return f"{_pct(share['of_all'])} ({share['within']:,} of {share['jobs']:,})"


def markdown(rows: list[dict[str, Any]]) -> str:
    """The comparison table: one row per case and plan."""
    head = (
        "| case | plan | wall | planned | km | km per planned job | deliveries within 12 h "
        "(rural 24 h) | installations within 24 h (rural 48 h) | promises kept | crews needed "
        "| valid |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for row in rows:
        for key, label in (("engine", "engine"), ("nearest_crew", "nearest-crew dispatch")):
            f = row[key]
            wall = f"{f['wall_s']:,.2f} s"
            if key == "engine":
                wall = f"{f['wall_s']:,.1f} s (limit {row['engine_time_limit_s']:g} s)"
            kept = f["promises_kept"]
            lines.append(
                f"| {row['case']} ({row['jobs']:,} jobs, {row['crews']} crews) | {label} | "
                f"{wall} | {f['planned']:,} ({_pct(f['planned_share'])}) | {f['km']:,.1f} | "
                f"{f['km_per_planned_job']:.1f} | {_share(f, 'delivery')} | "
                f"{_share(f, 'installation')} | {_pct(kept['within'] / kept['jobs'])} | "
                f"{f['crews_needed']} of {f['crews']} | "
                f"{'yes' if row['valid'][key] else 'NO'} |"
            )
    note = (
        "\nPromise shares are on the customer's clock (calendar hours from the order's "
        "confirmation), of all jobs of the kind: an unplanned job never keeps its promise.\n"
    )
    sentences = [f"* {row['case']}: {row['line']}" for row in rows]
    return "\n".join([head + "\n".join(lines), note, *sentences]) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="*", default=list(DEFAULT_CASES), choices=list(CASES))
    p.add_argument(
        "--time-limit", type=float, help="the engine's search seconds (default: the case's)"
    )
    p.add_argument("--jobs", type=int, help="shrink every case to this many jobs (a quick try)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="writes OUT.json and OUT.md")
    p.add_argument(
        "--table-from", type=Path, metavar="JSON", help="only print the table of a saved run"
    )
    args = p.parse_args(argv)
    if args.table_from:
        print(markdown(json.loads(args.table_from.read_text(encoding="utf-8"))["cases"]), end="")
        return 0
    rows = []
    for name in args.cases:
        row = run_case(name, args.time_limit, args.jobs)
        rows.append(row)
        print(name, row["line"], flush=True)
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": machine,
        "command": " ".join(["python -m scripts.bench_greedy", *(argv or sys.argv[1:])]),
        "cases": rows,
    }
    args.out.with_suffix(".json").write_text(
        json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    table = markdown(rows)
    args.out.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
