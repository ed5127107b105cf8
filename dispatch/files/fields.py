"""Field parsing for imported records: CSV cells and JSON values to typed values.

Each `parse_*` function takes a CSV cell (a string) or a JSON value and returns the typed
value or raises `ValueError` with a message fit for a dispatcher. `FieldReader` applies them
to one record and collects every problem as an `InputError` instead of stopping at the first,
so an import can report a whole file at once. Blank (empty, spaces only, or null) means
"use the default".
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any, TypeVar

from dispatch.errors import InputError
from dispatch.models import Certification, JobKind, TimeWindow
from dispatch.record_rules import MAX_WINDOWS, Bounds, check_id, check_moment, check_text

T = TypeVar("T")
REQUIRED: Any = object()
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n"}
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_SKILL_SEPARATORS = re.compile(r"[\s|]+")


def is_blank(value: object) -> bool:
    """Missing, null, or only spaces: the field takes its default."""
    return value is None or (isinstance(value, str) and not value.strip())


# ---- value parsers: each takes a CSV cell or a JSON value and raises ValueError on bad input


def parse_text(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # ids and phone numbers written as JSON numbers
    raise ValueError(f"must be text, got {value!r}")


def parse_id(value: object) -> str:
    """An id (`dispatch.record_rules.ID_PATTERN`, at most 64 characters)."""
    return check_id(parse_text(value))


def parse_int(value: object) -> int:
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                value = float(text)  # "3.0" from a spreadsheet
            except ValueError:
                raise ValueError(f"{value!r} is not a whole number") from None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise ValueError(f"{value!r} is not a whole number")


def parse_float(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    elif isinstance(value, int | float):
        number = float(value)
    else:
        raise ValueError(f"{value!r} is not a number")
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def bounded(parse: Callable[[object], float], bounds: Bounds) -> Callable[[object], Any]:
    """`parse`, then the value checked against `bounds` (`dispatch.record_rules`)."""

    def parse_bounded(value: object) -> float:
        number = parse(value)
        bounds.check(number)
        return number

    return parse_bounded


def parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not one of true/false/1/0/yes/no")


def parse_datetime(value: object) -> datetime:
    """An ISO date-time in the region's local clock (no UTC offset), from 2000 to 2100."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an ISO date-time")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date-time like 2026-06-18T09:00") from None
    if moment.tzinfo is not None:
        raise ValueError(f"{value!r} has a UTC offset; write the region's local time without one")
    return check_moment(moment)


