"""`dispatch bench hhcrsp`: home-healthcare instances (HHCRSP) solved by the engine's own model.

    dispatch bench hhcrsp FILE.json ... --time-limit SEC --out DIR
                          [--metaheuristic NAME] [--solution-limit N] [--no-overtime]
                          [--reference CSV]

Each instance (format of iolab-uniud/hhcrsp, e.g. ../shared/benchmarks/hhcrsp/) is read into a
`DispatchProblem` by `dispatch.benchmarks.hhcrsp`, solved whole in one OR-Tools search, then
checked twice:
by the engine's plan validator (`dispatch.plan_validator`, which replays every route through
`routing.validate`, syncs included) and by the HHCRSP rules on the instance's raw values
(`dispatch.benchmarks.hhcrsp_score`), which also computes the published objective
(travel + total tardiness + max tardiness) / 3 in minutes, and a simple lower bound on the
tardiness (`tardiness_lb`, each service alone). A run is valid only if both checks find
nothing and every service is served.

`--reference CSV` (columns `instance,objective`) adds published or best-known values and the
gap to them; none ship with the instances (see docs/benchmarks.md).

Writes DIR/results.csv, DIR/results.md and DIR/solutions/NAME.json (the routes in the
instances' solution format: per caregiver, patient, service, arrival_time = service start,
departure_time = service end, in minutes).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

from scripts.bench_results import write_results

COLUMNS = [
    "instance", "patients", "services", "caregivers", "syncs", "time_limit_s", "valid",
    "travel", "tardiness", "max_tardiness", "objective", "overtime", "tardiness_lb", "published",
    "gap_pct",
    "seconds", "unassigned", "violations",
]  # fmt: skip
METAHEURISTICS = ("ruin_and_recreate", "guided_local_search", "tabu_search")


def add_hhcrsp_command(kinds: argparse._SubParsersAction) -> None:
    """Register `dispatch bench hhcrsp ...` beside `dispatch bench vrptw`."""
    p = kinds.add_parser("hhcrsp", help="solve home-healthcare (HHCRSP) instances and score them")
    p.add_argument("files", nargs="+", type=Path, help="HHCRSP .json instance files")
    p.add_argument("--time-limit", type=float, required=True, help="seconds per instance")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument(
        "--metaheuristic",
        choices=METAHEURISTICS,
        default="ruin_and_recreate",
        help="OR-Tools search (default ruin_and_recreate: SISR ruin, simulated annealing)",
    )
    p.add_argument("--solution-limit", type=int, help="stop after N improving solutions")
    p.add_argument(
        "--no-overtime",
        action="store_true",
        help="make the shift end hard (the published rules let caregivers work past it)",
    )
    p.add_argument("--reference", type=Path, help="CSV instance,objective of published values")
    p.set_defaults(run=cmd_bench_hhcrsp)


def read_reference(path: Path | None) -> dict[str, float]:
    """instance name (file stem) -> published objective, from a CSV `instance,objective`."""
    if path is None:
        return {}
    with path.open(newline="", encoding="utf-8") as fh:
        return {r["instance"]: float(r["objective"]) for r in csv.DictReader(fh)}


def bench_one(
    path: Path,
    limit: float,
    metaheuristic: str = "ruin_and_recreate",
    solution_limit: int | None = None,
    overtime: bool = True,
    reference: dict[str, float] | None = None,
) -> tuple[dict, dict]:
    """Solve, validate and score one instance: its results row and its solution document."""
    from dispatch.benchmarks.hhcrsp import read_instance, solve_instance
    from dispatch.benchmarks.hhcrsp_score import check_plan, score_plan, tardiness_lower_bound
    from dispatch.plan_validator import validate_plan

    inst = read_instance(path, overtime=overtime)
    started = time.monotonic()
    plan = solve_instance(inst, limit, solution_limit, metaheuristic)
    seconds = time.monotonic() - started
    violations = [str(v) for v in validate_plan(plan)] + check_plan(inst, plan)
    score = score_plan(inst, plan)
    valid = not violations and not plan.unassigned
    published = (reference or {}).get(inst.name)
    gap = 100 * (score.objective - published) / published if valid and published else None
    row = {
        "instance": inst.name,
        "patients": len({v.patient for v in inst.visits}),
        "services": len(inst.visits),
        "caregivers": len(inst.caregivers),
        "syncs": len(inst.syncs),
        "time_limit_s": limit,
        "valid": valid,
        "travel": f"{score.travel:g}",
        "tardiness": f"{score.total_tardiness:g}",
        "max_tardiness": f"{score.max_tardiness:g}",
        "objective": f"{score.objective:.2f}",
        "overtime": f"{score.overtime:g}",
        "tardiness_lb": f"{tardiness_lower_bound(inst):g}",
        "published": f"{published:g}" if published is not None else "",
        "gap_pct": f"{gap:.2f}" if gap is not None else "",
        "seconds": f"{seconds:.1f}",
        "unassigned": len(plan.unassigned),
        "violations": len(violations),
    }
    return row, solution_document(inst, plan, violations)


def solution_document(inst, plan, violations: list[str]) -> dict:
    """The plan in the instances' solution format, plus what the checks found."""
    from dispatch.benchmarks.hhcrsp import minute_of

    visits = {v.job_id: v for v in inst.visits}
    return {
        "instance": inst.name,
        "routes": [
            {
                "caregiver_id": r.crew_id,
                "locations": [
                    {
                        "patient": visits[s.job_id].patient,
                        "service": visits[s.job_id].service,
                        "arrival_time": _whole(minute_of(s.start)),
                        "departure_time": _whole(minute_of(s.end)),
                    }
                    for s in r.stops
                ],
            }
            for r in plan.routes
            if r.stops
        ],
        "unassigned": [u.job_id for u in plan.unassigned],
        "violations": violations,
    }


