"""Bookings of quoted slots (`POST /bookings`): atomically, and the last place sold once.

A booking names a quote and one of its options. An unknown quote is a 404 (quotes expired a
day ago are deleted); it is refused with 409 when the quote expired, was booked already, or
the option's slots no longer fit the day (bookings since the quote took the room); an
option the quote does not have is a 422 naming `option_id`.

**The guard.** The booking's first write counts it in `booking_days`, one row per region and
day of the option (an upsert; days in date order, so two bookings never wait on each other
crosswise: `api.services.job_rows.lock_days`). On PostgreSQL the row stays locked until the
booking commits or rolls back; on SQLite the first write takes the database's write lock for
as long. Bookings of one day are
thereby checked and stored one after another: each reads the day as the previous one left it
(its jobs in), re-checks the option on it with the quote's own rules
(`dispatch.booking.quotes.check_option`) and stores the jobs only if they still fit, all in
one transaction. Fifty concurrent bookings for the day's last place give one 201 and 49
409s (`tests/api/test_api_quotes.py`). The quote itself is marked booked by a conditional
UPDATE in the same transaction, so it is booked once however many copies of a request race.

Jobs written outside bookings (`POST /jobs`, imports, in `api.http.routers.jobs`) do not take
this lock yet: a booking checked just before such a job committed can still share its place.
`lock_days(session, [(job.region, job due day) ...], now)` before their insert is what they
need (no booking counted).

The day the booking checked, with its jobs, is kept for the next quote (`remember_booked`:
its jobs added to the prepared day right away: about 0.1 s, against 0.5 s for preparing
it afresh). The customer's name, phone and address come with the booking into the job's
record only; nothing is logged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from fastapi import HTTPException, status
from sqlalchemy import update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from api.principals import Principal, check_region
from api.services.audit import record_audit
from api.services.errors import Conflict
from api.services.job_rows import job_out, lock_days
from api.services.problem_builder import DayRules
from api.services.quote_days import NO_RULES, prepared_days, read_days, remember_booked
from api.storage.booking_models import QuoteRow
from api.storage.models import JobRow
from api.storage.store import load_zones, new_job_row, with_zones
from dispatch.booking.order import in_slot
from dispatch.booking.quotes import check_option
from dispatch.booking.slots import Slot
from dispatch.day_problem import TravelSettings
from dispatch.errors import InputError
from dispatch.files.records import job_from_dict


def book(
    session: Session,
    quote_id: str,
    option_id: str,
    customer: dict[str, str],
    *,
    now: datetime,
    principal: Principal,
    travel_for: Callable[[str], TravelSettings],
    rules: DayRules = NO_RULES,
) -> dict[str, Any]:
    """Book option `option_id` of quote `quote_id` for the customer (`address`,
    `customer_name`, `customer_phone`); the `BookingOut` answer. Commits. `travel_for(region)`
    is the service's travel setting of the region (`Settings.travel_for`)."""
    quote = session.get(QuoteRow, quote_id)
    if quote is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"quote {quote_id!r} is unknown (or long expired)"
        )
    check_region(principal, quote.region)
    option = next((o for o in quote.options if o["id"] == option_id), None)
    if option is None:
        raise InputError("booking", "option_id", "is not an option of this quote")
    if quote.status != "open":
        raise Conflict(
            "this quote has been booked already", field="quote_id", current_status=quote.status
        )
    if now > quote.expires_at:
        raise Conflict(
            f"the quote expired at {quote.expires_at:%H:%M}: ask for a new quote",
            field="quote_id",
            expires_at=quote.expires_at.isoformat(),
        )
    slots = [
        Slot(datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]))
        for s in option["slots"]
    ]
    # the days' lock, held until commit (counting the booking)
    lock_days(session, [(quote.region, s.day) for s in slots], now, booking=True)
    # an UPDATE's result is a CursorResult, which carries the matched row count
    taken = cast(
        CursorResult,
        session.execute(
            update(QuoteRow)
            .where(QuoteRow.id == quote_id, QuoteRow.status == "open")
            .values(status="booked", booked_at=now, booked_option=option_id)
        ),
    )
    if taken.rowcount != 1:
        raise Conflict(
            "this quote has been booked already", field="quote_id", current_status="booked"
        )
    jobs = [job_from_dict(r, f"quote {quote_id!r}") for r in quote.jobs]
    if session.get(JobRow, jobs[0].id) is not None or session.get(JobRow, jobs[-1].id) is not None:
        raise Conflict(f"order {quote.order_id!r} has jobs already", field="order_id")
    read = read_days(
        session, quote.region, sorted({s.day for s in slots}), travel_for(quote.region), rules
    )
    checked = check_option(jobs, prepared_days(read), slots)
    if checked is None:
        taken_slots = ", ".join(s.label() for s in slots)
        raise Conflict(
            f"the slot {taken_slots} is no longer available: ask for a new quote",
            field="option_id",
        )
    booked = [
        in_slot(
            j,
            s.start,
            s.end,
            address=customer.get("address"),
            customer_name=customer.get("customer_name"),
            customer_phone=customer.get("customer_phone"),
        )
        for j, s in zip(jobs, slots, strict=True)
    ]
    booked = with_zones(booked, load_zones(session, quote.region))
    rows = [new_job_row(j, now) for j in booked]
    session.add_all(rows)
    record_audit(
        session,
        principal,
        "booking",
        now,
        job_id=rows[0].id,
        details={"quote_id": quote_id, "option_id": option_id, "jobs": [r.id for r in rows]},
    )
    session.commit()
    remember_booked(read, checked, rows)
    return {
        "quote_id": quote_id,
        "option_id": option_id,
        "order_id": quote.order_id,
        "jobs": [job_out(r, principal) for r in rows],
    }
