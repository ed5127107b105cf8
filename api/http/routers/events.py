"""Job events: what a crew reports from the road (departed, arrived, started, completed,
failed), on a flaky mobile connection.

Every post carries an `Idempotency-Key` header (a UUID the phone makes once per tap and
reuses on every retry). Following the IETF idempotency-key draft
(draft-ietf-httpapi-idempotency-key-header):

- the same key with the same request (same job, same canonical JSON body) is a retry: it is
  answered `200` with the event recorded the first time and `Idempotent-Replay: true`, and
  nothing new is stored;
- the same key with a different request is a client bug: `422` (the draft's answer for a
  reused key), naming the key; nothing is stored;
- a missing or over-long key is refused like any bad request field (`422`, `loc` names the
  header), as the rest of the service does for request-shape errors.

A retry racing its original (the phone gave up waiting and sent it again) is answered the
same way, however the race falls: a post that does not find its key takes the job's row lock
(`_lock_job`) before it looks again, so the posts of one job run one after another and the
second look sees anything an earlier post committed. A retry is never a `409`.

The events of a visit are kept in **effective-time** order and the job's status is derived from
all of them (`dispatch.running.lifecycle`), so a late request that was recorded earlier on the phone
is slotted in; a new event that cannot join the visit's history is a `409` with the reason.
The phone's clock is kept as `device_time` and the server's as `received_at`; a device time
outside the believable window (from the day before the job's planned day up to five minutes
after it was received) is ordered by `received_at` instead and never makes another event
illegal (`effective_time`, `device_time_believed` in the answers). An offline phone's queued
events are never refused for their age. A completed or failed event that the office reports
on the crew's behalf is held to the stage rules only, so a dispatcher can always close a visit.
Each status change queues `job.status_changed` in the same transaction (`api.services.outbox`).

`GET /events/feed` is the dispatcher board's day-wide view: the events of a region's day
after a cursor (the last event id the board has), each with its job's current status, so
drivers' reports show on the board within one poll. The board polls every few seconds with
`If-None-Match`; while nothing new was reported the answer is a bodiless `304`. A
region-bound dispatcher reads and reports only on his regions' jobs (`api.http.auth`).
Known limit: the cursor is the event id, and on PostgreSQL an id is drawn at insert, before
the commit; two reports committing in the opposite order of their ids, within the same few
milliseconds, could let a poll move past the lower one. SQLite serialises writers, so there
it cannot happen.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from api.context import AppContext
from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.http.http_cache import etag_matches
from api.http.pages import Page, PageParams, page_params, paginate
from api.principals import ANY_OFFICE, Principal, Role, check_region
from api.services.errors import Conflict, Unprocessable
from api.services.event_notices import queue_event_notices
from api.services.job_rows import get_job
from api.services.outbox import set_job_status
from api.services.uploads import check_event_refs, check_job_reporter
from api.storage.models import JobEventRow, JobRow
from api.storage.types import Day, DeviceMoment, Lat, Lon, LongText, Text
from dispatch.errors import InputError
from dispatch.promises import default_policies
from dispatch.running.lifecycle import (
    EventStamp,
    EventType,
    FailureReason,
    IllegalTransition,
    Rating,
    ReceiptNote,
    check_event_fields,
    check_new_event,
    ordered,
    stamp,
    status_after,
)

router = APIRouter(prefix="/jobs", tags=["events"])
#: the day-wide feed the board polls (`GET /events/feed`)
feed_router = APIRouter(prefix="/events", tags=["events"])

#: who may report events: the job's own crew, and the office on its behalf
REPORTERS = (Role.DRIVER, Role.DISPATCHER, Role.ADMIN)
#: statuses that take no events: not on a published route yet, or called off
NOT_ON_ROUTE = ("open",)
#: how often a post that lost a race is tried again (the same key sent for two jobs at once:
#: posts of one job are serialised by its row lock and do not race)
ATTEMPTS = 3


class EventIn(BaseModel):
    """One report from the road. Times the phone recorded; an offset is converted to local."""

    model_config = ConfigDict(extra="forbid")
    type: EventType
    device_time: DeviceMoment = Field(
        description="when the phone recorded it (ISO 8601), by the phone's clock: never refused "
        "for being old or wrong (see `device_time_believed` in the answer)"
    )
    lon: Lon | None = None
    lat: Lat | None = None
    reason: FailureReason | None = Field(None, description="failed visits only (required)")
    note: LongText | None = None
    signature_ref: Text | None = Field(None, description="the id of its signature upload")
    photo_refs: list[Text] = Field(
        default_factory=list, max_length=50, description="the ids of its photo uploads"
    )
    receipt: ReceiptNote | None = Field(None, description="completed visits only")
    items_received: int | None = Field(None, ge=0, le=10_000, description="completed only")
    rating: Rating | None = Field(None, description="the customer's rating (completed only)")


class EventOut(BaseModel):
    id: int
    job_id: str
    visit: int
    crew_id: str
    type: str
    device_time: datetime = Field(description="the phone's clock when it recorded the event")
    received_at: datetime = Field(description="the server's clock when the report arrived")
    effective_time: datetime = Field(
        description="the time the event is ordered by: `device_time` when believed, else "
        "`received_at`"
    )
    device_time_believed: bool = Field(
        description="false when `device_time` lies outside the believable window (before the "
        "day before the job's planned day, or more than 5 minutes after `received_at`)"
    )
    lon: float | None
    lat: float | None
    reason: str | None
    note: str | None
    signature_ref: str | None
    photo_refs: list[str]
    receipt: str | None
    items_received: int | None
    rating: str | None


def event_out(row: JobEventRow, day: date, personal: bool = True) -> EventOut:
    """The event (of a job planned for `day`) as shown to a role: where it happened, notes,
    signature and photos (which may identify the customer) only for the crew and the roles
    that see personal data."""
    when = _stamp(row, day)
    return EventOut(
        id=row.id,
        job_id=row.job_id,
        visit=row.visit,
        crew_id=row.crew_id,
        type=row.type,
        device_time=row.device_time,
        received_at=row.received_at,
        effective_time=when.time,
        device_time_believed=when.believed,
        lon=row.lon if personal else None,
        lat=row.lat if personal else None,
        reason=row.reason,
        note=row.note if personal else None,
        signature_ref=row.signature_ref if personal else None,
        photo_refs=list(row.photo_refs or []) if personal else [],
        receipt=row.receipt,
        items_received=row.items_received,
        rating=row.rating,
    )


def payload_hash(job_id: str, body: EventIn) -> str:
    """SHA-256 of the job id and the canonical JSON of the request body (sorted keys)."""
    canonical = json.dumps(
        {"job_id": job_id, "body": body.model_dump(mode="json")},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(session: Session, key: str, digest: str) -> JobEventRow | None:
    """The event stored under `key` if this request is its retry; 422 if the key was used
    for a different request; None if the key is new."""
    row = session.scalar(select(JobEventRow).where(JobEventRow.idempotency_key == key))
    if row is None:
        return None
    if row.payload_hash != digest:
        raise Unprocessable(
            "the Idempotency-Key was already used for a different request",
            [f"key {key!r} belongs to an earlier event; a retry must repeat that request "
             "exactly, and a new event needs a new key"],
        )  # fmt: skip
    return row


def _visit_events(session: Session, job: JobRow) -> list[JobEventRow]:
    return list(
        session.scalars(
            select(JobEventRow).where(JobEventRow.job_id == job.id, JobEventRow.visit == job.visit)
        )
    )


def _stamp(row: JobEventRow, day: date) -> EventStamp:
    """A stored event's stamp under the clock rule, for a job planned for `day`."""
    return stamp(row.type, row.device_time, row.received_at, day, row.idempotency_key)