def parse_day(value: object) -> date:
    """An ISO date (YYYY-MM-DD), from 2000 to 2100."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an ISO date")
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date like 2026-06-18") from None
    if not 2000 <= day.year <= 2100:
        raise ValueError(f"{value!r} is not between the years 2000 and 2100")
    return day


def parse_clock(value: object) -> time:
    """A time of day as HH:MM or HH:MM:SS."""
    if isinstance(value, str):
        match = _CLOCK.fullmatch(value.strip())
        if match:  # also 8:30, which time.fromisoformat refuses
            hour, minute, second = (int(g) if g else 0 for g in match.groups())
            if hour <= 23 and minute <= 59 and second <= 59:
                return time(hour, minute, second)
        else:
            with contextlib.suppress(ValueError):
                moment = time.fromisoformat(value.strip())
                if moment.tzinfo is None:
                    return moment
    raise ValueError(f"{value!r} is not a time of day like 08:30")


def parse_windows(value: object) -> tuple[TimeWindow, ...]:
    """`start/end` pairs separated by `;` (or a JSON list of such strings or {start, end}).

    The end may be a bare time of day (`2026-06-18T09:00/11:00`): it is on the start's date.
    """
    if isinstance(value, str):
        items: list[object] = list(value.split(";"))
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError(f"{value!r} is not a list of time windows")
    windows = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue  # a trailing ";"
        if isinstance(item, Mapping):
            if set(item) != {"start", "end"}:
                raise ValueError(f"window {item!r} must have exactly 'start' and 'end'")
            start, end = parse_datetime(item["start"]), parse_datetime(item["end"])
        elif isinstance(item, str) and item.count("/") == 1:
            first, second = item.split("/")
            start = parse_datetime(first)
            end = (
                datetime.combine(start.date(), parse_clock(second))
                if _CLOCK.fullmatch(second.strip())
                else parse_datetime(second)
            )
        else:
            raise ValueError(f"window {item!r} is not 'start/end'")
        check_moment(end)  # a bare end time is on the start's day, which may be the last one
        if end < start:
            raise ValueError(
                f"window {format_datetime(start)}/{format_datetime(end)} ends before it starts"
            )
        windows.append(TimeWindow(start, end))
    if not windows:
        raise ValueError("at least one time window is required")
    if len(windows) > MAX_WINDOWS:
        raise ValueError(f"{len(windows)} windows; a job has at most {MAX_WINDOWS}")
    return tuple(windows)


def parse_skills(value: object) -> frozenset[str]:
    """Skill names separated by spaces or `|` (or a JSON list of names)."""
    if isinstance(value, str):
        return frozenset(s for s in _SKILL_SEPARATORS.split(value) if s)
    if isinstance(value, list):
        skills = [parse_text(s) for s in value]
        bad = [s for s in skills if not s or _SKILL_SEPARATORS.search(s)]
        if bad:
            raise ValueError(f"skill names must be non-empty without spaces or '|': {bad!r}")
        return frozenset(skills)
    raise ValueError(f"{value!r} is not a list of skills")


def skills_parser(max_count: int) -> Callable[[object], frozenset[str]]:
    """`parse_skills`, each name an id (`dispatch.record_rules`), at most `max_count` of them."""

    def parse(value: object) -> frozenset[str]:
        skills = parse_skills(value)
        for skill in sorted(skills):
            try:
                check_id(skill)
            except ValueError as exc:
                raise ValueError(f"skill {exc}") from None
        if len(skills) > max_count:
            raise ValueError(f"{len(skills)} skills; at most {max_count} are allowed")
        return skills

    return parse


def parse_certifications(value: object) -> tuple[Certification, ...]:
    """A crew's certifications: a list of `{"kind", "score", "expires"}` objects (JSON), or
    the text `installation:85:2027-03-31|repair:90` (CSV: kind, score 0-100 and an optional
    last valid day, separated by `|` or spaces)."""
    if isinstance(value, str):
        items: list[object] = [
            dict(zip(("kind", "score", "expires"), part.split(":"), strict=False))
            for part in value.replace("|", " ").split()
        ]
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError(f"{value!r} is not a list of certifications")
    out = []
    for k, item in enumerate(items):
        if not isinstance(item, dict) or set(item) - {"kind", "score", "expires"}:
            raise ValueError(f"certification {k + 1} must have kind, score and expires only")
        try:
            kind = JobKind(str(item.get("kind", "")).strip().lower())
        except ValueError:
            named = item.get("kind")
            raise ValueError(f"certification {k + 1}: {named!r} is no job kind") from None
        try:
            score = parse_int(item.get("score"))
        except ValueError as exc:
            raise ValueError(f"certification {k + 1}: score {exc}") from None
        expires = item.get("expires")
        day = None if expires in (None, "") else parse_day(expires)
        try:
            out.append(Certification(kind, score, day))
        except InputError as exc:
            raise ValueError(f"certification {k + 1}: {exc.field} {exc.message}") from None
    return tuple(out)


def enum_parser(enum: type[StrEnum]) -> Callable[[object], Any]:
    """A parser for the values of `enum`, ignoring case and surrounding spaces."""

    def parse(value: object) -> StrEnum:
        if isinstance(value, str):  # a value of any other type is none of a StrEnum's values
            with contextlib.suppress(ValueError):
                return enum(value.strip().lower())
        allowed = ", ".join(e.value for e in enum)
        raise ValueError(f"{value!r} is not one of: {allowed}")

    return parse


class FieldReader:
    """Reads typed fields from one raw record, collecting every problem instead of stopping.

    `quiet` names fields whose absence was already reported elsewhere (a column missing from
    a CSV header, a cell with undecodable bytes): they count as missing without a new error.
    """

    def __init__(
        self,
        raw: Mapping[str, object],
        record: str,
        allowed: Iterable[str] | None = None,
        quiet: Iterable[str] = (),
    ) -> None:
        self.raw = raw
        self.record = record
        self.quiet = frozenset(quiet)
        self.errors: list[InputError] = []
        self.incomplete = False
        if allowed is not None:
            self.check_keys(allowed)

    def check_keys(self, allowed: Iterable[str]) -> None:
        """Report every key that is not in `allowed` (a typo would otherwise go unnoticed)."""
        known = list(allowed)
        for key in self.raw:
            if key not in known:
                self.fail(str(key), f"unknown field; expected one of: {', '.join(known)}")

    def fail(self, field_name: str, message: str) -> None:
        self.errors.append(InputError(self.record, field_name, message))

    def get(self, name: str, parse: Callable[[object], T], default: Any = REQUIRED) -> Any:
        """The parsed value of `name`; `default` when blank; None (and an error) when bad."""
        value = self.raw.get(name)
        if name in self.quiet or is_blank(value):
            if default is REQUIRED:
                if name not in self.quiet:
                    self.fail(name, "is required")
                self.incomplete = True
                return None
            return default
        try:
            return parse(value)
        except (ValueError, TypeError) as exc:
            self.fail(name, str(exc))
            return None

    def text(self, name: str) -> str:
        """Free text (address, names), kept exactly as written; missing means "".

        The text rules of `dispatch.record_rules.check_text` apply (length, control
        characters)."""
        value = self.raw.get(name)
        if value is None or name in self.quiet:
            return ""
        try:
            return check_text(value if isinstance(value, str) else parse_text(value))
        except ValueError as exc:
            self.fail(name, str(exc))
            return ""

    def required(self, name: str, parse: Callable[[object], T]) -> Any:
        """The parsed value of a field that must not be blank."""
        return self.get(name, parse)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.incomplete

    def build(self, factory: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Call a model constructor; its `InputError` is re-labelled with this record."""
        if not self.ok:
            return None
        try:
            return factory(*args, **kwargs)
        except InputError as exc:
            field_name = _MODEL_FIELD_TO_COLUMN.get(exc.field, exc.field)
            if field_name.startswith("windows["):
                field_name = "windows"
            self.fail(field_name, exc.message)
        except (ValueError, TypeError) as exc:  # a constructor check without a field name
            self.fail("(record)", str(exc))
        return None


def format_datetime(moment: datetime) -> str:
    """ISO without seconds when they are zero (2026-06-18T09:00), exact otherwise."""
    if moment.second == 0 and moment.microsecond == 0:
        return moment.isoformat(timespec="minutes")
    return moment.isoformat()


def format_clock(moment: time) -> str:
    """HH:MM, or the full ISO time when it has seconds."""
    if moment.second == 0 and moment.microsecond == 0:
        return moment.isoformat(timespec="minutes")
    return moment.isoformat()


#: model field names that do not match a column name
_MODEL_FIELD_TO_COLUMN = {"location.lon": "lon", "location.lat": "lat", "lunch": "lunch_minutes"}
