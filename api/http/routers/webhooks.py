"""Webhooks: subscribers (the order system, the call centre) that receive job status changes,
plan publications and opened callbacks as signed POSTs (see `api.background.webhook_sender` for the
request format, the signature check and the retry rules).

Admins only, reading included: a webhook is integration configuration, its URL often carries
a credential of the receiving system (`?key=...`), and its secret signs what the service says.
Dispatchers see the effects (job statuses), not the plumbing.

The signing secret is generated here and shown once, in the answer to `POST /webhooks`; it is
stored encrypted (`api.storage.webhook_secrets`: it must be kept, to sign) and never answered
again. To rotate it, register the URL again and delete the old webhook.

A URL must be http(s) and may not name a loopback, private, link-local or other non-global
address unless the settings allow it (`api.services.webhook_targets`): refused with 422
`invalid-request` naming the `url` field. Names are looked up (and checked) before each delivery.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.http.auth import require
from api.http.deps import CtxDep, SessionDep
from api.http.pages import Page, PageParams, page_params, paginate
from api.principals import Principal, Role
from api.services.audit import record_audit
from api.services.errors import Conflict
from api.services.outbox import EVENT_TYPES
from api.services.webhook_targets import url_refusal
from api.storage.models import OutboxRow, WebhookRow
from api.storage.types import RowId, Text
from api.storage.webhook_secrets import secret_box

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

ADMIN = require(Role.ADMIN)
ALL_EVENTS = "*"


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: HttpUrl = Field(
        description="http(s) URL the deliveries are POSTed to; its host must be a global "
        "address (no loopback, private or link-local one) unless the settings allow it"
    )
    events: list[str] = Field(
        min_length=1,
        max_length=len(EVENT_TYPES) + 1,
        description=f"event types to receive: any of {', '.join(EVENT_TYPES)}, or ['*'] for all",
    )
    description: Annotated[Text, Field(max_length=200)] = ""

    @field_validator("url")
    @classmethod
    def _short_url(cls, value: HttpUrl) -> HttpUrl:
        if len(str(value)) > 2000:
            raise ValueError("must be at most 2000 characters")
        return value

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        unknown = [e for e in value if e != ALL_EVENTS and e not in EVENT_TYPES]
        if unknown:
            raise ValueError(
                f"unknown event type(s) {unknown}; known: {', '.join(EVENT_TYPES)} or '*'"
            )
        if ALL_EVENTS in value:
            return [ALL_EVENTS]
        return sorted(set(value), key=EVENT_TYPES.index)


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    active: bool
    description: str
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="HMAC-SHA256 signing secret: shown only in this answer, store it now"
    )


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class DeliveryOut(BaseModel):
    id: int
    webhook_id: int
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any] = Field(description="what is (or was) sent: ids and statuses only")


def webhook_out(row: WebhookRow) -> WebhookOut:
    return WebhookOut(
        id=row.id,
        url=row.url,
        events=list(row.events),
        active=row.active,
        description=row.description,
        created_at=row.created_at,
    )


def delivery_out(row: OutboxRow) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        webhook_id=row.webhook_id,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        payload=row.payload,
    )


def get_webhook(session: Session, webhook_id: int) -> WebhookRow:
    row = session.get(WebhookRow, webhook_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"webhook {webhook_id} not found")
    return row


def _audit(
    session: Session, principal: Principal, action: str, now: datetime, **details: Any
) -> None:
    record_audit(session, principal, action, now, details=details)


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    summary="Register a subscriber (the answer holds the signing secret, shown only once)",
)
def create_webhook(
    body: WebhookIn,
    *,
    principal: Principal = Depends(ADMIN),
    ctx: CtxDep,
    session: SessionDep,
) -> WebhookCreated:
    url = str(body.url)
    refusal = url_refusal(url, ctx.settings)
    if refusal is not None:
        raise RequestValidationError(
            [{"loc": ("body", "url"), "msg": refusal, "type": "url_not_allowed"}]
        )
    now = ctx.settings.now()
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = WebhookRow(
        url=url,
        secret=secret_box(ctx.settings).seal(secret),
        events=body.events,
        active=True,
        description=body.description,
        created_at=now,
    )
    session.add(row)
    session.flush()
    _audit(session, principal, "webhook_created", now, webhook_id=row.id, events=body.events)
    session.commit()
    return WebhookCreated(**webhook_out(row).model_dump(), secret=secret)


@router.get(
    "", response_model=Page[WebhookOut], summary="List subscribers by id (no secrets; paginated)"
)
def list_webhooks(
    *,
    include_inactive: bool = Query(False, description="also list deleted (inactive) webhooks"),
    page: PageParams = Depends(page_params),
    _principal: Principal = Depends(ADMIN),
    session: SessionDep,
) -> Page[WebhookOut]:
    query = select(WebhookRow).order_by(WebhookRow.id)
    if not include_inactive:
        query = query.where(WebhookRow.active.is_(True))
    rows, total = paginate(session, query, page)
    return Page[WebhookOut](
        items=[webhook_out(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.delete(
    "/{webhook_id}",
    status_code=204,
    summary="Deactivate a subscriber",
    description="Nothing more is queued for it; its pending deliveries become dead "
    "(`last_error` 'webhook deleted'). The row and its delivery history stay for the record. "
    "Deleting an inactive webhook again is a no-op.",
)
def delete_webhook(
    webhook_id: RowId,
    *,
    principal: Principal = Depends(ADMIN),
    ctx: CtxDep,
    session: SessionDep,
) -> Response:
    row = get_webhook(session, webhook_id)
    if row.active:
        now = ctx.settings.now()
        row.active = False
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.webhook_id == webhook_id, OutboxRow.status == "pending")
            .values(status="dead", last_error="webhook deleted")
            .execution_options(synchronize_session=False)
        )
        _audit(session, principal, "webhook_deleted", now, webhook_id=webhook_id)
        session.commit()
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=Page[DeliveryOut],
    summary="A subscriber's deliveries, newest first",
)
def list_deliveries(
    webhook_id: RowId,
    *,
    status_: DeliveryStatus | None = Query(None, alias="status"),
    page: PageParams = Depends(page_params),
    _principal: Principal = Depends(ADMIN),
    session: SessionDep,
) -> Page[DeliveryOut]:
    get_webhook(session, webhook_id)
    query = select(OutboxRow).where(OutboxRow.webhook_id == webhook_id)
    if status_ is not None:
        query = query.where(OutboxRow.status == status_.value)
    rows, total = paginate(session, query.order_by(OutboxRow.id.desc()), page)
    return Page[DeliveryOut](
        items=[delivery_out(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    response_model=DeliveryOut,
    summary="Send a dead delivery again (with a fresh set of attempts)",
)
def retry_delivery(
    webhook_id: RowId,
    delivery_id: RowId,
    *,
    principal: Principal = Depends(ADMIN),
    ctx: CtxDep,
    session: SessionDep,
) -> DeliveryOut:
    hook = get_webhook(session, webhook_id)
    row = session.get(OutboxRow, delivery_id)
    if row is None or row.webhook_id != webhook_id:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"delivery {delivery_id} of webhook {webhook_id} not found"
        )
    if not hook.active:
        raise Conflict(f"webhook {webhook_id} is deleted: register it again", field="webhook_id")
    if row.status != "dead":
        raise Conflict(
            f"delivery {delivery_id} is {row.status}: only dead deliveries are retried",
            status=row.status,
        )
    now = ctx.settings.now()
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = now
    _audit(
        session,
        principal,
        "webhook_delivery_retried",
        now,
        webhook_id=webhook_id,
        delivery_id=delivery_id,
    )
    session.commit()
    ctx.wake("webhooks")
    return delivery_out(row)