def _lock_job(session: Session, job: JobRow) -> None:
    """Hold the job's row lock until this transaction ends (a write that changes nothing:
    PostgreSQL locks the row, SQLite the database for writing), then read the job again.

    Every event post of a job takes it before its second look at the key and the visit's
    events, so posts of one job run one after the other and each sees what the previous
    committed: a retry racing its original waits for it and answers it as a replay.
    """
    session.execute(
        update(JobRow.__table__)
        .where(JobRow.__table__.c.id == job.id)
        .values(updated_at=JobRow.__table__.c.updated_at)
    )
    session.refresh(job)


def _record(
    session: Session,
    ctx: AppContext,
    job_id: str,
    body: EventIn,
    key: str,
    digest: str,
    principal: Principal,
) -> tuple[JobEventRow, bool, date]:
    """Store the event (or find the original of a retry) in one transaction, committed.

    Returns the event row, whether it is new, and the job's planned day.
    """
    job = get_job(session, job_id)
    check_job_reporter(principal, job)
    replay = _replay(session, key, digest)  # a retry of a committed post: no lock, no write
    if replay is not None:
        return replay, False, job.due_date
    check_event_fields(body.type, body.reason, body.rating, body.receipt)
    if body.items_received is not None and body.type is not EventType.COMPLETED:
        raise InputError(
            "event", "items_received", f"only a 'completed' event has it, not '{body.type}'"
        )
    check_event_refs(session, job.id, body.signature_ref, body.photo_refs)
    _lock_job(session, job)
    check_job_reporter(principal, job)  # the job may have moved to another crew meanwhile
    replay = _replay(session, key, digest)  # its original may have committed meanwhile
    if replay is not None:
        day = job.due_date
        session.rollback()  # let go of the lock: a replay stores nothing
        return replay, False, day
    if job.status in NOT_ON_ROUTE:
        raise Conflict(
            f"job {job_id!r} is not on a published route (status {job.status}): "
            "events are reported for planned jobs",
            status=job.status,
        )
    if job.status == "cancelled":
        raise Conflict(f"job {job_id!r} was cancelled: it takes no more events", status="cancelled")
    s = ctx.settings
    device_time = s.local(body.device_time)
    now = s.now()
    existing = [_stamp(e, job.due_date) for e in _visit_events(session, job)]
    new = stamp(body.type, device_time, now, job.due_date, key)
    try:
        check_new_event(existing, new, decision=principal.role is not Role.DRIVER)
    except IllegalTransition as exc:
        raise Conflict(exc.reason, job_status=job.status, visit=job.visit) from None

    row = JobEventRow(
        idempotency_key=key,
        payload_hash=digest,
        job_id=job.id,
        visit=job.visit,
        crew_id=job.crew_id or principal.crew_id or "",
        type=body.type.value,
        device_time=device_time,
        received_at=now,
        lon=body.lon,
        lat=body.lat,
        reason=body.reason.value if body.reason else None,
        note=body.note,
        signature_ref=body.signature_ref,
        photo_refs=list(body.photo_refs),
        receipt=body.receipt.value if body.receipt else None,
        items_received=body.items_received,
        rating=body.rating.value if body.rating else None,
    )
    session.add(row)
    history = ordered([*existing, new])
    reached = [e.time for e in history if e.type in (EventType.ARRIVED, EventType.STARTED)]
    done = [e.time for e in history if e.type is EventType.COMPLETED]
    job.arrived_at = reached[0] if reached else None
    job.completed_at = done[0] if done else None
    # always touch the job: its version check orders the post against other writers of the job
    job.updated_at = now
    flag_modified(job, "updated_at")
    set_job_status(
        session, job, status_after(history).value, now, event=body.type.value, plan_id=job.plan_id
    )
    # the customers' notices the report causes (on the way, done, a later stop running late)
    queue_event_notices(session, job, body.type, new.time, now, s)
    session.commit()
    return row, True, job.due_date


