"""Slot quotes for new orders (`POST /quotes`): the days read from the tables, the domain's
quote (`dispatch.booking.quotes`), the quote stored for its booking.

Each quoted day is the region's day as a plan would snapshot it (`build_problem`: its
plannable jobs, working crews, depots; timed with the region's travel setting) and its
tentative routes (`dispatch.booking.tentative`: the day's jobs placed by the planner's
greedy pass). Placing a 1,500-job day takes seconds, so each process keeps the tentative
routes of the days it read (`TentativeCache`) for exactly as long as the day's jobs, crews,
depots and travel stay the same (the key is their content); a booking puts the day it
checked in (`remember_booked`), so the next quote need not place the day again.

A quote is stored (`quotes`) with the order's jobs without personal data and the options
offered, for `QUOTE_TTL`; quotes that expired a day ago are deleted as new ones are stored.
Nothing here logs the order (its coordinates locate a customer's home).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.principals import Principal, check_region
from api.services.errors import Conflict
from api.services.problem_builder import build_problem
from api.storage.booking_models import QuoteRow
from api.storage.models import JobRow
from dispatch.booking.order import BookingOrder
from dispatch.booking.quotes import DayInput, Quote, QuoteOption, quote_order
from dispatch.booking.slots import SlotGrid
from dispatch.booking.tentative import TentativeRoutes, tentative_routes
from dispatch.day_problem import DispatchProblem, TravelSettings
from dispatch.errors import InputError
from dispatch.files.records import job_to_dict
from dispatch.promise_clocks import CUSTOMER

#: the slots offered: 08-10, 10-12, 12-14, 14-16, 16-18, from an hour ahead
GRID = SlotGrid()
#: how long a quote may be booked
QUOTE_TTL = timedelta(minutes=15)
#: expired quotes are kept this long (a late booking is told "expired", not "unknown")
KEEP_EXPIRED = timedelta(days=1)
#: the furthest first day a quote may start on, in days from today
MAX_DAYS_AHEAD = 60


class TentativeCache:
    """Tentative routes by the day's content (region, date, jobs, crews, depots, travel),
    the newest `size` days, shared by the threads of one process."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._days: OrderedDict[Hashable, TentativeRoutes] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(problem: DispatchProblem) -> Hashable:
        return (
            problem.date,
            tuple(problem.jobs),
            tuple(problem.crews),
            tuple(problem.depots),
            repr(problem.travel),
            problem.link_gap_minutes,
        )

    def get(self, problem: DispatchProblem) -> TentativeRoutes:
        """The day's tentative routes, placed now unless this process has them."""
        key = self.key(problem)
        with self._lock:
            found = self._days.get(key)
            if found is not None:
                self._days.move_to_end(key)
                return found
        routes = tentative_routes(problem)  # outside the lock: seconds on a large day
        self.put(problem, routes)
        return routes

    def put(self, problem: DispatchProblem, routes: TentativeRoutes) -> None:
        key = self.key(problem)
        with self._lock:
            self._days[key] = routes
            self._days.move_to_end(key)
            while len(self._days) > self.size:
                self._days.popitem(last=False)


#: this process's tentative days
TENTATIVE = TentativeCache()


def day_inputs(
    session: Session, region: str, days: Sequence[date], travel: TravelSettings
) -> dict[date, DayInput]:
    """Each day's problem from the tables and its tentative routes."""
    out: dict[date, DayInput] = {}
    for day in days:
        problem = build_problem(session, region, day, travel=travel)
        out[day] = (problem, TENTATIVE.get(problem))
    return out


def remember_booked(
    inputs: Mapping[date, DayInput], option: QuoteOption, booked: Sequence[Any]
) -> None:
    """Keep the days a booking was checked on, with its jobs (`booked`: `Job`s as stored)
    on the crews the check found, as the next read of those days will find them."""
    for day, (problem, routes) in inputs.items():
        new = [j for j in booked if j.windows[0].start.date() == day]
        if not new:
            continue
        for offer in option.offers:
            if offer.slot.day == day:
                routes = routes.with_route(offer.crew_id, offer.route, offer.lunch_after)
        jobs = sorted([*problem.jobs, *new], key=lambda j: j.id)
        TENTATIVE.put(replace(problem, jobs=jobs), routes)


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
) -> dict[str, Any]:
    """Quote `order` over `days` days from `first_day`, store the quote and answer it."""
    check_region(principal, order.region)
    jobs = order.jobs()
    taken = session.scalars(select(JobRow.id).where(JobRow.id.in_([j.id for j in jobs])))
    if list(taken):
        raise Conflict(f"order {order.order_id!r} has jobs already", field="order_id")
    grid = replace(GRID, days=days)
    inputs = day_inputs(session, order.region, grid.days_from(first_day), travel)
    quote = quote_order(jobs, inputs, grid, now)
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
    session.execute(delete(QuoteRow).where(QuoteRow.expires_at < now - KEEP_EXPIRED))
    session.add(row)
    session.commit()
    return quote_answer(row, quote)


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
