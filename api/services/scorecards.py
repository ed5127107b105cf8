"""From database rows to crew scorecards (`dispatch.metrics.scorecard`): what the routers
answer for `GET /crews/{crew_id}/scorecard`, `GET /scorecards` and the own vs temporary
summary of `GET /metrics/service`.

`dispatch.metrics.scorecard` is pure and defines every figure (docs/service-metrics.md, "Crew
scorecards"); this module only reads what it needs, and follows its contract:

- **crews**: id, kind, region, the `temporary` flag and `active`, never the crew's record.
  A list shows the active crews of the regions asked for, and a retired crew only when it
  has jobs received or completed in the period (its figures are still history).
- **jobs**: `metrics_facts.job_facts` of the period (the same `JobFact` rows the service
  metrics count), each with its `visit`, its `priority` and the customer's `rating` on the
  `completed` report of that visit (the visit that completed it; a job has at most one per
  visit). A job counts for the crew of its own row.
- **callbacks**: `metrics_facts.callback_facts` of the period, unrestricted by region or
  crew: a callback counts against the original job's crew, wherever and by whomever the
  repeat visit was made.

A region-bound dispatcher sees only his regions' crews: the crew's region decides (every job
of a crew counts on its card, whatever the job's own region). Only ids, kinds, dates,
statuses, visits, priorities and ratings are read: no job record, no customer, so no personal
data can reach an answer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from api.services.metrics_facts import Facts, callback_facts, day_bounds, job_facts
from api.storage.complaint_models import ComplaintRow
from api.storage.models import CrewRow, JobEventRow, JobRow
from dispatch.metrics.scorecard import (
    CrewFact,
    Group,
    Period,
    QualityFact,
    SortKey,
    answer_context,
    own_temporary_summary,
    scorecard,
    scorecards,
)
from dispatch.metrics.service_metrics import JobFact


def crew_facts(
    session: Session, *, crew_id: str | None = None, regions: Collection[str] | None = None
) -> list[CrewFact]:
    """The crews (one, or those of `regions`; None: every region), by id."""
    query = select(
        CrewRow.id, CrewRow.kind, CrewRow.region, CrewRow.temporary, CrewRow.active
    ).order_by(CrewRow.id)
    if crew_id is not None:
        query = query.where(CrewRow.id == crew_id)
    if regions is not None:
        query = query.where(CrewRow.region.in_(sorted(regions)))
    return [
        CrewFact(crew_id=i, kind=k, region=r, temporary=bool(t), active=bool(a))
        for i, k, r, t, a in session.execute(query)
    ]


def _extras(
    session: Session, period: Period, crew_id: str | None
) -> dict[str, tuple[int, str, str | None]]:
    """Job id -> (visit, priority, rating) of the jobs with a crew received or completed in
    the period. The rating is the one on the `completed` report of the job's current visit."""
    first, after = day_bounds(period)
    rating = (
        select(JobEventRow.rating)
        .where(
            JobEventRow.job_id == JobRow.id,
            JobEventRow.visit == JobRow.visit,
            JobEventRow.type == "completed",
        )
        .order_by(JobEventRow.id.desc())
        .limit(1)
        .correlate(JobRow)
        .scalar_subquery()
    )
    query = select(JobRow.id, JobRow.visit, JobRow.priority, rating).where(
        JobRow.crew_id.is_not(None),
        or_(
            and_(JobRow.received_at >= first, JobRow.received_at < after),
            and_(JobRow.completed_at >= first, JobRow.completed_at < after),
        ),
    )
    if crew_id is not None:
        query = query.where(JobRow.crew_id == crew_id)
    return {i: (v or 1, p, r) for i, v, p, r in session.execute(query)}


