"""Crews' last known positions: what a driver's phone sends while the crew's route runs, and
what the board and the customers' tracking pages read.

A position is accepted only **while the crew's route is running**: the crew has jobs on a
published plan of the position's day, and the position was taken within the crew's shift of
that day (the crew's usual shift, or the day's changed one) with `SHIFT_MARGIN` either side.
Anything else is refused with a reason that says "outside the shift", which tells the phone
app to stop sending until the next shift.

The phone's clock is handled as for job events (`dispatch.running.lifecycle.believed`): a
device time from 00:00 of the day before the server's day up to 5 minutes after it was
received is believed; any other (a reset clock, a phone set a year ahead) is replaced by the
receive time. A believed time a little ahead of the server is clamped to the receive time, so
a position's age is never negative. The position's day is the day of that time.

**Only the last position is kept**, one row per crew (`crew_positions`), overwritten: the
service keeps no trail of where a crew went. At most one position per crew is stored every
`MIN_INTERVAL` (by the server's clock); the others in between are answered like a stored one
(204) and dropped, so a phone that sends more often than needed costs one cheap UPDATE that
changes nothing, and the app needs no back-off logic. A position older (by its own time, on
the same day) than the one stored is dropped too: a phone's queue sent late never moves the
crew back. Rows received more than `KEEP` ago are deleted by retention (`purge_positions`).

Positions are the crews' personal data (an employee's whereabouts): the office roles that see
personal data get them exactly, planners and managers coarsened to about a kilometre
(`dispatch.privacy.coarse`) without the accuracy, customers only a straight-line distance
to their own door while the crew is on its way to them (`api.services.tracking`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.services.errors import Unprocessable
from api.storage.models import CrewDayRow, CrewRow, JobRow, PlanRow
from api.storage.tracking_models import CrewPositionRow
from dispatch.files.fields import parse_clock
from dispatch.privacy import coarse
from dispatch.running.lifecycle import believed

#: a position is accepted from this long before the shift starts to this long after it ends
SHIFT_MARGIN = timedelta(minutes=30)
#: at most one position per crew is stored in this interval (server clock)
MIN_INTERVAL = timedelta(seconds=20)
#: positions received longer ago than this are deleted by retention
KEEP = timedelta(hours=24)
#: job statuses that do not put a crew on the road: not on a route, or called off
NOT_ON_ROUTE = ("open", "cancelled")
#: the words every refusal carries: the phone app stops sending when it reads them
OUTSIDE = "outside the shift"
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class PositionIn:
    """A position as the phone sent it (validated at the door: finite, within bounds)."""

    lon: float
    lat: float
    accuracy_m: float | None
    device_time: datetime  # local, naive


def position_time(device_time: datetime, received_at: datetime) -> datetime:
    """The time a position is taken at: the phone's clock when believed (never later than
    the receive time), else the receive time (see the module docstring)."""
    if believed(device_time, received_at, received_at.date()):
        return min(device_time, received_at)
    return received_at


def crew_shift(session: Session, crew: CrewRow, day: date) -> tuple[datetime, datetime] | None:
    """The crew's shift on `day` (its usual one, or the day's changed one); None when it is
    off or sick that day."""
    entry = session.scalar(
        select(CrewDayRow).where(CrewDayRow.crew_id == crew.id, CrewDayRow.day == day)
    )
    if entry is not None and entry.status in ("off", "sick"):
        return None
    record = crew.record or {}
    start = (entry.shift_start if entry else None) or record.get("shift_start") or "08:00"
    end = (entry.shift_end if entry else None) or record.get("shift_end") or "18:00"
    return datetime.combine(day, parse_clock(start)), datetime.combine(day, parse_clock(end))


def has_published_route(session: Session, crew_id: str, day: date) -> bool:
    """Whether the crew has jobs of `day` on a route of a published plan of that day (two
    indexed lookups: the crew's jobs of the day, the day's published plans)."""
    regions = set(
        session.scalars(
            select(JobRow.region)
            .where(
                JobRow.crew_id == crew_id,
                JobRow.due_date == day,
                JobRow.status.not_in(NOT_ON_ROUTE),
            )
            .distinct()
        )
    )
    if not regions:
        return False
    published = session.scalar(
        select(PlanRow.id)
        .where(PlanRow.day == day, PlanRow.status == "published", PlanRow.region.in_(regions))
        .limit(1)
    )
    return published is not None


def check_running(session: Session, crew_id: str, at: datetime) -> None:
    """Refuse (`Unprocessable`, "outside the shift") a position taken at `at` unless the
    crew's route is running then (see the module docstring)."""
    day = at.date()
    crew = session.get(CrewRow, crew_id)
    if crew is None or not crew.active:
        raise Unprocessable(
            "the position was not taken while the crew's route runs",
            [f"{OUTSIDE}: crew {crew_id!r} is not an active crew"],
        )
    if not has_published_route(session, crew_id, day):
        raise Unprocessable(
            "the position was not taken while the crew's route runs",
            [f"{OUTSIDE}: crew {crew_id!r} has no published route on {day.isoformat()}"],
        )
    shift = crew_shift(session, crew, day)
    if shift is None:
        raise Unprocessable(
            "the position was not taken while the crew's route runs",
            [f"{OUTSIDE}: crew {crew_id!r} is off on {day.isoformat()}"],
        )
    start, end = shift
    if not start - SHIFT_MARGIN <= at <= end + SHIFT_MARGIN:
        minutes = int(SHIFT_MARGIN.total_seconds() // 60)
        raise Unprocessable(
            "the position was not taken while the crew's route runs",
            [
                f"{OUTSIDE}: {at:%H:%M} is not within the shift of crew {crew_id!r} on "
                f"{day.isoformat()} ({start:%H:%M}-{end:%H:%M}, {minutes} minutes either side)"
            ],
        )


def record_position(
    session: Session, crew_id: str, position: PositionIn, received_at: datetime
) -> bool:
    """Check and store the crew's position (committed); whether it was stored (False: within
    `MIN_INTERVAL` of the last one stored, or older than it). Raises `Unprocessable` outside
    the shift.

    One conditional UPDATE does the rate limit and the ordering, so concurrent posts of one
    crew cannot both be stored within the interval; the first position of a crew is an
    INSERT, and of two racing INSERTs the loser is dropped like a too-early post.
    """
    at = position_time(position.device_time, received_at)
    check_running(session, crew_id, at)
    values = {
        "day": at.date(),
        "lon": position.lon,
        "lat": position.lat,
        "accuracy_m": position.accuracy_m,
        "device_time": at,
        "received_at": received_at,
    }
    changed = session.execute(
        update(CrewPositionRow)
        .where(
            CrewPositionRow.crew_id == crew_id,
            CrewPositionRow.received_at <= received_at - MIN_INTERVAL,
            CrewPositionRow.device_time < at,  # never back in time (a late queue)
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount:  # type: ignore[attr-defined]  # a CursorResult for an UPDATE
        session.commit()
        return True
    if session.get(CrewPositionRow, crew_id) is not None:
        session.rollback()
        return False
    session.add(CrewPositionRow(crew_id=crew_id, **values))
    try:
        session.commit()
    except IntegrityError:  # another post of the crew inserted first
        session.rollback()
        return False
    return True


def position_out(row: CrewPositionRow, now: datetime, exact: bool) -> dict[str, Any]:
    """A position as the board shows it: exact for the roles that see personal data, else
    coarsened to about a kilometre without its accuracy. `at` is local, to the second;
    `age_s` whole seconds since then (never negative)."""
    age = max(0, int((now - row.device_time).total_seconds()))
    return {
        "lon": row.lon if exact else coarse(row.lon),
        "lat": row.lat if exact else coarse(row.lat),
        "accuracy_m": row.accuracy_m if exact else None,
        "at": row.device_time.isoformat(timespec="seconds"),
        "age_s": age,
    }


def positions_of_day(
    session: Session, day: date, region: str | None = None, crews: Iterable[str] | None = None
) -> dict[str, CrewPositionRow]:
    """The last positions of `day` by crew id: of the region's crews, or of `crews`."""
    query = select(CrewPositionRow).where(CrewPositionRow.day == day)
    if region is not None:
        query = query.join(CrewRow, CrewRow.id == CrewPositionRow.crew_id).where(
            CrewRow.region == region
        )
    if crews is not None:
        query = query.where(CrewPositionRow.crew_id.in_(sorted(set(crews))))
    return {row.crew_id: row for row in session.scalars(query)}


def latest_stamp(rows: Iterable[CrewPositionRow]) -> str:
    """A stamp that changes whenever one of `rows` is stored again (for ETags)."""
    return max((r.received_at.isoformat() for r in rows), default="")


def distance_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """The great-circle distance between two points, in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def purge_positions(session: Session, now: datetime) -> int:
    """Delete the positions received more than `KEEP` ago (in the caller's transaction);
    how many. Yesterday's positions are overwritten by today's anyway; this removes those of
    crews that did not work since."""
    result = session.execute(
        delete(CrewPositionRow).where(CrewPositionRow.received_at < now - KEEP)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
