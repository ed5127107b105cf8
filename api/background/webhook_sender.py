"""Deliver the webhook outbox: signed POSTs to subscribers, retried with backoff, at least once.

`api.services.outbox.enqueue` writes one `webhook_outbox` row per subscriber in the same
transaction as the change it reports. This module sends those rows. Everything it needs is in
the database, so a restart loses nothing: rows still `pending` are sent by the next process,
and a row that was being sent when a process died is simply sent again once its claim runs
out. Delivery is therefore **at least once**; receivers deduplicate on the delivery id.

One pass (`deliver_due`, which the `WebhookSender` thread runs every `webhook_poll_s` seconds or
when woken after a commit) takes the rows that are `pending` and due (`next_attempt_at <= now`)
in id order, a batch at a time, and for each one:

1. **claims** it with a conditional UPDATE (`... WHERE id = :id AND status = 'pending' AND
   next_attempt_at <= :now`) that moves `next_attempt_at` past the send timeout and counts the
   attempt, committed before anything is sent. A second service process running the same pass
   finds the row no longer due and leaves it (on PostgreSQL the UPDATE waits for the first
   claim to commit, then no longer matches; SQLite serialises writers);
2. decrypts the webhook's secret (`api.storage.webhook_secrets`), looks the URL's host up and
   checks every address (`api.services.webhook_targets.delivery_address`: no loopback, private,
   link-local or other non-global address unless the settings allow it), then POSTs the JSON
   body with `httpx` to the checked address itself (the `Host` header and TLS name stay the
   URL's; timeout `webhook_timeout_s`, redirects not followed). A refused target or an
   unreadable secret is never connected to: the attempt fails with `last_error` saying why;
3. records the outcome: a 2xx marks the row `delivered`; anything else stores the HTTP status,
   the refusal or the exception's class name in `last_error` (never the payload or the URL,
   which may hold a token) and schedules the next attempt `backoff_delay` seconds later; after
   `webhook_max_attempts` attempts the row is `dead` (an admin can put it back with
   `POST /webhooks/{id}/deliveries/{delivery_id}/retry`).

`attempts` counts the POSTs tried, the successful one included, so a delivery that failed twice
and then went through reads `attempts = 3`. A receiver that fails is not tried again in the same
pass: its other rows wait for the next pass rather than each waiting out a timeout.

What a receiver gets::

    POST <url>
    Content-Type: application/json
    X-Fieldroute-Event: job.status_changed
    X-Fieldroute-Delivery: 1234              (the outbox id: the same on every retry)
    X-Fieldroute-Timestamp: 1781766000       (Unix seconds when this attempt was signed)
    X-Fieldroute-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

    {"delivery_id": 1234, "type": "job.status_changed", "at": "2026-06-18T10:42:00",
     "data": {"job_id": "J1", "status": "cancelled", "previous": "open", ...}}

Payloads carry ids and statuses, never customers' names, phones or addresses. How a receiver
checks a request (over the raw body bytes, before parsing them)::

    import hashlib, hmac, time

    def verify(secret: str, headers: dict[str, str], body: bytes, tolerance_s: int = 300) -> bool:
        timestamp = headers["X-Fieldroute-Timestamp"]
        if abs(time.time() - int(timestamp)) > tolerance_s:
            return False  # too old (or from the future): a replay
        mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
        expected = "sha256=" + mac.hexdigest()
        return hmac.compare_digest(expected, headers["X-Fieldroute-Signature"])

then answer 2xx quickly (do slow work afterwards) and ignore a delivery id already seen.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.background.polling import PollingWorker, give_up_interrupted
from api.context import AppContext
from api.services.webhook_targets import TargetRefused, delivery_address
from api.settings import Settings
from api.storage.models import OutboxRow, WebhookRow
from api.storage.webhook_secrets import SecretUnreadable, secret_box

log = logging.getLogger("api.webhooks")

#: rows looked at per query; a pass goes on batch after batch until nothing due is left
BATCH_SIZE = 50
#: how long a claim outlives the send timeout: a process that dies while sending leaves the
#: row to be retried this much later (at least once: the receiver may see it twice)
CLAIM_MARGIN_S = 60.0
USER_AGENT = "fieldroute-webhooks/0.1"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Fieldroute-Signature` value: `sha256=` and the hex HMAC of `timestamp.body`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff_delay(settings: Settings, attempts: int, delivery_id: int) -> float:
    """Seconds to wait after the `attempts`-th failed try: `webhook_backoff_s * 2**(attempts-1)`,
    capped at `webhook_backoff_max_s`, less a jitter of up to a quarter.

    The jitter spreads retries of many deliveries that failed together (a receiver that was
    down) instead of sending them all back at the same moment. It is a hash of the delivery id
    and the attempt, not a random number, so the same failure always waits the same time and
    a test can tell exactly when a retry is due (always within [3/4, 1] of the nominal delay).
    """
    nominal = min(
        settings.webhook_backoff_s * 2 ** max(attempts - 1, 0), settings.webhook_backoff_max_s
    )
    digest = hashlib.sha256(f"{delivery_id}:{attempts}".encode()).digest()
    fraction = int.from_bytes(digest[:4], "big") / 2**32  # in [0, 1)
    return nominal * (1.0 - 0.25 * fraction)


def request_body(row: OutboxRow) -> bytes:
    """The JSON body of a delivery: the queued payload with the delivery id (signed with it)."""
    data = {"delivery_id": row.id, **row.payload}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def deliver_due(
    ctx: AppContext,
    now: datetime | None = None,
    *,
    client: httpx.Client | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """One delivery pass over the rows due at `now` (default: the service clock); returns how
    many POSTs were tried. Each row is tried at most once per pass.

    `now` lets tests step the clock past a backoff without waiting; the signature timestamp is
    always the real wall clock (receivers compare it with theirs).
    """
    settings = ctx.settings
    clock: Callable[[], datetime] = (lambda: now) if now is not None else settings.now
    started = clock()
    own_client = client is None
    http = client or _client(settings)
    tried = 0
    failing: set[int] = set()  # webhooks that failed in this pass: the rest waits
    last_id = 0
    try:
        while True:
            with ctx.sessions() as session:
                batch = session.execute(
                    select(OutboxRow.id, OutboxRow.webhook_id, OutboxRow.attempts)
                    .join(WebhookRow, WebhookRow.id == OutboxRow.webhook_id)
                    .where(
                        OutboxRow.status == "pending",
                        OutboxRow.next_attempt_at <= started,
                        OutboxRow.id > last_id,
                        WebhookRow.active.is_(True),
                    )
                    .order_by(OutboxRow.id)
                    .limit(BATCH_SIZE)
                ).all()
            if not batch:
                return tried
            for delivery_id, webhook_id, attempts in batch:
                last_id = delivery_id
                if should_stop is not None and should_stop():
                    return tried
                if webhook_id in failing:
                    continue
                if attempts >= settings.webhook_max_attempts:
                    give_up_interrupted(ctx, OutboxRow, delivery_id, clock())
                    continue
                claimed = _claim(ctx, delivery_id, clock())
                if claimed is None:
                    continue  # another process took it
                tried += 1
                if not _send(ctx, http, claimed, clock):
                    failing.add(webhook_id)
    finally:
        if own_client:
            http.close()


def _client(settings: Settings) -> httpx.Client:
    return httpx.Client(
        timeout=settings.webhook_timeout_s,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


class _Claimed:
    """What a claimed delivery needs once its transaction is closed."""

    def __init__(self, row: OutboxRow, hook: WebhookRow) -> None:
        self.id = row.id
        self.event_type = row.event_type
        self.attempts = row.attempts
        self.body = request_body(row)
        self.url = hook.url
        self.secret = hook.secret
        self.webhook_id = hook.id


def claim_due(
    session: Session, model: type[OutboxRow] | Any, row_id: int, now: datetime, lease: datetime
) -> bool:
    """Take one due `pending` row of `model` (an outbox or notice row) for this process: one
    conditional UPDATE pushes its next attempt past `lease` and counts the attempt, so two
    service processes never send the same row at once. True if this process got it."""
    result = session.execute(
        update(model)
        .where(model.id == row_id, model.status == "pending", model.next_attempt_at <= now)
        .values(next_attempt_at=lease, attempts=model.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def _claim(ctx: AppContext, delivery_id: int, now: datetime) -> _Claimed | None:
    """Take one due row for this process (committed before sending), or None if it is gone."""
    lease = now + timedelta(seconds=ctx.settings.webhook_timeout_s + CLAIM_MARGIN_S)
    with ctx.sessions() as session, session.begin():
        if not claim_due(session, OutboxRow, delivery_id, now, lease):
            return None
        row = session.get(OutboxRow, delivery_id)
        hook = session.get(WebhookRow, row.webhook_id) if row is not None else None
        if row is None or hook is None:
            return None
        if not hook.active:  # deleted since the batch was read
            row.status, row.last_error = "dead", "webhook deleted"
            return None
        return _Claimed(row, hook)


def _send(
    ctx: AppContext, http: httpx.Client, claimed: _Claimed, clock: Callable[[], datetime]
) -> bool:
    """POST one claimed delivery and record the outcome; True if the receiver took it."""
    error: str | None
    try:
        secret = secret_box(ctx.settings).open(claimed.secret)
        address = delivery_address(claimed.url, ctx.settings)
    except (SecretUnreadable, TargetRefused) as exc:
        _record(ctx, claimed, str(exc), clock())
        return False
    except Exception as exc:  # no key at all (SecretKeyError), say: the row fails
        _record(ctx, claimed, type(exc).__name__, clock())
        return False
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Fieldroute-Event": claimed.event_type,
        "X-Fieldroute-Delivery": str(claimed.id),
        "X-Fieldroute-Timestamp": timestamp,
        "X-Fieldroute-Signature": sign(secret, timestamp, claimed.body),
    }
    try:
        url, extensions = pinned_request(claimed.url, address, headers)
        with http.stream(
            "POST", url, content=claimed.body, headers=headers, extensions=extensions
        ) as response:
            error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        error = type(exc).__name__
    except Exception as exc:  # a malformed URL, say: the row fails, the sender goes on
        error = type(exc).__name__
    _record(ctx, claimed, error, clock())
    return error is None


def pinned_request(
    url: str, address: str, headers: dict[str, str]
) -> tuple[httpx.URL, dict[str, Any]]:
    """The URL to connect to for `url` with its host replaced by the checked `address`, and the
    request's extensions; sets `headers["Host"]` to the URL's. An https URL keeps its host name
    for TLS (SNI and the certificate check) through httpcore's `sni_hostname`."""
    original = httpx.URL(url)
    headers["Host"] = original.netloc.decode("ascii")
    extensions: dict[str, Any] = {}
    if original.scheme == "https":
        extensions["sni_hostname"] = original.host
    return original.copy_with(host=address), extensions


