"""The day's dispatch problem, read from the database: what a plan solves.

`build_problem` selects what the planner would be given by hand:

* jobs due that day in the region that are still to be planned (`open`, or `assigned` by a
  plan published earlier, so re-planning the day keeps them), in the chosen zones if any;
* the region's active crews, in the chosen zones if any (crews without a home zone work
  anywhere and are always included), less those off or sick that day; temporary crews only
  when booked that day (`available`); a day entry's shift replaces the crew's usual shift;
* every depot (a crew may load at any warehouse), and the region's zones.

Stored records are rebuilt through the same constructors the importers use, so a record that
no longer validates (a rule tightened since it was stored) is reported as an `InputErrors`
naming each record and field, all of them at once, instead of failing later inside a worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.storage.models import CrewDayRow, CrewRow, DepotRow, JobRow
from api.storage.store import crew_of, depot_of, job_of, load_zones
from dispatch.day_problem import DispatchProblem, TravelSettings
from dispatch.errors import InputError, InputErrors
from dispatch.files.records import crew_from_dict
from dispatch.models import CallbackPolicy, Crew, Job, JobKind

#: job statuses a plan (re)plans: not yet on the road
PLANNABLE = ("open", "assigned")

R = TypeVar("R")
T = TypeVar("T")


@dataclass(frozen=True)
class DayRules:
    """The service's rules a day is built under (`Settings.certification_rule`,
    `Settings.callback_rule`), hashable, so the quotes' day cache can key on them."""

    certification: tuple[tuple[JobKind, int], ...] = ()
    callback_policy: tuple[tuple[str, CallbackPolicy], ...] = ()

    @classmethod
    def of(cls, settings: Any) -> DayRules:
        return cls(
            tuple(sorted(settings.certification_rule.items())),
            tuple(sorted(settings.callback_rule.items())),
        )


def build_problem(
    session: Session,
    region: str,
    day: date,
    zones: Sequence[str] | None = None,
    travel: TravelSettings | None = None,
    certification: Mapping[JobKind, int] | None = None,
    callback_policy: Mapping[str, CallbackPolicy] | None = None,
) -> DispatchProblem:
    """The dispatch problem of `region` on `day` (only `zones` when given) from the tables,
    timed with `travel` (the service's choice for the region, `Settings.travel_for`; the
    defaults, haversine, when None), under the service's `certification` rule
    (`Settings.certification_rule`; None: none) and `callback_policy` per region
    (`Settings.callback_rule`). A callback names its original crew (the crew of the job it
    repeats). The plan's snapshot keeps all of it, so its worker, re-plans, overrides and
    explanations all time and judge the day the same way.

    Raises `InputErrors` listing every stored record that no longer validates.
    """
    errors: list[InputError] = []
    job_query = (
        select(JobRow)
        .where(JobRow.due_date == day, JobRow.region == region, JobRow.status.in_(PLANNABLE))
        .order_by(JobRow.id)
    )
    if zones:
        job_query = job_query.where(JobRow.zone.in_(list(zones)))
    job_rows = list(session.scalars(job_query))
    jobs = _with_original_crews(session, job_rows, _rebuild(job_rows, job_of, errors))

    crew_query = (
        select(CrewRow)
        .where(CrewRow.region == region, CrewRow.active.is_(True))
        .order_by(CrewRow.id)
    )
    if zones:
        crew_query = crew_query.where(
            CrewRow.home_zone.is_(None) | CrewRow.home_zone.in_(list(zones))
        )
    crew_rows = list(session.scalars(crew_query))
    days = {
        d.crew_id: d
        for d in session.scalars(
            select(CrewDayRow).where(
                CrewDayRow.day == day, CrewDayRow.crew_id.in_([c.id for c in crew_rows])
            )
        )
    }
    working = [c for c in crew_rows if _works(c, days.get(c.id))]
    crews = _rebuild(working, lambda row: _crew_on_day(row, days.get(row.id), day), errors)

    depot_rows = session.scalars(select(DepotRow).order_by(DepotRow.id))
    depots = _rebuild(depot_rows, depot_of, errors)
    if errors:
        raise InputErrors(errors)

    region_zones = load_zones(session, region)
    if zones:
        wanted = set(zones)
        region_zones = [z for z in region_zones if z.id in wanted]
    name = f"{region} {day.isoformat()}" + (f" zones {', '.join(sorted(zones))}" if zones else "")
    return DispatchProblem(
        date=day,
        jobs=jobs,
        crews=crews,
        depots=depots,
        zones=region_zones,
        travel=travel or TravelSettings(),
        name=name,
        certification=dict(certification or {}),
        callback_policy=dict(callback_policy or {}),
    )


def _with_original_crews(session: Session, rows: list[JobRow], jobs: list[Job]) -> list[Job]:
    """Each callback job with the crew of the job it repeats (`Job.original_crew`), read in
    one query; jobs that are no callback, or whose original had no crew, as they are."""
    originals = {r.id: r.callback_of for r in rows if r.callback_of}
    if not originals:
        return jobs
    crews = dict(
        session.execute(
            select(JobRow.id, JobRow.crew_id).where(JobRow.id.in_(set(originals.values())))
        ).all()
    )
    return [
        replace(j, original_crew=crews.get(originals[j.id]))
        if j.id in originals and crews.get(originals[j.id]) and j.original_crew is None
        else j
        for j in jobs
    ]


def _works(crew: CrewRow, entry: CrewDayRow | None) -> bool:
    """Is the crew at work that day? Off or sick: no; a temporary crew only when booked."""
    if entry is not None and entry.status in ("off", "sick"):
        return False
    if crew.temporary:
        return entry is not None and entry.status == "available"
    return True


def _crew_on_day(row: CrewRow, entry: CrewDayRow | None, day: date) -> Crew:
    """The stored crew, with the day entry's shift when it changes it."""
    if entry is None or (entry.shift_start is None and entry.shift_end is None):
        return crew_of(row)
    record = dict(row.record)
    if entry.shift_start is not None:
        record["shift_start"] = entry.shift_start
    if entry.shift_end is not None:
        record["shift_end"] = entry.shift_end
    return crew_from_dict(record, f"stored crew {row.id!r} with its shift on {day.isoformat()}")


def _rebuild(rows: Iterable[R], make: Callable[[R], T], errors: list[InputError]) -> list[T]:
    """`make(row)` for each row; the `InputError`s of rows that fail go to `errors`."""
    out: list[T] = []
    for row in rows:
        try:
            out.append(make(row))
        except InputErrors as exc:
            errors.extend(exc.errors)
        except InputError as exc:
            errors.append(exc)
    return out
