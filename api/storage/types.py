"""Request field types that keep bad values at the door with a 422 naming the field.

Text may not contain control characters other than tab and line breaks (PostgreSQL refuses
NUL), times must fall in a sane range (so date arithmetic can never overflow), and numbers
must be finite. The limits are the domain's record rules (`dispatch.record_rules`), which the
CSV/JSON importers enforce too: one set of rules for every door (tests/api/test_api_record_rules.py
compares them).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Path as PathParam
from pydantic import AfterValidator, Field

from dispatch.record_rules import (
    EARLIEST,
    ID_MAX_LENGTH,
    ID_PATTERN,
    LAT,
    LATEST,
    LON,
    TEXT_MAX_LENGTH,
    Bounds,
    check_text,
)

#: the earliest clock reading a phone may send: the Unix epoch, where a reset phone clock starts
DEVICE_EARLIEST = datetime(1970, 1, 1)
#: notes, reasons and other long free text (not record fields)
LONG_TEXT_MAX_LENGTH = 5000


def within(bounds: Bounds, default: Any = ..., **kwargs: Any) -> Any:
    """A pydantic `Field` holding a number field to the domain's `bounds` (finite floats)."""
    if not bounds.whole:
        kwargs.setdefault("allow_inf_nan", False)
    return Field(default, ge=bounds.low, le=bounds.high, **kwargs)


def _plain_text(value: str) -> str:
    return check_text(value, max_length=len(value))  # lengths: the Field's max_length


def _sane_time(value: datetime) -> datetime:
    naive = value.replace(tzinfo=None)
    if not EARLIEST <= naive <= LATEST:
        raise ValueError("must be between 2000-01-01 and 2100-01-01")
    return value


def _device_time(value: datetime) -> datetime:
    naive = value.replace(tzinfo=None)
    if not DEVICE_EARLIEST <= naive <= LATEST:
        raise ValueError("must be between 1970-01-01 and 2100-01-01")
    return value


def _sane_date(value: date) -> date:
    if not EARLIEST.date() <= value <= LATEST.date():
        raise ValueError("must be between 2000-01-01 and 2100-01-01")
    return value


Text = Annotated[str, Field(max_length=TEXT_MAX_LENGTH), AfterValidator(_plain_text)]
LongText = Annotated[str, Field(max_length=LONG_TEXT_MAX_LENGTH), AfterValidator(_plain_text)]
Ident = Annotated[str, Field(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
Moment = Annotated[datetime, AfterValidator(_sane_time)]
#: a phone's clock reading: wider than `Moment`, since a phone whose clock was reset still
#: reports real events (the service orders such an event by its receive time instead)
DeviceMoment = Annotated[datetime, AfterValidator(_device_time)]
Day = Annotated[date, AfterValidator(_sane_date)]
Lon = Annotated[float, within(LON)]
#: a database row id in a path: a 32-bit integer (PostgreSQL's INTEGER), so a huge number is a
#: 422, not a database error
RowId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
Lat = Annotated[float, within(LAT)]
