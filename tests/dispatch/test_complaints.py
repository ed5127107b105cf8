"""The 4-hour first-answer clock (`dispatch.running.complaints`), by hand.

Received at 09:00, a complaint is due at 13:00: at 12:59 it is due with 1 minute left, at
13:00 overdue. Over a day with four complaints (answered 12:00 and 13:30, one unanswered past
its time, one still inside its 4 hours at the count), "answered within 4 h" is 1 of 3, the
last one left out as pending.
"""

from __future__ import annotations

from datetime import date, datetime

from dispatch.running.complaints import ComplaintFact, ComplaintState, answer_due, answered_within

DAY = date(2026, 6, 18)


def at(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 6, 18, hh, mm)


def fact(received: datetime, answered: datetime | None = None) -> ComplaintFact:
    return ComplaintFact(received, answer_due(received), answered)


def test_states_and_minutes_left():
    c = fact(at(9))
    assert c.answer_due_at == at(13)
    assert (c.state(at(12, 59)), c.minutes_left(at(12, 59))) == (ComplaintState.DUE, 1)
    assert (c.state(at(13)), c.minutes_left(at(13, 30))) == (ComplaintState.OVERDUE, -30)
    answered = fact(at(9), at(13, 30))
    assert answered.state(at(14)) is ComplaintState.ANSWERED and not answered.answered_in_time()
    assert answered.minutes_left(at(14)) is None


def test_the_share_answered_within_four_hours():
    facts = [fact(at(9), at(12)), fact(at(9), at(13, 30)), fact(at(8)), fact(at(16))]
    share = answered_within(facts, (DAY, DAY), now=at(18))
    assert share == {"numerator": 1, "denominator": 3, "value": 0.3333, "pending": 1}
    assert answered_within(facts, (date(2026, 6, 19), date(2026, 6, 19)), at(18))["value"] is None
