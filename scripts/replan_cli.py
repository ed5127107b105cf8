"""`dispatch replan`: re-plan a saved plan mid-day, on files (no service, no database).

    dispatch replan PLAN.json --at HH:MM|ISO --out DIR
        [--done JOB ...]                  jobs finished as planned
        [--events events.csv]             reported events: job_id,type,time
        [--sick CREW@HH:MM ...]           crews that stop working at that time
        [--overrun JOB=HH:MM ...]         jobs that will end later than planned
        [--new-jobs jobs.csv]             jobs to fit in (the importers' CSV or JSON)
        [--cancel JOB ...]                jobs called off
        [--freeze-minutes 60] [--tolerance 30] [--time-limit 5] [--solution-limit N]

PLAN.json is a plan saved by `dispatch plan` (it carries its problem). `--events` rows are
`job_id,type,time` with type `departed`, `arrived`, `started`, `completed` or `failed` and
time HH:MM or ISO, pinned by the re-plan's rule (`dispatch.running.replan.pinning`): a completed or
failed job is done (from its started/arrived time), an arrived or started one is in progress,
a departed one alone is neither. Times without a date are on the plan's day. With neither
`--events` nor `--done`, the day is taken to have gone as planned until `--at` (stops ended
by then done, stops started by then in progress). The customers' last notified ETAs are the
plan's planned starts of work (a file has no notice history).

Writes DIR/plan.json (the new plan), DIR/diff.json (`PlanDiff.summary()`: crews changed,
moves, ETA changes, added, removed, newly unassigned, promises at risk) and
DIR/explanations.json (why jobs are unassigned or late, shortfalls per zone), and prints the
diff's summary. Exit codes as `dispatch plan`: 0 done; 2 bad input, the message naming the
flag (or file record) and the problem, or a re-plan the re-planner refuses (the reason).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from datetime import date, datetime, time
from enum import Enum
from pathlib import Path
from typing import Any

from dispatch.errors import InputError, InputErrors

ARGS = "arguments"
#: the re-planner refused the state the flags describe (as bad input: exit code 2)
EXIT_REFUSED = 2
EVENT_TYPES = ("departed", "arrived", "started", "completed", "failed")


def add_replan_command(sub: argparse._SubParsersAction) -> None:
    """Register `dispatch replan` on the `dispatch` command's subparsers."""
    p = sub.add_parser(
        "replan",
        help="re-plan a saved plan from a time of its day; writes plan, diff, explanations",
    )
    p.add_argument("plan", type=Path, help="plan.json saved by `dispatch plan`")
    p.add_argument("--at", required=True, help="re-plan from this time: HH:MM or ISO")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--done", nargs="+", default=[], metavar="JOB", help="jobs done as planned")
    p.add_argument("--events", type=Path, help="CSV of reported events: job_id,type,time")
    p.add_argument(
        "--sick", nargs="+", default=[], metavar="CREW@HH:MM", help="crews that stop working"
    )
    p.add_argument(
        "--overrun", nargs="+", default=[], metavar="JOB=HH:MM", help="jobs that end later"
    )
    p.add_argument("--new-jobs", type=Path, help="jobs to fit in (CSV or JSON)")
    p.add_argument("--cancel", nargs="+", default=[], metavar="JOB", help="jobs called off")
    p.add_argument("--freeze-minutes", type=int, default=60, help="keep stops this close (60)")
    p.add_argument("--tolerance", type=int, default=30, help="ETA tolerance, minutes (30)")
    p.add_argument("--time-limit", type=float, default=5.0, help="search seconds (default 5)")
    p.add_argument("--solution-limit", type=int, help="stop after N improving solutions")
    p.set_defaults(run=cmd_replan)


def parse_time(text: str, day: date, flag: str) -> datetime:
    """HH:MM on `day`, or a naive ISO datetime; `InputError` naming `flag` otherwise."""
    text = text.strip()
    try:
        if len(text) <= 5 and ":" in text:
            return datetime.combine(day, time.fromisoformat(text.zfill(5)))
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(ARGS, flag, f"{text!r} is not HH:MM or an ISO date and time") from None
    if moment.tzinfo is not None:
        raise InputError(ARGS, flag, f"{text!r}: give the region's local time, without offset")
    return moment


