"""The days quotes and bookings read, kept between requests in each process.

A quote reads each quoted day of its region: the day's problem from the tables
(`build_problem`: open and assigned jobs, working crews with their shift changes, depots,
the region's travel setting), its tentative routes (`dispatch.booking.tentative`: the day's
jobs placed by the planner's greedy pass, one to two seconds on a 1,500-job day) and the
day prepared for quoting (`dispatch.booking.prepared.PreparedDay`: translated, timed and
indexed once, a few tenths of a second). None of it depends on the order, so all is kept:

* **by content**: tentative routes (small; `TENTATIVE`, the newest 64 days) and prepared
  days (about 40 MB each on a 1,500-job day, for its travel matrices; `PREPARED`, the
  newest 8) are keyed by what they were computed from (date, jobs, crews, depots, travel,
  link gap), so they are never used for a day that changed;
* **by version**: reading the whole day back from the tables and comparing its content
  costs more than the quote itself (1,500 job records parsed and checked: 0.3 s), so each
  day's content key is also kept under the day's *version*: the ids and row versions of its
  plannable jobs and of the region's crews, the day's crew entries, the depots' records and
  the travel setting, in this database (`day_versions`: four queries for all the quoted
  days, a few milliseconds). Every change of a job or crew row raises its version
  (SQLAlchemy's version counter; rows are never deleted), so another process's booking,
  import, plan or edit gives the day a new version, and the day is read whole again. A
  version is kept only when it read the same before and after the day was built from the
  tables, so a change committed in between is never filed under it.

A booking adds its jobs to the day it checked (`remember_booked`): the new day's tentative
routes are the old ones with the booked crews' routes as the check found them, and the day
is prepared for the next quote right away by adding the booked jobs to the prepared day
(`PreparedDay.after_booking`: about 0.1 s, not a new translation). Another process
sees the new version, finds no routes for the new content and places the day itself (the
greedy pass from empty routes, once per change it sees; its routes may differ from the
booking process's, each honest).
"""

from __future__ import annotations

import json
import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.services.problem_builder import PLANNABLE, DayRules, build_problem
from api.storage.models import CrewDayRow, CrewRow, DepotRow, JobRow
from dispatch.booking.keys import Key
from dispatch.booking.prepared import PreparedDay
from dispatch.booking.quotes import QuoteOption
from dispatch.booking.tentative import TentativeRoutes, tentative_routes
from dispatch.day_problem import DispatchProblem, TravelSettings
from dispatch.planning.routed_day import routed_day

V = TypeVar("V")


