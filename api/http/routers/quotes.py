"""Slot quotes and bookings for the call centre: `POST /quotes` answers the bookable slots of
a new order over the next days, `POST /bookings` books one of them atomically.

The rules are the domain's (`dispatch.booking`: slots, the tentative day, the insertion
check, promises on the customer's clock); storage, the quote's lifetime and the booking's
lock are `api.services.quotes` and `api.services.bookings`. Dispatchers and call-centre
agents (of the order's region, when bound to regions) and admins may quote and book. Quotes
carry no customer name, phone or address: they come with the booking, into the jobs'
records, and are never logged.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.principals import BOOKING, Principal
from api.services.bookings import book
from api.services.problem_builder import DayRules
from api.services.quote_schemas import BookingOut, QuoteOut
from api.services.quotes import GRID, create_quote, first_day_of
from api.storage.types import Day, Ident, Lat, Lon, Moment, Text, within
from dispatch.booking.order import ORDER_ID_MAX_LENGTH, BookingOrder, OrderLine
from dispatch.booking.slots import MAX_DAYS
from dispatch.models import GeoPoint, JobKind, Priority, ProductCategory
from dispatch.record_rules import ID_PATTERN, JOB_BOUNDS, JOB_DEFAULTS, MAX_JOB_SKILLS

router = APIRouter(tags=["quotes and bookings"])

OrderId = Annotated[str, Field(min_length=1, max_length=ORDER_ID_MAX_LENGTH, pattern=ID_PATTERN)]


class OrderJobIn(BaseModel):
    """One job of the order. Needs left out come from the product rules (skills and people
    by product and floor, packed volume and weight, service minutes by product)."""

    model_config = ConfigDict(extra="forbid")
    kind: JobKind
    category: ProductCategory = ProductCategory(JOB_DEFAULTS["category"])
    quantity: int = within(JOB_BOUNDS["quantity"], JOB_DEFAULTS["quantity"])
    service_minutes: int | None = within(JOB_BOUNDS["service_minutes"], None)
    skills: list[Ident] | None = Field(None, max_length=MAX_JOB_SKILLS)
    people: int | None = within(JOB_BOUNDS["people"], None)
    volume_l: float | None = within(JOB_BOUNDS["volume_l"], None)
    weight_kg: float | None = within(JOB_BOUNDS["weight_kg"], None)


class QuoteIn(BaseModel):
    """A new order to quote: where (WGS-84), when it was confirmed, and its one job or its
    delivery and installation."""

    model_config = ConfigDict(extra="forbid")
    order_id: OrderId | None = Field(None, description="default: a new id (`Q` + 12 hex digits)")
    region: Ident = str(JOB_DEFAULTS["region"])
    lon: Lon
    lat: Lat
    floor: int = within(JOB_BOUNDS["floor"], JOB_DEFAULTS["floor"])
    has_lift: bool = bool(JOB_DEFAULTS["has_lift"])
    priority: Priority = Priority(JOB_DEFAULTS["priority"])
    zone: Ident | None = None
    confirmed_at: Moment | None = Field(
        None, description="the order's confirmation, where the promise counts from; default: now"
    )
    jobs: list[OrderJobIn] = Field(
        min_length=1, max_length=2, description="one job, or a delivery and its installation"
    )
    first_day: Day | None = Field(None, description="the first day to quote; default: today")
    days: int = Field(GRID.days, ge=1, le=MAX_DAYS, description="days to quote from `first_day`")


class BookingIn(BaseModel):
    """Book one option of a quote, with the customer's contact for the jobs."""

    model_config = ConfigDict(extra="forbid")
    quote_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    option_id: str = Field(pattern=r"^o[0-9]{1,5}$", description="an option of the quote")
    address: Text = ""
    customer_name: Text = ""
    customer_phone: Text = ""


def _order(body: QuoteIn, confirmed_at: datetime) -> BookingOrder:
    lines = tuple(
        OrderLine(
            kind=j.kind,
            category=j.category,
            quantity=j.quantity,
            service_minutes=j.service_minutes,
            skills=frozenset(j.skills) if j.skills is not None else None,
            people=j.people,
            volume_l=j.volume_l,
            weight_kg=j.weight_kg,
        )
        for j in body.jobs
    )
    return BookingOrder(
        order_id=body.order_id or f"Q{uuid.uuid4().hex[:12].upper()}",
        region=body.region,
        location=GeoPoint(body.lon, body.lat),
        confirmed_at=confirmed_at,
        lines=lines,
        floor=body.floor,
        has_lift=body.has_lift,
        priority=body.priority,
        zone=body.zone,
    )


@router.post(
    "/quotes",
    status_code=201,
    response_model=QuoteOut,
    summary="The bookable slots of a new order over the next days",
    description="Each option is one slot per job (a delivery and its installation: the "
    "installation's slot after the delivery's), checked by inserting the jobs into the "
    "day's tentative routes with the planner's rules; each says whether it keeps the "
    "promise on the customer's clock and what driving it adds; the cheapest that keep the "
    "promise are `recommended`. The quote is stored and may be booked until `expires_at` "
    "(15 minutes). 409 when the order's jobs exist already.",
)
def post_quote(
    body: QuoteIn,
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(*BOOKING)),
) -> dict[str, Any]:
    s = ctx.settings
    now = s.now()
    confirmed_at = s.local(body.confirmed_at) if body.confirmed_at else now
    order = _order(body, confirmed_at)
    return create_quote(
        session,
        order,
        first_day_of(body.first_day, now),
        body.days,
        now=now,
        principal=principal,
        travel=s.travel_for(order.region),
        grid=s.quote_grid(),
        rules=DayRules.of(s),  # certification and callbacks, as the day's plan has them
    )


@router.post(
    "/bookings",
    status_code=201,
    response_model=BookingOut,
    responses={404: {"description": "No such quote (or it expired a day ago)"}},
    summary="Book a quoted option: its jobs created with the slots as their windows",
    description="Atomic: the option is checked again on the day as it is now, under a lock "
    "on the region's day, and its jobs are stored only if they still fit. 409 when the "
    "quote expired, was booked already or the slot is no longer available; 422 naming "
    "`option_id` for an option the quote does not have.",
)
def post_booking(
    body: BookingIn,
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(*BOOKING)),
) -> dict[str, Any]:
    s = ctx.settings
    customer = {
        "address": body.address,
        "customer_name": body.customer_name,
        "customer_phone": body.customer_phone,
    }
    return book(
        session,
        body.quote_id,
        body.option_id,
        customer,
        now=s.now(),
        principal=principal,
        travel_for=s.travel_for,
        rules=DayRules.of(s),
    )
