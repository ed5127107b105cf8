"""A dispatch problem as JSON-ready data and back, as embedded in every saved plan.

Jobs, crews and depots use the importers' records (`dispatch.files.records`); zones are GeoJSON
features (`Zone.to_geojson`); promise policies and travel settings keep every field, so a
problem read back is equal to the one written. Reading reports every problem at once as
`InputErrors`, each naming the record (e.g. "plan.json jobs[3] (job 'J12')") and the field.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Mapping
from datetime import date, time
from typing import Any, TypeVar

import shapely

from dispatch.day_problem import DispatchProblem, JobSync, TravelSettings
from dispatch.errors import InputError, InputErrors
from dispatch.files.fields import (
    FieldReader,
    enum_parser,
    format_clock,
    parse_clock,
    parse_float,
    parse_int,
    parse_text,
)
from dispatch.files.records import (
    crew_from_dict,
    crew_to_dict,
    depot_from_dict,
    depot_to_dict,
    job_from_dict,
    job_to_dict,
)
from dispatch.link_rules import CrewMode
from dispatch.models import CallbackPolicy, JobKind
from dispatch.promises import PromiseBook, PromiseClock, RegionPolicy
from dispatch.record_rules import check_id
from dispatch.zones import Zone

T = TypeVar("T")

_PROBLEM_KEYS = (
    "name", "date", "link_gap_minutes", "max_km_from_depot", "travel", "promises",
    "depots", "crews", "jobs", "zones", "syncs", "certification", "callback_policy",
    "assist_tolerance_minutes", "max_link_gap_minutes", "crew_mode", "second_visit_cny",
)  # fmt: skip
_TRAVEL_KEYS = (
    "provider", "detour_factor", "speeds_kmh", "rush_hours", "osm_file", "osrm_url", "matrix_s",
)  # fmt: skip
_SYNC_KEYS = ("first", "second", "min_delay_minutes", "max_delay_minutes")
_HOURS_KEYS = ("delivery_hours", "installation_hours", "repair_hours", "pickup_hours")
_POLICY_KEYS = (*_HOURS_KEYS, "clock", "opening", "cutoff", "closing")


def problem_to_dict(
    problem: DispatchProblem, *, include_personal_data: bool = True
) -> dict[str, Any]:
    """The problem as JSON-ready data: settings, depots, crews, jobs and zones (GeoJSON)."""
    p = problem
    return {
        "name": p.name,
        "date": p.date.isoformat(),
        "link_gap_minutes": p.link_gap_minutes,
        "assist_tolerance_minutes": p.assist_tolerance_minutes,
        "max_km_from_depot": p.max_km_from_depot,
        "travel": {
            "provider": p.travel.provider,
            "detour_factor": p.travel.detour_factor,
            "speeds_kmh": dict(p.travel.speeds_kmh),
            "rush_hours": [list(r) for r in p.travel.rush_hours],
            # written only when set, so haversine plans read by older versions stay valid
            **({"osm_file": p.travel.osm_file} if p.travel.osm_file else {}),
            **({"osrm_url": p.travel.osrm_url} if p.travel.osrm_url else {}),
            **({"matrix_s": [list(r) for r in p.travel.matrix_s]} if p.travel.matrix_s else {}),
        },
        "promises": {region: _policy_to_dict(pol) for region, pol in p.promises.policies.items()},
        "depots": [depot_to_dict(d) for d in p.depots],
        "crews": [crew_to_dict(c) for c in p.crews],
        "jobs": [job_to_dict(j, include_personal_data=include_personal_data) for j in p.jobs],
        "zones": [json.loads(json.dumps(z.to_geojson())) for z in p.zones],  # tuples -> lists
        # the given syncs only: an assisting job's is derived again when the file is read
        **(
            {"syncs": [_sync_dict(s) for s in p.syncs if not s.assist]}
            if any(not s.assist for s in p.syncs)
            else {}
        ),
        # written only when set (`DispatchProblem.certification`), like the syncs
        **(
            {"certification": {str(k): v for k, v in p.certification.items()}}
            if p.certification
            else {}
        ),
        **(
            {"callback_policy": {r: v.value for r, v in p.callback_policy.items()}}
            if p.callback_policy
            else {}
        ),
        # the delivery-installation rules (`dispatch.link_rules`), written only when set
        **_link_rules_to_dict(p),
    }


def _link_rules_to_dict(p: DispatchProblem) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if p.max_link_gap_minutes:
        out["max_link_gap_minutes"] = dict(p.max_link_gap_minutes)
    if p.crew_mode:
        out["crew_mode"] = {k: v.value for k, v in p.crew_mode.items()}
    if p.second_visit_cny:
        out["second_visit_cny"] = p.second_visit_cny
    return out


def problem_from_dict(d: Mapping[str, Any], *, source: str = "") -> DispatchProblem:
    """A `DispatchProblem` from `problem_to_dict` data; `InputErrors` lists every problem.

    `source` (e.g. the file name) prefixes every record name in the errors.
    """
    errors: list[InputError] = []
    problem = _problem(d, source, errors) if isinstance(d, Mapping) else None
    if not isinstance(d, Mapping):
        errors.append(InputError(source or "problem", "(document)", "must be an object"))
    if errors or problem is None:
        raise InputErrors(errors)
    return problem


def _policy_to_dict(policy: RegionPolicy) -> dict[str, Any]:
    return {
        **{name: getattr(policy, name) for name in _HOURS_KEYS},
        "clock": policy.clock.value,
        "opening": format_clock(policy.opening),
        "cutoff": format_clock(policy.cutoff),
        "closing": format_clock(policy.closing),
    }


def object_at(d: Mapping[str, Any], key: str, where: str, errors: list[InputError]) -> Any:
    """The object `d[key]`, or None with the problem reported."""
    value = d.get(key)
    if value is None:
        errors.append(InputError(where, key, "is required"))
        return None
    if not isinstance(value, Mapping):
        errors.append(InputError(where, key, f"must be an object, got {type(value).__name__}"))
        return None
    return value


def objects_in(
    d: Mapping[str, Any] | None, key: str, where: str, errors: list[InputError]
) -> list[tuple[int, Mapping[str, Any]]]:
    """The objects of the list `d[key]`, numbered from 0; the rest reported."""
    if d is None:
        return []
    value = d.get(key, [])
    if not isinstance(value, list):
        errors.append(InputError(where, key, "must be a list"))
        return []
    out = []
    for k, item in enumerate(value):
        if isinstance(item, Mapping):
            out.append((k, item))
        else:
            errors.append(InputError(f"{where} {key}[{k}]", "(item)", "must be an object"))
    return out


def _records(
    raw: Mapping[str, Any],
    key: str,
    build: Callable[[Mapping[str, Any], str], T],
    base: str,
    errors: list[InputError],
) -> list[tuple[str, T]]:
    """Jobs, crews or depots through `dispatch.files.records`, each with where it was."""
    out = []
    for k, item in objects_in(raw, key, base, errors):
        where = f"{base}.{key}[{k}]"
        try:
            out.append((where, build(item, where)))
        except InputErrors as exc:
            errors.extend(exc.errors)
    return out


def _certification(raw: object, base: str, errors: list[InputError]) -> dict[JobKind, int]:
    """The problem's certification rule: `{job kind: least score 0-100}`."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.append(InputError(base, "certification", "must be an object of job kind: score"))
        return {}
    out: dict[JobKind, int] = {}
    for key, value in raw.items():
        try:
            kind = JobKind(str(key))
            score = parse_int(value)
        except ValueError as exc:
            errors.append(InputError(base, f"certification.{key}", str(exc)))
            continue
        if not 0 <= score <= 100:
            errors.append(InputError(base, f"certification.{key}", "must be 0 to 100"))
            continue
        out[kind] = score
    return out


