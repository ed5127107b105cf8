"""The answer shapes of `POST /quotes` and `POST /bookings`, built by `api.services.quotes`
and `api.services.bookings` and declared by the quotes router."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from api.services.job_schemas import JobOut


class QuotedSlotOut(BaseModel):
    job_id: str = Field(description="the job this slot is for (`<order>-D`, `-I`, `-R`, `-P`)")
    kind: str
    start: datetime = Field(description="the crew starts work between `start` and `end`")
    end: datetime
    latest_end: datetime = Field(description="the latest the job can end: `end` + service time")
    promise_deadline: datetime | None = Field(
        description="the promise's end on the customer's clock (calendar hours from the order's "
        "confirmation; a repair: the region's closing time that day); null: no promise"
    )
    keeps_promise: bool | None = Field(
        description="`latest_end` <= `promise_deadline`, on the customer's clock; null: no "
        "promise in hours for this kind"
    )
    added_drive_minutes: float = Field(
        description="the driving this job adds to a crew's tentative route (never below 0)"
    )


class QuoteOptionOut(BaseModel):
    option_id: str = Field(description="what `POST /bookings` names")
    slots: list[QuotedSlotOut] = Field(description="one per job of the order, delivery first")
    keeps_promise: bool | None = Field(description="every job of the option keeps its promise")
    added_drive_minutes: float
    recommended: bool = Field(
        description="among the cheapest options (added driving) that keep every promise"
    )


class QuotedDayOut(BaseModel):
    date: date
    jobs: int = Field(description="jobs stored for the region and day")
    placed: int = Field(description="of them, placed on the tentative routes")
    unplaced: int = Field(description="stored jobs the tentative routes could not place")


class PromiseClockOut(BaseModel):
    clock: str = Field(description="`customer`")
    label: str


class QuoteOut(BaseModel):
    quote_id: str
    expires_at: datetime = Field(description="book before this (local time)")
    order_id: str
    region: str
    promise_clock: PromiseClockOut
    options: list[QuoteOptionOut] = Field(description="every bookable option, earliest first")
    notes: list[str] = Field(description="why a job has no slot on a day (no crew may do it)")
    days: list[QuotedDayOut]


class BookingOut(BaseModel):
    quote_id: str
    option_id: str
    order_id: str
    jobs: list[JobOut] = Field(description="the jobs created, their window the booked slot")
