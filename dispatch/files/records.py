"""Jobs, crews and depots as flat records (dicts of plain values), in both directions.

One record shape serves the CSV and JSON importers (`dispatch.files.importers`) and the saved plan
(`dispatch.files.plan_io`), so a job reads the same way wherever it comes from. Reading never stops
at the first bad value: the `*_from_dict` functions raise every problem of a record together
as `InputErrors`, each naming the record and the column. Values may be strings (CSV cells) or
JSON values; blank means "use the default". Model constructors have the last word.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import time
from typing import Any, TypeVar

from dispatch.errors import InputErrors
from dispatch.files.fields import (
    FieldReader,
    enum_parser,
    format_clock,
    format_datetime,
    is_blank,
    parse_bool,
    parse_clock,
    parse_datetime,
    parse_float,
    parse_int,
    parse_skills,
    parse_text,
    parse_windows,
)
from dispatch.models import (
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

T = TypeVar("T")

#: columns of a jobs file, in the order they are written
JOB_FIELDS: tuple[str, ...] = (
    "id", "kind", "order_id", "confirmed_at", "lon", "lat", "windows", "category", "quantity",
    "volume_l", "weight_kg", "floor", "has_lift", "service_minutes", "skills", "people",
    "priority", "region", "zone", "deadline", "address", "customer_name", "customer_phone",
)  # fmt: skip
JOB_REQUIRED = frozenset({"id", "kind", "confirmed_at", "lon", "lat", "windows"})
#: the job columns that hold personal data (blanked when a plan is shared without it)

CREW_FIELDS: tuple[str, ...] = (
    "id", "kind", "people", "skills", "start_depot", "end_depot", "shift_start", "shift_end",
    "capacity_volume_l", "capacity_weight_kg", "lunch_start", "lunch_end", "lunch_minutes",
    "max_jobs", "cost_per_hour", "cost_per_km", "home_zone",
)  # fmt: skip
CREW_REQUIRED = frozenset({"id", "kind", "start_depot"})

DEPOT_FIELDS: tuple[str, ...] = ("id", "kind", "lon", "lat", "name", "zone")
DEPOT_REQUIRED = frozenset({"id", "kind", "lon", "lat"})

#: crew size when the file does not say: two on a truck or install crew, one repair technician
DEFAULT_CREW_PEOPLE: dict[str, int] = {
    "delivery_truck": 2,
    "installation_crew": 2,
    "repair_technician": 1,
    "combined": 2,
}
#: lunch window when a crew has `lunch_minutes` but no window
DEFAULT_LUNCH_WINDOW = (time(11, 30), time(13, 30))


def _label(reader: FieldReader, what: str, where: str, fields: tuple[str, ...]) -> str:
    """Read the id first so every later error names the record by it.

    "" when the id is missing or bad: the reader has then failed, so `build` makes nothing.
    """
    ident = reader.get("id", parse_text)
    if ident:
        reader.record = f"{where} ({what} {ident!r})" if where else f"{what} {ident!r}"
    reader.check_keys(fields)
    return ident or ""


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
    values = {
        "kind": r.required("kind", enum_parser(JobKind)),
        "order_id": r.get("order_id", parse_text, ident),
        "confirmed_at": r.required("confirmed_at", parse_datetime),
        "location": (r.required("lon", parse_float), r.required("lat", parse_float)),
        "windows": r.required("windows", parse_windows),
        "category": r.get("category", enum_parser(ProductCategory), ProductCategory.OTHER),
        "quantity": r.get("quantity", parse_int, 1),
        "volume_l": r.get("volume_l", parse_float, 0.0),
        "weight_kg": r.get("weight_kg", parse_float, 0.0),
        "floor": r.get("floor", parse_int, 1),
        "has_lift": r.get("has_lift", parse_bool, True),
        "service_minutes": r.get("service_minutes", parse_int, None),
        "skills": r.get("skills", parse_skills, frozenset()),
        "people": r.get("people", parse_int, 1),
        "priority": r.get("priority", enum_parser(Priority), Priority.NORMAL),
        "region": r.get("region", parse_text, "urban"),
        "zone": r.get("zone", parse_text, None),
        "deadline": r.get("deadline", parse_datetime, None),
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
    kind = r.required("kind", enum_parser(CrewKind))
    start_depot = r.required("start_depot", parse_text)
    values = {
        "kind": kind,
        "people": r.get("people", parse_int, DEFAULT_CREW_PEOPLE.get(str(kind), 1)),
        "skills": r.get("skills", parse_skills, frozenset()),
        "start_depot": start_depot,
        "end_depot": r.get("end_depot", parse_text, start_depot),
        "shift_start": r.get("shift_start", parse_clock, time(8, 0)),
        "shift_end": r.get("shift_end", parse_clock, time(18, 0)),
        "capacity_volume_l": r.get("capacity_volume_l", parse_float, 0.0),
        "capacity_weight_kg": r.get("capacity_weight_kg", parse_float, 0.0),
        "max_jobs": r.get("max_jobs", parse_int, None),
        "cost_per_hour": r.get("cost_per_hour", parse_float, 60.0),
        "cost_per_km": r.get("cost_per_km", parse_float, 2.0),
        "home_zone": r.get("home_zone", parse_text, None),
    }
    minutes = r.get("lunch_minutes", parse_int, None)
    lunch_start = r.get("lunch_start", parse_clock, DEFAULT_LUNCH_WINDOW[0])
    lunch_end = r.get("lunch_end", parse_clock, DEFAULT_LUNCH_WINDOW[1])
    lunch = None
    if minutes is not None:
        lunch = LunchBreak(lunch_start, lunch_end, minutes)
    elif not (is_blank(raw.get("lunch_start")) and is_blank(raw.get("lunch_end"))):
        r.fail("lunch_minutes", "is required when lunch_start or lunch_end is given")
    return _finish(r, r.build(lambda: Crew(id=ident, lunch=lunch, **values)))


def depot_from_dict(
    raw: Mapping[str, object], where: str = "", *, quiet: Iterable[str] = ()
) -> Depot:
    """A `Depot` from a record with the `DEPOT_FIELDS` keys; raises `InputErrors`."""
    r = FieldReader(raw, where or "depot", quiet=quiet)
    ident = _label(r, "depot", where, DEPOT_FIELDS)
    kind = r.required("kind", enum_parser(DepotKind))
    lon, lat = r.required("lon", parse_float), r.required("lat", parse_float)
    name = r.text("name")
    zone = r.get("zone", parse_text, None)
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
    }


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