def with_quality(
    session: Session, jobs: Sequence[JobFact], period: Period, *, crew_id: str | None = None
) -> list[QualityFact]:
    """`jobs` (the period's `JobFact`s) with their visit, priority and rating; jobs without a
    crew are left out (no card counts them)."""
    extras = _extras(session, period, crew_id)
    out = []
    for job in jobs:
        if job.crew_id is None:
            continue
        visit, priority, rating = extras.get(job.job_id, (1, "normal", None))
        out.append(QualityFact(job=job, visit=visit, priority=priority, rating=rating))
    return out


def quality_facts(
    session: Session, period: Period, *, crew_id: str | None = None
) -> tuple[list[QualityFact], list[JobFact]]:
    """The jobs a scorecard counts (of one crew, or of all) and every callback of a job
    completed in the period (unrestricted: the callback rule)."""
    jobs = job_facts(session, period, crew_id=crew_id)
    return with_quality(session, jobs, period, crew_id=crew_id), callback_facts(session, period)


def complaint_days(
    session: Session, period: Period, crew_id: str | None = None
) -> dict[str, list[date]]:
    """Per crew, the days the complaints about it were received in `period`
    (`api.storage.complaint_models`; only their day and crew are read, never their text)."""
    first, last = period
    query = select(ComplaintRow.crew_id, ComplaintRow.received_at).where(
        ComplaintRow.crew_id.is_not(None),
        ComplaintRow.received_at >= datetime.combine(first, time(0)),
        ComplaintRow.received_at < datetime.combine(last + timedelta(days=1), time(0)),
    )
    if crew_id is not None:
        query = query.where(ComplaintRow.crew_id == crew_id)
    out: dict[str, list[date]] = {}
    for crew, received in session.execute(query):
        out.setdefault(crew, []).append(received.date())
    return out


def crew_fact(session: Session, crew_id: str) -> CrewFact | None:
    """The crew (None: no such crew), for the caller's region check and its card."""
    crews = crew_facts(session, crew_id=crew_id)
    return crews[0] if crews else None


def crew_scorecard(session: Session, crew: CrewFact, period: Period) -> dict[str, Any]:
    """One crew's scorecard with its weekly figures, in an answer with the period, the clocks'
    labels and the target."""
    jobs, callbacks = quality_facts(session, period, crew_id=crew.crew_id)
    complaints = complaint_days(session, period, crew.crew_id)
    card = scorecard(crew, jobs, callbacks, period, weeks=True, complaints=complaints)
    return answer_context(period) | card


def list_scorecards(
    session: Session,
    period: Period,
    *,
    regions: Collection[str] | None,
    group: Group,
    sort: SortKey,
    descending: bool,
    weeks: bool,
) -> dict[str, Any]:
    """The cards of the crews of `regions` (None: all), grouped and sorted, with the period,
    the clocks' labels and the target (module doc: which crews are listed)."""
    jobs, callbacks = quality_facts(session, period)
    first, last = period
    worked = {
        q.job.crew_id
        for q in jobs
        if first <= q.job.received_at.date() <= last
        or (q.job.completed_at is not None and first <= q.job.completed_at.date() <= last)
    }
    crews = [c for c in crew_facts(session, regions=regions) if c.active or c.crew_id in worked]
    items = scorecards(
        crews,
        jobs,
        callbacks,
        period,
        group=group,
        sort=sort,
        descending=descending,
        weeks=weeks,
        complaints=complaint_days(session, period),
    )
    return answer_context(period) | {
        "group": group.value,
        "sort": sort.value,
        "order": "desc" if descending else "asc",
        "items": items,
    }


def own_temporary_of(session: Session, facts: Facts, period: tuple[date, date]) -> dict[str, Any]:
    """The service metrics' own vs temporary summary of the facts they counted (same
    filters): `dispatch.metrics.scorecard.own_temporary_summary`."""
    flags = {i: bool(t) for i, t in session.execute(select(CrewRow.id, CrewRow.temporary))}
    jobs = with_quality(session, facts.jobs, period)
    return own_temporary_summary(jobs, facts.callbacks, period, flags)
