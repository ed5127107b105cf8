"""`dispatch` command line: plan a day, validate a saved plan.

    dispatch plan --fixture shanghai [--date D] [--jobs N] [--seed S] [--peak] --out DIR
        [--scheduler tcp://host:port]   (zone groups solved on an existing Dask cluster)
    dispatch plan --jobs-file F --crews-file G --depots-file H [--zones-file Z] --date D --out DIR
        [--settings FILE]   (speeds, promise hours, ...: docs/data-formats.md "Plan settings")
        [--no-baseline]     (no comparison with nearest-crew dispatch: the summary's last
                             line, "compared with nearest-crew dispatch: ...", and baseline.json)
    dispatch validate PLAN.json [--kpis KPIS.json]   (every rule and stated figure, else exit 1)
    dispatch replan PLAN.json --at HH:MM [--sick CREW@HH:MM ...] --out DIR   (scripts/replan_cli.py)
    dispatch db upgrade | seed | token | serve     (the service: see scripts/service_cli.py)
    dispatch bench vrptw FILE.vrp... --time-limit SEC --out DIR    (scripts/bench_vrptw.py)
    dispatch bench hhcrsp FILE.json... --time-limit SEC --out DIR  (scripts/bench_hhcrsp.py)
    dispatch bench city [--cases normal-1500 peak-4000] --out DIR   (scripts/bench_city.py)
    dispatch bench quotes [--jobs 1500] [--days 2] [--quotes 200]   (scripts/bench_quotes.py)

Exit codes: 0 success; 1 the plan fails validation; 2 invalid input (the message names the
record and field); 3 (`dispatch plan`) a group of jobs found no first solution in its time:
the plan is written, its summary led by a WARNING naming the group (`--allow-unsolved`: exit 0).
Progress goes to stderr, the summary to stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from dispatch.errors import InputError, InputErrors
from dispatch.metrics.kpis import format_kpis, plan_kpis
from dispatch.plan import Plan
from dispatch.plan_validator import PlanInvalid, validate_plan
from scripts.cli_support import SettingsInvalid

T = TypeVar("T")

EXIT_INVALID_PLAN = 1
EXIT_BAD_INPUT = 2
#: `dispatch plan`: some group of jobs found no first solution in its time (plan still written)
EXIT_UNSOLVED = 3
PLAN_EXIT_CODES = (
    "exit codes: 0 done; 1 the plan fails validation; 2 invalid input; 3 a group of jobs found "
    "no first solution in its time (the plan is written, its summary starts with a WARNING "
    "naming the group; --allow-unsolved exits 0 instead)"
)


class ProgressBar:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, stream=None) -> None:
        # sys.stderr looked up now, not when the module was imported: a caller (or a test's
        # output capture) may have replaced it since
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self.last_line = ""

    def __call__(self, message: str, fraction: float) -> None:
        elapsed = time.monotonic() - self.started
        filled = int(30 * max(0.0, min(1.0, fraction)))
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%} {elapsed:6.1f}s {message}"
        if self.tty:
            self.stream.write("\r" + line[:120].ljust(120))
            if fraction >= 1.0:
                self.stream.write("\n")
        elif message != self.last_line:
            self.stream.write(line + "\n")
        self.last_line = message
        self.stream.flush()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dispatch", description="Field-service dispatch engine")
    sub = p.add_subparsers(dest="command", required=True)
    plan = sub.add_parser(
        "plan",
        help="plan a day and write plan.json, plan.geojson, summary",
        epilog=PLAN_EXIT_CODES,
    )
    src = plan.add_mutually_exclusive_group(required=True)
    src.add_argument("--fixture", choices=["shanghai"], help="embedded demo city")
    src.add_argument("--jobs-file", type=Path, help="jobs CSV or JSON (see docs/data-formats.md)")
    plan.add_argument("--crews-file", type=Path)
    plan.add_argument("--depots-file", type=Path)
    plan.add_argument(
        "--zones-file",
        type=Path,
        help="zones: GeoJSON, Shapefile (.shp or .zip) or GeoPackage, in any CRS the file "
        "declares (reprojected to WGS-84); --coords gcj02 converts them too",
    )
    plan.add_argument(
        "--coords",
        choices=["wgs84", "gcj02"],
        default="wgs84",
        help="coordinate system of the files' lon/lat: gcj02 for AMap/Tencent geocodes",
    )
    plan.add_argument(
        "--travel",
        metavar="SPEC",
        help="travel times: haversine (default: straight lines x detour factor), osm:FILE "
        "(shortest road paths in an OpenStreetMap extract) or osrm:URL (an OSRM server); "
        "set FIELDROUTE_TRAVEL_CACHE to keep road matrices between runs",
    )
    plan.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="plan settings, JSON or TOML: speeds, detour factor, rush hours, promise hours, "
        "link gap, region radius, service-time estimate (docs/data-formats.md); "
        "--travel overrides its provider",
    )
    plan.add_argument("--date", type=date.fromisoformat, help="plan day, YYYY-MM-DD")
    plan.add_argument("--jobs", type=int, default=1500, help="demo day size (fixture only)")
    plan.add_argument("--seed", type=int, default=0, help="demo day seed (fixture only)")
    plan.add_argument("--peak", action="store_true", help="peak air-conditioner day (fixture)")
    plan.add_argument("--time-limit", type=float, default=50.0, help="search seconds (default 50)")
    plan.add_argument(
        "--solution-limit", type=int, help="stop after N improving solutions per zone"
    )
    plan.add_argument("--workers", type=int, default=0, help="parallel zone solves (0: CPUs)")
    plan.add_argument(
        "--scheduler",
        default="",
        help="solve the zone groups on this Dask scheduler (tcp://host:port); "
        "default: local processes",
    )
    plan.add_argument(
        "--days",
        type=int,
        default=1,
        help="plan a horizon of N days (1-7): each day's leftovers roll over into the next; "
        "day 1 is written as the plan, later days under day-K/, the table in horizon.json",
    )
    plan.add_argument("--out", type=Path, required=True, help="output directory")
    plan.add_argument(
        "--no-personal-data", action="store_true", help="blank names/phones/addresses"
    )
    plan.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the comparison with nearest-crew dispatch (the summary's last line and "
        "baseline.json)",
    )
    plan.add_argument(
        "--allow-unsolved",
        action="store_true",
        help="exit 0 even when a group of jobs found no first solution in its time "
        "(default: exit 3; the plan and its warning are written either way)",
    )
    val = sub.add_parser("validate", help="re-validate a saved plan.json against its own problem")
    val.add_argument("plan", type=Path)
    val.add_argument(
        "--kpis",
        type=Path,
        metavar="FILE",
        help="also compare a kpis.json (as `dispatch plan` writes) with the KPIs of the "
        "validated plan, naming each figure that differs",
    )
    from scripts.bench_city import add_city_command
    from scripts.bench_hhcrsp import add_hhcrsp_command
    from scripts.bench_quotes import add_quotes_command
    from scripts.bench_vrptw import add_bench_command
    from scripts.replan_cli import add_replan_command
    from scripts.service_cli import add_service_commands
    from scripts.simulate_cli import add_simulate_command

    add_replan_command(sub)
    add_service_commands(sub)
    bench_kinds = add_bench_command(sub)
    add_hhcrsp_command(bench_kinds)
    add_city_command(bench_kinds)
    add_quotes_command(bench_kinds)
    add_simulate_command(sub)
    return p


def _load_problem(args: argparse.Namespace):
    if args.fixture:
        from fixtures.shanghai import demo_problem

        if args.jobs < 1:
            raise InputError("arguments", "--jobs", f"must be >= 1, got {args.jobs}")
        return demo_problem(day=args.date, jobs=args.jobs, seed=args.seed, peak=args.peak)
    from dispatch.day_problem import DispatchProblem
    from dispatch.files.importers import read_crews, read_depots, read_jobs

    for name in ("crews_file", "depots_file", "date"):
        if getattr(args, name) is None:
            flag = "--" + name.replace("_", "-")
            raise InputError("arguments", flag, "is required with --jobs-file")
    from dispatch.files.coords import records_to_wgs84
    from dispatch.files.zone_files import read_zones

    zones = read_zones(args.zones_file, args.coords) if args.zones_file else []
    # every file is read, and the problems of all of them reported together
    errors: list[InputError] = []

    def read(reader: Callable[[Path], list[T]], path: Path) -> list[T]:
        try:
            return reader(path)
        except InputErrors as exc:
            errors.extend(exc.errors)
            return []

    jobs, crews = read(read_jobs, args.jobs_file), read(read_crews, args.crews_file)
    depots = read(read_depots, args.depots_file)
    if errors:
        raise InputErrors(errors)
    return DispatchProblem(
        args.date,
        records_to_wgs84(jobs, args.coords),
        crews,
        records_to_wgs84(depots, args.coords),
        zones,
    )


def cmd_plan(args: argparse.Namespace) -> int:
    from dispatch.files.geojson import plan_to_geojson
    from dispatch.files.plan_io import save_plan_json
    from dispatch.planning.cluster import Cluster
    from dispatch.planning.planner import PlanOptions, make_plan

    if args.time_limit <= 0:
        raise InputError("arguments", "--time-limit", "must be > 0")
    from dispatch.files.plan_settings import (
        PlanSettings,
        apply_settings,
        effective_settings,
        read_settings_file,
        service_rules,
    )

    settings = read_settings_file(args.settings) if args.settings else PlanSettings()
    problem = _load_problem(args)
    if args.settings:
        problem = apply_settings(problem, settings, record=f"settings file {args.settings.name!r}")
    if args.travel:
        from dispatch.day_problem import travel_from_spec

        problem = dataclasses.replace(problem, travel=travel_from_spec(args.travel, problem.travel))
    options = PlanOptions(
        time_limit_s=args.time_limit,
        solution_limit=args.solution_limit,
        workers=args.workers,
        progress=ProgressBar(),
        cluster=Cluster("dask", workers=args.workers, address=args.scheduler)
        if args.scheduler
        else None,
    )
    from dispatch.planning.horizon import MAX_HORIZON_DAYS

    if not 1 <= args.days <= MAX_HORIZON_DAYS:
        raise InputError("arguments", "--days", f"must be 1 to {MAX_HORIZON_DAYS}, got {args.days}")
    horizon = None
    if args.days > 1:
        from scripts.horizon_cli import run_horizon

        rules = service_rules(settings)
        horizon = run_horizon(args, problem, options, lambda p: effective_settings(p, rules))
        plan = horizon.first
    else:
        plan = make_plan(problem, options)
    # what the plan was made with, defaults included, recorded in plan.json
    plan.settings = effective_settings(plan.problem, service_rules(settings))
    args.out.mkdir(parents=True, exist_ok=True)
    save_plan_json(plan, args.out / "plan.json", include_personal_data=not args.no_personal_data)
    (args.out / "plan.geojson").write_text(json.dumps(plan_to_geojson(plan)), encoding="utf-8")
    kpis = plan_kpis(plan)
    (args.out / "kpis.json").write_text(json.dumps(kpis.as_dict(), indent=2), encoding="utf-8")
    summary = "\n".join([*(f"WARNING: {w}" for w in plan.warnings), format_kpis(kpis)])
    (args.out / "summary.txt").write_text(summary + "\n", encoding="utf-8")
    _write_linked_orders(plan, args.out / "linked_orders.csv")
    print(f"plan for {problem.date} ({problem.name or 'custom'}), {plan.stats.get('wall_s')} s")
    print(summary)
    written = "plan.geojson, kpis.json, summary.txt, linked_orders.csv"
    if not args.no_baseline:
        print(_baseline_line(plan, args.out))
        written += ", baseline.json"
    if horizon is not None:
        from scripts.horizon_cli import horizon_lines

        print("\n".join(horizon_lines(horizon)))
        later = "day-2/" if args.days == 2 else f"day-2/ .. day-{args.days}/"
        written += f", horizon.json, {later}"
    print(f"written: {args.out / 'plan.json'}, {written}")
    if plan.stats.get("unsolved_groups") and not args.allow_unsolved:
        for warning in plan.warnings:
            print(f"WARNING: {warning}", file=sys.stderr)
        print("exit 3: a group found no first solution (--allow-unsolved: exit 0)", file=sys.stderr)
        return EXIT_UNSOLVED
    return 0


def _write_linked_orders(plan: Plan, path: Path) -> None:
    """One row per linked order with both visits planned: its crews and how it was served
    (`dispatch.planning.linked_modes`: combined or truck_then_installers), with the km to
    the door for a second visit."""
    import csv
    import io

    from dispatch.planning.linked_modes import linked_orders
    from dispatch.translate import build_travel

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["order_id", "delivery", "installation", "delivery_crew", "installation_crew", "mode",
         "second_trip_km"]
    )  # fmt: skip
    for o in linked_orders(plan, build_travel(plan.problem, lazy=True)):
        km = "" if o.second_trip_m is None else f"{o.second_trip_m / 1000:.1f}"
        writer.writerow(
            [o.order_id, o.delivery, o.installation, o.delivery_crew, o.installation_crew,
             o.mode.value, km]
        )  # fmt: skip
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _baseline_line(plan: Plan, out: Path) -> str:
    """Plan the day again by greedy nearest-crew dispatch, write both plans' figures to
    `out/baseline.json` (beside kpis.json, which `dispatch validate --kpis` checks), and
    return the comparison's line (`dispatch.planning.greedy_compare`)."""
    from dispatch.planning.greedy_baseline import greedy_plan
    from dispatch.planning.greedy_compare import compare

    comparison = compare(plan, greedy_plan(plan.problem))
    text = json.dumps(comparison.as_dict(), indent=2, ensure_ascii=False)
    (out / "baseline.json").write_text(text, encoding="utf-8")
    return comparison.line()


def cmd_validate(args: argparse.Namespace) -> int:
    from dispatch.files.plan_io import load_plan_json

    plan = load_plan_json(args.plan)
    # every hard rule, and every figure the file states (deadlines, slack, lunch lengths,
    # distances, driving times) against the validator's own recomputation
    violations = [str(v) for v in validate_plan(plan)]
    kpis = plan_kpis(plan)  # read only figures the validator recomputed, once it passes
    if not violations and args.kpis:
        from scripts.kpi_check import kpi_mismatches

        violations = kpi_mismatches(args.kpis, kpis.as_dict())
    if violations:
        print(f"INVALID: {len(violations)} violation(s)")
        for v in violations:
            print(f"  - {v}")
        return EXIT_INVALID_PLAN
    print(f"VALID: {kpis.planned} jobs on {kpis.crews_used} crews, {kpis.unassigned} unassigned")
    print(format_kpis(kpis))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "plan":
            return cmd_plan(args)
        if args.command == "validate":
            return cmd_validate(args)
        return args.run(args)
    except InputErrors as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (InputError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PlanInvalid as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INVALID_PLAN
    except SettingsInvalid as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
