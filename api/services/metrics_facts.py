"""From database rows to the facts `dispatch.metrics.service_metrics` counts (`JobFact`,
`RouteFact`).

`dispatch.metrics.service_metrics` is pure and defines every figure (docs/service-metrics.md); this
module only reads what it needs for one period and one filter, and follows its contract:

- **jobs**: every job *due*, *received* or *completed* in the period (each metric picks its own
  cohort by its own date), with the zone and crew of its own row, the kind of that crew
  (`crews.kind`), and `followed_up` when at least one follow-up call reached the customer
  (`follow_up_calls.reached`). Zone and crew filters apply to these rows; the crew-kind filter
  uses the crew's kind, so jobs without a crew (open, cancelled before planning) never match it.
- **callbacks**: every non-filtered callback job (`callback_of` set) whose original job was
  completed in the period, whenever and by whomever the repeat visit is made: a callback counts
  against the original job's zone and crew, so filtering it would lower the callback rate.
- **routes**: the routes of the *published* plans (not superseded ones: those were replaced)
  whose day is in the period, one `RouteFact` per crew and day. Busy minutes are the route's
  driving plus the service time of its stops (start to end; waiting and lunch are not work).
  Shift minutes are the shift the plan was made with: the crew as stored in the plan's own
  problem, which already holds that day's changes (a shortened shift, say); the crew record
  (with its `crew_days` change for that day) only when the problem lacks the crew. Zone and crew
  kind are the crew's `home_zone` and `kind` (the routes filter on them).
- **regions** (optional, a set of region names; None: every region): jobs of those regions
  (`jobs.region`, the job's own), routes of published plans of those regions (`plans.region`:
  a route counts for its plan's region, whatever the regions of the jobs on it), and the
  callbacks whose *original* job is of those regions, whatever the callback's own region (the
  callback rule above: a callback counts against the original job).

Each job's `region` (its promise hours and planning deadline) and its explicit promise deadline,
when it has one (the `deadline` field of its record, read as a JSON path), go with it: the
promise shares are counted on both clocks (`dispatch.promise_clocks`).

Only the columns needed are read (never the jobs' whole `record`, which holds personal data), and
the plans' routes are read as JSON paths one plan at a time, not whole plans with their problems.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from api.storage.models import CrewDayRow, CrewRow, FollowUpRow, JobRow, PlanRow
from dispatch.files.fields import parse_clock
from dispatch.metrics.service_metrics import JobFact, RouteFact, filter_rows


@dataclass(frozen=True)
class Facts:
    """What `service_metrics(jobs, routes, period, callbacks=callbacks)` takes."""

    jobs: list[JobFact]
    routes: list[RouteFact]
    callbacks: list[JobFact]


def load_facts(
    session: Session,
    period: tuple[date, date],
    *,
    zone: str | None = None,
    crew_id: str | None = None,
    crew_kind: str | None = None,
    regions: Collection[str] | None = None,
) -> Facts:
    """The facts of `period` (both days included), filtered by zone, crew and crew kind, and
    restricted to `regions` (None: every region; see the module doc)."""
    jobs = job_facts(
        session, period, zone=zone, crew_id=crew_id, crew_kind=crew_kind, regions=regions
    )
    routes = route_facts(session, period, crew_id=crew_id, regions=regions)
    return Facts(
        jobs=jobs,
        routes=filter_rows(routes, zone=zone, crew_kind=crew_kind),
        callbacks=callback_facts(session, period, regions=regions),
    )


def day_bounds(period: tuple[date, date]) -> tuple[datetime, datetime]:
    """[first day 00:00, day after the last 00:00): datetimes on a day of the period."""
    start, end = period
    return datetime.combine(start, time()), datetime.combine(end + timedelta(days=1), time())


def _job_query() -> Any:
    followed_up = exists().where(FollowUpRow.job_id == JobRow.id, FollowUpRow.reached.is_(True))
    return select(
        JobRow.id,
        JobRow.kind,
        JobRow.zone,
        JobRow.crew_id,
        CrewRow.kind,
        JobRow.received_at,
        JobRow.due_date,
        JobRow.status,
        JobRow.arrived_at,
        JobRow.completed_at,
        JobRow.window_end,
        JobRow.callback_of,
        followed_up.label("followed_up"),
        JobRow.region,
        JobRow.record["deadline"],
        JobRow.record["assists"],
    ).outerjoin(CrewRow, CrewRow.id == JobRow.crew_id)


def _fact(row: Any) -> JobFact:
    (
        job_id,
        kind,
        zone,
        crew_id,
        crew_kind,
        received_at,
        due_date,
        status,
        arrived_at,
        completed_at,
        window_end,
        callback_of,
        followed_up,
        region,
        deadline,
        assists,
    ) = row
    return JobFact(
        job_id=job_id,
        kind=kind,
        zone=zone,
        crew_id=crew_id,
        crew_kind=crew_kind,
        received_at=received_at,
        due_date=due_date,
        status=status,
        arrived_at=arrived_at,
        completed_at=completed_at,
        window_end=window_end,
        callback_of=callback_of,
        followed_up=bool(followed_up),
        region=region,
        deadline=_explicit_deadline(deadline),
        assisting=bool(assists),  # the record's `assists` (a job id), absent or null if none
    )


def _explicit_deadline(value: Any) -> datetime | None:
    """The record's `deadline` (ISO text, or None when the policy derives it)."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def job_facts(
    session: Session,
    period: tuple[date, date],
    *,
    zone: str | None = None,
    crew_id: str | None = None,
    crew_kind: str | None = None,
    regions: Collection[str] | None = None,
) -> list[JobFact]:
    """Jobs due, received or completed in the period, matching the filters (and of one of
    `regions` when given)."""
    first, after = day_bounds(period)
    query = _job_query().where(
        or_(
            JobRow.due_date.between(*period),
            and_(JobRow.received_at >= first, JobRow.received_at < after),
            and_(JobRow.completed_at >= first, JobRow.completed_at < after),
        )
    )
    if zone is not None:
        query = query.where(JobRow.zone == zone)
    if crew_id is not None:
        query = query.where(JobRow.crew_id == crew_id)
    if crew_kind is not None:
        query = query.where(CrewRow.kind == crew_kind)
    if regions is not None:
        query = query.where(JobRow.region.in_(sorted(regions)))
    facts = [_fact(r) for r in session.execute(query.order_by(JobRow.id))]
    return filter_rows(facts, zone=zone, crew_id=crew_id, crew_kind=crew_kind)