@router.post(
    "/{job_id}/events",
    status_code=201,
    response_model=EventOut,
    summary="Report a visit event from the road (idempotent with Idempotency-Key)",
    description="201 with the new event; 200 with the original event and "
    "`Idempotent-Replay: true` for a retry (same key, same request), also while the original "
    "is still being stored; 422 for a key reused with a different request, or for a "
    "`signature_ref` or `photo_refs` entry that is not the id of a signature or photo uploaded "
    "for this job (`POST /uploads`: upload first, then report); 409 when the job "
    "is not on a published route, cancelled, or the event cannot join the visit's history "
    "(the reason says why); 403 for a driver of another crew. A device time is never refused "
    "for being old or wrong: one outside the believable window (the day before the job's "
    "planned day to 5 minutes after receipt) is ordered by the receive time instead "
    "(`device_time_believed: false`).",
)
def post_event(
    job_id: str,
    body: EventIn,
    response: Response,
    ctx: CtxDep,
    session: SessionDep,
    idempotency_key: str = Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="a unique key per event (a UUID), repeated unchanged on retries",
    ),
    principal: Principal = Depends(require(*REPORTERS)),
) -> EventOut:
    digest = payload_hash(job_id, body)
    for attempt in range(ATTEMPTS):
        try:
            row, created, day = _record(
                session, ctx, job_id, body, idempotency_key, digest, principal
            )
            break
        except (IntegrityError, StaleDataError):
            # lost a race the job's lock does not cover: the same key posted for another job
            # at the same moment (the next look answers 422). Look again with fresh data.
            session.rollback()
            if attempt == ATTEMPTS - 1:
                raise
    if created:
        ctx.wake("webhooks")
        ctx.wake("notices")
    else:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replay"] = "true"
    return event_out(row, day)


#: an event's stage rank (`EventType.rank`) in SQL, for ordering a job's events
STAGE_RANK = case({t.value: t.rank for t in EventType}, value=JobEventRow.type, else_=0)


