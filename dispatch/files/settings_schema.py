"""The plan settings' schema: what a settings file may hold, its bounds, and its data.

`parse_settings` checks a JSON or TOML object against it and gives a `PlanSettings` holding
what was given; `settings_to_dict` writes one back in the same schema. Every number has bounds
(`SETTINGS_BOUNDS`), unknown keys are refused, and every problem is an `InputError` naming the
record and the key path (`travel.speeds_kmh.delivery_truck`), all reported at once as
`InputErrors`. Reading a file, applying settings to a problem and recording them in a plan:
`dispatch.files.plan_settings`; the format: docs/data-formats.md ("Plan settings").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from typing import Any

from dispatch.errors import InputError, InputErrors
from dispatch.files.fields import (
    enum_parser,
    format_clock,
    parse_clock,
    parse_float,
    parse_int,
    parse_text,
)
from dispatch.link_rules import (
    MAX_LINK_GAP_MINUTES,
    MAX_SECOND_VISIT_CNY,
    CrewMode,
    rule_key_parts,
)
from dispatch.models import CallbackPolicy, CrewKind, JobKind, ProductCategory
from dispatch.promises import PromiseClock, RegionPolicy, default_policies
from dispatch.record_rules import JOB_BOUNDS, Bounds, check_id

#: the bounds of every number a settings file holds, inclusive
SETTINGS_BOUNDS: dict[str, Bounds] = {
    "detour_factor": Bounds(1, 3),
    "speeds_kmh": Bounds(1, 130),
    "rush_factor": Bounds(1, 5),  # travel takes at most five times as long in a rush hour
    "promise_hours": Bounds(1, 720),  # 30 days
    "link_gap_minutes": Bounds(0, 720, whole=True),
    "assist_tolerance_minutes": Bounds(0, 240, whole=True),
    "max_km_from_depot": Bounds(1, 1000),
    "base_minutes": JOB_BOUNDS["service_minutes"],  # what a job may state, 1 to 720
    "stairs_minutes_per_floor": Bounds(0, 60, whole=True),
    "height_floor": Bounds(1, JOB_BOUNDS["floor"].high, whole=True),
    "height_minutes": Bounds(0, 240, whole=True),
    "certification": Bounds(0, 100, whole=True),  # the least score, on the 100-point scale
    "max_link_gap_minutes": Bounds(0, MAX_LINK_GAP_MINUTES, whole=True),
    "second_visit_cny": Bounds(0, MAX_SECOND_VISIT_CNY),
}
MAX_RUSH_HOURS = 12
MAX_REGIONS = 100
#: the hours value meaning "same day, by closing time" (JSON may write null; TOML has none)
SAME_DAY = "same_day"

_TOP_KEYS = (
    "travel", "promises", "link_gap_minutes", "max_km_from_depot", "service_time",
    "certification", "callbacks", "assist_tolerance_minutes", "max_link_gap_minutes",
    "crew_mode", "second_visit_cny",
)  # fmt: skip
_TRAVEL_KEYS = ("provider", "detour_factor", "speeds_kmh", "rush_hours")
HOURS_KEYS = ("delivery_hours", "installation_hours", "repair_hours", "pickup_hours")
_POLICY_KEYS = (*HOURS_KEYS, "clock", "opening", "cutoff", "closing")
_SERVICE_KEYS = ("base_minutes", "stairs_minutes_per_floor", "height_floor", "height_minutes")
_UNSET: Any = object()


@dataclass(frozen=True)
class PlanSettings:
    """Settings as read: only what was given (None / empty: keep the problem's value).

    `provider` is a travel spec as `--travel` takes it (`haversine`, `osm:FILE`,
    `osrm:URL`); `promises` maps a region to the `RegionPolicy` fields it changes;
    the service-time fields change `dispatch.service_time.DEFAULT_RULES` entry by entry.
    """

    provider: str | None = None
    detour_factor: float | None = None
    speeds_kmh: Mapping[str, float] = field(default_factory=dict)
    rush_hours: tuple[tuple[str, str, float], ...] | None = None
    promises: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    link_gap_minutes: int | None = None
    #: how late the assisting crew may start after the assisted one
    #: (`DispatchProblem.assist_tolerance_minutes`)
    assist_tolerance_minutes: int | None = None
    max_km_from_depot: float | None = None
    base_minutes: Mapping[JobKind, Mapping[ProductCategory, int]] = field(default_factory=dict)
    stairs_minutes_per_floor: Mapping[JobKind, int] = field(default_factory=dict)
    height_floor: int | None = None
    height_minutes: int | None = None
    #: the least certification score per job kind (`DispatchProblem.certification`)
    certification: Mapping[JobKind, int] = field(default_factory=dict)
    #: who serves a region's callbacks (`DispatchProblem.callback_policy`)
    callbacks: Mapping[str, CallbackPolicy] = field(default_factory=dict)
    #: the delivery-installation rules by product category and/or region
    #: (`dispatch.link_rules`; `DispatchProblem.max_link_gap_minutes`, `.crew_mode`)
    max_link_gap_minutes: Mapping[str, int] = field(default_factory=dict)
    crew_mode: Mapping[str, CrewMode] = field(default_factory=dict)
    #: the price of a second visit to one customer (`DispatchProblem.second_visit_cny`)
    second_visit_cny: float | None = None


def parse_settings(raw: object, record: str, prefix: str = "") -> PlanSettings:
    """`raw` (a JSON or TOML object) checked against the schema; `InputErrors` lists every
    problem, each naming `record` and the key path (after `prefix`, e.g. "settings")."""
    r = _Reader(record, prefix)
    top = r.obj(raw, "", _TOP_KEYS)
    if top is None:
        raise InputErrors(r.errors)
    values: dict[str, Any] = {}
    travel = r.obj(top.get("travel", {}), "travel", _TRAVEL_KEYS)
    if travel is not None:
        values["provider"] = r.get(travel, "travel.provider", _parse_provider)
        values["detour_factor"] = r.number(travel, "travel.detour_factor", "detour_factor")
        values["speeds_kmh"] = r.table(
            travel.get("speeds_kmh", {}), "travel.speeds_kmh", CrewKind,
            lambda v, path: r.bounded(v, path, "speeds_kmh"),
        )  # fmt: skip
        values["rush_hours"] = r.get(travel, "travel.rush_hours", _parse_rush_hours)
    values["promises"] = _promises(r, top.get("promises", {}))
    values["link_gap_minutes"] = r.number(top, "link_gap_minutes", "link_gap_minutes")
    values["assist_tolerance_minutes"] = r.number(
        top, "assist_tolerance_minutes", "assist_tolerance_minutes"
    )
    values["max_km_from_depot"] = r.number(top, "max_km_from_depot", "max_km_from_depot")
    service = r.obj(top.get("service_time", {}), "service_time", _SERVICE_KEYS)
    if service is not None:
        values["base_minutes"] = r.table(
            service.get("base_minutes", {}), "service_time.base_minutes", JobKind,
            lambda v, path: r.table(
                v, path, ProductCategory, lambda n, p: r.bounded(n, p, "base_minutes")
            ),
        )  # fmt: skip
        values["stairs_minutes_per_floor"] = r.table(
            service.get("stairs_minutes_per_floor", {}), "service_time.stairs_minutes_per_floor",
            JobKind, lambda v, path: r.bounded(v, path, "stairs_minutes_per_floor"),
        )  # fmt: skip
        for name in ("height_floor", "height_minutes"):
            values[name] = r.number(service, f"service_time.{name}", name)
    values["certification"] = r.table(
        top.get("certification", {}), "certification", JobKind,
        lambda v, path: r.bounded(v, path, "certification"),
    )  # fmt: skip
    values["callbacks"] = _callbacks(r, top.get("callbacks", {}))
    values["max_link_gap_minutes"] = _link_rule(
        r, top.get("max_link_gap_minutes", {}), "max_link_gap_minutes",
        lambda v, path: r.bounded(v, path, "max_link_gap_minutes"),
    )  # fmt: skip
    values["crew_mode"] = _link_rule(
        r, top.get("crew_mode", {}), "crew_mode", lambda v, path: _crew_mode(r, v, path)
    )
    values["second_visit_cny"] = r.number(top, "second_visit_cny", "second_visit_cny")
    if r.errors:
        raise InputErrors(r.errors)
    given = {k: v for k, v in values.items() if v is not _UNSET}
    return PlanSettings(**given)


def _callbacks(r: _Reader, raw: object) -> dict[str, CallbackPolicy]:
    """`callbacks`: a region (an id) to its `CallbackPolicy`."""
    regions = r.obj(raw, "callbacks", None)
    out: dict[str, CallbackPolicy] = {}
    for region, value in (regions or {}).items():
        path = f"callbacks.{region}"
        try:
            check_id(str(region))
            out[str(region)] = enum_parser(CallbackPolicy)(value)
        except ValueError as exc:
            r.fail(path, str(exc))
    return out


def _link_rule(
    r: _Reader, raw: object, path: str, parse: Callable[[object, str], Any]
) -> dict[str, Any]:
    """A rule keyed by product category and/or region (`dispatch.link_rules`: "*",
    "split_ac", "@rural", "split_ac@rural"), each value parsed; bad ones reported."""
    keys = r.obj(raw, path, None)
    out: dict[str, Any] = {}
    for key, value in (keys or {}).items():
        where = join_path(path, str(key))
        try:
            rule_key_parts(str(key))
        except ValueError as exc:
            r.fail(where, str(exc))
            continue
        parsed = parse(value, where)
        if parsed is not _UNSET:
            out[str(key)] = parsed
    return out


def _crew_mode(r: _Reader, value: object, path: str) -> Any:
    try:
        return enum_parser(CrewMode)(value)
    except ValueError as exc:
        r.fail(path, str(exc))
        return _UNSET


class _Reader:
    """Walks one settings document, collecting every problem with its key path."""

    def __init__(self, record: str, prefix: str) -> None:
        self.record = record
        self.prefix = prefix
        self.errors: list[InputError] = []

    def fail(self, path: str, message: str) -> None:
        name = ".".join(p for p in (self.prefix, path) if p) or "(document)"
        self.errors.append(InputError(self.record, name, message))

    def obj(
        self, raw: object, path: str, allowed: Iterable[str] | None
    ) -> Mapping[str, Any] | None:
        """`raw` if it is an object (unknown keys reported), else None with the problem."""
        if not isinstance(raw, Mapping):
            self.fail(path, f"must be an object, got {_type(raw)}")
            return None
        if allowed is not None:
            known = [str(k) for k in allowed]
            for key in raw:
                if key not in known:
                    self.fail(
                        join_path(path, str(key)),
                        f"unknown key; expected one of: {', '.join(known)}",
                    )
        return raw

    def get(self, raw: Mapping[str, Any], path: str, parse: Callable[[object], Any]) -> Any:
        """The parsed value at the last key of `path`, `_UNSET` when absent or bad."""
        key = path.rpartition(".")[2]
        if key not in raw:
            return _UNSET
        try:
            return parse(raw[key])
        except (ValueError, TypeError) as exc:
            self.fail(path, str(exc))
            return _UNSET

    def bounded(self, value: object, path: str, bounds_name: str) -> Any:
        """A number within `SETTINGS_BOUNDS[bounds_name]`, `_UNSET` with the problem if not."""
        bounds = SETTINGS_BOUNDS[bounds_name]
        try:
            number = parse_int(value) if bounds.whole else parse_float(value)
            bounds.check(number)
        except ValueError as exc:
            self.fail(path, str(exc))
            return _UNSET
        return number

    def number(self, raw: Mapping[str, Any], path: str, bounds_name: str) -> Any:
        key = path.rpartition(".")[2]
        return self.bounded(raw[key], path, bounds_name) if key in raw else _UNSET

    def table(
        self,
        raw: object,
        path: str,
        keys: type[StrEnum],
        parse: Callable[[object, str], Any],
    ) -> dict[Any, Any]:
        """An object whose keys are values of `keys` (read as its members), each value parsed;
        the bad ones reported and left out."""
        known = [k.value for k in keys]
        mapping = self.obj(raw, path, known)
        if mapping is None:
            return {}
        out = {}
        for key, value in mapping.items():
            parsed = parse(value, join_path(path, str(key))) if key in known else _UNSET
            if parsed is not _UNSET:
                out[keys(key)] = parsed
        return out


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _parse_provider(value: object) -> str:
    """A travel spec, checked for its form only (a file is looked for when it is applied)."""
    spec = parse_text(value)
    name, _, target = spec.partition(":")
    name = name.lower()
    if name in ("haversine", "matrix") and not target:
        return name
    if name == "osm" and target:
        return f"osm:{target}"
    if name == "osrm" and target.startswith(("http://", "https://")):
        return f"osrm:{target}"
    raise ValueError(f"{spec!r} is not one of haversine, osm:FILE or osrm:URL")


def _parse_clock(value: object) -> time:
    if isinstance(value, time) and value.tzinfo is None:  # TOML writes times of day bare
        return value
    return parse_clock(value)


def _parse_rush_hours(value: object) -> tuple[tuple[str, str, float], ...]:
    if not isinstance(value, list):
        raise ValueError("must be a list of [start, end, factor]")
    if len(value) > MAX_RUSH_HOURS:
        raise ValueError(f"{len(value)} rush hours; at most {MAX_RUSH_HOURS} are allowed")
    out = []
    bounds = SETTINGS_BOUNDS["rush_factor"]
    for k, item in enumerate(value):
        if not (isinstance(item, list) and len(item) == 3):
            raise ValueError(f"item {k}: {item!r} is not [start, end, factor]")
        start, end = _parse_clock(item[0]), _parse_clock(item[1])
        if end <= start:
            raise ValueError(f"item {k}: {format_clock(end)} is not after {format_clock(start)}")
        factor = parse_float(item[2])
        try:
            bounds.check(factor)
        except ValueError as exc:
            raise ValueError(f"item {k}: factor {exc}") from None
        out.append((format_clock(start), format_clock(end), factor))
    return tuple(out)


def _parse_hours(value: object) -> float | None:
    """Promise hours within bounds, or None (same day) for null or "same_day"."""
    if value is None or (isinstance(value, str) and value.strip().lower() == SAME_DAY):
        return None
    # 12 stays 12, not 12.0, so the record reads as the plan's problem writes it
    hours = value if isinstance(value, int) and not isinstance(value, bool) else parse_float(value)
    SETTINGS_BOUNDS["promise_hours"].check(hours)
    return hours


_POLICY_PARSERS: dict[str, Callable[[object], Any]] = {
    **dict.fromkeys(HOURS_KEYS, _parse_hours),
    "clock": enum_parser(PromiseClock),
    "opening": _parse_clock,
    "cutoff": _parse_clock,
    "closing": _parse_clock,
}


def _promises(r: _Reader, raw: object) -> dict[str, dict[str, Any]]:
    regions = r.obj(raw, "promises", None)
    if regions is None:
        return {}
    if len(regions) > MAX_REGIONS:
        r.fail("promises", f"{len(regions)} regions; at most {MAX_REGIONS} are allowed")
        return {}
    out: dict[str, dict[str, Any]] = {}
    base_book = default_policies()
    for region, praw in regions.items():
        path = f"promises.{region}"
        try:
            check_id(str(region))
        except ValueError as exc:
            r.fail(path, f"region {exc}")
            continue
        policy = r.obj(praw, path, _POLICY_KEYS)
        if policy is None:
            continue
        before = len(r.errors)
        fields = {}
        for key in _POLICY_KEYS:
            parsed = r.get(policy, f"{path}.{key}", _POLICY_PARSERS[key])
            if parsed is not _UNSET:
                fields[key] = parsed
        if len(r.errors) == before:  # the fields together (opening < cutoff <= closing)
            try:
                policy_with(base_book.get(str(region)), fields)
            except InputError as exc:
                r.fail(f"{path}.{exc.field}", exc.message)
        out[str(region)] = fields
    return out


def policy_with(base: RegionPolicy | None, fields: Mapping[str, Any]) -> RegionPolicy:
    return dataclasses.replace(base or RegionPolicy(), **fields)


def settings_to_dict(settings: PlanSettings) -> dict[str, Any]:
    """JSON-ready data in the file's schema, holding what `settings` gives (and only that)."""
    s = settings
    travel = {
        "provider": s.provider,
        "detour_factor": s.detour_factor,
        "speeds_kmh": {str(k): v for k, v in s.speeds_kmh.items()} or None,
        "rush_hours": None if s.rush_hours is None else [list(r) for r in s.rush_hours],
    }
    promises = {
        region: {
            k: v.value if isinstance(v, PromiseClock) else format_clock(v) if isinstance(v, time)
            else v
            for k, v in fields.items()
        }
        for region, fields in s.promises.items()
    }  # fmt: skip
    service = {
        "base_minutes": {
            str(kind): {str(c): n for c, n in per.items()} for kind, per in s.base_minutes.items()
        }
        or None,
        "stairs_minutes_per_floor": {str(k): n for k, n in s.stairs_minutes_per_floor.items()}
        or None,
        "height_floor": s.height_floor,
        "height_minutes": s.height_minutes,
    }
    out = {
        "travel": {k: v for k, v in travel.items() if v is not None} or None,
        "promises": promises or None,
        "link_gap_minutes": s.link_gap_minutes,
        "assist_tolerance_minutes": s.assist_tolerance_minutes,
        "max_km_from_depot": s.max_km_from_depot,
        "service_time": {k: v for k, v in service.items() if v is not None} or None,
        "certification": {str(k): v for k, v in s.certification.items()} or None,
        "callbacks": {r: p.value for r, p in s.callbacks.items()} or None,
        "max_link_gap_minutes": dict(s.max_link_gap_minutes) or None,
        "crew_mode": {k: m.value for k, m in s.crew_mode.items()} or None,
        "second_visit_cny": s.second_visit_cny,
    }
    return {k: v for k, v in out.items() if v is not None}
