"""The tables of slot quotes and bookings (migration 0011): the quotes given to the call
centre, and one row per region and day that serialises the bookings of that day.

Kept apart from `api.storage.models` (whose `Base` they share, so Alembic and the schema see
one metadata), like `api.storage.tracking_models`. Times are naive local times of the region.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from api.storage.models import Base


class QuoteRow(Base):
    """A quote (`POST /quotes`, `api.services.quotes`): the order's jobs as job records
    (no customer name, phone or address: those come with the booking), the options offered
    and until when. Booking it (`POST /bookings`) sets `status` to `booked` with one
    conditional UPDATE, so a quote is booked once. Quotes expired a day ago are deleted when
    the next quote is stored."""

    __tablename__ = "quotes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | booked
    #: the order's jobs, `dispatch.files.records.job_to_dict` without personal data
    jobs: Mapped[list[Any]] = mapped_column(JSON)
    #: the options as answered: `[{"id", "slots": [{"job_id", "start", "end"}, ...], ...}]`
    options: Mapped[list[Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    booked_at: Mapped[datetime | None] = mapped_column(DateTime)
    booked_option: Mapped[str | None] = mapped_column(String(16))


class BookingDayRow(Base):
    """One row per region and day that a booking has touched: a booking's first statement
    counts itself in here (an upsert), which holds the row's lock (PostgreSQL) or the
    database's write lock (SQLite) until it commits, so the bookings of one day are checked
    and stored one after another and the last place is sold once."""

    __tablename__ = "booking_days"

    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    bookings: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
