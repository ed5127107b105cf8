"""Plan settings in one file: what a day is planned under, read, checked, applied and recorded.

A dispatcher tunes the engine for a city in one place instead of in code: travel (crew speeds,
the detour factor, rush hours, optionally the provider), the promise hours per region with
their clock and cut-offs, the gap between a delivery and its installation (the least, and the
most per product category or region, with the crew mode and the price of a second visit:
`dispatch.link_rules`), how many minutes
after the assisted crew an assisting crew may start (`Job.assists`), the region's radius, and
the numbers of the service-time estimate (`dispatch.service_time`).

One schema for every door: `dispatch plan --settings FILE` (JSON, or TOML by suffix), the
service's `POST /plans` `settings` object, and the `settings` a saved plan records. Every
number has bounds (`SETTINGS_BOUNDS`), unknown keys are refused (a typo would otherwise be
silently ignored), and every problem is an `InputError` naming the record (`settings file
'city.json'`, `request body`) and the key path (`travel.speeds_kmh.delivery_truck`), all of
them reported at once as `InputErrors`. A key left out keeps the problem's current value.

The problem carries travel, promises, link gap, assist tolerance and radius itself; the
service-time numbers it does not, so `apply_settings` writes the estimates they give into the
jobs that state no `service_minutes` (capped at the record rule's 720): every later reader
(planner, validator, re-plan) then sees the same durations. `effective_settings` dumps
everything a plan was made with, defaults included, for plan.json; `check_recorded` checks
such a record against the plan's problem when the plan is read back. docs/data-formats.md
("Plan settings") has the format and an example (fixtures/settings.example.json).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Any

from dispatch.day_problem import DispatchProblem, TravelSettings, travel_from_spec
from dispatch.errors import InputError, InputErrors
from dispatch.files.fields import format_clock
from dispatch.files.settings_schema import (
    HOURS_KEYS,
    PlanSettings,
    join_path,
    parse_settings,
    policy_with,
    settings_to_dict,
)
from dispatch.models import JobKind
from dispatch.promises import PromiseBook
from dispatch.record_rules import JOB_BOUNDS
from dispatch.service_time import DEFAULT_RULES, ServiceTimeRules, estimate_minutes

__all__ = [
    "PlanSettings",
    "apply_settings",
    "check_recorded",
    "effective_settings",
    "parse_settings",
    "read_settings_file",
    "service_rules",
    "settings_of",
    "settings_to_dict",
]
_MISSING: Any = object()

# ---- reading


def read_settings_file(path: str | Path) -> PlanSettings:
    """The settings in a `.json` or `.toml` file; `InputErrors` names every problem."""
    path = Path(path)
    record = f"settings file {path.name!r}"
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        problem = f"unsupported file type {suffix or '(none)'!r}; use .json or .toml"
        raise InputErrors([InputError(record, "(file)", problem)])
    try:
        text = path.read_bytes().decode("utf-8-sig")
        doc = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except FileNotFoundError:
        raise InputErrors([InputError(record, "(file)", "no such file")]) from None
    except UnicodeDecodeError as exc:
        problem = f"byte {exc.start} is not UTF-8; save the file as UTF-8"
        raise InputErrors([InputError(record, "(file)", problem)]) from None
    except json.JSONDecodeError as exc:
        where = f"{record} line {exc.lineno} column {exc.colno}"
        raise InputErrors([InputError(where, "(file)", f"invalid JSON: {exc.msg}")]) from None
    except (tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
        raise InputErrors([InputError(record, "(file)", f"unreadable: {exc}")]) from None
    return parse_settings(doc, record)


# ---- applying and recording


def service_rules(settings: PlanSettings) -> ServiceTimeRules:
    """The service-time estimate's numbers: the defaults, changed where `settings` says
    (stairs minutes given for every job kind, 0 where the defaults have none)."""
    d = DEFAULT_RULES
    base = {
        kind: {**per_category, **settings.base_minutes.get(kind, {})}
        for kind, per_category in d.base_minutes.items()
    }
    stairs = {**d.stairs_minutes_per_floor, **settings.stairs_minutes_per_floor}
    return ServiceTimeRules(
        base_minutes=base,
        stairs_minutes_per_floor={kind: stairs.get(kind, 0) for kind in JobKind},
        height_floor=d.height_floor if settings.height_floor is None else settings.height_floor,
        height_minutes=d.height_minutes
        if settings.height_minutes is None
        else settings.height_minutes,
    )


def apply_settings(
    problem: DispatchProblem, settings: PlanSettings, record: str = "settings", prefix: str = ""
) -> DispatchProblem:
    """The problem planned under `settings` (what they leave out stays as it was).

    A road provider's file must exist here (`travel_from_spec`). Jobs that state no
    `service_minutes` get the estimate of `service_rules(settings)` written in, when those
    differ from the defaults, capped at the most a job may state (720 minutes).
    """
    s = settings
    travel = problem.travel
    if s.provider is not None:
        path = join_path(prefix, "travel.provider")
        travel = travel_from_spec(s.provider, travel, record=record, field=path)
    travel = dataclasses.replace(
        travel,
        detour_factor=travel.detour_factor if s.detour_factor is None else s.detour_factor,
        speeds_kmh={**travel.speeds_kmh, **{str(k): v for k, v in s.speeds_kmh.items()}},
        rush_hours=travel.rush_hours if s.rush_hours is None else s.rush_hours,
    )
    policies = dict(problem.promises.policies)
    for region, fields in s.promises.items():
        try:
            policies[region] = policy_with(policies.get(region), fields)
        except InputError as exc:
            path = join_path(prefix, f"promises.{region}.{exc.field}")
            raise InputError(record, path, exc.message) from None
    jobs = problem.jobs
    rules = service_rules(s)
    if rules != service_rules(PlanSettings()):  # the defaults: jobs keep estimating them
        most = int(JOB_BOUNDS["service_minutes"].high)
        jobs = [
            j
            if j.service_minutes is not None
            else dataclasses.replace(j, service_minutes=min(estimate_minutes(j, rules), most))
            for j in jobs
        ]
    return dataclasses.replace(
        problem,
        jobs=jobs,
        # the assisted pairs' syncs are derived again under it (`JobSync.assist`)
        assist_tolerance_minutes=problem.assist_tolerance_minutes
        if s.assist_tolerance_minutes is None
        else s.assist_tolerance_minutes,
        travel=travel,
        promises=PromiseBook(policies),
        link_gap_minutes=problem.link_gap_minutes
        if s.link_gap_minutes is None
        else s.link_gap_minutes,
        max_km_from_depot=problem.max_km_from_depot
        if s.max_km_from_depot is None
        else s.max_km_from_depot,
        certification={**problem.certification, **s.certification},
        callback_policy={**problem.callback_policy, **s.callbacks},
        max_link_gap_minutes={**problem.max_link_gap_minutes, **s.max_link_gap_minutes},
        crew_mode={**problem.crew_mode, **s.crew_mode},
        second_visit_cny=problem.second_visit_cny
        if s.second_visit_cny is None
        else s.second_visit_cny,
    )


def settings_of(problem: DispatchProblem, rules: ServiceTimeRules = DEFAULT_RULES) -> PlanSettings:
    """Every setting `problem` is planned under (with the service-time `rules`), in full."""
    t = problem.travel
    return PlanSettings(
        provider=_spec(t),
        detour_factor=t.detour_factor,
        speeds_kmh=dict(t.speeds_kmh),
        rush_hours=tuple(
            (format_clock(time.fromisoformat(a)), format_clock(time.fromisoformat(b)), f)
            for a, b, f in t.rush_hours
        ),
        promises={
            region: {
                **{k: getattr(policy, k) for k in HOURS_KEYS},
                "clock": policy.clock,
                "opening": policy.opening,
                "cutoff": policy.cutoff,
                "closing": policy.closing,
            }
            for region, policy in problem.promises.policies.items()
        },
        link_gap_minutes=problem.link_gap_minutes,
        assist_tolerance_minutes=problem.assist_tolerance_minutes,
        max_km_from_depot=problem.max_km_from_depot,
        base_minutes=rules.base_minutes,
        stairs_minutes_per_floor={k: rules.stairs_minutes_per_floor.get(k, 0) for k in JobKind},
        height_floor=rules.height_floor,
        height_minutes=rules.height_minutes,
        certification=dict(problem.certification),
        callbacks=dict(problem.callback_policy),
        # the delivery-installation rules: left out at their defaults (none, auto, 0), so
        # a plan that sets none records no key an older reader would not know
        max_link_gap_minutes=dict(problem.max_link_gap_minutes),
        crew_mode=dict(problem.crew_mode),
        second_visit_cny=problem.second_visit_cny or None,
    )


def _spec(travel: TravelSettings) -> str:
    if travel.provider == "osm":
        return f"osm:{travel.osm_file}"
    if travel.provider == "osrm":
        return f"osrm:{travel.osrm_url}"
    return travel.provider


def effective_settings(
    problem: DispatchProblem, rules: ServiceTimeRules = DEFAULT_RULES
) -> dict[str, Any]:
    """Everything `problem` is planned under, defaults included: what plan.json records."""
    return settings_to_dict(settings_of(problem, rules))


def check_recorded(
    raw: object, problem: DispatchProblem, record: str
) -> tuple[dict[str, Any] | None, list[InputError]]:
    """A plan's recorded settings, checked against the schema and against its own problem.

    Returns the record (normalised) and the problems: each key whose value differs from what
    the problem holds is named (the problem is what the plan was solved and is validated
    with, so a record that disagrees with it would mislead a reader)."""
    try:
        parsed = parse_settings(raw, record)
    except InputErrors as exc:
        return None, list(exc.errors)
    given = _flat(settings_to_dict(parsed))
    held = _flat(effective_settings(problem, service_rules(parsed)))
    errors = [
        InputError(record, path, f"is {value!r} but the plan's problem has {held.get(path)!r}")
        for path, value in given.items()
        if held.get(path, _MISSING) != value
    ]
    return settings_to_dict(parsed), errors


def _flat(d: Mapping[str, Any], path: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        here = join_path(path, str(key))
        if isinstance(value, Mapping):
            out.update(_flat(value, here))
        else:
            out[here] = value
    return out
