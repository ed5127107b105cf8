"""The slots a customer can book: a grid of appointment windows per day, over days ahead.

A slot is the window the crew promises to *start* work in (as every job window is:
`dispatch.models.TimeWindow`). The default grid is the retailer's usual five 2-hour slots,
08-10, 10-12, 12-14, 14-16 and 16-18, offered for today and tomorrow; a slot is offered only
when it starts at least `lead_minutes` after the moment of the quote (a crew already on its
way cannot be promised a door it has not heard of).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dispatch.errors import InputError

#: the most days ahead a quote looks (a week: the horizon beyond is issue 20 §2)
MAX_DAYS = 7


@dataclass(frozen=True, order=True)
class Slot:
    """One bookable window [start, end] on one day (local times of the region)."""

    start: datetime
    end: datetime

    @property
    def day(self) -> date:
        return self.start.date()

    def label(self) -> str:
        """`2026-06-18 08:00-10:00`: how a slot is named in reasons and logs."""
        return f"{self.start:%Y-%m-%d %H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class SlotGrid:
    """Which slots are offered: their start times each day, their length, how many days
    ahead (the first day included), and the least lead time before a slot starts."""

    starts: tuple[time, ...] = (time(8), time(10), time(12), time(14), time(16))
    minutes: int = 120
    days: int = 2
    lead_minutes: int = 60

    def __post_init__(self) -> None:
        if not self.starts:
            raise InputError("slot grid", "starts", "at least one slot start is needed")
        if not 15 <= self.minutes <= 12 * 60:
            raise InputError("slot grid", "minutes", f"must be 15 to 720, got {self.minutes}")
        if not 1 <= self.days <= MAX_DAYS:
            raise InputError("slot grid", "days", f"must be 1 to {MAX_DAYS}, got {self.days}")
        if self.lead_minutes < 0:
            raise InputError("slot grid", "lead_minutes", "must be >= 0")
        ordered = sorted(self.starts)
        for a, b in itertools.pairwise(ordered):
            if _minutes(b) - _minutes(a) < self.minutes:
                raise InputError("slot grid", "starts", f"slots at {a} and {b} overlap")
        if _minutes(ordered[-1]) + self.minutes > 24 * 60:
            raise InputError("slot grid", "starts", f"the slot at {ordered[-1]} ends after 24:00")
        object.__setattr__(self, "starts", tuple(ordered))

    def on(self, day: date) -> list[Slot]:
        """The day's slots, earliest first."""
        length = timedelta(minutes=self.minutes)
        return [
            Slot(datetime.combine(day, t), datetime.combine(day, t) + length) for t in self.starts
        ]

    def day_span(self, day: date) -> Slot:
        """From the day's first slot start to its last slot end (what a job on the day may
        be given before a slot is chosen)."""
        slots = self.on(day)
        return Slot(slots[0].start, slots[-1].end)

    def days_from(self, first: date) -> list[date]:
        return [first + timedelta(days=n) for n in range(self.days)]

    def offered(self, first: date, now: datetime) -> Iterator[Slot]:
        """Every slot of the grid's days from `first` that starts late enough after `now`."""
        earliest = now + timedelta(minutes=self.lead_minutes)
        for day in self.days_from(first):
            yield from (s for s in self.on(day) if s.start >= earliest)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute
