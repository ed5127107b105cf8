"""A job visit's status, derived from the events its crew reports from the road.

Drivers and installers report `departed`, `arrived`, `started`, `completed` and `failed` from a
phone on a flaky mobile connection: requests are retried and can arrive out of order, and a
phone's clock can be wrong. So the engine keeps a visit's events in **effective-time** order (the
time the phone recorded, when it can be believed; see below) and *derives* the status from them
instead of moving a state machine one request at a time. A late-arriving event is slotted in by
its time.

Stages and their ranks::

    departed 1 < arrived 2 < started 3 < completed 4 = failed 4   (completed, failed: terminal)

**Clocks** (`stamp`, `believed`). Every event carries the phone's clock (`device_time`) and the
server's receive time (`received_at`); both are kept on record. The device time is *believed*
when it lies in the window

    [00:00 of the day before the job's planned day,  received_at + CLOCK_SKEW (5 minutes)]

An event cannot have happened after the server received it (a phone clock a few minutes fast is
tolerated), and no crew works on a job before the day before its planned day; a phone with a
reset clock (2000-01-01) or one set years ahead is outside. An offline phone's queue is never
refused for its age: an old device time stays believed as long as it is not before that day.
A device time that is not believed is replaced, for ordering, by the receive time (when it
happened at the latest), and the event takes part only in the stage rules below, never in the
time rules: a wrong clock cannot make a true report from the road (or the office) illegal.

Rules for the events of one visit (`check_new_event` enforces them, one new event at a time):

* Stage rules, always: a stage appears at most once, and completed and failed exclude each
  other.
* Time rules, between events whose times are both believed: sorted by time (ties by stage
  rank, see `ordered`), the ranks must strictly increase. Skipping stages is allowed (a driver
  may never press "arrived"), and a lost event may turn up later and be slotted in by its time:
  with [departed 09:00, started 09:30], a new arrived 09:20 is fine.
  - Nothing may come after a terminal event ("job already completed at 10:42; 'arrived' at
    10:50 cannot follow it").
  - No event may be earlier than an event of a lower stage: with started 09:10 already
    recorded, arrived 09:20 is refused ("started at 09:10 before arriving at 09:20"). Equal
    times are fine (the phone may stamp two taps within the same second).
* The office's decision: a terminal event (completed, failed) that a dispatcher reports on the
  crew's behalf (`check_new_event(..., decision=True)`) is held to the stage rules only, so the
  office can always close a visit whatever times the drivers' phones reported.

These are all pairwise conditions, so any subset of a legal history is legal and the order in
which the events reach the server does not matter: every arrival order of a legal history is
accepted event by event and ends in the same status.

Retries carry the idempotency key of the original request (`EventStamp.key`); the caller
answers a retry with the stored result (`find_replay`) *before* checking it as a new event,
since a replayed stage would otherwise be refused as a repeat.

Status (`status_after`): no events -> ASSIGNED when the job is on a published route, OPEN when
not; otherwise the highest stage reported: departed -> EN_ROUTE, arrived -> ON_SITE,
started -> IN_PROGRESS, completed -> COMPLETED, failed -> FAILED. CANCELLED is never derived
from events: cancelling is a dispatcher's decision held on the job itself (and a cancelled job
takes no more events; the caller checks that).

Times are naive local datetimes of the region, like everywhere in `dispatch`; the stamps of one
visit must all be naive or all be aware, or Python refuses to compare them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from dispatch.errors import InputError


class EventType(StrEnum):
    DEPARTED = "departed"
    ARRIVED = "arrived"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        """Stage rank: departed 1 < arrived 2 < started 3 < completed = failed 4."""
        return _RANK[self]


_RANK: dict[EventType, int] = {
    EventType.DEPARTED: 1,
    EventType.ARRIVED: 2,
    EventType.STARTED: 3,
    EventType.COMPLETED: 4,
    EventType.FAILED: 4,
}

#: Events after which nothing may follow; completed and failed exclude each other.
TERMINAL: frozenset[EventType] = frozenset({EventType.COMPLETED, EventType.FAILED})

# Words for messages: "started at 09:10 before arriving at 09:20".
_DONE = {
    EventType.DEPARTED: "departed",
    EventType.ARRIVED: "arrived",
    EventType.STARTED: "started",
    EventType.COMPLETED: "completed",
    EventType.FAILED: "failed",
}
_DOING = {
    EventType.DEPARTED: "departing",
    EventType.ARRIVED: "arriving",
    EventType.STARTED: "starting",
    EventType.COMPLETED: "completing",
    EventType.FAILED: "failing",
}


class JobStatus(StrEnum):
    OPEN = "open"  # not in a published plan
    ASSIGNED = "assigned"  # on a published route, no event yet
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


_STATUS_OF = {
    EventType.DEPARTED: JobStatus.EN_ROUTE,
    EventType.ARRIVED: JobStatus.ON_SITE,
    EventType.STARTED: JobStatus.IN_PROGRESS,
    EventType.COMPLETED: JobStatus.COMPLETED,
    EventType.FAILED: JobStatus.FAILED,
}


class FailureReason(StrEnum):
    """Why a visit failed; required on a `failed` event."""

    CUSTOMER_ABSENT = "customer_absent"
    WRONG_ADDRESS = "wrong_address"
    PRODUCT_DAMAGED = "product_damaged"
    NO_ACCESS = "no_access"
    PARTS_MISSING = "parts_missing"
    CUSTOMER_REFUSED = "customer_refused"
    UNSAFE_SITE = "unsafe_site"
    OTHER = "other"


class Rating(StrEnum):
    """The customer's rating of the crew on the receipt (良好 / 一般 / 较差 / 特差)."""

    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"
    VERY_POOR = "very_poor"


class ReceiptNote(StrEnum):
    """What the customer wrote on the receipt when signing for the goods."""

    INTACT = "intact"  # "items received, appearance intact"
    DECLINED_TO_UNPACK = "declined_to_unpack"  # "customer declined to unpack"
    DAMAGE_NOTED = "damage_noted"


#: how far ahead of the server's clock a phone's clock may run and still be believed
CLOCK_SKEW = timedelta(minutes=5)
#: how many days before the job's planned day a device time may lie and still be believed
DAYS_BEFORE = 1


def believed(device_time: datetime, received_at: datetime, day: date) -> bool:
    """Whether a phone's clock reading is believed for an event of a job planned for `day`
    that the server received at `received_at` (see the module docstring)."""
    earliest = datetime.combine(day - timedelta(days=DAYS_BEFORE), time.min)
    return earliest <= device_time <= received_at + CLOCK_SKEW


def effective_time(device_time: datetime, received_at: datetime, day: date) -> datetime:
    """The time an event is ordered by: the device time when believed, else the receive time."""
    return device_time if believed(device_time, received_at, day) else received_at


@dataclass(frozen=True)
class EventStamp:
    """One reported event of a visit: its type, the time it is ordered by, and its idempotency
    key. Build stored or incoming events with `stamp`, which applies the clock rule.

    `time` is the phone's clock when it is believed; otherwise (`believed` False) the server's
    receive time stands in, and the event takes part in the stage rules only. The key is only
    used to recognise retries and to name the event in messages.
    """

    type: EventType
    time: datetime
    key: str = ""
    believed: bool = True

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "type", EventType(self.type))
        except ValueError:
            allowed = ", ".join(e.value for e in EventType)
            raise InputError("event", "type", f"{self.type!r} is not one of: {allowed}") from None

    @property
    def rank(self) -> int:
        return self.type.rank


def stamp(
    type: EventType | str, device_time: datetime, received_at: datetime, day: date, key: str = ""
) -> EventStamp:
    """The stamp of an event the phone recorded at `device_time` and the server received at
    `received_at`, for a job planned for `day`: the clock rule of the module docstring."""
    trusted = believed(device_time, received_at, day)
    at = device_time if trusted else received_at
    return EventStamp(type, at, key, trusted)  # type: ignore[arg-type]  # a str is coerced


class IllegalTransition(Exception):
    """A new event that cannot join the visit's history; `reason` is the message for a 409."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _sort_key(e: EventStamp) -> tuple[datetime, int, str, str]:
    # type and key only make the order total (deterministic) for illegal histories
    return (e.time, e.rank, e.type.value, e.key)


def ordered(events: Iterable[EventStamp]) -> list[EventStamp]:
    """The events in time order (`EventStamp.time`); equal times by stage rank (arrived, then
    started)."""
    return sorted(events, key=_sort_key)


def status_after(events: Sequence[EventStamp], *, assigned: bool = True) -> JobStatus:
    """The visit's status given all its events (in any order).

    No events: ASSIGNED when the job is on a published route, OPEN when not. Otherwise the
    status of the highest stage reported. The history is not checked here (`check_sequence`
    does); for an illegal one holding both completed and failed, the later one in `ordered`
    order wins.
    """
    if not events:
        return JobStatus.ASSIGNED if assigned else JobStatus.OPEN
    history = ordered(events)
    top = max(e.rank for e in history)
    last_of_top = [e for e in history if e.rank == top][-1]
    return _STATUS_OF[last_of_top.type]


def _fmt(t: datetime, other: datetime) -> str:
    """HH:MM, with seconds when needed to tell the two apart and the date when they differ."""
    fmt = "%H:%M"
    if t != other and t.replace(second=0, microsecond=0) == other.replace(second=0, microsecond=0):
        fmt = "%H:%M:%S" if t.microsecond == other.microsecond else "%H:%M:%S.%f"
    text = t.strftime(fmt)
    if t.date() != other.date():
        text = f"{t.date().isoformat()} {text}"
    return text


def _conflict(old: EventStamp, new: EventStamp, *, timed: bool = True) -> str | None:
    """Why `new` cannot join a history holding `old`, or None when the two are compatible.
    The time rules apply only when `timed` and both times are believed."""
    t_old, t_new = _fmt(old.time, new.time), _fmt(new.time, old.time)
    if old.type is new.type:
        return f"'{new.type}' was already reported at {t_old}; a stage is reported only once"
    if old.type in TERMINAL and new.type in TERMINAL:
        return f"job already {_DONE[old.type]} at {t_old}; it cannot also be '{new.type}'"
    if not (timed and old.believed and new.believed):
        return None
    if old.type in TERMINAL and new.time > old.time:
        return f"job already {_DONE[old.type]} at {t_old}; '{new.type}' at {t_new} cannot follow it"
    if new.type in TERMINAL and old.time > new.time:
        return (
            f"'{old.type}' was already reported at {t_old}; the job cannot have been "
            f"{_DONE[new.type]} earlier, at {t_new}"
        )
    low, high = (old, new) if old.rank < new.rank else (new, old)
    if low.time > high.time:
        t_low = _fmt(low.time, high.time)
        t_high = _fmt(high.time, low.time)
        return f"{_DONE[high.type]} at {t_high} before {_DOING[low.type]} at {t_low}"
    return None


def check_new_event(
    existing: Sequence[EventStamp], new: EventStamp, *, decision: bool = False
) -> None:
    """Raise `IllegalTransition` when `new` cannot join the visit's recorded events.

    `existing` is the visit's history (assumed legal, in any order). The check is the module's
    rules applied between `new` and each recorded event, so the message names the one event it
    conflicts with (the earliest such in time). A retry of a recorded event is refused as a
    repeated stage: answer retries with `find_replay` first. `decision`: the office reports
    `new` on the crew's behalf; a terminal one is then held to the stage rules only.
    """
    timed = not (decision and new.type in TERMINAL)
    for old in ordered(existing):
        reason = _conflict(old, new, timed=timed)
        if reason is not None:
            raise IllegalTransition(reason)


def check_sequence(events: Sequence[EventStamp]) -> None:
    """Raise `IllegalTransition` when a whole history breaks the rules (e.g. rows from storage)."""
    seen: list[EventStamp] = []
    for e in ordered(events):
        check_new_event(seen, e)
        seen.append(e)


def find_replay(existing: Sequence[EventStamp], new: EventStamp) -> EventStamp | None:
    """The recorded event that `new` is a retry of (same non-empty key), or None.

    A retry must repeat the original request: a key reused for a different type or time
    is a client bug and raises `IllegalTransition` rather than being answered as a replay.
    """
    if not new.key:
        return None
    for old in existing:
        if old.key == new.key:
            if old.type is new.type and old.time == new.time:
                return old
            raise IllegalTransition(
                f"idempotency key {new.key!r} was already used for '{old.type}' at "
                f"{old.time.isoformat(sep=' ')}; a retry must repeat that event"
            )
    return None


def _as(record: str, name: str, enum: type[StrEnum], value: str) -> StrEnum:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise InputError(record, name, f"{value!r} is not one of: {allowed}") from None


def check_event_fields(
    type: EventType | str,
    reason: FailureReason | str | None = None,
    rating: Rating | str | None = None,
    receipt: ReceiptNote | str | None = None,
) -> None:
    """Raise `InputError` (a ValueError naming the field) when an event's details do not fit it.

    A failed visit needs a reason (dispatchers re-plan by it); a reason belongs only to a
    failed visit; the crew rating and the receipt note are written when the customer signs,
    so only on a completed visit. Values must be members of their enums.
    """
    kind = _as("event", "type", EventType, type)
    if reason is not None:
        _as("event", "reason", FailureReason, reason)
    if rating is not None:
        _as("event", "rating", Rating, rating)
    if receipt is not None:
        _as("event", "receipt", ReceiptNote, receipt)
    if kind is EventType.FAILED and reason is None:
        raise InputError("event", "reason", "a 'failed' event needs a reason")
    if kind is not EventType.FAILED and reason is not None:
        raise InputError("event", "reason", f"only a 'failed' event has a reason, not '{kind}'")
    for name, value in (("rating", rating), ("receipt", receipt)):
        if value is not None and kind is not EventType.COMPLETED:
            raise InputError("event", name, f"only a 'completed' event has a {name}, not '{kind}'")