def attempt_outcome(
    settings: Settings, attempts: int, row_id: int, error: str | None, now: datetime
) -> tuple[str, dict[str, Any]]:
    """What an attempt leaves on its row: ("done", {}), ("dead", values) after the last
    allowed attempt, or ("retry", values) with the next attempt backed off. Shared by the
    webhook and the customer-notice senders, so both retry by the same rule."""
    if error is None:
        return "done", {"last_error": None}
    if attempts >= settings.webhook_max_attempts:
        return "dead", {"status": "dead", "last_error": error}
    delay = backoff_delay(settings, attempts, row_id)
    return "retry", {"last_error": error, "next_attempt_at": now + timedelta(seconds=delay)}


def _record(ctx: AppContext, claimed: _Claimed, error: str | None, now: datetime) -> None:
    outcome, values = attempt_outcome(ctx.settings, claimed.attempts, claimed.id, error, now)
    if outcome == "done":
        values.update(status="delivered", delivered_at=now)
        log.info(
            "webhook delivery %s (%s) delivered to webhook %s after %s attempt(s)",
            claimed.id,
            claimed.event_type,
            claimed.webhook_id,
            claimed.attempts,
        )
    elif outcome == "dead":
        log.warning(
            "webhook delivery %s (%s) to webhook %s is dead after %s attempts: %s",
            claimed.id,
            claimed.event_type,
            claimed.webhook_id,
            claimed.attempts,
            error,
        )
    else:
        log.info(
            "webhook delivery %s to webhook %s failed (%s), attempt %s; retry at %s",
            claimed.id,
            claimed.webhook_id,
            error,
            claimed.attempts,
            values["next_attempt_at"],
        )
    with ctx.sessions() as session, session.begin():
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == claimed.id, OutboxRow.status == "pending")
            .values(**values)
            .execution_options(synchronize_session=False)
        )


class WebhookSender(PollingWorker):
    """The background thread of one service process: a delivery pass every `webhook_poll_s`
    seconds, or at once when `wake()` is called (after a commit that queued deliveries)."""

    name = "webhook-sender"

    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx)
        self._client: httpx.Client | None = None

    def on_start(self) -> None:
        self._client = _client(self.ctx.settings)

    def on_stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def deliver(self) -> None:
        deliver_due(self.ctx, client=self._client, should_stop=lambda: self.stopping)