class Kept(Generic[V]):
    """The newest `size` values by key, shared by the threads of one process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._values.get(key)
            if found is not None:
                self._values.move_to_end(key)
            return found

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


#: tentative routes by day content
TENTATIVE: Kept[TentativeRoutes] = Kept(64)
#: prepared days by day content
PREPARED: Kept[PreparedDay] = Kept(8)
#: day version -> day content key
VERSIONS: Kept[Key] = Kept(256)


def clear_caches() -> None:
    """Forget every day this process keeps (the benchmark's cold quote; tests)."""
    for kept in (TENTATIVE, PREPARED, VERSIONS):
        kept.clear()


def content_key(problem: DispatchProblem) -> Key:
    """What a day's tentative routes and prepared day are computed from."""
    return Key(
        (
            problem.date,
            tuple(problem.jobs),
            tuple(problem.crews),
            tuple(problem.depots),
            repr(problem.travel),
            problem.link_gap_minutes,
        )
    )


#: a token per database engine this process opened: row versions are only comparable within
#: one database (tests open many, with the same ids)
_DATABASES: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
_DATABASES_LOCK = threading.Lock()


def _database(session: Session) -> str:
    engine = session.get_bind().engine  # a connection's too
    with _DATABASES_LOCK:
        return _DATABASES.setdefault(engine, uuid.uuid4().hex)


@dataclass(frozen=True)
class DayVersion:
    """What changes whenever a day's content may have (see the module docstring): the
    plannable jobs' (id, row version), and the rest (crews, crew entries, depots, travel);
    in which database."""

    database: str
    region: str
    day: date
    jobs: tuple[tuple[str, int], ...]
    rest: Hashable

    def key(self) -> Key:
        return Key((self.database, self.region, self.day, self.jobs, self.rest))

    def with_jobs(self, jobs: Iterable[tuple[str, int]]) -> DayVersion:
        """The version after `jobs` (id, row version) were stored on the day."""
        return replace(self, jobs=tuple(sorted([*self.jobs, *jobs])))


#: no certification rule, every callback preferring its original crew
NO_RULES = DayRules()


def day_versions(
    session: Session,
    region: str,
    days: Sequence[date],
    travel: TravelSettings,
    rules: DayRules = NO_RULES,
) -> dict[date, DayVersion]:
    """The days' versions as the tables hold them now: four queries of plain rows (no ORM
    objects), whatever the number of days."""
    run = session.connection().execute
    jobs = run(
        select(JobRow.due_date, JobRow.id, JobRow.version)
        .where(
            JobRow.due_date.in_(list(days)),
            JobRow.region == region,
            JobRow.status.in_(PLANNABLE),
        )
        .order_by(JobRow.due_date, JobRow.id)
    ).all()
    crews = run(
        select(CrewRow.id, CrewRow.version, CrewRow.active)
        .where(CrewRow.region == region)
        .order_by(CrewRow.id)
    ).all()
    crew_days = run(
        select(
            CrewDayRow.day,
            CrewDayRow.crew_id,
            CrewDayRow.status,
            CrewDayRow.shift_start,
            CrewDayRow.shift_end,
        )
        .where(CrewDayRow.day.in_(list(days)))
        .order_by(CrewDayRow.day, CrewDayRow.crew_id, CrewDayRow.id)
    ).all()
    depots = run(select(DepotRow.id, DepotRow.record).order_by(DepotRow.id)).all()
    common = (
        tuple(map(tuple, crews)),
        tuple((i, json.dumps(record, sort_keys=True)) for i, record in depots),
        repr(travel),
        repr(rules),
    )
    database = _database(session)
    out = {}
    for day in days:
        on_day = tuple((i, v) for d, i, v in jobs if d == day)
        entries = tuple(tuple(r[1:]) for r in crew_days if r[0] == day)
        out[day] = DayVersion(database, region, day, on_day, (entries, common))
    return out


@dataclass(frozen=True)
class ReadDay:
    """A day as a quote or booking read it: prepared, and at which version."""

    prepared: PreparedDay
    version: DayVersion


def read_days(
    session: Session,
    region: str,
    days: Sequence[date],
    travel: TravelSettings,
    rules: DayRules = NO_RULES,
) -> dict[date, ReadDay]:
    """Each day prepared for quoting, from this process's days where the version matches;
    built under the service's `rules` (certification, callback policy) as plans are."""
    versions = day_versions(session, region, days, travel, rules)
    return {day: _read_day(session, versions[day], travel, rules) for day in days}


def _read_day(
    session: Session, version: DayVersion, travel: TravelSettings, rules: DayRules
) -> ReadDay:
    region, day = version.region, version.day
    key = VERSIONS.get(version.key())
    prepared = PREPARED.get(key) if key is not None else None
    if prepared is not None:
        return ReadDay(prepared, version)
    problem = build_problem(
        session,
        region,
        day,
        travel=travel,
        certification=dict(rules.certification),
        callback_policy=dict(rules.callback_policy),
    )
    key = content_key(problem)
    prepared = PREPARED.get(key)
    if prepared is None:
        routed = routed_day(problem, lazy=True)
        routes = TENTATIVE.get(key)
        if routes is None:
            routes = tentative_routes(problem, routed)  # a second or two on a large day
            TENTATIVE.put(key, routes)
        prepared = PreparedDay(problem, routes, routed=routed)
        PREPARED.put(key, prepared)
    # nothing moved meanwhile: the version names what was read
    if day_versions(session, region, [day], travel, rules)[day] == version:
        VERSIONS.put(version.key(), key)
    return ReadDay(prepared, version)


def prepared_days(read: Mapping[date, ReadDay]) -> dict[date, PreparedDay]:
    """The prepared days of `read_days`' answer, as the domain's quote reads them."""
    return {d: r.prepared for d, r in read.items()}


def remember_booked(read: Mapping[date, ReadDay], option: QuoteOption, rows: Sequence[Any]) -> None:
    """Keep the days a booking was checked on, with its jobs (`rows`: the committed job
    rows) on the crews the check found, as the next read of those days will find them."""
    from api.storage.store import job_of

    for day, found in read.items():
        new = [r for r in rows if r.due_date == day]
        if not new:
            continue
        routes = found.prepared.tentative
        for offer in option.offers:
            if offer.slot.day == day:
                routes = routes.with_route(offer.crew_id, offer.route, offer.lunch_after)
        stored = [job_of(r) for r in new]
        problem = found.prepared.problem
        jobs = sorted([*problem.jobs, *stored], key=lambda j: j.id)  # as read from the tables
        key = content_key(replace(problem, jobs=jobs))
        TENTATIVE.put(key, routes)
        PREPARED.put(key, PreparedDay.after_booking(found.prepared, stored, routes))
        VERSIONS.put(found.version.with_jobs((r.id, r.version) for r in new).key(), key)