def _whole(minutes: float) -> int | float:
    """Whole minutes as an int, as the instances write them."""
    return int(minutes) if minutes.is_integer() else minutes


def markdown(rows: list[dict], limit: float) -> str:
    head = (
        "| instance | services | caregivers | syncs | valid | travel | tardiness | max tard. "
        "| objective | published | gap % | overtime | tardiness LB | s |"
    )
    lines = [f"# HHCRSP benchmark, {limit:g} s per instance", "", head, "|" + "---|" * 14]
    for r in rows:
        lines.append(
            f"| {r['instance']} | {r['services']} | {r['caregivers']} | {r['syncs']} | "
            f"{'yes' if r['valid'] else 'NO'} | {r['travel']} | {r['tardiness']} | "
            f"{r['max_tardiness']} | {r['objective']} | {r['published'] or '-'} | "
            f"{r['gap_pct'] or '-'} | {r['overtime']} | {r['tardiness_lb']} | {r['seconds']} |"
        )
    valid = [r for r in rows if r["valid"]]
    gaps = [float(r["gap_pct"]) for r in rows if r["gap_pct"] != ""]
    secs = [float(r["seconds"]) for r in rows]
    lines += [
        "",
        f"valid: {len(valid)} of {len(rows)}; "
        f"mean objective (valid runs): "
        + (f"{statistics.fmean(float(r['objective']) for r in valid):.2f}" if valid else "-")
        + "; mean gap %: "
        + (f"{statistics.fmean(gaps):.2f}" if gaps else "- (no published values given)")
        + f"; mean s: {statistics.fmean(secs):.1f}, max s: {max(secs):.1f}",
    ]
    return "\n".join(lines) + "\n"


def cmd_bench_hhcrsp(args: argparse.Namespace) -> int:
    if args.time_limit <= 0:
        print("error: --time-limit must be > 0", file=sys.stderr)
        return 2
    reference = read_reference(args.reference)
    args.out.mkdir(parents=True, exist_ok=True)
    sol_dir = args.out / "solutions"
    sol_dir.mkdir(exist_ok=True)
    rows = []
    for path in args.files:
        row, doc = bench_one(
            path,
            args.time_limit,
            args.metaheuristic,
            args.solution_limit,
            overtime=not args.no_overtime,
            reference=reference,
        )
        (sol_dir / f"{row['instance']}.json").write_text(json.dumps(doc, indent=1), "utf-8")
        rows.append(row)
        print(
            f"{row['instance'][:40]:<40} valid={row['valid']!s:<5} obj={row['objective']:>8}"
            f" travel={row['travel']:>5} tard={row['tardiness']:>5}"
            f" unassigned={row['unassigned']} {row['seconds']:>5}s",
            file=sys.stderr,
            flush=True,
        )
    md = markdown(rows, args.time_limit)
    csv_path, md_path = write_results(args.out, rows, COLUMNS, md)
    print(md)
    print(f"written: {csv_path}, {md_path}, {sol_dir}/")
    return 0
