"""Jobs: create one, bulk-import a CSV/JSON file (all or nothing), list with filters, read,
change the window or priority, cancel, and put a failed visit back for planning.

A dispatcher bound to regions lists only their jobs and gets 403 reading, changing or
creating (importing) a job of another region."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, HTTPException, Query, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.context import AppContext
from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.http.pages import Page, PageParams, page_params, paginate
from api.principals import ANY_OFFICE, OFFICE, Principal, check_region
from api.services.audit import record_audit
from api.services.errors import Conflict
from api.services.job_rows import get_job, job_out, lock_days
from api.services.job_schemas import JobOut, WindowIn
from api.services.outbox import set_job_status
from api.storage.models import JobRow
from api.storage.store import load_zones, new_job_row, update_job_record, with_zones
from api.storage.types import Day, Ident, Lat, Lon, LongText, Moment, Text, within
from dispatch.errors import InputError, InputErrors
from dispatch.files.coords import CoordSystem, records_to_wgs84
from dispatch.files.importers import read_jobs
from dispatch.files.records import job_from_dict, job_to_dict
from dispatch.models import Job, JobKind, Priority, ProductCategory
from dispatch.record_rules import JOB_BOUNDS, JOB_DEFAULTS, MAX_JOB_SKILLS, MAX_WINDOWS

router = APIRouter(prefix="/jobs", tags=["jobs"])

#: statuses a dispatcher may cancel from: nothing has happened at the customer's yet (a crew
#: on its way included, whatever its phone's clock said). A visit the crew reported arrived or
#: started is closed by reporting it completed or failed on the crew's behalf, which the office
#: can always do (`dispatch.running.lifecycle`: a re-plan cannot take a started visit as
#: cancelled); a failed one by rescheduling it.
CANCELLABLE = ("open", "assigned", "en_route")


class JobIn(BaseModel):
    """A new job. Field meanings as in docs/data-formats.md (the CSV/JSON import columns)."""

    model_config = ConfigDict(extra="forbid")

    id: Ident
    kind: JobKind
    order_id: Ident | None = None
    confirmed_at: Moment | None = Field(None, description="order time; default: now")
    lon: Lon
    lat: Lat
    windows: list[WindowIn] = Field(min_length=1, max_length=MAX_WINDOWS)
    category: ProductCategory = ProductCategory(JOB_DEFAULTS["category"])
    quantity: int = within(JOB_BOUNDS["quantity"], JOB_DEFAULTS["quantity"])
    volume_l: float = within(JOB_BOUNDS["volume_l"], JOB_DEFAULTS["volume_l"])
    weight_kg: float = within(JOB_BOUNDS["weight_kg"], JOB_DEFAULTS["weight_kg"])
    floor: int = within(JOB_BOUNDS["floor"], JOB_DEFAULTS["floor"])
    has_lift: bool = bool(JOB_DEFAULTS["has_lift"])
    service_minutes: int | None = within(JOB_BOUNDS["service_minutes"], None)
    skills: list[Ident] = Field(default_factory=list, max_length=MAX_JOB_SKILLS)
    people: int = within(JOB_BOUNDS["people"], JOB_DEFAULTS["people"])
    priority: Priority = Priority(JOB_DEFAULTS["priority"])
    region: Ident = str(JOB_DEFAULTS["region"])
    zone: Ident | None = None
    deadline: Moment | None = None
    min_certification: int | None = within(
        JOB_BOUNDS["min_certification"],
        None,
        description="the least certification score (0-100) for its kind the crew must hold; "
        "default: the service's rule for its kind (FIELDROUTE_CERTIFICATION), if any",
    )
    assists: Ident | None = Field(
        None,
        description="the id of the job this one assists (协助): a second crew at the same visit, "
        "starting with the first crew (within the plan setting `assist_tolerance_minutes`, "
        "default 15); the pair is planned on two crews or not at all. The job must exist, in "
        "the same region, and assist no other itself (422 naming `assists` otherwise)",
    )
    fault: Text | None = Field(None, description="fault code of a repair (for callbacks)")
    address: Text = ""
    customer_name: Text = ""
    customer_phone: Text = ""


class JobPatch(BaseModel):
    """Change a job's windows, priority or deadline. `version` must be the one you read."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)
    windows: list[WindowIn] | None = Field(None, min_length=1, max_length=MAX_WINDOWS)
    priority: Priority | None = None
    deadline: Moment | None = None


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: LongText = Field(min_length=1)


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    windows: list[WindowIn] = Field(min_length=1, max_length=MAX_WINDOWS)


class ImportResult(BaseModel):
    imported: int
    ids: list[str]


def job_record(body: JobIn, ctx: AppContext) -> dict[str, Any]:
    """The import-format record of a request body, times in the region's clock."""
    s = ctx.settings
    raw = body.model_dump(mode="python", exclude={"fault"})
    raw["confirmed_at"] = s.local(body.confirmed_at) if body.confirmed_at else s.now()
    raw["windows"] = [{"start": s.local(w.start), "end": s.local(w.end)} for w in body.windows]
    raw["deadline"] = s.local(body.deadline) if body.deadline else None
    for key in ("confirmed_at", "deadline"):
        if raw[key] is not None:
            raw[key] = raw[key].isoformat()
    raw["windows"] = [{k: v.isoformat() for k, v in w.items()} for w in raw["windows"]]
    raw["kind"] = body.kind.value
    raw["category"] = body.category.value
    raw["priority"] = body.priority.value
    return raw