def callback_facts(
    session: Session, period: tuple[date, date], *, regions: Collection[str] | None = None
) -> list[JobFact]:
    """Every callback job of a job completed in the period, not filtered by zone, crew or
    kind (see module doc). With `regions`, only the callbacks of original jobs of those
    regions: the original job's region decides, never the callback's own."""
    first, after = day_bounds(period)
    originals = select(JobRow.id).where(
        JobRow.status == "completed", JobRow.completed_at >= first, JobRow.completed_at < after
    )
    if regions is not None:
        originals = originals.where(JobRow.region.in_(sorted(regions)))
    query = _job_query().where(JobRow.callback_of.in_(originals)).order_by(JobRow.id)
    return [_fact(r) for r in session.execute(query)]


def route_facts(
    session: Session,
    period: tuple[date, date],
    *,
    crew_id: str | None = None,
    regions: Collection[str] | None = None,
) -> list[RouteFact]:
    """One fact per crew route of the published plans of the period's days (of the plans of
    `regions` when given)."""
    crews = {c.id: c for c in session.scalars(select(CrewRow))}
    overrides = {
        (d.crew_id, d.day): d
        for d in session.scalars(
            select(CrewDayRow).where(
                CrewDayRow.day.between(*period), CrewDayRow.status == "available"
            )
        )
    }
    query = (
        select(PlanRow.day, PlanRow.result["routes"], PlanRow.result[("problem", "crews")])
        .where(PlanRow.status == "published", PlanRow.day.between(*period))
        .order_by(PlanRow.day, PlanRow.region)
        .execution_options(yield_per=16)
    )
    if regions is not None:
        query = query.where(PlanRow.region.in_(sorted(regions)))
    facts: list[RouteFact] = []
    for day, routes, planned_crews in session.execute(query):
        shifts = {c["id"]: (c.get("shift_start"), c.get("shift_end")) for c in planned_crews or []}
        for route in routes or []:
            cid = route["crew_id"]
            if crew_id is not None and cid != crew_id:
                continue
            crew = crews.get(cid)
            record = crew.record if crew is not None else {}
            shift = shifts.get(cid) or _stored_shift(record, overrides.get((cid, day)))
            facts.append(
                RouteFact(
                    crew_id=cid,
                    crew_kind=crew.kind if crew is not None else str(record.get("kind", "")),
                    zone=crew.home_zone if crew is not None else None,
                    day=day,
                    shift_minutes=_minutes_between(*shift),
                    busy_minutes=busy_minutes(route),
                )
            )
    return facts


def _stored_shift(record: dict[str, Any], override: CrewDayRow | None) -> tuple[Any, Any]:
    start, end = record.get("shift_start"), record.get("shift_end")
    if override is not None:
        start = override.shift_start or start
        end = override.shift_end or end
    return start, end


def _minutes_between(start: Any, end: Any) -> float:
    """Minutes from one HH:MM to another (a shift past midnight wraps); 0 if unknown."""
    if not start or not end:
        return 0.0
    a, b = parse_clock(start), parse_clock(end)
    minutes = (b.hour * 60 + b.minute + b.second / 60) - (a.hour * 60 + a.minute + a.second / 60)
    return minutes if minutes > 0 else minutes + 24 * 60


def busy_minutes(route: dict[str, Any]) -> float:
    """A route's working minutes: driving plus each stop's service time (start to end)."""
    service = sum(
        (datetime.fromisoformat(s["end"]) - datetime.fromisoformat(s["start"])).total_seconds()
        for s in route.get("stops") or []
    )
    return (float(route.get("drive_s") or 0) + service) / 60
