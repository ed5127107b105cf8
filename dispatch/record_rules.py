"""The rules every job, crew, depot and zone record obeys, whichever door it comes in by.

Defined once, here. The CSV/JSON importers, the command line and the service all read records
through `dispatch.files.records` (`job_from_dict`, `crew_from_dict`, `depot_from_dict`), which
enforce these rules and name every problem with its record and field; the service's request
types (`api/storage/types.py`, the routers' `JobIn` and `CrewIn`) take their bounds from the
same constants, and a test compares the two doors value by value, so they cannot drift apart.
The model constructors (`dispatch.models`) keep the checks they always had, with these
numbers, but accept what the readers refuse beyond that (a quantity of 10^30, a window in the
year 9999): a problem built in code may hold such a job, and the planner's screening then
lists it unassigned (`dispatch.planning.feasibility`) instead of failing the day.

The rules are documented in docs/data-formats.md ("Rules for every record").
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal

#: ids of jobs, orders, crews, depots, zones, regions and skill names: they appear in URLs
#: (`/jobs/{id}`), file names and CSV cells, so a letter or digit, then letters, digits and
#: `_ . : -` only (no `/`, spaces or control characters)
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$"
ID_MAX_LENGTH = 64
#: free text (addresses, names, phone numbers): at most this many characters
TEXT_MAX_LENGTH = 500
#: the control characters free text may hold: tab and line breaks (an address typed in a
#: spreadsheet cell with Alt+Enter); any other (NUL, escape, U+007F-U+009F) is refused
TEXT_CONTROLS_ALLOWED = frozenset("\t\n\r")
#: every date-time of a record (order time, windows, deadline) lies in this range, inclusive,
#: so date arithmetic (promise deadlines, plan-day seconds) can never overflow
EARLIEST = datetime(2000, 1, 1)
LATEST = datetime(2100, 1, 1)
#: appointment windows of one job
MAX_WINDOWS = 10
#: skill names a job may require / a crew may have
MAX_JOB_SKILLS = 20
MAX_CREW_SKILLS = 30

_ID = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class Bounds:
    """An inclusive range for a number field; `whole`: an integer field."""

    low: float
    high: float
    whole: bool = False

    def check(self, value: float) -> None:
        """Raise `ValueError` (a message fit for a dispatcher) unless low <= value <= high."""
        finite = isinstance(value, int) or math.isfinite(value)  # ints may exceed any float
        if not (finite and self.low <= value <= self.high):
            low, high = format_number(self.low), format_number(self.high)
            raise ValueError(f"must be from {low} to {high}, got {format_number(value)}")


LON = Bounds(-180, 180)
LAT = Bounds(-90, 90)

#: number fields of a job record (CSV/JSON columns and `JobIn` fields)
JOB_BOUNDS: dict[str, Bounds] = {
    "lon": LON,
    "lat": LAT,
    "quantity": Bounds(1, 1000, whole=True),
    "volume_l": Bounds(0, 1e6),
    "weight_kg": Bounds(0, 1e6),
    "floor": Bounds(-5, 200, whole=True),
    "service_minutes": Bounds(1, 720, whole=True),  # at most 12 hours on site
    "people": Bounds(1, 3, whole=True),
    "min_certification": Bounds(0, 100, whole=True),
}
#: number fields of a crew record (CSV/JSON columns and `CrewIn` fields)
CREW_BOUNDS: dict[str, Bounds] = {
    "people": Bounds(1, 6, whole=True),
    "capacity_volume_l": Bounds(0, 1e6),  # litres: a 40 t trailer holds about 90,000
    "capacity_weight_kg": Bounds(0, 1e6),
    "lunch_minutes": Bounds(0, 240, whole=True),
    "max_jobs": Bounds(0, 200, whole=True),
    "cost_per_hour": Bounds(0, 1e5),  # CNY
    "cost_per_km": Bounds(0, 1e4),  # CNY
}
#: number fields of a depot record
DEPOT_BOUNDS: dict[str, Bounds] = {"lon": LON, "lat": LAT}

#: what a blank (empty, missing or null) job field means
JOB_DEFAULTS: dict[str, object] = {
    "category": "other",
    "quantity": 1,
    "volume_l": 0.0,
    "weight_kg": 0.0,
    "floor": 1,
    "has_lift": True,
    "people": 1,
    "priority": "normal",
    "region": "urban",
}
#: what a blank crew field means (`people` by kind: `DEFAULT_CREW_PEOPLE`; the capacities
#: are required for crews that carry goods and 0 for the others)
CREW_DEFAULTS: dict[str, object] = {
    "shift_start": time(8, 0),
    "shift_end": time(18, 0),
    "lunch_start": time(11, 30),
    "lunch_end": time(13, 30),
    "cost_per_hour": 60.0,
    "cost_per_km": 2.0,
}
#: crew size when the record does not say: two on a truck or install crew, one technician
DEFAULT_CREW_PEOPLE: dict[str, int] = {
    "delivery_truck": 2,
    "installation_crew": 2,
    "repair_technician": 1,
    "combined": 2,
}


def check_id(value: str) -> str:
    """`value` if it is a valid id (see `ID_PATTERN`), else `ValueError` saying why."""
    if len(value) > ID_MAX_LENGTH:
        raise ValueError(f"is {len(value)} characters long; an id has at most {ID_MAX_LENGTH}")
    if not _ID.fullmatch(value):
        raise ValueError(
            f"{_shown(value)} is not an id: a letter or digit, then letters, digits and "
            "_ . : - only (no spaces, '/' or control characters)"
        )
    return value


def check_text(value: str, max_length: int = TEXT_MAX_LENGTH) -> str:
    """`value` if it is free text within `max_length` with no control characters other than
    tab and line breaks, else `ValueError` saying why."""
    if len(value) > max_length:
        raise ValueError(f"is {len(value)} characters long; at most {max_length} are allowed")
    for char in value:
        if unicodedata.category(char) == "Cc" and char not in TEXT_CONTROLS_ALLOWED:
            raise ValueError(
                f"contains the control character U+{ord(char):04X}; only tab and line breaks "
                "are allowed in text"
            )
    return value


def check_moment(value: datetime) -> datetime:
    """`value` if it lies from `EARLIEST` to `LATEST` (inclusive), else `ValueError`."""
    if not EARLIEST <= value.replace(tzinfo=None) <= LATEST:
        raise ValueError(
            f"{value.isoformat()} is outside the years the engine plans: from "
            f"{EARLIEST.date().isoformat()} to {LATEST.date().isoformat()}"
        )
    return value


def format_number(value: float) -> str:
    """A number as a dispatcher reads it: 1000, 0.5, 1.00e+30 (not thirty-one digits)."""
    if isinstance(value, int):
        return format(Decimal(value), ".3g") if abs(value) >= 10**9 else str(value)
    if not math.isfinite(value) or abs(value) >= 1e9:
        return f"{value:.3g}"
    return str(int(value)) if value.is_integer() else repr(value)


def _shown(value: str) -> str:
    """The value quoted for a message, cut to 40 characters."""
    return repr(value if len(value) <= 40 else value[:40] + "...")