def _check_assisted(session: Session, record: str, job: Job, batch: dict[str, Job]) -> None:
    """The job an assisting job names (`Job.assists`): in `batch` (the same import) or stored,
    in the job's own region (another region's is no job to this caller, and never planned
    with it), and itself no assisting job; an `InputError` on `assists` if not."""
    lead_id = job.assists
    if lead_id is None:
        return
    lead = batch.get(lead_id)
    if lead is not None:
        region, leads_other = lead.region, lead.assists
    else:
        row = session.get(JobRow, lead_id)
        region = row.region if row is not None else None
        leads_other = row.record.get("assists") if row is not None else None
    if region != job.region:
        raise InputError(record, "assists", f"no job {lead_id!r} in region {job.region!r}")
    if leads_other:
        raise InputError(
            record,
            "assists",
            f"job {lead_id!r} assists {leads_other!r} itself: name the job that leads the visit",
        )


def _check_assisted_jobs(session: Session, jobs: list[Job]) -> None:
    """`_check_assisted` for every assisting job of an import; all problems at once. A job
    may assist one that comes later in the same file."""
    batch = {j.id: j for j in jobs}
    errors = []
    for job in jobs:
        try:
            _check_assisted(session, f"job {job.id!r}", job, batch)
        except InputError as exc:
            errors.append(exc)
    if errors:
        raise InputErrors(errors)


COORDS = Query(
    CoordSystem.WGS84,
    description="the system lon/lat are given in: wgs84 (GPS, OpenStreetMap) or gcj02 "
    "(AMap/Gaode, Tencent maps in mainland China); stored as WGS84",
)


@router.post("", status_code=201, response_model=JobOut, summary="Create one job")
def create_job(
    body: JobIn,
    ctx: CtxDep,
    session: SessionDep,
    coords: CoordSystem = COORDS,
    principal: Principal = Depends(require(*OFFICE)),
) -> JobOut:
    check_region(principal, body.region)
    job = job_from_dict(job_record(body, ctx), "request body")
    (job,) = with_zones(records_to_wgs84([job], coords), load_zones(session))
    if session.get(JobRow, job.id) is not None:
        raise Conflict(f"job {job.id!r} already exists", field="id")
    _check_assisted(session, "request body", job, {})
    now = ctx.settings.now()
    lock_days(session, [(job.region, job.day)], now)  # a booking never oversells its day
    row = new_job_row(job, now, fault=body.fault)
    session.add(row)
    session.commit()
    return job_out(row, principal)


@router.post(
    "/import",
    status_code=201,
    response_model=ImportResult,
    summary="Import jobs from a CSV or JSON file (all or nothing)",
    description="Columns as in docs/data-formats.md. Every bad row is reported at once "
    "(422, one entry per row and field); nothing is stored unless every row is good.",
)
async def import_jobs(
    ctx: CtxDep,
    session: SessionDep,
    file: UploadFile = File(description="jobs.csv or jobs.json"),
    coords: CoordSystem = COORDS,
    principal: Principal = Depends(require(*OFFICE)),
) -> ImportResult:
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in (".csv", ".json"):
        raise InputError("upload", "file", "the file name must end in .csv or .json")
    data = await file.read()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"jobs{suffix}"
        path.write_bytes(data)
        jobs = read_jobs(path)
    limit = ctx.settings.max_import_rows
    if len(jobs) > limit:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"{len(jobs)} jobs in one import; the limit is {limit}: split the file",
        )
    for region in sorted({j.region for j in jobs}):
        check_region(principal, region)
    ids = [j.id for j in jobs]
    existing = set(session.scalars(select(JobRow.id).where(JobRow.id.in_(ids))))
    if existing:
        raise InputErrors(
            [InputError(f"job {i!r}", "id", "already exists") for i in ids if i in existing]
        )
    _check_assisted_jobs(session, jobs)
    jobs = with_zones(records_to_wgs84(jobs, coords), load_zones(session))
    now = ctx.settings.now()
    lock_days(session, {(j.region, j.day) for j in jobs}, now)  # as bookings do (quotes)
    session.add_all(new_job_row(j, now) for j in jobs)
    record_audit(
        session, principal, "jobs_imported", now, details={"count": len(jobs), "file": suffix}
    )
    session.commit()
    return ImportResult(imported=len(jobs), ids=ids)