def _keyed(
    raw: Mapping[str, Any],
    key: str,
    parse: Callable[[object], T],
    base: str,
    errors: list[InputError],
) -> dict[str, T]:
    """A rule keyed by product category and/or region (`dispatch.link_rules`), each value
    parsed; the keys are checked when the problem is made."""
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.append(InputError(base, key, "must be an object of key: value"))
        return {}
    out: dict[str, T] = {}
    for name, item in value.items():
        try:
            out[str(name)] = parse(item)
        except ValueError as exc:
            errors.append(InputError(base, f"{key}.{name}", str(exc)))
    return out


def _callback_policy(raw: object, base: str, errors: list[InputError]) -> dict[str, CallbackPolicy]:
    """The problem's callback policy per region: `{region: "prefer_original" | ...}`."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.append(InputError(base, "callback_policy", "must be an object of region: policy"))
        return {}
    out: dict[str, CallbackPolicy] = {}
    for region, value in raw.items():
        try:
            out[str(region)] = CallbackPolicy(str(value))
        except ValueError:
            known = ", ".join(p.value for p in CallbackPolicy)
            errors.append(InputError(base, f"callback_policy.{region}", f"not one of: {known}"))
    return out


def _problem(
    raw: Mapping[str, Any], source: str, errors: list[InputError]
) -> DispatchProblem | None:
    before = len(errors)
    base = f"{source} problem" if source else "problem"
    r = FieldReader(raw, base, _PROBLEM_KEYS)
    day = r.required("date", _parse_date)
    values = {
        "name": r.text("name"),
        "link_gap_minutes": r.get("link_gap_minutes", parse_int, 30),
        # a problem written before assisted jobs (`Job.assists`) has none: the default
        "assist_tolerance_minutes": r.get("assist_tolerance_minutes", parse_int, 15),
        "max_km_from_depot": r.get("max_km_from_depot", parse_float, 80.0),
        "travel": _travel(object_at(raw, "travel", base, errors), base, errors),
        "promises": _promises(object_at(raw, "promises", base, errors), base, errors),
        "syncs": _syncs(raw, base, errors),
        "certification": _certification(raw.get("certification"), base, errors),
        "callback_policy": _callback_policy(raw.get("callback_policy"), base, errors),
        "max_link_gap_minutes": _keyed(raw, "max_link_gap_minutes", parse_int, base, errors),
        "crew_mode": _keyed(raw, "crew_mode", enum_parser(CrewMode), base, errors),
        "second_visit_cny": r.get("second_visit_cny", parse_float, 0.0),
    }
    found: dict[str, list[tuple[str, Any]]] = {
        "depots": _records(raw, "depots", depot_from_dict, base, errors),
        "crews": _records(raw, "crews", crew_from_dict, base, errors),
        "jobs": _records(raw, "jobs", job_from_dict, base, errors),
        "zones": [],
    }
    for k, item in objects_in(raw, "zones", base, errors):
        zone = _zone(item, f"{base}.zones[{k}]", errors)
        if zone is not None:
            found["zones"].append((f"{base}.zones[{k}]", zone))
    for key, items in found.items():
        first: dict[str, str] = {}
        for where, obj in items:
            if obj.id in first:
                problem = f"duplicate id; first used at {first[obj.id]}"
                errors.append(InputError(_named(where, key, obj.id), "id", problem))
            first.setdefault(obj.id, where.removeprefix(f"{base}."))
    depot_ids = {d.id for _, d in found["depots"]}
    for where, crew in found["crews"]:
        for name in ("start_depot", "end_depot"):
            if getattr(crew, name) not in depot_ids:
                problem = f"unknown depot {getattr(crew, name)!r}"
                errors.append(InputError(_named(where, "crews", crew.id), name, problem))
    errors.extend(r.errors)
    if len(errors) > before or not r.ok:
        return None
    try:
        # the depots, crews, jobs and zones: lists of each one's model
        lists: dict[str, Any] = {key: [obj for _, obj in items] for key, items in found.items()}
        return DispatchProblem(date=day, **lists, **values)
    except InputError as exc:
        record = base if exc.record == "problem" else f"{base} ({exc.record})"
        errors.append(InputError(record, exc.field, exc.message))
        return None


def _named(where: str, key: str, ident: str) -> str:
    """Name a record by its id as well as its place, as the record readers do."""
    return f"{where} ({key[:-1]} {ident!r})"


def _parse_date(value: object) -> date:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value.strip())
    raise ValueError(f"{value!r} is not an ISO date like 2026-06-18")


def _travel(
    raw: Mapping[str, Any] | None, where: str, errors: list[InputError]
) -> TravelSettings | None:
    if raw is None:
        return None
    r = FieldReader(raw, f"{where}.travel", _TRAVEL_KEYS)
    settings = r.build(
        TravelSettings,
        provider=r.required("provider", parse_text),
        detour_factor=r.required("detour_factor", parse_float),
        speeds_kmh=r.required("speeds_kmh", _parse_speeds),
        rush_hours=r.required("rush_hours", _parse_rush_hours),
        osm_file=r.get("osm_file", parse_text, ""),
        osrm_url=r.get("osrm_url", parse_text, ""),
        matrix_s=r.get("matrix_s", _parse_matrix, ()),
    )
    errors.extend(r.errors)
    return settings


def _parse_matrix(value: object) -> tuple[tuple[int, ...], ...]:
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        raise ValueError("must be a list of rows of whole seconds")
    return tuple(tuple(parse_int(x) for x in row) for row in value)


def _sync_dict(s: JobSync) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(s).items() if k != "assist"}


def _syncs(raw: Mapping[str, Any], base: str, errors: list[InputError]) -> list[JobSync]:
    """Two-person visits (`JobSync`), each as {first, second, min/max_delay_minutes}."""
    out = []
    for k, item in objects_in(raw, "syncs", base, errors):
        r = FieldReader(item, f"{base}.syncs[{k}]", _SYNC_KEYS)
        sync = r.build(
            JobSync,
            first=r.required("first", parse_text),
            second=r.required("second", parse_text),
            min_delay_minutes=r.get("min_delay_minutes", parse_int, 0),
            max_delay_minutes=r.get("max_delay_minutes", parse_int, 0),
        )
        errors.extend(r.errors)
        if sync is not None:
            out.append(sync)
    return out


def _parse_speeds(value: object) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ValueError("must be an object of crew kind -> km/h")
    return {str(kind): parse_float(speed) for kind, speed in value.items()}


def _parse_rush_hours(value: object) -> tuple[tuple[str, str, float], ...]:
    if not isinstance(value, list):
        raise ValueError("must be a list of [start, end, factor]")
    out = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 3):
            raise ValueError(f"{item!r} is not [start, end, factor]")
        start, end, factor = item
        for clock in (start, end):  # kept as written: TravelSettings holds the strings
            try:
                time.fromisoformat(clock)
            except (TypeError, ValueError):
                raise ValueError(f"{clock!r} is not a time of day like 07:30") from None
        out.append((start, end, parse_float(factor)))
    return tuple(out)


def _promises(
    raw: Mapping[str, Any] | None, where: str, errors: list[InputError]
) -> PromiseBook | None:
    if raw is None:
        return None
    policies: dict[str, RegionPolicy] = {}
    for region, praw in raw.items():
        rec = f"{where}.promises[{region!r}]"
        if not isinstance(praw, Mapping):
            errors.append(InputError(rec, "(item)", "must be an object"))
            continue
        r = FieldReader(praw, rec, _POLICY_KEYS)
        hours = {}
        for name in _HOURS_KEYS:
            if name not in praw:
                r.fail(name, "is required (null means the same day)")
            hours[name] = r.get(name, _parse_hours, None)
        policy = r.build(
            RegionPolicy,
            **hours,
            clock=r.required("clock", enum_parser(PromiseClock)),
            opening=r.required("opening", parse_clock),
            cutoff=r.required("cutoff", parse_clock),
            closing=r.required("closing", parse_clock),
        )
        errors.extend(r.errors)
        if policy is not None:
            policies[str(region)] = policy
    return PromiseBook(policies)


def _parse_hours(value: object) -> float:
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # keep 12 as 12 so a re-saved plan is byte-identical
    return parse_float(value)


def _zone(raw: Mapping[str, Any], where: str, errors: list[InputError]) -> Zone | None:
    try:
        zone = Zone.from_geojson(dict(raw))
    except InputError as exc:
        errors.append(InputError(where, exc.field, exc.message))
        return None
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.ShapelyError) as exc:
        errors.append(InputError(where, "geometry", f"is not a GeoJSON polygon: {exc}"))
        return None
    if not zone.id:
        errors.append(InputError(where, "properties.zone_id", "is required"))
        return None
    try:
        check_id(zone.id)
    except ValueError as exc:
        errors.append(InputError(where, "properties.zone_id", str(exc)))
        return None
    return zone
