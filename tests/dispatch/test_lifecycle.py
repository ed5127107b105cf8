"""A visit's status from driver events: effective-time order, out-of-order arrival, wrong
phone clocks, the office's decisions, 409 messages."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.errors import InputError
from dispatch.running.lifecycle import (
    CLOCK_SKEW,
    TERMINAL,
    EventStamp,
    EventType,
    IllegalTransition,
    JobStatus,
    believed,
    check_event_fields,
    check_new_event,
    check_sequence,
    effective_time,
    find_replay,
    ordered,
    stamp,
    status_after,
)
from tests.factories import DAY, at

D, A, S, C, F = (
    EventType.DEPARTED,
    EventType.ARRIVED,
    EventType.STARTED,
    EventType.COMPLETED,
    EventType.FAILED,
)


def ev(type: EventType, hh: int, mm: int = 0, ss: int = 0, key: str = "") -> EventStamp:
    return EventStamp(type, at(hh, mm, ss), key)


def refused(existing: list[EventStamp], new: EventStamp) -> str:
    with pytest.raises(IllegalTransition) as err:
        check_new_event(existing, new)
    return err.value.reason


# --- order and status ------------------------------------------------------------------------


def test_ordered_by_device_time_then_stage_rank():
    events = [ev(C, 10), ev(S, 9, 30), ev(A, 9, 30), ev(D, 9)]
    assert [e.type for e in ordered(events)] == [D, A, S, C]


def test_no_events_is_assigned_or_open():
    assert status_after([]) is JobStatus.ASSIGNED
    assert status_after([], assigned=False) is JobStatus.OPEN


@pytest.mark.parametrize(
    ("events", "status"),
    [
        ([ev(D, 9)], JobStatus.EN_ROUTE),
        ([ev(A, 9, 20), ev(D, 9)], JobStatus.ON_SITE),
        ([ev(S, 9, 30), ev(D, 9)], JobStatus.IN_PROGRESS),  # 'arrived' lost: skipped stage
        ([ev(C, 10), ev(S, 9, 30), ev(D, 9)], JobStatus.COMPLETED),
        ([ev(A, 9, 20), ev(F, 9, 25)], JobStatus.FAILED),
        ([ev(C, 10)], JobStatus.COMPLETED),
    ],
)
def test_status_is_the_highest_stage(events, status):
    assert status_after(events) is status
    assert status_after(events, assigned=False) is status


def test_status_ignores_arrival_order():
    """The late 'arrived' (received last) does not pull the status back from in_progress."""
    assert status_after([ev(D, 9), ev(S, 9, 30), ev(A, 9, 20)]) is JobStatus.IN_PROGRESS


# --- accepted events -------------------------------------------------------------------------


def test_lost_event_is_slotted_in_by_device_time():
    check_new_event([ev(D, 9), ev(S, 9, 30)], ev(A, 9, 20))


def test_skipping_stages_is_allowed():
    check_new_event([ev(D, 9)], ev(C, 10))
    check_new_event([], ev(F, 10))


def test_equal_device_times_are_accepted():
    """Two taps within the same second: ties are ordered by stage rank."""
    check_new_event([ev(A, 9, 20)], ev(S, 9, 20))
    check_new_event([ev(S, 9, 20)], ev(A, 9, 20))
    check_new_event([ev(C, 10, 42)], ev(S, 10, 42))


def test_terminal_event_may_arrive_first():
    check_new_event([ev(C, 10, 42)], ev(D, 9))


# --- refused events --------------------------------------------------------------------------


def test_nothing_after_a_terminal_event():
    assert (
        refused([ev(D, 9), ev(C, 10, 42)], ev(A, 10, 50))
        == "job already completed at 10:42; 'arrived' at 10:50 cannot follow it"
    )
    assert (
        refused([ev(F, 10, 42)], ev(D, 11))
        == "job already failed at 10:42; 'departed' at 11:00 cannot follow it"
    )


def test_terminal_before_a_recorded_lower_stage():
    assert (
        refused([ev(D, 9), ev(A, 10, 50)], ev(C, 10, 42))
        == "'arrived' was already reported at 10:50; the job cannot have been completed "
        "earlier, at 10:42"
    )


def test_event_earlier_than_a_lower_stage_is_refused():
    assert refused([ev(S, 9, 10)], ev(A, 9, 20)) == "started at 09:10 before arriving at 09:20"
    assert refused([ev(A, 9, 20)], ev(S, 9, 10)) == "started at 09:10 before arriving at 09:20"
    assert refused([ev(A, 9, 20)], ev(D, 9, 30)) == "arrived at 09:20 before departing at 09:30"


def test_a_stage_is_reported_once():
    assert (
        refused([ev(D, 9), ev(A, 9, 20)], ev(A, 9, 25))
        == "'arrived' was already reported at 09:20; a stage is reported only once"
    )


def test_completed_and_failed_exclude_each_other():
    assert (
        refused([ev(C, 10, 42)], ev(F, 10, 30))
        == "job already completed at 10:42; it cannot also be 'failed'"
    )
    assert (
        refused([ev(F, 10)], ev(C, 10))
        == "job already failed at 10:00; it cannot also be 'completed'"
    )


def test_message_shows_seconds_or_date_only_when_needed():
    assert refused([ev(S, 9, 10, 5)], ev(A, 9, 10, 30)) == (
        "started at 09:10:05 before arriving at 09:10:30"
    )
    next_day = EventStamp(A, at(9, 0) + timedelta(days=1))
    assert refused([ev(C, 18)], next_day) == (
        "job already completed at 2026-06-18 18:00; 'arrived' at 2026-06-19 09:00 cannot follow it"
    )


def test_message_names_the_earliest_conflict():
    assert refused([ev(S, 9, 10), ev(C, 9, 15)], ev(A, 9, 20)).startswith("started at 09:10")


def test_check_sequence():
    check_sequence([ev(C, 10), ev(D, 9), ev(A, 9, 20)])
    check_sequence([])
    with pytest.raises(IllegalTransition, match="cannot also be"):
        check_sequence([ev(C, 10), ev(F, 10)])


# --- retries ---------------------------------------------------------------------------------


def test_find_replay():
    recorded = [ev(D, 9, key="k1"), ev(A, 9, 20, key="k2")]
    assert find_replay(recorded, ev(A, 9, 20, key="k2")) == recorded[1]
    assert find_replay(recorded, ev(S, 9, 30, key="k3")) is None
    assert find_replay(recorded, ev(A, 9, 20)) is None  # no key: not a retry
    with pytest.raises(IllegalTransition, match="'k2' was already used for 'arrived'"):
        find_replay(recorded, ev(S, 9, 30, key="k2"))


def test_a_replay_checked_as_new_is_a_repeated_stage():
    recorded = [ev(D, 9, key="k1")]
    assert "only once" in refused(recorded, ev(D, 9, key="k1"))


# --- clocks: believed device times, stand-ins, the office's decisions ------------------------


def test_device_time_is_believed_from_the_day_before_to_a_little_after_receipt():
    day: date = DAY
    received = at(10)
    for device in (at(9, 59), received, received + CLOCK_SKEW, at(0) - timedelta(days=1)):
        assert believed(device, received, day), device
        assert stamp(A, device, received, day) == EventStamp(A, device, "", True)
    # an offline phone's queue days later: its old times are still believed
    assert believed(at(9), received + timedelta(days=3), day)
    for device in (
        received + CLOCK_SKEW + timedelta(seconds=1),  # ahead of the server
        datetime(2030, 1, 1, 9),  # a clock years ahead
        datetime(2000, 1, 1),  # a reset clock
        at(23, 59) - timedelta(days=2),  # before the day before the planned day
    ):
        assert not believed(device, received, day), device
        assert stamp(A, device, received, day, "k") == EventStamp(A, received, "k", False)
        assert effective_time(device, received, day) == received


def test_a_wrong_clock_takes_part_in_the_stage_rules_only():
    """A `departed` stamped 2030 (received 08:50) must not make the real `arrived` illegal."""
    bogus = stamp(D, datetime(2030, 1, 1, 9), at(8, 50), DAY, "d")
    assert not bogus.believed and bogus.time == at(8, 50)
    arrived = stamp(A, at(8, 40), at(9, 30), DAY, "a")  # recorded before the bogus receipt
    check_new_event([bogus], arrived)
    check_new_event([bogus, arrived], stamp(C, at(10), at(10), DAY, "c"))
    assert status_after([bogus, arrived]) is JobStatus.ON_SITE
    # an unbelieved terminal event does not refuse a later report either ...
    done = stamp(C, datetime(2001, 1, 1), at(9), DAY, "c")
    check_new_event([done], stamp(A, at(9, 30), at(9, 31), DAY, "a"))
    assert status_after([done, stamp(A, at(9, 30), at(9, 31), DAY)]) is JobStatus.COMPLETED
    # ... but the stage rules hold whatever the clock says
    assert "only once" in refused([bogus], ev(D, 9))
    assert "cannot also be 'failed'" in refused([done], ev(F, 11))


def test_the_office_closes_a_visit_whatever_the_phones_times():
    history = [ev(D, 9), ev(A, 9, 40), ev(S, 10, 5)]  # the phone's clock runs a little fast
    assert "completed earlier" in refused(history, ev(C, 10))  # from a phone: time rules hold
    check_new_event(history, ev(C, 10), decision=True)  # the dispatcher's decision
    check_new_event(history, ev(F, 9, 50), decision=True)
    # stage rules still hold, and a non-terminal office report is checked like any other
    with pytest.raises(IllegalTransition, match="cannot also be"):
        check_new_event([*history, ev(C, 10, 30)], ev(F, 11), decision=True)
    with pytest.raises(IllegalTransition, match="before"):
        check_new_event([ev(D, 9), ev(S, 10, 5)], ev(A, 10, 10), decision=True)


# --- event fields ----------------------------------------------------------------------------


def test_stamp_type_is_coerced_and_checked():
    assert EventStamp("arrived", at(9)).type is EventType.ARRIVED  # type: ignore[arg-type]
    with pytest.raises(InputError) as err:
        EventStamp("teleported", at(9))  # type: ignore[arg-type]
    assert err.value.field == "type"


@pytest.mark.parametrize(
    "args",
    [
        ("failed", "customer_absent", None, None),
        ("completed", None, "good", "intact"),
        ("completed", None, "very_poor", None),
        ("completed", None, None, "declined_to_unpack"),
        ("arrived", None, None, None),
        ("completed", None, None, None),
    ],
)
def test_event_fields_accepted(args):
    check_event_fields(*args)


@pytest.mark.parametrize(
    ("args", "field", "words"),
    [
        (("failed", None, None, None), "reason", "needs a reason"),
        (("completed", "other", None, None), "reason", "only a 'failed' event"),
        (("failed", "other", "good", None), "rating", "only a 'completed' event"),
        (("arrived", None, None, "intact"), "receipt", "only a 'completed' event"),
        (("failed", "asleep", None, None), "reason", "is not one of"),
        (("completed", None, "excellent", None), "rating", "is not one of"),
        (("completed", None, None, "lost"), "receipt", "is not one of"),
        (("landed", None, None, None), "type", "is not one of"),
    ],
)
def test_event_fields_refused(args, field, words):
    with pytest.raises(ValueError, match=words) as err:
        check_event_fields(*args)
    assert err.value.field == field
    assert f"'{field}'" in str(err.value)


# --- properties ------------------------------------------------------------------------------

RANKED = [D, A, S]


@st.composite
def legal_history(draw):
    """A legal history: some stages in rank order, at non-decreasing times (ties included)."""
    stages = [t for t in RANKED if draw(st.booleans())]
    end = draw(st.sampled_from([None, C, F]))
    if end is not None:
        stages.append(end)
    minutes = sorted(draw(st.lists(st.integers(0, 20), min_size=len(stages), max_size=len(stages))))
    return [
        EventStamp(t, at(9) + timedelta(minutes=m), key=f"k{i}")
        for i, (t, m) in enumerate(zip(stages, minutes, strict=True))
    ]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_arrival_order_of_a_legal_history_is_accepted(data):
    history = data.draw(legal_history())
    arrival = data.draw(st.permutations(history))
    recorded: list[EventStamp] = []
    for e in arrival:
        check_new_event(recorded, e)
        recorded.append(e)
        check_sequence(recorded)  # every intermediate state is a legal history too
    assert status_after(recorded) is status_after(history)
    assert status_after(arrival, assigned=False) is status_after(history, assigned=False)


event_stamps = st.builds(
    lambda t, m: EventStamp(t, at(9) + timedelta(minutes=m)),
    st.sampled_from(list(EventType)),
    st.integers(0, 20),
)


def strictly_increasing_ranks(events: list[EventStamp]) -> bool:
    ranks = [e.type.rank for e in sorted(events, key=lambda e: (e.time, e.type.rank))]
    return all(a < b for a, b in pairwise(ranks))


@settings(max_examples=400, deadline=None)
@given(legal_history(), event_stamps)
def test_new_event_accepted_exactly_when_ranks_stay_strictly_increasing(history, new):
    """The oracle is the rule as stated: sorted by device time, ranks strictly increase."""
    legal = strictly_increasing_ranks([*history, new])
    try:
        check_new_event(history, new)
    except IllegalTransition as err:
        assert not legal, err.reason
    else:
        assert legal
        if new.type in TERMINAL:
            assert status_after([*history, new]).value == new.type.value
