"""Complaints and their 4-hour first-answer clock (`../shared/docs/domain.md`: "a complaint
gets a first answer within 4 hours").

The clock runs in calendar hours from when the complaint was received, like the customer's
promise clock: the customer counts them, whatever the office hours. A complaint is *due* until
its first answer; once `received_at + ANSWER_HOURS` has passed unanswered it is *overdue*, and
it is escalated once (the service's watch: a webhook and the dispatchers' worklist). The share
"answered within 4 h" counts the complaints received in a period: answered by their due time
over all of them, an unanswered one counting as a miss once it is overdue and left out while
its clock still runs (it may yet be answered in time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

#: hours from receipt to the first answer
ANSWER_HOURS = 4


class ComplaintState(StrEnum):
    DUE = "due"  # waiting for its first answer, inside the 4 hours
    OVERDUE = "overdue"  # no answer and the 4 hours have passed
    ANSWERED = "answered"  # first answer given, not closed
    CLOSED = "closed"


def answer_due(received_at: datetime, hours: float = ANSWER_HOURS) -> datetime:
    return received_at + timedelta(hours=hours)


@dataclass(frozen=True)
class ComplaintFact:
    """A complaint as the clock sees it."""

    received_at: datetime
    answer_due_at: datetime
    answered_at: datetime | None = None
    closed_at: datetime | None = None

    def state(self, now: datetime) -> ComplaintState:
        if self.closed_at is not None:
            return ComplaintState.CLOSED
        if self.answered_at is not None:
            return ComplaintState.ANSWERED
        return ComplaintState.OVERDUE if now >= self.answer_due_at else ComplaintState.DUE

    def answered_in_time(self) -> bool:
        return self.answered_at is not None and self.answered_at <= self.answer_due_at

    def minutes_left(self, now: datetime) -> int | None:
        """Minutes to the due time (negative: overdue); None once answered or closed."""
        if self.answered_at is not None or self.closed_at is not None:
            return None
        return int((self.answer_due_at - now).total_seconds() // 60)


def answered_within(
    facts: Iterable[ComplaintFact], period: tuple[date, date], now: datetime
) -> dict[str, int | float | None]:
    """ "Complaints answered within 4 h" over the complaints received in `period` (inclusive):
    `{"numerator", "denominator", "value", "pending"}` (see the module docstring; `pending`
    counts those whose clock still runs, left out)."""
    hit = total = pending = 0
    for f in facts:
        if not period[0] <= f.received_at.date() <= period[1]:
            continue
        if f.answered_at is None and now < f.answer_due_at:
            pending += 1
            continue
        total += 1
        hit += f.answered_in_time()
    return {
        "numerator": hit,
        "denominator": total,
        "value": round(hit / total, 4) if total else None,
        "pending": pending,
    }
