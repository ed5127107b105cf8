"""The slots a customer can book: a grid of appointment windows per day, over days ahead.

A slot is the window the crew promises to *start* work in (as every job window is:
`dispatch.models.TimeWindow`). The default grid is the retailer's usual five 2-hour slots,
08-10, 10-12, 12-14, 14-16 and 16-18, offered for today and tomorrow; a slot is offered only
when it starts at least `lead_minutes` after the moment of the quote (a crew already on its
way cannot be promised a door it has not heard of).

A service sets its own slots as text (`FIELDROUTE_QUOTE_SLOTS`, `api.quote_config`):
`08:00-10:00,10:00-12:00,...`, every slot as long as the others (`grid_from_spec`).
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


#: the default grid as text (`grid_from_spec`)
DEFAULT_SPEC = "08:00-10:00,10:00-12:00,12:00-14:00,14:00-16:00,16:00-18:00"


def grid_from_spec(spec: str, lead_minutes: int = 60, days: int = 2) -> SlotGrid:
    """The grid of `08:00-10:00,10:00-12:00,...`: each slot `HH:MM-HH:MM`, comma-separated,
    all of one length, none overlapping another. `InputError` naming what is wrong."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise InputError("slot grid", "slots", "at least one slot, like 08:00-10:00")
    starts, lengths = [], []
    for part in parts:
        first, sep, last = part.partition("-")
        try:
            a, b = time.fromisoformat(first.strip()), time.fromisoformat(last.strip())
        except ValueError:
            a = b = time(0, 0, 1)  # not a slot: refused below
        if not sep or a.second or b.second or a.microsecond or b.microsecond:
            raise InputError("slot grid", "slots", f"{part!r} is not a slot like 08:00-10:00")
        minutes = _minutes(b) - _minutes(a) if b != time(0) else 24 * 60 - _minutes(a)
        if minutes <= 0:
            raise InputError("slot grid", "slots", f"{part!r} ends before it starts")
        starts.append(a)
        lengths.append(minutes)
    if len(set(lengths)) > 1:
        raise InputError(
            "slot grid",
            "slots",
            f"every slot must be as long as the first ({lengths[0]} min); "
            + ", ".join(f"{p} is {m} min" for p, m in zip(parts, lengths, strict=True)),
        )
    return SlotGrid(tuple(starts), lengths[0], days, lead_minutes)
