"""`dispatch simulate`: a peak air-conditioner season, day by day, with the real planner.

    dispatch simulate --fixture shanghai --days 30 --seed 0 --out DIR
        [--scale 1.0]                 demand and own fleet relative to the demo city
        [--scenario scenario.json]    settings overrides by section (docs/season.md)
        [--temp-per-week 0,20,40,20]  temporary crews per season week
        [--replications 1]            seeded replications (seed, seed+1, ...)
        [--recommend]                 search the fewest temporary crews per week holding
                                      --target (default 0.95) through the peak
        [--target 0.95] [--rounds 5]
        [--target-clock planning|customer]   the clock the target is judged on
        [--levers]                    search levers beyond hiring too (evening shifts,
                                      next-morning installation slots, specialist hires):
                                      a hiring search per lever option, the cheapest plan
                                      that holds the target (dispatch.season.levers)
        [--lever-options "hiring only,next-morning slots"]   search only these options
        [--time-limit 8] [--solution-limit N]   the planner's limits per day
        [--workers 0]                 Dask local worker processes (0: one per core)
        [--scheduler tcp://host:8786] an existing Dask cluster instead
        [--serial]                    no cluster: everything in this process
    dispatch simulate --zones-file Z.geojson --crews-file C.csv --depots-file D.csv ...

Writes DIR/days.csv, zones.csv, weeks.csv, install_waits.csv, summary.json, the PNG charts
and DIR/report.html (open it in a browser), and prints a summary. Progress goes to stderr.
Exit codes: 0 done; 2 bad input (the message names the setting or the file record).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from dispatch.errors import InputError
from dispatch.planning.cluster import Cluster
from dispatch.season.settings import SeasonSettings, settings_from_dict

ARGS = "arguments"


def add_simulate_command(sub: argparse._SubParsersAction) -> None:
    """Register `dispatch simulate` on the `dispatch` command's subparsers."""
    p = sub.add_parser("simulate", help="simulate a peak season; report and capacity advice")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--fixture", choices=["shanghai"], help="the embedded demo city")
    where.add_argument("--zones-file", type=Path, help="your zones (GeoJSON)")
    p.add_argument("--crews-file", type=Path, help="your own crews (CSV or JSON)")
    p.add_argument("--depots-file", type=Path, help="your depots (CSV or JSON)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--days", type=int, help="season length in days (default 30)")
    p.add_argument("--seed", type=int, help="seed of the first replication (default 0)")
    p.add_argument("--start", help="first day, YYYY-MM-DD (default 2026-06-01)")
    p.add_argument("--scale", type=float, help="demand and own fleet scale (default 1.0)")
    p.add_argument("--scenario", type=Path, help="JSON file of settings overrides")
    p.add_argument("--temp-per-week", help="temporary crews per week, e.g. 0,20,40,20")
    p.add_argument("--replications", type=int, default=1)
    p.add_argument("--recommend", action="store_true", help="search the staffing plan")
    p.add_argument("--target", type=float, help="24 h installation share to hold (0.95)")
    p.add_argument("--rounds", type=int, default=5, help="search rounds for --recommend")
    p.add_argument(
        "--target-clock",
        choices=["planning", "customer"],
        help="clock of the target: planning (default) or customer (calendar hours)",
    )
    p.add_argument(
        "--levers",
        action="store_true",
        help="with --recommend: also search evening shifts, next-morning slots, specialists",
    )
    p.add_argument("--time-limit", type=float, help="planner seconds per day (default 8)")
    p.add_argument("--solution-limit", type=int, help="planner solutions per solve")
    p.add_argument("--workers", type=int, default=0, help="Dask local workers (0: per core)")
    p.add_argument("--scheduler", default="", help="address of an existing Dask scheduler")
    p.add_argument("--serial", action="store_true", help="run everything in this process")
    p.add_argument("--lever-options", help="with --levers: option names, comma-separated")
    p.set_defaults(run=cmd_simulate)


def _settings(args: argparse.Namespace) -> SeasonSettings:
    raw: dict = {}
    if args.scenario:
        try:
            raw = json.loads(args.scenario.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise InputError(str(args.scenario), "(file)", f"not valid JSON: {e}") from None
    settings = settings_from_dict(raw)
    top = {
        "days": args.days,
        "seed": args.seed,
        "start": args.start,
        "scale": args.scale,
        "target_share": args.target,
        "target_clock": args.target_clock,
    }
    overrides = {k: v for k, v in top.items() if v is not None}
    planner = {"time_limit_s": args.time_limit, "solution_limit": args.solution_limit}
    planner = {k: v for k, v in planner.items() if v is not None}
    if planner:
        overrides["planner"] = planner
    if args.temp_per_week:
        try:
            weeks = [int(x) for x in args.temp_per_week.split(",") if x.strip()]
        except ValueError:
            raise InputError(
                ARGS, "--temp-per-week", "must be whole numbers like 0,20,40"
            ) from None
        overrides["crews"] = {"temp_per_week": weeks}
    return settings_from_dict(overrides, settings)


def _city(args: argparse.Namespace, settings: SeasonSettings):
    if args.zones_file:
        missing = [n for n in ("crews_file", "depots_file") if getattr(args, n) is None]
        if missing:
            flag = "--" + missing[0].replace("_", "-")
            raise InputError(ARGS, flag, "is needed with --zones-file")
        from dispatch.season.own_city import city_from_files

        return city_from_files(args.zones_file, args.crews_file, args.depots_file, seed=0)
    from fixtures.shanghai_season import season_city

    return season_city(settings.scale)


def cmd_simulate(args: argparse.Namespace) -> int:
    from dispatch.season.recommend import recommend_capacity
    from dispatch.season.report import write_report
    from dispatch.season.report_terminal import summary_text
    from dispatch.season.study import run_replications

    if args.replications < 1:
        raise InputError(ARGS, "--replications", "must be >= 1")
    if args.rounds < 1:
        raise InputError(ARGS, "--rounds", "must be >= 1")
    if args.levers and not args.recommend:
        raise InputError(ARGS, "--levers", "goes with --recommend")
    if args.lever_options and not args.levers:
        raise InputError(ARGS, "--lever-options", "goes with --levers")
    settings = _settings(args)
    city = _city(args, settings)
    cluster = Cluster.from_options(
        args.scheduler, args.workers, parallel=not args.serial and args.replications > 1
    )
    started = time.monotonic()
    print(
        f"simulating {settings.days} days of {city.name}, {args.replications} replication(s), "
        f"{cluster.describe()}",
        file=sys.stderr,
    )

    def progress(done: int, total: int, message: str) -> None:
        elapsed = time.monotonic() - started
        filled = int(30 * done / max(1, total))
        bar = "#" * filled + "." * (30 - filled)
        print(f"[{bar}] {done}/{total} {elapsed:6.0f}s {message}", file=sys.stderr, flush=True)

    def say(message: str) -> None:
        print(
            f"[recommend] {time.monotonic() - started:6.0f}s {message}", file=sys.stderr, flush=True
        )

    recommendation = None
    if args.recommend and args.levers:
        from dispatch.season.levers import options_named, recommend_with_levers

        recommendation, results = recommend_with_levers(
            settings,
            city,
            args.replications,
            cluster,
            max_rounds=args.rounds,
            progress=say,
            options=options_named(args.lever_options),
        )
    elif args.recommend:
        rec, results = recommend_capacity(
            settings,
            city,
            args.replications,
            cluster,
            max_rounds=args.rounds,
            progress=say,
        )
        recommendation = rec.as_dict()
    else:
        results = run_replications(settings, city, args.replications, cluster, progress)
    paths = write_report(args.out, results, recommendation)
    print(summary_text(results, recommendation))
    print(f"report: {paths.get('report.html', args.out / 'report.html')}")
    print(f"wall time: {time.monotonic() - started:.0f} s")
    return 0
