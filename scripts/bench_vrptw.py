"""`dispatch bench vrptw`: the routing layer on public VRPTW benchmarks, against their BKS.

    dispatch bench vrptw FILE.vrp ... --time-limit SEC [--bks CSV] --out DIR
                         [--portfolio NAME] [--workers N] [--solvers ortools,pyvrp,vroom]

Convention (../shared/benchmarks/vrptw/README.md, DIMACS 2021): arc distance = travel time =
floor(10 x euclid)/10, total distance only, the instance's own fleet (`VEHICLES`). Instances
are read by `routing.vrplib` into x10 integer units, solved, and every solution (also those of
PyVRP and VROOM, from the optional `bench` extra) is re-timed and checked by the independent
validator (`routing.validate`) on the same matrices. A solution counts as valid only if the
validator finds nothing, every customer is served and no more routes than `VEHICLES` are used.

Writes DIR/results.csv (one row per instance and solver) and DIR/results.md (the same as a
markdown table plus aggregates: mean/median/worst gap over valid runs, invalid count, time).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from scripts.bench_results import write_results

if TYPE_CHECKING:
    from routing.problem import RoutingProblem, RoutingSolution
    from routing.vrplib import VrptwInstance


COLUMNS = [
    "instance", "customers", "solver", "time_limit_s", "valid", "vehicles", "distance",
    "bks_vehicles", "bks_distance", "gap_pct", "seconds", "unserved", "violations", "detail",
]  # fmt: skip
DEFAULT_BKS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "vrptw" / "bks.csv"


def add_bench_command(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Register `dispatch bench vrptw ...`; returns the `bench` kinds for other benchmarks."""
    bench = sub.add_parser(
        "bench", help="benchmarks: `dispatch bench vrptw|hhcrsp FILE... --out DIR`, `bench city`"
    )
    kinds = bench.add_subparsers(dest="bench_kind", required=True)
    p = kinds.add_parser("vrptw", help="solve VRPLIB VRPTW instances and score them against BKS")
    p.add_argument("files", nargs="+", type=Path, help="VRPLIB .vrp instance files")
    p.add_argument("--time-limit", type=float, required=True, help="seconds per instance")
    p.add_argument("--bks", type=Path, help="best-known-solutions CSV (default: bks.csv beside)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument(
        "--portfolio",
        default="pyvrp-x2",
        help="engine search set-up, see routing.vrptw_solver.PORTFOLIOS (default pyvrp-x2)",
    )
    p.add_argument("--workers", type=int, help="processes for the engine (default: 1 per search)")
    p.add_argument(
        "--solvers",
        default="ortools",
        help="comma-separated: ortools, pyvrp, vroom (the last two need the `bench` extra)",
    )
    p.add_argument("--vroom-exploration", type=int, default=5, help="VROOM exploration level")
    p.set_defaults(run=cmd_bench)
    return kinds


def read_bks(path: Path | None, files: list[Path]) -> dict[str, tuple[int, float]]:
    """instance name -> (vehicles, distance) from a bks.csv (columns as in the shared folder)."""
    candidates = [path] if path else [f.parent.parent / "bks.csv" for f in files] + [DEFAULT_BKS]
    for c in candidates:
        if c is not None and c.is_file():
            with c.open(newline="", encoding="utf-8") as fh:
                return {
                    r["instance"]: (int(r["vehicles"]), float(r["distance"]))
                    for r in csv.DictReader(fh)
                }
    if path:
        raise FileNotFoundError(f"BKS file {path} not found")
    return {}


def _engine(portfolio: str, workers: int | None) -> Callable:
    from routing.vrptw_solver import solve_vrptw

    def run(inst: VrptwInstance, problem: RoutingProblem, limit: float) -> RoutingSolution:
        return solve_vrptw(problem, limit, portfolio=portfolio, workers=workers)

    return run


