"""Load the embedded Shanghai demo city into a database: depots, zones, crews and a day of jobs.

`dispatch seed --fixture shanghai [--date D] [--jobs N] [--seed S]` runs it. Seeding is
idempotent for the city (depots, zones and crews are inserted or replaced by id) and adds the
day's jobs that are not there yet, so running it twice loses and duplicates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.models import CrewRow, JobRow, ZoneRow
from api.store import new_crew_row, new_depot_row, new_job_row
from fixtures.shanghai import demo_problem


@dataclass(frozen=True)
class SeedResult:
    day: date
    depots: int
    zones: int
    crews: int
    jobs_added: int
    jobs_present: int


def seed_demo(
    sessions: sessionmaker[Session],
    now: datetime,
    day: date | None = None,
    jobs: int | None = None,
    seed: int = 0,
    peak: bool = False,
) -> SeedResult:
    problem = demo_problem(day=day, jobs=jobs, seed=seed, peak=peak)
    with sessions() as session, session.begin():
        for depot in problem.depots:
            session.merge(new_depot_row(depot))
        for zone in problem.zones:
            feature = zone.to_geojson()
            session.merge(
                ZoneRow(id=zone.id, name=zone.name, region="urban", geometry=feature["geometry"])
            )
        existing_crews = set(session.scalars(select(CrewRow.id)))
        for crew in problem.crews:
            if crew.id not in existing_crews:
                # the demo's temporary (TMP) crews are hired for the whole season, so they
                # are stored as regular crews: no per-day booking needed to plan them
                session.add(new_crew_row(crew, now, temporary=False, region="urban"))
        ids = [j.id for j in problem.jobs]
        present = set(session.scalars(select(JobRow.id).where(JobRow.id.in_(ids))))
        added = [new_job_row(j, now) for j in problem.jobs if j.id not in present]
        session.add_all(added)
        depots = len(problem.depots)
    return SeedResult(
        problem.date, depots, len(problem.zones), len(problem.crews), len(added), len(present)
    )