def _pair(text: str, sep: str, flag: str, day: date) -> tuple[str, datetime]:
    name, found, when = text.partition(sep)
    if not found or not name.strip():
        shape = "CREW@HH:MM" if sep == "@" else "JOB=HH:MM"
        raise InputError(ARGS, flag, f"{text!r} is not {shape}")
    return name.strip(), parse_time(when, day, flag)


def read_events(
    path: Path, day: date
) -> tuple[dict[str, tuple[datetime, datetime]], dict[str, datetime], datetime | None]:
    """(done, in progress, the latest event time) from an events CSV."""
    times: dict[str, dict[str, datetime]] = {}
    errors: list[InputError] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("job_id", "type", "time") if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(str(path), "header", f"missing column(s): {', '.join(missing)}")
        for n, row in enumerate(reader, start=2):
            where = f"{path.name} line {n}"
            job_id, kind = (row.get("job_id") or "").strip(), (row.get("type") or "").strip()
            if not job_id:
                errors.append(InputError(where, "job_id", "is empty"))
                continue
            if kind not in EVENT_TYPES:
                errors.append(
                    InputError(where, "type", f"{kind!r} is not one of {', '.join(EVENT_TYPES)}")
                )
                continue
            try:
                times.setdefault(job_id, {})[kind] = parse_time(row.get("time") or "", day, "time")
            except InputError as exc:
                errors.append(InputError(where, "time", exc.message))
    if errors:
        raise InputErrors(errors)
    from dispatch.running.replan.pinning import pinned_visits

    done, in_progress = pinned_visits(times)
    latest = max((t for seen in times.values() for t in seen.values()), default=None)
    return done, in_progress, latest


def build_state(args: argparse.Namespace, plan: Any) -> Any:  # noqa: C901 - one check per command-line flag, errors collected so every bad flag is named
    """The `DayState` the flags describe, checked against the plan (errors name the flag)."""
    from dispatch.running.replan import DayState, state_as_planned

    day = plan.problem.date
    at = parse_time(args.at, day, "--at")
    stops = plan.stop_of()
    jobs = {j.id for j in plan.problem.jobs}
    crews = {c.id for c in plan.problem.crews}
    errors: list[InputError] = []

    def on_route(job_id: str, flag: str) -> bool:
        if job_id not in stops:
            errors.append(InputError(ARGS, flag, f"job {job_id!r} is not on a route of the plan"))
            return False
        return True

    done: dict[str, tuple[datetime, datetime]] = {}
    in_progress: dict[str, datetime] = {}
    if args.events is None and not args.done:
        # nothing reported: the day went as planned until --at (a file has no event log)
        planned = state_as_planned(plan, at)
        done, in_progress = dict(planned.done), dict(planned.in_progress)
    if args.events is not None:
        done, in_progress, latest = read_events(args.events, day)
        unknown = sorted(j for j in (*done, *in_progress) if j not in stops)
        if unknown:
            errors.append(
                InputError(str(args.events), "job_id", f"not on a route: {', '.join(unknown)}")
            )
        if latest is not None and at < latest:
            errors.append(
                InputError(ARGS, "--at", f"{at:%H:%M} is before the last event ({latest:%H:%M})")
            )
    for job_id in args.done:
        if on_route(job_id, "--done"):
            route, k = stops[job_id]
            done[job_id] = (route.stops[k].start, route.stops[k].end)
    unavailable: dict[str, datetime] = {}
    for text in args.sick:
        crew_id, since = _pair(text, "@", "--sick", day)
        if crew_id not in crews:
            errors.append(InputError(ARGS, "--sick", f"crew {crew_id!r} is not in the plan"))
        else:
            unavailable[crew_id] = since
    expected_end: dict[str, datetime] = {}
    for text in args.overrun:
        job_id, end = _pair(text, "=", "--overrun", day)
        if on_route(job_id, "--overrun"):
            expected_end[job_id] = end
    for job_id in args.cancel:
        if job_id not in jobs:
            errors.append(InputError(ARGS, "--cancel", f"job {job_id!r} is not in the plan"))
    new_jobs: tuple[Any, ...] = ()
    if args.new_jobs is not None:
        from dispatch.files.importers import read_jobs

        new_jobs = tuple(read_jobs(args.new_jobs))
        clash = sorted(j.id for j in new_jobs if j.id in jobs)
        if clash:
            errors.append(
                InputError(str(args.new_jobs), "id", f"already in the plan: {', '.join(clash)}")
            )
    for flag, value, low, high in (
        ("--freeze-minutes", args.freeze_minutes, 0, 600),
        ("--tolerance", args.tolerance, 1, 240),
    ):
        if not low <= value <= high:
            errors.append(InputError(ARGS, flag, f"must be in [{low}, {high}], got {value}"))
    if args.time_limit <= 0:
        errors.append(InputError(ARGS, "--time-limit", "must be > 0"))
    if args.solution_limit is not None and args.solution_limit < 1:
        errors.append(InputError(ARGS, "--solution-limit", "must be >= 1"))
    if errors:
        raise InputErrors(errors)
    return DayState(
        at=at,
        done=done,
        in_progress=in_progress,
        expected_end=expected_end,
        unavailable=unavailable,
        new_jobs=new_jobs,
        cancelled=frozenset(args.cancel),
        notified_eta={job_id: r.stops[k].start for job_id, (r, k) in stops.items()},
    )


