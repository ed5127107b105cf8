"""Jobs, crews and depots as flat records (dicts of plain values), in both directions.

One record shape serves the CSV and JSON importers (`dispatch.files.importers`) and the saved plan
(`dispatch.files.plan_io`), so a job reads the same way wherever it comes from. Reading never stops
at the first bad value: the `*_from_dict` functions raise every problem of a record together
as `InputErrors`, each naming the record and the column. Values may be strings (CSV cells) or
JSON values; blank means "use the default" (or, for a goods crew's capacity, an error). Every
value is held to the record rules of `dispatch.record_rules` (ids, number ranges, text,
date-times), which the service's request types share; the model constructors have the last
word on what spans fields (overlapping windows, a shift's end after its start).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import time
from typing import Any, TypeVar, cast

from dispatch.errors import InputErrors
from dispatch.files.fields import (
    REQUIRED,
    FieldReader,
    bounded,
    enum_parser,
    format_clock,
    format_datetime,
    is_blank,
    parse_bool,
    parse_certifications,
    parse_clock,
    parse_datetime,
    parse_day,
    parse_float,
    parse_id,
    parse_int,
    parse_windows,
    skills_parser,
)
from dispatch.models import (
    GOODS_CREW_KINDS,
    CallbackPolicy,
    Crew,
    CrewKind,
    Depot,
    DepotKind,
    GeoPoint,
    Job,
    JobKind,
    LunchBreak,
    Priority,
    ProductCategory,
)
from dispatch.privacy import PERSONAL_FIELDS
from dispatch.record_rules import (
    CREW_BOUNDS,
    CREW_DEFAULTS,
    DEFAULT_CREW_PEOPLE,
    DEPOT_BOUNDS,
    JOB_BOUNDS,
    JOB_DEFAULTS,
    MAX_CREW_SKILLS,
    MAX_JOB_SKILLS,
    Bounds,
)

T = TypeVar("T")

#: columns of a jobs file, in the order they are written
JOB_FIELDS: tuple[str, ...] = (
    "id", "kind", "order_id", "confirmed_at", "lon", "lat", "windows", "category", "quantity",
    "volume_l", "weight_kg", "floor", "has_lift", "service_minutes", "skills", "people",
    "priority", "region", "zone", "deadline", "address", "customer_name", "customer_phone",
    "first_due", "min_certification", "original_crew", "callback_policy", "assists",
    "delivered_at",
)  # fmt: skip
JOB_REQUIRED = frozenset({"id", "kind", "confirmed_at", "lon", "lat", "windows"})
#: the job columns that hold personal data (blanked when a plan is shared without it)

CREW_FIELDS: tuple[str, ...] = (
    "id", "kind", "people", "skills", "start_depot", "end_depot", "shift_start", "shift_end",
    "capacity_volume_l", "capacity_weight_kg", "lunch_start", "lunch_end", "lunch_minutes",
    "max_jobs", "cost_per_hour", "cost_per_km", "home_zone", "certifications",
)  # fmt: skip
CREW_REQUIRED = frozenset({"id", "kind", "start_depot"})

DEPOT_FIELDS: tuple[str, ...] = ("id", "kind", "lon", "lat", "name", "zone")
DEPOT_REQUIRED = frozenset({"id", "kind", "lon", "lat"})

#: lunch window when a crew has `lunch_minutes` but no window
DEFAULT_LUNCH_WINDOW: tuple[time, time] = (
    cast(time, CREW_DEFAULTS["lunch_start"]),
    cast(time, CREW_DEFAULTS["lunch_end"]),
)
#: the longest id shown in a record's name (a longer one is cut, and refused)
_SHOWN_ID = 40


def _label(reader: FieldReader, what: str, where: str, fields: tuple[str, ...]) -> str:
    """Read the id first so every later error names the record by it (as written, even when
    the id breaks the rules: the row is still found by it).

    "" when the id is missing or bad: the reader has then failed, so `build` makes nothing.
    """
    written = reader.raw.get("id")
    readable = isinstance(written, str) or (
        isinstance(written, int) and not isinstance(written, bool)  # an id as a JSON number
    )
    if "id" not in reader.quiet and readable and not is_blank(written):
        shown = str(written).strip()
        shown = shown if len(shown) <= _SHOWN_ID else shown[:_SHOWN_ID] + "..."
        reader.record = f"{where} ({what} {shown!r})" if where else f"{what} {shown!r}"
    ident = reader.get("id", parse_id)
    reader.check_keys(fields)
    return ident or ""


def _number(
    reader: FieldReader,
    bounds: dict[str, Bounds],
    name: str,
    default: Any = REQUIRED,
) -> Any:
    """A number field checked against its bounds (`dispatch.record_rules`)."""
    rule = bounds[name]
    return reader.get(name, bounded(parse_int if rule.whole else parse_float, rule), default)


def _finish(reader: FieldReader, built: T | None) -> T:
    """The built object, or every problem found (none new when only `quiet` fields failed)."""
    if reader.errors or built is None:
        raise InputErrors(reader.errors)
    return built


def job_from_dict(raw: Mapping[str, object], where: str = "", *, quiet: Iterable[str] = ()) -> Job:
    """A `Job` from a record with the `JOB_FIELDS` keys; raises `InputErrors` with every problem.

    `where` names the record's place (e.g. "jobs.csv row 7"); the job id is appended. `quiet`
    fields count as missing without an error of their own (their problem is reported elsewhere).
    """
    r = FieldReader(raw, where or "job", quiet=quiet)
    ident = _label(r, "job", where, JOB_FIELDS)
    d, b = JOB_DEFAULTS, JOB_BOUNDS
    values = {
        "kind": r.required("kind", enum_parser(JobKind)),
        "order_id": r.get("order_id", parse_id, ident),
        "confirmed_at": r.required("confirmed_at", parse_datetime),
        "location": (_number(r, b, "lon"), _number(r, b, "lat")),
        "windows": r.required("windows", parse_windows),
        "category": r.get("category", enum_parser(ProductCategory), d["category"]),
        "quantity": _number(r, b, "quantity", d["quantity"]),
        "volume_l": _number(r, b, "volume_l", d["volume_l"]),
        "weight_kg": _number(r, b, "weight_kg", d["weight_kg"]),
        "floor": _number(r, b, "floor", d["floor"]),
        "has_lift": r.get("has_lift", parse_bool, d["has_lift"]),
        "service_minutes": _number(r, b, "service_minutes", None),
        "skills": r.get("skills", skills_parser(MAX_JOB_SKILLS), frozenset()),
        "people": _number(r, b, "people", d["people"]),
        "priority": r.get("priority", enum_parser(Priority), d["priority"]),
        "region": r.get("region", parse_id, d["region"]),
        "zone": r.get("zone", parse_id, None),
        "deadline": r.get("deadline", parse_datetime, None),
        "first_due": r.get("first_due", parse_day, None),
        "min_certification": _number(r, b, "min_certification", None),
        "original_crew": r.get("original_crew", parse_id, None),
        "callback_policy": r.get("callback_policy", enum_parser(CallbackPolicy), None),
        "assists": r.get("assists", parse_id, None),
        "delivered_at": r.get("delivered_at", parse_datetime, None),
        "address": r.text("address"),
        "customer_name": r.text("customer_name"),
        "customer_phone": r.text("customer_phone"),
    }
    lon, lat = values.pop("location")
    return _finish(r, r.build(lambda: Job(id=ident, location=GeoPoint(lon, lat), **values)))


def crew_from_dict(
    raw: Mapping[str, object], where: str = "", *, quiet: Iterable[str] = ()
) -> Crew:
    """A `Crew` from a record with the `CREW_FIELDS` keys; raises `InputErrors`."""
    r = FieldReader(raw, where or "crew", quiet=quiet)
    ident = _label(r, "crew", where, CREW_FIELDS)
    d, b = CREW_DEFAULTS, CREW_BOUNDS
    kind = r.required("kind", enum_parser(CrewKind))
    start_depot = r.required("start_depot", parse_id)
    values = {
        "kind": kind,
        "people": _number(r, b, "people", DEFAULT_CREW_PEOPLE.get(str(kind), 1)),
        "skills": r.get("skills", skills_parser(MAX_CREW_SKILLS), frozenset()),
        "start_depot": start_depot,
        "end_depot": r.get("end_depot", parse_id, start_depot),
        "shift_start": r.get("shift_start", parse_clock, d["shift_start"]),
        "shift_end": r.get("shift_end", parse_clock, d["shift_end"]),
        "capacity_volume_l": _capacity(r, kind, "capacity_volume_l"),
        "capacity_weight_kg": _capacity(r, kind, "capacity_weight_kg"),
        "max_jobs": _number(r, b, "max_jobs", None),
        "cost_per_hour": _number(r, b, "cost_per_hour", d["cost_per_hour"]),
        "cost_per_km": _number(r, b, "cost_per_km", d["cost_per_km"]),
        "home_zone": r.get("home_zone", parse_id, None),
        "certifications": r.get("certifications", parse_certifications, ()),
    }
    minutes = _number(r, b, "lunch_minutes", None)
    lunch_start = r.get("lunch_start", parse_clock, DEFAULT_LUNCH_WINDOW[0])
    lunch_end = r.get("lunch_end", parse_clock, DEFAULT_LUNCH_WINDOW[1])
    lunch = None
    if minutes is not None:
        lunch = LunchBreak(lunch_start, lunch_end, minutes)
    elif not (is_blank(raw.get("lunch_start")) and is_blank(raw.get("lunch_end"))):
        r.fail("lunch_minutes", "is required when lunch_start or lunch_end is given")
    return _finish(r, r.build(lambda: Crew(id=ident, lunch=lunch, **values)))


def _capacity(reader: FieldReader, kind: CrewKind | None, name: str) -> Any:
    """A vehicle capacity: required for a crew that carries goods (a blank one would make
    every delivery "too big"), 0 when blank for the others."""
    carries = kind in GOODS_CREW_KINDS
    if carries and name not in reader.quiet and is_blank(reader.raw.get(name)):
        reader.fail(name, f"is required: a {kind} crew carries goods (write 0 for no room)")
        return None
    return _number(reader, CREW_BOUNDS, name, None if carries else 0.0)


def depot_from_dict(
    raw: Mapping[str, object], where: str = "", *, quiet: Iterable[str] = ()
) -> Depot:
    """A `Depot` from a record with the `DEPOT_FIELDS` keys; raises `InputErrors`."""
    r = FieldReader(raw, where or "depot", quiet=quiet)
    ident = _label(r, "depot", where, DEPOT_FIELDS)
    kind = r.required("kind", enum_parser(DepotKind))
    lon, lat = _number(r, DEPOT_BOUNDS, "lon"), _number(r, DEPOT_BOUNDS, "lat")
    name = r.text("name")
    zone = r.get("zone", parse_id, None)
    return _finish(r, r.build(lambda: Depot(ident, kind, GeoPoint(lon, lat), name, zone)))


# ---- writing: JSON-ready records (strings, numbers, lists, None)


def job_to_dict(job: Job, *, include_personal_data: bool = True) -> dict[str, Any]:
    """The job as a JSON-ready record with the `JOB_FIELDS` keys."""
    record: dict[str, Any] = {
        "id": job.id,
        "kind": job.kind.value,
        "order_id": job.order_id,
        "confirmed_at": format_datetime(job.confirmed_at),
        "lon": job.location.lon,
        "lat": job.location.lat,
        "windows": [
            {"start": format_datetime(w.start), "end": format_datetime(w.end)} for w in job.windows
        ],
        "category": job.category.value,
        "quantity": job.quantity,
        "volume_l": job.volume_l,
        "weight_kg": job.weight_kg,
        "floor": job.floor,
        "has_lift": job.has_lift,
        "service_minutes": job.service_minutes,
        "skills": sorted(job.skills),
        "people": job.people,
        "priority": job.priority.value,
        "region": job.region,
        "zone": job.zone,
        "deadline": format_datetime(job.deadline) if job.deadline is not None else None,
        "address": job.address,
        "customer_name": job.customer_name,
        "customer_phone": job.customer_phone,
    }
    if job.first_due is not None:  # only a carried-over job has it (`dispatch.roll_over`)
        record["first_due"] = job.first_due.isoformat()
    if job.min_certification is not None:  # only where a rule or the job asks for one
        record["min_certification"] = job.min_certification
    if job.original_crew is not None:  # a callback's
        record["original_crew"] = job.original_crew
    if job.callback_policy is not None:
        record["callback_policy"] = job.callback_policy.value
    if job.assists is not None:  # an assisting visit's: the job it assists
        record["assists"] = job.assists
    if job.delivered_at is not None:  # an installation whose delivery was done earlier
        record["delivered_at"] = format_datetime(job.delivered_at)
    if not include_personal_data:
        record.update(dict.fromkeys(PERSONAL_FIELDS, ""))
    return record


def crew_to_dict(crew: Crew) -> dict[str, Any]:
    """The crew as a JSON-ready record with the `CREW_FIELDS` keys (lunch flattened)."""
    lunch = crew.lunch
    return {
        "id": crew.id,
        "kind": crew.kind.value,
        "people": crew.people,
        "skills": sorted(crew.skills),
        "start_depot": crew.start_depot,
        "end_depot": crew.end_depot,
        "shift_start": format_clock(crew.shift_start),
        "shift_end": format_clock(crew.shift_end),
        "capacity_volume_l": crew.capacity_volume_l,
        "capacity_weight_kg": crew.capacity_weight_kg,
        "lunch_start": format_clock(lunch.window_start) if lunch else None,
        "lunch_end": format_clock(lunch.window_end) if lunch else None,
        "lunch_minutes": lunch.minutes if lunch else None,
        "max_jobs": crew.max_jobs,
        "cost_per_hour": crew.cost_per_hour,
        "cost_per_km": crew.cost_per_km,
        "home_zone": crew.home_zone,
        **({"certifications": certifications_to_list(crew)} if crew.certifications else {}),
    }


def certifications_to_list(crew: Crew) -> list[dict[str, Any]]:
    return [
        {
            "kind": c.kind.value,
            "score": c.score,
            "expires": c.expires.isoformat() if c.expires else None,
        }
        for c in crew.certifications
    ]


def depot_to_dict(depot: Depot) -> dict[str, Any]:
    """The depot as a JSON-ready record with the `DEPOT_FIELDS` keys."""
    return {
        "id": depot.id,
        "kind": depot.kind.value,
        "lon": depot.location.lon,
        "lat": depot.location.lat,
        "name": depot.name,
        "zone": depot.zone,
    }
