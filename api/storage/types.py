"""Request field types that keep bad values at the door with a 422 naming the field.

Text may not contain NUL characters (PostgreSQL refuses them), times must fall in a sane
range (so date arithmetic can never overflow), and numbers must be finite.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Path as PathParam
from pydantic import AfterValidator, Field

EARLIEST = datetime(2000, 1, 1)
LATEST = datetime(2100, 1, 1)
#: the earliest clock reading a phone may send: the Unix epoch, where a reset phone clock starts
DEVICE_EARLIEST = datetime(1970, 1, 1)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


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


Text = Annotated[str, Field(max_length=500), AfterValidator(_no_nul)]
LongText = Annotated[str, Field(max_length=5000), AfterValidator(_no_nul)]
Ident = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")
]
Moment = Annotated[datetime, AfterValidator(_sane_time)]
#: a phone's clock reading: wider than `Moment`, since a phone whose clock was reset still
#: reports real events (the service orders such an event by its receive time instead)
DeviceMoment = Annotated[datetime, AfterValidator(_device_time)]
Day = Annotated[date, AfterValidator(_sane_date)]
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
#: a database row id in a path: a 32-bit integer (PostgreSQL's INTEGER), so a huge number is a
#: 422, not a database error
RowId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