@router.get("", response_model=Page[JobOut], summary="List jobs with filters")
def list_jobs(
    session: SessionDep,
    due_date: Day | None = Query(None, description="the day the job is planned for"),
    status_: str | None = Query(None, alias="status", max_length=20),
    zone: str | None = Query(None, max_length=64),
    kind: JobKind | None = None,
    region: str | None = Query(None, max_length=32),
    crew_id: str | None = Query(None, max_length=64),
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require(*ANY_OFFICE)),
) -> Page[JobOut]:
    """By due date and id; a region-bound dispatcher sees his regions' jobs only."""
    query = select(JobRow).order_by(JobRow.due_date, JobRow.id)
    if principal.regions is not None:
        query = query.where(JobRow.region.in_(sorted(principal.regions)))
    for column, value in (
        (JobRow.due_date, due_date),
        (JobRow.status, status_),
        (JobRow.zone, zone),
        (JobRow.kind, kind.value if kind else None),
        (JobRow.region, region),
        (JobRow.crew_id, crew_id),
    ):
        if value is not None:
            query = query.where(column == value)
    rows, total = paginate(session, query, page)
    return Page[JobOut](
        items=[job_out(r, principal) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{job_id}", response_model=JobOut, summary="Read one job")
def read_job(
    job_id: str,
    session: SessionDep,
    principal: Principal = Depends(require(*ANY_OFFICE)),
) -> JobOut:
    return job_out(get_job(session, job_id, principal), principal)


def _check_version(row: JobRow, version: int) -> None:
    if row.version != version:
        raise Conflict(
            f"job {row.id!r} is at version {row.version}, not {version}: reload it",
            field="version",
        )


@router.patch(
    "/{job_id}",
    response_model=JobOut,
    summary="Change windows, priority or deadline",
    description="409 when `version` is not the stored one or the job is no longer open. A "
    "request that changes nothing writes nothing (the version stays) and answers the job as "
    "stored now, its version checked against a fresh read.",
)
def update_job(
    job_id: str,
    body: JobPatch,
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(*OFFICE)),
) -> JobOut:
    row = get_job(session, job_id, principal)
    _check_version(row, body.version)
    if row.status != "open":
        raise Conflict(
            f"job {job_id!r} is {row.status}: only open jobs can be changed; a job on a "
            "published plan is changed by re-planning or a plan override",
            field="status",
        )
    record = dict(row.record)
    s = ctx.settings
    if body.windows is not None:
        record["windows"] = [
            {"start": s.local(w.start).isoformat(), "end": s.local(w.end).isoformat()}
            for w in body.windows
        ]
    if body.priority is not None:
        record["priority"] = body.priority.value
    if body.deadline is not None:
        record["deadline"] = s.local(body.deadline).isoformat()
    job = job_from_dict(record, "request body")
    if job_to_dict(job) == row.record:
        # nothing changes, so nothing is written; the version was checked against the row as
        # read before, and a change may have committed since: read it again, so the answer is
        # never a stale version (a change that raced in makes the caller's version stale: 409)
        session.refresh(row)
        _check_version(row, body.version)
        return job_out(row, principal)
    update_job_record(row, job, s.now())
    session.commit()
    return job_out(row, principal)


@router.post(
    "/{job_id}/cancel",
    response_model=JobOut,
    summary="Cancel a job",
    description="Open, assigned or en route (the crew on its way), whatever its phone reported; "
    "409 otherwise: a visit reported arrived or started is closed by posting `completed` or "
    "`failed` on the crew's behalf (always accepted from the office), a failed one is "
    "rescheduled. The job drops off its crew's route and takes no more events.",
)
def cancel_job(
    job_id: str,
    body: CancelIn,
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(*OFFICE)),
) -> JobOut:
    row = get_job(session, job_id, principal)
    if row.status not in CANCELLABLE:
        raise Conflict(
            f"job {job_id!r} is {row.status}: only jobs not yet reached (open, assigned, "
            "en route) can be cancelled; report a started visit completed or failed instead",
            field="status",
        )
    now = ctx.settings.now()
    row.cancel_reason = body.reason
    set_job_status(session, row, "cancelled", now)
    record_audit(session, principal, "job_cancelled", now, job_id=job_id, plan_id=row.plan_id)
    session.commit()
    ctx.wake("webhooks")
    return job_out(row, principal)


@router.post(
    "/{job_id}/reschedule",
    response_model=JobOut,
    summary="Put a failed visit back for planning with new windows (starts a new visit)",
)
def reschedule_job(
    job_id: str,
    body: RescheduleIn,
    ctx: CtxDep,
    session: SessionDep,
    principal: Principal = Depends(require(*OFFICE)),
) -> JobOut:
    row = get_job(session, job_id, principal)
    if row.status != "failed":
        raise Conflict(f"job {job_id!r} is {row.status}: only failed visits are rescheduled")
    s = ctx.settings
    record = dict(row.record)
    record["windows"] = [
        {"start": s.local(w.start).isoformat(), "end": s.local(w.end).isoformat()}
        for w in body.windows
    ]
    job = job_from_dict(record, "request body")
    now = s.now()
    update_job_record(row, job, now)
    row.visit += 1
    row.crew_id = None
    row.plan_id = None
    row.arrived_at = None
    set_job_status(session, row, "open", now)
    session.commit()
    ctx.wake("webhooks")
    return job_out(row, principal)
