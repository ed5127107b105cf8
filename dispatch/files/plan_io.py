"""Save and load a plan as JSON, together with the problem it solved.

A saved plan is self-contained: the day, every job, crew, depot and zone, the promise
policies, the travel settings and the planning rules travel with the routes, so anyone can
re-validate it without the database it came from (see `dispatch.day_problem`). The document is
marked `"format": "fieldroute-plan/1"`; any other marker is refused. Loading goes through the
model constructors and reports every problem at once as `InputErrors`, each naming the record
(e.g. "plan.json jobs[3] (job 'J12')") and the field. Jobs, crews and depots use the same
records as the importers (`dispatch.files.records`), and datetimes are ISO strings in local time.

`slack_minutes` of a stop is written for readers (it is derived from the deadline and the end);
on load it is kept as `PlannedStop.stated_slack_minutes` so that the validator can refuse a
file whose stated slack is not the one its deadline and end give.
Non-finite stats (NaN, infinity) are written as null and read back as NaN: JSON has no NaN.
`settings`, when the plan carries them, records everything it was made with
(`dispatch.files.plan_settings`); on load it is checked against its schema and against the
plan's own problem (travel, promises, link gap, radius), each disagreement named.
`warnings` (a list of sentences, `Plan.warnings`) is written only when the plan has any.
`horizon` is the figures of a horizon plan's later days (`dispatch.planning.horizon`,
`Horizon.as_dict`), added by the service beside the first day's plan: accepted and left out of
the `Plan` read (they describe days this plan is not; a change to the plan drops them).
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dispatch.day_problem import DispatchProblem
from dispatch.errors import InputError, InputErrors
from dispatch.files.fields import (
    FieldReader,
    enum_parser,
    format_datetime,
    parse_bool,
    parse_datetime,
    parse_int,
    parse_text,
)
from dispatch.files.plan_settings import check_recorded
from dispatch.files.problem_io import object_at, objects_in, problem_from_dict, problem_to_dict
from dispatch.plan import CrewRoute, Plan, PlannedBreak, PlannedStop, Unassigned, UnassignedReason

FORMAT = "fieldroute-plan/1"
PathLike = str | os.PathLike[str]

_TOP_KEYS = (
    "format",
    "personal_data",
    "problem",
    "routes",
    "unassigned",
    "stats",
    "settings",
    "warnings",
    "horizon",
)
_ROUTE_KEYS = ("crew_id", "depart", "return_at", "distance_m", "drive_s", "lunch", "stops")
_STOP_KEYS = ("job_id", "arrival", "start", "end", "deadline", "slack_minutes")
_BREAK_KEYS = ("start", "minutes", "after_stop", "before_travel")
_UNASSIGNED_KEYS = ("job_id", "reason", "detail")


# ---- writing


def plan_to_dict(plan: Plan, *, include_personal_data: bool = True) -> dict[str, Any]:
    """The plan and its problem as JSON-ready data (customer name, phone, address optional)."""
    problem = problem_to_dict(plan.problem, include_personal_data=include_personal_data)
    return {
        "format": FORMAT,
        "personal_data": include_personal_data,
        "problem": problem,
        "routes": [_route_to_dict(r) for r in plan.routes],
        "unassigned": [
            {"job_id": u.job_id, "reason": u.reason.value, "detail": u.detail}
            for u in plan.unassigned
        ],
        "stats": {str(k): _stat(v) for k, v in plan.stats.items()},
        # written only when recorded (`dispatch.files.plan_settings.effective_settings`)
        **({"settings": plan.settings} if plan.settings is not None else {}),
        # written only when there are any (`Plan.warnings`)
        **({"warnings": list(plan.warnings)} if plan.warnings else {}),
    }


def save_plan_json(
    plan: Plan, path: PathLike, *, include_personal_data: bool = True, indent: int | None = 2
) -> None:
    """Write the plan as UTF-8 JSON (formatted in full before the file is touched)."""
    data = plan_to_dict(plan, include_personal_data=include_personal_data)
    text = json.dumps(data, ensure_ascii=False, indent=indent, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


def _stat(value: float) -> int | float | None:
    """A JSON number: integers stay integers, NaN and infinity become null."""
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def _route_to_dict(route: CrewRoute) -> dict[str, Any]:
    lunch = route.lunch
    return {
        "crew_id": route.crew_id,
        "depart": format_datetime(route.depart),
        "return_at": format_datetime(route.return_at),
        "distance_m": int(route.distance_m),  # int(): solver values may be numpy integers
        "drive_s": int(route.drive_s),
        "lunch": None
        if lunch is None
        else {
            "start": format_datetime(lunch.start),
            "minutes": int(lunch.minutes),
            "after_stop": int(lunch.after_stop),
            "before_travel": bool(lunch.before_travel),
        },
        "stops": [
            {
                "job_id": s.job_id,
                "arrival": format_datetime(s.arrival),
                "start": format_datetime(s.start),
                "end": format_datetime(s.end),
                "deadline": format_datetime(s.deadline),
                "slack_minutes": s.slack_minutes,
            }
            for s in route.stops
        ],
    }


# ---- reading


def load_plan_json(path: PathLike) -> Plan:
    """Read a plan saved by `save_plan_json`; `InputErrors` lists every problem found."""
    path = Path(path)
    try:
        doc = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        problem = f"byte {exc.start} is not UTF-8"
        raise InputErrors([InputError(path.name, "(file)", problem)]) from None
    except json.JSONDecodeError as exc:
        where = f"{path.name} line {exc.lineno} column {exc.colno}"
        raise InputErrors([InputError(where, "(file)", f"invalid JSON: {exc.msg}")]) from None
    return plan_from_dict(doc, source=path.name)


def plan_from_dict(
    d: Mapping[str, Any], *, source: str = "plan", problem: DispatchProblem | None = None
) -> Plan:
    """A `Plan` from `plan_to_dict` data, validated through the model constructors.

    Raises `InputErrors` naming each bad record and field; `source` prefixes the record names.
    `problem`, when given, is taken for the embedded problem without reading it again: only
    for a caller that read this very document's problem before (the service re-reading a
    stored plan whose problem never changes); the routes are still checked against it.
    """
    if not isinstance(d, Mapping):
        raise InputErrors([InputError(source, "(document)", "must be a JSON object")])
    marker = d.get("format")
    if marker != FORMAT:
        message = (
            f"unknown plan format {marker!r}; this version reads {FORMAT!r}"
            if marker is not None
            else f"missing format marker; expected {FORMAT!r}"
        )
        raise InputErrors([InputError(source, "format", message)])
    top = FieldReader(d, source, _TOP_KEYS)
    top.get("personal_data", parse_bool, True)
    errors = top.errors
    problem_raw = object_at(d, "problem", source, errors) if problem is None else None
    if problem_raw is not None:
        try:
            problem = problem_from_dict(problem_raw, source=source)
        except InputErrors as exc:
            errors.extend(exc.errors)
    job_ids = {j.id for j in problem.jobs} if problem else None
    crew_ids = {c.id for c in problem.crews} if problem else None
    placed: dict[str, str] = {}  # job id -> where it is planned or listed unassigned
    routes: list[CrewRoute] = []
    first_route: dict[str, int] = {}
    for k, raw in objects_in(d, "routes", source, errors):
        route = _route(raw, f"{source} routes[{k}]", crew_ids, job_ids, placed, errors)
        if route is None:
            continue
        if route.crew_id in first_route:
            where = f"{source} routes[{k}] (crew {route.crew_id!r})"
            problem_text = f"the crew already has a route at routes[{first_route[route.crew_id]}]"
            errors.append(InputError(where, "crew_id", problem_text))
        first_route.setdefault(route.crew_id, k)
        routes.append(route)
    unassigned = [
        u
        for k, raw in objects_in(d, "unassigned", source, errors)
        if (u := _unassigned(raw, f"{source} unassigned[{k}]", job_ids, placed, errors))
    ]
    stats = _stats(d.get("stats", {}), source, errors)
    settings = None
    if d.get("settings") is not None and problem is not None:
        settings, wrong = check_recorded(d["settings"], problem, f"{source} settings")
        errors.extend(wrong)
    warnings = _warnings(d.get("warnings", []), source, errors)
    if errors or problem is None:
        raise InputErrors(errors)
    return Plan(problem, routes, unassigned, stats, settings, warnings)


def _route(
    raw: Mapping[str, Any],
    where: str,
    crew_ids: set[str] | None,
    job_ids: set[str] | None,
    placed: dict[str, str],
    errors: list[InputError],
) -> CrewRoute | None:
    r = FieldReader(raw, where, _ROUTE_KEYS)
    crew_id = r.required("crew_id", parse_text)
    if crew_id:
        r.record = where = f"{where} (crew {crew_id!r})"
        if crew_ids is not None and crew_id not in crew_ids:
            r.fail("crew_id", f"unknown crew {crew_id!r}")
    depart = r.required("depart", parse_datetime)
    return_at = r.required("return_at", parse_datetime)
    distance_m = r.get("distance_m", parse_int, 0)
    drive_s = r.get("drive_s", parse_int, 0)
    lunch = None
    if raw.get("lunch") is not None:
        lunch_raw = object_at(raw, "lunch", where, r.errors)
        if lunch_raw is not None:
            b = FieldReader(lunch_raw, f"{where} lunch", _BREAK_KEYS)
            lunch = b.build(
                PlannedBreak,
                start=b.required("start", parse_datetime),
                minutes=b.required("minutes", parse_int),
                after_stop=b.required("after_stop", parse_int),
                before_travel=b.required("before_travel", parse_bool),
            )
            r.errors += b.errors
    stops = []
    for k, sraw in objects_in(raw, "stops", where, r.errors):
        s = FieldReader(sraw, f"{where} stops[{k}]", _STOP_KEYS)
        job_id = s.required("job_id", parse_text)
        _place(s, job_id, job_ids, placed)
        stop = s.build(
            PlannedStop,
            job_id=job_id,
            **{f: s.required(f, parse_datetime) for f in ("arrival", "start", "end", "deadline")},
            stated_slack_minutes=s.get("slack_minutes", parse_int, None),
        )
        r.errors += s.errors
        if stop is not None:
            stops.append(stop)
    errors.extend(r.errors)
    if not r.ok:
        return None
    return CrewRoute(crew_id, depart, return_at, stops, lunch, distance_m, drive_s)


def _place(
    r: FieldReader, job_id: str | None, job_ids: set[str] | None, placed: dict[str, str]
) -> None:
    """Each job is in one route stop or one unassigned entry, and exists in the problem."""
    if not job_id:
        return
    if job_ids is not None and job_id not in job_ids:
        r.fail("job_id", f"unknown job {job_id!r}")
    elif job_id in placed:
        r.fail("job_id", f"job {job_id!r} is already at {placed[job_id]}")
    else:
        placed[job_id] = r.record


def _unassigned(
    raw: Mapping[str, Any],
    where: str,
    job_ids: set[str] | None,
    placed: dict[str, str],
    errors: list[InputError],
) -> Unassigned | None:
    r = FieldReader(raw, where, _UNASSIGNED_KEYS)
    job_id = r.required("job_id", parse_text)
    _place(r, job_id, job_ids, placed)
    item = r.build(
        Unassigned,
        job_id,
        r.required("reason", enum_parser(UnassignedReason)),
        r.text("detail"),
    )
    errors.extend(r.errors)
    return item


def _warnings(raw: object, source: str, errors: list[InputError]) -> list[str]:
    """The plan's warnings: a list of sentences."""
    if not isinstance(raw, list) or not all(isinstance(w, str) for w in raw):
        errors.append(InputError(source, "warnings", "must be a list of strings"))
        return []
    return list(raw)


def _stats(raw: object, source: str, errors: list[InputError]) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        errors.append(InputError(source, "stats", "must be an object"))
        return {}
    stats: dict[str, float] = {}
    for key, value in raw.items():
        if value is None:
            stats[str(key)] = math.nan
        elif isinstance(value, int | float) and not isinstance(value, bool):
            stats[str(key)] = value
        else:
            errors.append(InputError(f"{source} stats", str(key), f"{value!r} is not a number"))
    return stats
