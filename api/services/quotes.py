"""Slot quotes for new orders (`POST /quotes`): the days read from the tables, the domain's
quote (`dispatch.booking.quotes`), the quote stored for its booking.

Each quoted day is the region's day as a plan would snapshot it (`build_problem`: its
plannable jobs, working crews, depots; timed with the region's travel setting), its
tentative routes (`dispatch.booking.tentative`: the day's jobs placed by the planner's
greedy pass) and the day prepared for quoting (`dispatch.booking.prepared`). Each process
keeps those between quotes for exactly as long as the day stays the same
(`api.services.quote_days`: by content, found by the day's row versions), and a booking
keeps the day it changed, so a quote on a 1,500-job day costs tens of milliseconds, not
seconds.

A quote is stored (`quotes`) with the order's jobs without personal data and the options
offered, for `QUOTE_TTL`; quotes that expired `KEEP_EXPIRED` ago are deleted as new ones are
stored, and by `dispatch retention` (`purge_quotes`). The slot grid is the service's
setting (`Settings.quote_grid`, `FIELDROUTE_QUOTE_SLOTS`). Nothing here logs the order (its
coordinates locate a customer's home).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.principals import Principal, check_region
from api.services.errors import Conflict
from api.services.problem_builder import DayRules
from api.services.quote_days import NO_RULES, prepared_days, read_days
from api.storage.booking_models import QuoteRow
from api.storage.models import JobRow
from dispatch.booking.order import BookingOrder
from dispatch.booking.quotes import Quote, QuoteOption, quote_order
from dispatch.booking.slots import SlotGrid
from dispatch.day_problem import TravelSettings
from dispatch.errors import InputError
from dispatch.files.records import job_to_dict
from dispatch.promise_clocks import CUSTOMER

#: the slots offered by default (08-10, ..., 16-18, from an hour ahead): `Settings.quote_grid`
GRID = SlotGrid()
#: how long a quote may be booked
QUOTE_TTL = timedelta(minutes=15)
#: expired quotes are kept this long (a late booking is told "expired", not "unknown")
KEEP_EXPIRED = timedelta(days=1)
#: the furthest first day a quote may start on, in days from today
MAX_DAYS_AHEAD = 60


def first_day_of(requested: date | None, now: datetime) -> date:
    """The first day to quote: `requested`, or today; not before today nor too far ahead."""
    first = requested or now.date()
    if not now.date() <= first <= now.date() + timedelta(days=MAX_DAYS_AHEAD):
        raise InputError("quote", "first_day", f"must be from today to {MAX_DAYS_AHEAD} days ahead")
    return first


def create_quote(
    session: Session,
    order: BookingOrder,
    first_day: date,
    days: int,
    *,
    now: datetime,
    principal: Principal,
    travel: TravelSettings,
    grid: SlotGrid | None = None,
    rules: DayRules = NO_RULES,
) -> dict[str, Any]:
    """Quote `order` over `days` days from `first_day` on `grid` (default `GRID`; its own
    number of days is replaced by `days`), store the quote and answer it."""
    check_region(principal, order.region)
    jobs = order.jobs()
    taken = session.scalars(select(JobRow.id).where(JobRow.id.in_([j.id for j in jobs])))
    if list(taken):
        raise Conflict(f"order {order.order_id!r} has jobs already", field="order_id")
    grid = replace(grid or GRID, days=days)
    read = read_days(session, order.region, grid.days_from(first_day), travel, rules)
    quote = quote_order(jobs, prepared_days(read), grid, now)
    row = QuoteRow(
        id=uuid.uuid4().hex,
        region=order.region,
        order_id=order.order_id,
        status="open",
        jobs=[job_to_dict(j, include_personal_data=False) for j in jobs],
        options=[_stored_option(n, o) for n, o in enumerate(quote.options, 1)],
        created_by=principal.subject,
        created_at=now,
        expires_at=now + QUOTE_TTL,
    )
    purge_quotes(session, now)
    session.add(row)
    session.commit()
    return quote_answer(row, quote)


def purge_quotes(session: Session, now: datetime) -> int:
    """Delete the quotes that expired `KEEP_EXPIRED` ago, booked or not (in the caller's
    transaction); how many. A booked quote's jobs and audit entry outlive it."""
    result = session.execute(delete(QuoteRow).where(QuoteRow.expires_at < now - KEEP_EXPIRED))
    return int(getattr(result, "rowcount", 0) or 0)


def _stored_option(n: int, option: QuoteOption) -> dict[str, Any]:
    return {
        "id": f"o{n}",
        "slots": [
            {"job_id": o.job_id, "start": o.slot.start.isoformat(), "end": o.slot.end.isoformat()}
            for o in option.offers
        ],
        "added_drive_s": option.added_drive_s,
    }


def minutes(seconds: int) -> float:
    return round(seconds / 60, 1)


def quote_answer(row: QuoteRow, quote: Quote) -> dict[str, Any]:
    """The `QuoteOut` answer of a stored quote."""
    return {
        "quote_id": row.id,
        "expires_at": row.expires_at,
        "order_id": row.order_id,
        "region": row.region,
        "promise_clock": {"clock": CUSTOMER, "label": quote.clock_label},
        "options": [
            {
                "option_id": f"o{n}",
                "slots": [
                    {
                        "job_id": o.job_id,
                        "kind": o.kind.value,
                        "start": o.slot.start,
                        "end": o.slot.end,
                        "latest_end": o.latest_end,
                        "promise_deadline": o.promise_deadline,
                        "keeps_promise": o.keeps_promise,
                        "added_drive_minutes": minutes(o.added_drive_s),
                    }
                    for o in option.offers
                ],
                "keeps_promise": option.keeps_promise,
                "added_drive_minutes": minutes(option.added_drive_s),
                "recommended": option.recommended,
            }
            for n, option in enumerate(quote.options, 1)
        ],
        "notes": quote.notes,
        "days": [
            {"date": d.day, "jobs": d.jobs, "placed": d.placed, "unplaced": len(d.unplaced)}
            for d in quote.days
        ],
    }