@router.get(
    "/{job_id}/events",
    response_model=Page[EventOut],
    summary="The events of a job, by visit, in stage order (their time order; paginated)",
)
def list_events(
    job_id: str,
    session: SessionDep,
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require(*ANY_OFFICE, Role.DRIVER)),
) -> Page[EventOut]:
    """By visit, then stage, then id. Stage order is, for a visit's believed reports, their
    time order (the lifecycle's rules), and a report whose clock was not believed takes its
    place by its stage; a stage appears at most once per visit (completed and failed exclude
    each other), so the id only makes the order total."""
    job = get_job(session, job_id)
    check_job_reporter(principal, job)
    query = (
        select(JobEventRow)
        .where(JobEventRow.job_id == job_id)
        .order_by(JobEventRow.visit, STAGE_RANK, JobEventRow.id)
    )
    rows, total = paginate(session, query, page)
    personal = principal.sees_personal_data or principal.role is Role.DRIVER
    return Page[EventOut](
        items=[event_out(r, job.due_date, personal) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


# ---- the day-wide feed for the dispatcher board

#: the largest event id a cursor may name (PostgreSQL INTEGER): larger is a 422, not a 500
MAX_CURSOR = 2**31 - 1


class FeedItem(EventOut):
    """An event as `GET /jobs/{id}/events` shows it to the caller's role, with its job's
    status now (the board recolours the stop without reading the job)."""

    job_status: str = Field(description="the job's current status (not as of this event)")


class FeedOut(BaseModel):
    items: list[FeedItem] = Field(description="events after the cursor, oldest (lowest id) first")
    cursor: int = Field(description="the last event id answered (`after` when none): send it next")
    more: bool = Field(description="true when `limit` cut the answer: ask again at once")


FEED_RESPONSES: dict[int | str, dict[str, object]] = {
    304: {"description": "Not modified: nothing new since the cursor the ETag stands for"},
    403: {"description": "A dispatcher bound to other regions"},
}


def feed_etag(day: date, region: str, cursor: int, personal: bool, more: bool) -> str:
    """The feed's validator (quoted, without `W/`): an answer is fully determined by what the
    board already has (everything of the day and region up to `cursor`), whether more is
    waiting, and whether the role sees personal fields. `after` is left out on purpose: the
    board sends the ETag of its last answer with the next poll (`after` = that cursor), and
    while nothing new arrived the answer's cursor is the same, so it is a 304.

    It is weak: `job_status` is read at answer time, and a status change without a new event
    (a cancellation, a reschedule) does not change the ETag: the feed carries reports from
    the road, not every change of a job.
    """
    return f'"feed:{day}:{region}:{cursor}:{int(personal)}:{int(more)}"'


@feed_router.get(
    "/feed",
    response_model=FeedOut,
    responses=FEED_RESPONSES,
    summary="The events of a region's day after a cursor, for the dispatcher board to poll",
    description="Events of the jobs due on `date` in `region` with id greater than `after`, "
    "in id order (the order they were received), each with the job's current status. "
    "Start with `after=0`; then send the answer's `cursor` as `after` and its `ETag` as "
    "`If-None-Match`: while nothing new was reported the answer is 304 with no body. "
    "`more` says `limit` cut the answer. Where it happened, notes, signature and photos "
    "only for the roles that see personal data. 422 naming the field for an unknown region; "
    "403 for a dispatcher bound to other regions.",
)
def event_feed(
    request: Request,
    response: Response,
    session: SessionDep,
    day: Day = Query(alias="date", description="the day the jobs are due"),
    region: str = Query(max_length=32, description="the region (see `dispatch.promises`)"),
    after: int = Query(0, ge=0, le=MAX_CURSOR, description="the last event id already seen"),
    limit: int = Query(500, ge=1, le=1000, description="at most this many events"),
    principal: Principal = Depends(require(*ANY_OFFICE)),
) -> FeedOut | Response:
    """One page of the feed, or 304. One query either way (events after the cursor, by primary
    key, joined to their jobs): the board polls every few seconds, and an unchanged poll finds
    no row past its cursor and is answered without a body."""
    regions = default_policies()
    if region not in regions:
        known = ", ".join(sorted(regions))
        raise InputError("query", "region", f"{region!r} is not one of: {known}")
    check_region(principal, region)
    rows = session.execute(
        select(JobEventRow, JobRow.status, JobRow.due_date)
        .join(JobRow, JobRow.id == JobEventRow.job_id)
        .where(JobRow.due_date == day, JobRow.region == region, JobEventRow.id > after)
        .order_by(JobEventRow.id)
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = rows[-1][0].id if rows else after
    personal = principal.sees_personal_data
    etag = feed_etag(day, region, cursor, personal, more)
    headers = {
        "ETag": f"W/{etag}",
        "Cache-Control": "private, no-cache",
        "Vary": "Authorization",
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    response.headers.update(headers)
    items = [
        FeedItem(**event_out(event, due, personal).model_dump(), job_status=job_status)
        for event, job_status, due in rows
    ]
    return FeedOut(items=items, cursor=cursor, more=more)