def _pyvrp(inst: VrptwInstance, problem: RoutingProblem, limit: float) -> RoutingSolution:
    """PyVRP's HGS on the same x10 integer matrices (`pip install fieldroute[bench]`)."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    from routing.vrplib import routes_to_solution

    dist = inst.distances()
    n = inst.customers
    xy = [(int(x), int(y)) for x, y in inst.coords]
    # PyVRP >= 0.14 keeps locations apart from clients and depots; older ones take x, y.
    new_api = hasattr(pyvrp, "Location")
    where = (lambda i: {"location": i}) if new_api else (lambda i: {"x": xy[i][0], "y": xy[i][1]})
    depot = pyvrp.Depot(**where(0))
    clients = [
        pyvrp.Client(
            **where(c),
            delivery=[int(inst.demands[c])],
            service_duration=int(inst.service[c]) * 10,
            tw_early=int(inst.ready[c]) * 10,
            tw_late=int(inst.due[c]) * 10,
        )
        for c in range(1, n + 1)
    ]
    vt = pyvrp.VehicleType(
        num_available=inst.vehicles,
        capacity=[inst.capacity],
        tw_early=int(inst.ready[0]) * 10,
        tw_late=int(inst.due[0]) * 10,
    )
    kwargs = {"locations": [pyvrp.Location(x=x, y=y) for x, y in xy]} if new_api else {}
    data = pyvrp.ProblemData(
        **kwargs,
        clients=clients,
        depots=[depot],
        vehicle_types=[vt],
        distance_matrices=[dist],
        duration_matrices=[dist],
    )
    res = pyvrp.solve(data, stop=MaxRuntime(limit), seed=1, display=False)
    routes = []
    for r in res.best.routes():
        if hasattr(r, "visits"):  # < 0.14: client c is index c (the depot is 0)
            routes.append([int(c) for c in r.visits()])
        else:  # >= 0.14: activities; a client's idx is 0-based among clients
            routes.append([int(a.idx) + 1 for a in r if a.is_client()])
    return routes_to_solution(problem, routes)


def _vroom(level: int) -> Callable:
    def run(inst: VrptwInstance, problem: RoutingProblem, limit: float) -> RoutingSolution:
        """VROOM (pyvroom) on the same matrices; it has no time limit, its time is recorded."""
        import vroom

        from routing.vrplib import routes_to_solution

        dist = inst.distances()
        vi = vroom.Input()
        vi.set_durations_matrix("car", dist.tolist())
        vi.set_costs_matrix("car", dist.tolist())
        for k in range(inst.vehicles):
            vi.add_vehicle(
                vroom.Vehicle(
                    id=k,
                    start=0,
                    end=0,
                    profile="car",
                    capacity=[inst.capacity],
                    time_window=vroom.TimeWindow(int(inst.ready[0]) * 10, int(inst.due[0]) * 10),
                )
            )
        for c in range(1, inst.customers + 1):
            vi.add_job(
                vroom.Job(
                    id=c,
                    location=c,
                    default_service=int(inst.service[c]) * 10,
                    delivery=[int(inst.demands[c])],
                    time_windows=[vroom.TimeWindow(int(inst.ready[c]) * 10, int(inst.due[c]) * 10)],
                )
            )
        sol = vi.solve(exploration_level=level, nb_threads=1)
        routes: dict[int, list[int]] = {}
        for row in sol.routes.itertuples():
            if row.type == "job":
                routes.setdefault(int(row.vehicle_id), []).append(int(row.id))
        return routes_to_solution(problem, list(routes.values()))

    return run


def bench_one(
    path: Path,
    solver_name: str,
    run: Callable,
    limit: float,
    bks: dict[str, tuple[int, float]],
) -> dict:
    """Solve one instance with one solver, validate, and return its results row."""
    from routing.validate import validate_solution
    from routing.vrplib import (
        format_distance,
        gap_pct,
        read_instance,
        solution_routes,
        to_problem,
        total_distance,
    )

    inst = read_instance(path)
    problem = to_problem(inst)
    started = time.monotonic()
    sol = run(inst, problem, limit)
    seconds = time.monotonic() - started
    violations = validate_solution(problem, sol)
    used = sum(1 for r in sol.routes if r.stops)
    valid = not violations and not sol.unassigned and used <= inst.vehicles
    dist = total_distance(problem, sol)
    bks_veh, bks_dist = bks.get(inst.name, (None, None))
    gap = gap_pct(dist, bks_dist) if valid and bks_dist else None
    return {
        "instance": inst.name,
        "customers": inst.customers,
        "solver": solver_name,
        "time_limit_s": limit,
        "valid": valid,
        "vehicles": used,
        "distance": format_distance(dist),
        "bks_vehicles": bks_veh if bks_veh is not None else "",
        "bks_distance": bks_dist if bks_dist is not None else "",
        "gap_pct": f"{gap:.2f}" if gap is not None else "",
        "seconds": f"{seconds:.1f}",
        "unserved": len(sol.unassigned),
        "violations": len(violations),
        "detail": sol.stats.get("searches", ""),
        "_routes": solution_routes(sol),
    }


def aggregate(rows: list[dict]) -> list[dict]:
    """Per solver: runs, invalid, mean/median/worst gap over valid runs, mean/max seconds."""
    out = []
    for solver in dict.fromkeys(r["solver"] for r in rows):
        mine = [r for r in rows if r["solver"] == solver]
        gaps = [float(r["gap_pct"]) for r in mine if r["gap_pct"] != ""]
        secs = [float(r["seconds"]) for r in mine]
        out.append(
            {
                "solver": solver,
                "runs": len(mine),
                "invalid": sum(1 for r in mine if not r["valid"]),
                "mean_gap": f"{statistics.fmean(gaps):.2f}" if gaps else "",
                "median_gap": f"{statistics.median(gaps):.2f}" if gaps else "",
                "worst_gap": f"{max(gaps):.2f}" if gaps else "",
                "mean_s": f"{statistics.fmean(secs):.1f}",
                "max_s": f"{max(secs):.1f}",
            }
        )
    return out


def markdown(rows: list[dict], limit: float) -> str:
    head = "| instance | n | solver | valid | veh | distance | BKS veh | BKS dist | gap % | s |"
    lines = [f"# VRPTW benchmark, {limit:g} s per instance", "", head, "|" + "---|" * 10]
    for r in rows:
        lines.append(
            f"| {r['instance']} | {r['customers']} | {r['solver']} | "
            f"{'yes' if r['valid'] else 'NO'} | {r['vehicles']} | {r['distance']} | "
            f"{r['bks_vehicles']} | {r['bks_distance']} | {r['gap_pct']} | {r['seconds']} |"
        )
    lines += [
        "",
        "| solver | runs | invalid | mean gap % | median gap % | worst gap % | mean s | max s |",
        "|" + "---|" * 8,
    ]
    for a in aggregate(rows):
        lines.append(
            f"| {a['solver']} | {a['runs']} | {a['invalid']} | {a['mean_gap']} | "
            f"{a['median_gap']} | {a['worst_gap']} | {a['mean_s']} | {a['max_s']} |"
        )
    return "\n".join(lines) + "\n"


def cmd_bench(args: argparse.Namespace) -> int:
    if args.time_limit <= 0:
        print("error: --time-limit must be > 0", file=sys.stderr)
        return 2
    from routing.vrptw_solver import PORTFOLIOS

    if args.portfolio not in PORTFOLIOS:
        print(f"error: --portfolio must be one of {sorted(PORTFOLIOS)}", file=sys.stderr)
        return 2
    bks = read_bks(args.bks, args.files)
    solvers: dict[str, Callable] = {}
    for name in (s.strip() for s in args.solvers.split(",") if s.strip()):
        if name == "ortools":
            solvers[f"engine-{args.portfolio}"] = _engine(args.portfolio, args.workers)
        elif name == "pyvrp":
            solvers["pyvrp"] = _pyvrp
        elif name == "vroom":
            solvers[f"vroom-x{args.vroom_exploration}"] = _vroom(args.vroom_exploration)
        else:
            print(f"error: unknown solver {name!r}", file=sys.stderr)
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    sol_dir = args.out / "solutions"
    sol_dir.mkdir(exist_ok=True)
    rows = []
    for path in args.files:
        for name, run in solvers.items():
            row = bench_one(path, name, run, args.time_limit, bks)
            routes = row.pop("_routes")
            text = "".join(
                f"Route #{k + 1}: {' '.join(map(str, r))}\n" for k, r in enumerate(routes)
            )
            (sol_dir / f"{row['instance']}.{name}.sol").write_text(
                text + f"Cost {row['distance']}\n", encoding="utf-8"
            )
            rows.append(row)
            print(
                f"{row['instance']:>8} {name:<16} valid={row['valid']!s:<5}"
                f" veh={row['vehicles']:>3} dist={row['distance']:>8}"
                f" gap={row['gap_pct'] or '-':>6}% {row['seconds']:>5}s",
                file=sys.stderr,
                flush=True,
            )
    md = markdown(rows, args.time_limit)
    csv_path, md_path = write_results(args.out, rows, COLUMNS, md)
    print(md.split("\n\n", 2)[-1])
    print(f"written: {csv_path}, {md_path}")
    return 0
