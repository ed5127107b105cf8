"""Crews: create, list, read, replace, retire; and day availability (off sick, a changed
shift, a temporary crew booked for a day).

A dispatcher bound to regions lists only their crews and gets 403 reading, changing or
creating a crew of another region (or moving one into it)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.http.pages import Page, PageParams, page_params, paginate
from api.principals import ANY_OFFICE, OFFICE, Principal, check_region
from api.services.errors import Conflict
from api.storage.models import CrewDayRow, CrewRow, DepotRow
from api.storage.store import new_crew_row
from api.storage.types import Day, Ident, LongText, within
from dispatch.errors import InputError
from dispatch.files.records import crew_from_dict, crew_to_dict
from dispatch.models import CrewKind, JobKind
from dispatch.record_rules import CREW_BOUNDS, CREW_DEFAULTS, MAX_CREW_SKILLS

router = APIRouter(prefix="/crews", tags=["crews"])

CLOCK = r"^([01]\d|2[0-3]):[0-5]\d$"
GOODS = "required for delivery_truck and combined crews (they carry goods); 0 for the others"


class CertificationIn(BaseModel):
    """A score on the 100-point certification scale for one kind of job, valid up to and
    including `expires` (none: no end)."""

    model_config = ConfigDict(extra="forbid")
    kind: JobKind
    score: int = Field(ge=0, le=100)
    expires: Day | None = None


class CrewIn(BaseModel):
    """A crew; field meanings as in docs/data-formats.md (crews columns)."""

    model_config = ConfigDict(extra="forbid")
    id: Ident
    kind: CrewKind
    people: int | None = within(CREW_BOUNDS["people"], None, description="default by kind")
    skills: list[Ident] = Field(default_factory=list, max_length=MAX_CREW_SKILLS)
    start_depot: Ident
    end_depot: Ident | None = None
    shift_start: str = Field("08:00", pattern=CLOCK)
    shift_end: str = Field("18:00", pattern=CLOCK)
    capacity_volume_l: float | None = within(
        CREW_BOUNDS["capacity_volume_l"], None, description=GOODS
    )
    capacity_weight_kg: float | None = within(
        CREW_BOUNDS["capacity_weight_kg"], None, description=GOODS
    )
    lunch_start: str | None = Field(None, pattern=CLOCK)
    lunch_end: str | None = Field(None, pattern=CLOCK)
    lunch_minutes: int | None = within(CREW_BOUNDS["lunch_minutes"], None)
    max_jobs: int | None = within(CREW_BOUNDS["max_jobs"], None)
    cost_per_hour: float = within(CREW_BOUNDS["cost_per_hour"], CREW_DEFAULTS["cost_per_hour"])
    cost_per_km: float = within(CREW_BOUNDS["cost_per_km"], CREW_DEFAULTS["cost_per_km"])
    home_zone: Ident | None = None
    certifications: list[CertificationIn] = Field(
        default_factory=list,
        max_length=len(JobKind),
        description="one score per job kind at most; a plan's `certification` rule reads them",
    )
    region: Ident = "urban"
    temporary: bool = Field(False, description="works only on days it is booked (available)")


class CrewUpdate(CrewIn):
    version: int = Field(ge=1)


class CrewOut(BaseModel):
    id: str
    kind: str
    region: str
    home_zone: str | None
    temporary: bool
    active: bool
    version: int
    record: dict[str, Any]


class DayStatus(StrEnum):
    AVAILABLE = "available"
    OFF = "off"
    SICK = "sick"


class CrewDayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: DayStatus
    shift_start: str | None = Field(None, pattern=CLOCK)
    shift_end: str | None = Field(None, pattern=CLOCK)
    note: LongText | None = None


class CrewDayOut(BaseModel):
    crew_id: str
    day: date
    status: str
    shift_start: str | None
    shift_end: str | None
    note: str | None


def crew_out(row: CrewRow) -> CrewOut:
    return CrewOut(
        id=row.id,
        kind=row.kind,
        region=row.region,
        home_zone=row.home_zone,
        temporary=row.temporary,
        active=row.active,
        version=row.version,
        record=row.record,
    )


def _checked_record(body: CrewIn, session: Session) -> dict[str, Any]:
    raw = body.model_dump(exclude={"region", "temporary", "version"})
    raw["kind"] = body.kind.value
    raw["certifications"] = [
        {
            "kind": c.kind.value,
            "score": c.score,
            "expires": c.expires.isoformat() if c.expires else None,
        }
        for c in body.certifications
    ]
    crew = crew_from_dict(raw, "request body")
    for name in ("start_depot", "end_depot"):
        depot = getattr(crew, name)
        if session.get(DepotRow, depot) is None:
            raise InputError(f"crew {crew.id!r}", name, f"unknown depot {depot!r}")
    return crew_to_dict(crew)


def get_crew(session: Session, crew_id: str, principal: Principal) -> CrewRow:
    """The crew row; 404 if there is none, 403 if `principal` is a dispatcher bound to
    other regions."""
    row = session.get(CrewRow, crew_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"crew {crew_id!r} not found")
    check_region(principal, row.region)
    return row


@router.post("", status_code=201, response_model=CrewOut, summary="Create a crew")
def create_crew(
    body: CrewIn,
    *,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
) -> CrewOut:
    check_region(principal, body.region)
    record = _checked_record(body, session)
    if session.get(CrewRow, body.id) is not None:
        raise Conflict(f"crew {body.id!r} already exists", field="id")
    crew = crew_from_dict(record)
    row = new_crew_row(crew, ctx.settings.now(), temporary=body.temporary, region=body.region)
    session.add(row)
    session.commit()
    return crew_out(row)


@router.get("", response_model=Page[CrewOut], summary="List crews")
def list_crews(
    *,
    kind: CrewKind | None = None,
    region: str | None = Query(None, max_length=32),
    home_zone: str | None = Query(None, max_length=64),
    active: bool | None = None,
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
) -> Page[CrewOut]:
    """By id; a region-bound dispatcher sees his regions' crews only."""
    query = select(CrewRow).order_by(CrewRow.id)
    if principal.regions is not None:
        query = query.where(CrewRow.region.in_(sorted(principal.regions)))
    if kind is not None:
        query = query.where(CrewRow.kind == kind.value)
    if region is not None:
        query = query.where(CrewRow.region == region)
    if home_zone is not None:
        query = query.where(CrewRow.home_zone == home_zone)
    if active is not None:
        query = query.where(CrewRow.active.is_(active))
    rows, total = paginate(session, query, page)
    return Page[CrewOut](
        items=[crew_out(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/{crew_id}", response_model=CrewOut, summary="Read a crew")
def read_crew(
    crew_id: str,
    *,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
) -> CrewOut:
    return crew_out(get_crew(session, crew_id, principal))


@router.put(
    "/{crew_id}",
    response_model=CrewOut,
    summary="Replace a crew (with its version)",
    description="409 when `version` is not the stored one. A request that changes nothing "
    "writes nothing (the version stays) and answers the crew as stored now, its version "
    "checked against a fresh read.",
)
def replace_crew(
    crew_id: str,
    body: CrewUpdate,
    *,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
) -> CrewOut:
    row = get_crew(session, crew_id, principal)
    check_region(principal, body.region)  # nor move a crew into a region not his
    if body.id != crew_id:
        raise InputError("request body", "id", f"{body.id!r} does not match the URL {crew_id!r}")
    _check_version(row, body.version)
    values = {
        "record": _checked_record(body, session),
        "kind": body.kind.value,
        "home_zone": body.home_zone,
        "region": body.region,
        "temporary": body.temporary,
    }
    if all(getattr(row, name) == value for name, value in values.items()):
        # nothing changes, so nothing is written: read the row again and check the version
        # against that, so a change that committed meanwhile is a 409, never a stale answer
        session.refresh(row)
        _check_version(row, body.version)
        return crew_out(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = ctx.settings.now()
    session.commit()
    return crew_out(row)


def _check_version(row: CrewRow, version: int) -> None:
    if row.version != version:
        raise Conflict(
            f"crew {row.id!r} is at version {row.version}, not {version}: reload it",
            field="version",
        )


@router.delete(
    "/{crew_id}", status_code=204, summary="Retire a crew (kept for history, never planned)"
)
def retire_crew(
    crew_id: str,
    *,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
) -> Response:
    row = get_crew(session, crew_id, principal)
    row.active = False
    row.updated_at = ctx.settings.now()
    session.commit()
    return Response(status_code=204)


@router.put(
    "/{crew_id}/days/{day}",
    response_model=CrewDayOut,
    summary="Set a crew's availability on a day (off, sick, changed shift, booked temp crew)",
)
def set_day(
    crew_id: str,
    day: Day,
    body: CrewDayIn,
    *,
    principal: Principal = Depends(require(*OFFICE)),
    session: SessionDep,
) -> CrewDayOut:
    get_crew(session, crew_id, principal)
    if (body.shift_start is None) != (body.shift_end is None):
        raise InputError("request body", "shift_end", "give both shift_start and shift_end")
    if body.shift_start and body.shift_end and body.shift_end <= body.shift_start:
        raise InputError("request body", "shift_end", "must be after shift_start")
    row = session.scalar(
        select(CrewDayRow).where(CrewDayRow.crew_id == crew_id, CrewDayRow.day == day)
    )
    if row is None:
        row = CrewDayRow(crew_id=crew_id, day=day)
        session.add(row)
    row.status = body.status.value
    row.shift_start, row.shift_end, row.note = body.shift_start, body.shift_end, body.note
    session.commit()
    return _day_out(row)


@router.get(
    "/{crew_id}/days",
    response_model=Page[CrewDayOut],
    summary="A crew's day entries, by day (paginated)",
)
def list_days(
    crew_id: str,
    *,
    start: Day | None = Query(None, alias="from"),
    end: Day | None = Query(None, alias="to"),
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
) -> Page[CrewDayOut]:
    """By day (one entry per crew and day), then id."""
    get_crew(session, crew_id, principal)
    query = (
        select(CrewDayRow)
        .where(CrewDayRow.crew_id == crew_id)
        .order_by(CrewDayRow.day, CrewDayRow.id)
    )
    if start is not None:
        query = query.where(CrewDayRow.day >= start)
    if end is not None:
        query = query.where(CrewDayRow.day <= end)
    rows, total = paginate(session, query, page)
    return Page[CrewDayOut](
        items=[_day_out(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


def _day_out(row: CrewDayRow) -> CrewDayOut:
    return CrewDayOut(
        crew_id=row.crew_id,
        day=row.day,
        status=row.status,
        shift_start=row.shift_start,
        shift_end=row.shift_end,
        note=row.note,
    )