def jsonable(value: Any) -> Any:
    """Dataclasses, enums, times, sets and tuples as JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The diff summary for a terminal: counts, then the changes a dispatcher acts on."""
    c = summary["counts"]
    lines = [
        f"{c['crews_changed']} crew(s) changed, {c['moved']} job(s) moved, "
        f"{c['eta_changes']} ETA change(s) ({c['eta_notices']} beyond the tolerance), "
        f"{c['added']} added, {c['removed']} removed, {c['newly_unassigned']} newly "
        f"unassigned, {c['at_risk']} promise(s) newly at risk"
    ]
    for m in summary["moved"]:
        lines.append(f"  moved    {m['job_id']}: {m['from_crew'] or '-'} -> {m['to_crew'] or '-'}")
    for e in summary["eta_changes"]:
        if e["beyond_tolerance"]:
            old, new = (datetime.fromisoformat(e[k]) for k in ("old_eta", "new_eta"))
            lines.append(
                f"  ETA      {e['job_id']} ({e['crew_id']}): {old:%H:%M} -> {new:%H:%M} "
                f"({e['minutes']:+d} min)"
            )
    for u in summary["newly_unassigned"]:
        lines.append(f"  dropped  {u['job_id']}: {u['reason']}")
    for r in summary["at_risk"]:
        lines.append(f"  at risk  {r['job_id']}: {r['reason']}")
    return lines


def cmd_replan(args: argparse.Namespace) -> int:
    from dispatch.files.plan_io import load_plan_json, save_plan_json
    from dispatch.metrics.kpis import format_kpis, plan_kpis
    from dispatch.running.explain import explain_plan, zone_shortages
    from dispatch.running.replan import ReplanOptions, ReplanRefused, replan

    plan = load_plan_json(args.plan)
    state = build_state(args, plan)
    options = ReplanOptions(
        freeze_minutes=args.freeze_minutes,
        eta_tolerance_minutes=args.tolerance,
        time_limit_s=args.time_limit,
        solution_limit=args.solution_limit,
    )
    try:
        result = replan(plan, state, options)
    except ReplanRefused as exc:
        print(f"error: re-plan refused: {exc.reason}", file=sys.stderr)
        return EXIT_REFUSED
    args.out.mkdir(parents=True, exist_ok=True)
    save_plan_json(result.plan, args.out / "plan.json")
    summary = result.diff.summary()
    (args.out / "diff.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    explanations = explain_plan(result.plan)
    shortages = zone_shortages(result.plan, explanations)
    (args.out / "explanations.json").write_text(
        json.dumps({"jobs": jsonable(explanations), "zones": jsonable(shortages)}, indent=2) + "\n",
        encoding="utf-8",
    )
    print(f"re-plan of {plan.problem.name or plan.problem.date} from {state.at:%Y-%m-%d %H:%M}")
    for line in summary_lines(summary):
        print(line)
    print(format_kpis(plan_kpis(result.plan)))
    print(f"written: {args.out / 'plan.json'}, diff.json, explanations.json")
    return 0
