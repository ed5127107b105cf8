"""Between domain objects and rows: build rows from validated `Job`/`Crew`/`Depot` objects,
rebuild domain objects from rows, and shape rows for answers (personal data by role).

Domain validation stays in `dispatch` (the same rules as the file importers), so a job that
the API accepts is exactly one the planner accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.storage.models import CrewRow, DepotRow, JobRow, ZoneRow
from dispatch.files.records import (
    crew_from_dict,
    crew_to_dict,
    depot_from_dict,
    depot_to_dict,
    job_from_dict,
    job_to_dict,
)
from dispatch.models import Crew, Depot, Job
from dispatch.privacy import PERSONAL_FIELDS, coarse_job_fields
from dispatch.zones import Zone, locate


def load_zones(session: Session, region: str | None = None) -> list[Zone]:
    query = select(ZoneRow).order_by(ZoneRow.id)
    if region is not None:
        query = query.where(ZoneRow.region == region)
    return [
        Zone.from_geojson({"geometry": z.geometry, "properties": {"id": z.id, "name": z.name}})
        for z in session.scalars(query)
    ]


def with_zones(jobs: Sequence[Job], zones: Sequence[Zone]) -> list[Job]:
    """Jobs without a zone get the zone their location falls in (if any)."""
    from dataclasses import replace

    todo = [k for k, j in enumerate(jobs) if j.zone is None]
    found = locate([jobs[k].location for k in todo], zones)
    out = list(jobs)
    for k, zone in zip(todo, found, strict=True):
        if zone is not None:
            out[k] = replace(jobs[k], zone=zone)
    return out


def new_job_row(
    job: Job,
    now: datetime,
    *,
    fault: str | None = None,
    callback_of: str | None = None,
) -> JobRow:
    return JobRow(
        id=job.id,
        due_date=job.windows[0].start.date(),
        kind=job.kind.value,
        status="open",
        region=job.region,
        zone=job.zone,
        priority=job.priority.value,
        order_id=job.order_id,
        received_at=job.confirmed_at,
        record=job_to_dict(job),
        callback_of=callback_of,
        fault=fault,
        visit=1,
        created_at=now,
        updated_at=now,
    )


def job_of(row: JobRow) -> Job:
    return job_from_dict(row.record, f"stored job {row.id!r}")


def update_job_record(row: JobRow, job: Job, now: datetime) -> None:
    row.record = job_to_dict(job)
    row.due_date = job.windows[0].start.date()
    row.priority = job.priority.value
    row.zone = job.zone
    row.updated_at = now


def public_record(record: dict[str, Any], personal: bool) -> dict[str, Any]:
    """The job record as shown to a role: unless it may see personal data, the personal
    fields removed and the location coarsened, floor and lift left out
    (`dispatch.files.records.coarse_job_fields`)."""
    if personal:
        return dict(record)
    return coarse_job_fields({k: v for k, v in record.items() if k not in PERSONAL_FIELDS})


def new_crew_row(crew: Crew, now: datetime, *, temporary: bool, region: str) -> CrewRow:
    return CrewRow(
        id=crew.id,
        kind=crew.kind.value,
        home_zone=crew.home_zone,
        region=region,
        temporary=temporary,
        active=True,
        record=crew_to_dict(crew),
        created_at=now,
        updated_at=now,
    )


def crew_of(row: CrewRow) -> Crew:
    return crew_from_dict(row.record, f"stored crew {row.id!r}")


def new_depot_row(depot: Depot) -> DepotRow:
    return DepotRow(
        id=depot.id, kind=depot.kind.value, zone=depot.zone, record=depot_to_dict(depot)
    )


def depot_of(row: DepotRow) -> Depot:
    return depot_from_dict(row.record, f"stored depot {row.id!r}")
