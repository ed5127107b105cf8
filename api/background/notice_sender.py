"""Deliver customer notices (`customer_notices`, written by `api.services.notices`) through a
pluggable sender, with retries and backoff, and exactly one notice per row towards the gateway.

A **sender** is anything with `send(notice) -> None` that raises on failure
(`NoticeSender`). Two ship:

* `WebhookNoticeSender` POSTs the notice as JSON to `notice_webhook_url` (an SMS gateway's
  adapter, the call centre's system), signed like the service's webhooks
  (`api.background.webhook_sender`): `X-Fieldroute-Timestamp` and `X-Fieldroute-Signature:
  sha256=HMAC(notice_webhook_secret, "{timestamp}.{body}")`, and `Idempotency-Key:
  notice-{id}`. Body: `{"notice_id", "job_id", "kind", "eta", "phone", "message"}`. Any 2xx
  is success.
* `NullNoticeSender`, used when no URL is configured: it sends nothing and the delivery pass
  leaves every notice `pending`, visible in `GET /notices` (a deployment without a gateway
  phones customers by hand from that list).
* `LoopbackNoticeSender`, with the URL `loopback:` (tests, demos, a site trying the service
  out): it takes every notice as a gateway would and keeps the last ones it took in memory
  (`delivered`), so the whole path (written, claimed, sent, `sent` with its time) runs with no
  provider; `loopback:fail=N` refuses the first N sends, to watch the retries.

An SMS gateway of its own is a deployment choice: implement `send` and hand the sender to
`NoticeWorker` / `deliver_due_notices`.

**Guarantee.** A notice row is written once (its `dedupe_key` is unique). Delivery is at
least once towards the gateway and exactly once towards the customer provided the gateway
honours the idempotency key: a row is claimed (conditional UPDATE, committed) before it is
sent, so two service processes never send it at the same time; if the process dies after
the gateway took the notice but before the row was marked `sent`, the claim runs out and the
row is sent again with the same `Idempotency-Key`, which the gateway uses to drop the repeat.
A gateway that ignores the key may then deliver that one notice twice; nothing is ever lost.

Retries: failures back off exponentially (`api.background.webhook_sender.backoff_delay`: the webhook
settings `webhook_backoff_s`, `webhook_backoff_max_s`); after `webhook_max_attempts` the
notice is `dead` (`POST /notices/{id}/retry` puts it back). `last_error` holds the HTTP status
or the exception's class only. Logs name notice ids, job ids and kinds; never phones, names
or message texts.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import select, update

from api.background.polling import PollingWorker, give_up_interrupted
from api.background.webhook_sender import USER_AGENT, attempt_outcome, claim_due, sign
from api.context import AppContext
from api.settings import Settings
from api.storage.models import CustomerNoticeRow

log = logging.getLogger("api.services.notices")

#: the notice URL of the in-process gateway (`LoopbackNoticeSender`)
LOOPBACK = "loopback:"
#: notices looked at per query; a pass goes on batch after batch until none is due
BATCH_SIZE = 50
#: how long a claim outlives the send timeout (a process that dies while sending leaves the
#: notice to be sent again this much later, with the same idempotency key)
CLAIM_MARGIN_S = 60.0


class NoticeFailed(Exception):
    """A send that did not go through; the message is safe to store (no personal data)."""


class Notice:
    """What a sender gets: one claimed notice, detached from the database session."""

    def __init__(self, row: CustomerNoticeRow) -> None:
        self.id = row.id
        self.job_id = row.job_id
        self.kind = row.kind
        self.eta = row.eta
        self.phone = row.phone
        self.message = row.message
        self.attempts = row.attempts

    @property
    def idempotency_key(self) -> str:
        return f"notice-{self.id}"

    def payload(self) -> dict[str, Any]:
        return {
            "notice_id": self.id,
            "job_id": self.job_id,
            "kind": self.kind,
            "eta": self.eta.isoformat(timespec="minutes"),
            "phone": self.phone,
            "message": self.message,
        }

    def __repr__(self) -> str:  # never the phone or the text
        return f"Notice(id={self.id}, job_id={self.job_id!r}, kind={self.kind!r})"


class NoticeSender(Protocol):
    """Sends one notice; raises (any exception) when it did not go through."""

    #: False for a sender that sends nothing: the delivery pass then leaves notices pending
    enabled: bool

    def send(self, notice: Notice) -> None: ...


class NullNoticeSender:
    """No gateway configured: notices stay `pending` and are listed for the dispatcher."""

    enabled = False

    def send(self, notice: Notice) -> None:  # pragma: no cover - never called
        raise NoticeFailed("no notice gateway is configured")


class LoopbackNoticeSender:
    """A gateway in the process (see the module docstring): takes each notice, keeps the last
    `KEEP` it took; refuses the first `fail` sends."""

    enabled = True
    KEEP = 1000

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.delivered: deque[Notice] = deque(maxlen=self.KEEP)

    def send(self, notice: Notice) -> None:
        if self.fail > 0:
            self.fail -= 1
            raise NoticeFailed("loopback refused (loopback:fail)")
        self.delivered.append(notice)


def loopback_sender(url: str) -> LoopbackNoticeSender:
    """The sender of a `loopback:` URL (`loopback:fail=N` refuses the first N sends)."""
    option = url.removeprefix(LOOPBACK)
    if not option:
        return LoopbackNoticeSender()
    name, _, value = option.partition("=")
    if name != "fail" or not value.isdigit():
        raise ValueError(f"{url!r}: write loopback: or loopback:fail=N")
    return LoopbackNoticeSender(int(value))


class WebhookNoticeSender:
    """POSTs each notice as signed JSON to a URL (see the module docstring for the format)."""

    enabled = True

    def __init__(self, url: str, secret: str, timeout_s: float = 5.0) -> None:
        self.url = url
        self.secret = secret
        self.client = httpx.Client(
            timeout=timeout_s, follow_redirects=False, headers={"User-Agent": USER_AGENT}
        )

    def send(self, notice: Notice) -> None:
        body = json.dumps(notice.payload(), ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": notice.idempotency_key,
            "X-Fieldroute-Notice": str(notice.id),
            "X-Fieldroute-Timestamp": timestamp,
            "X-Fieldroute-Signature": sign(self.secret, timestamp, body),
        }
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise NoticeFailed(type(exc).__name__) from None
        if not 200 <= response.status_code < 300:
            raise NoticeFailed(f"HTTP {response.status_code}")

    def close(self) -> None:
        self.client.close()


def make_sender(settings: Settings) -> NoticeSender:
    """The configured sender: the loopback one for `loopback:`, the webhook one with a URL,
    else the null one."""
    url = settings.notice_webhook_url or ""
    if url.startswith(LOOPBACK):
        return loopback_sender(url)
    if settings.notice_webhook_url:
        return WebhookNoticeSender(
            settings.notice_webhook_url,
            settings.notice_webhook_secret.get_secret_value(),
            settings.webhook_timeout_s,
        )
    return NullNoticeSender()


def deliver_due_notices(
    ctx: AppContext,
    sender: NoticeSender,
    now: datetime | None = None,
    *,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """One delivery pass over the notices due at `now` (default: the service clock); returns
    how many sends were tried. Each notice is tried at most once per pass, and a pass stops
    trying after the first failure (the gateway is likely down: the rest waits its turn
    rather than each waiting out a timeout)."""
    if not sender.enabled:
        return 0
    clock: Callable[[], datetime] = (lambda: now) if now is not None else ctx.settings.now
    started = clock()
    tried = 0
    last_id = 0
    while True:
        with ctx.sessions() as session:
            batch = session.execute(
                select(CustomerNoticeRow.id, CustomerNoticeRow.attempts)
                .where(
                    CustomerNoticeRow.status == "pending",
                    CustomerNoticeRow.next_attempt_at <= started,
                    CustomerNoticeRow.id > last_id,
                )
                .order_by(CustomerNoticeRow.id)
                .limit(BATCH_SIZE)
            ).all()
        if not batch:
            return tried
        for notice_id, attempts in batch:
            last_id = notice_id
            if should_stop is not None and should_stop():
                return tried
            if attempts >= ctx.settings.webhook_max_attempts:
                give_up_interrupted(ctx, CustomerNoticeRow, notice_id, clock())
                continue
            notice = _claim(ctx, notice_id, clock())
            if notice is None:
                continue  # another process took it, or it was superseded meanwhile
            tried += 1
            error: str | None = None
            try:
                sender.send(notice)
            except NoticeFailed as exc:
                error = str(exc)
            except Exception as exc:  # a custom sender's bug: the notice waits, the pass goes on
                error = type(exc).__name__
            _record(ctx, notice, error, clock())
            if error is not None:
                return tried


def _claim(ctx: AppContext, notice_id: int, now: datetime) -> Notice | None:
    """Take one due notice for this process (committed before sending), or None."""
    lease = now + timedelta(seconds=ctx.settings.webhook_timeout_s + CLAIM_MARGIN_S)
    with ctx.sessions() as session, session.begin():
        if not claim_due(session, CustomerNoticeRow, notice_id, now, lease):
            return None
        row = session.get(CustomerNoticeRow, notice_id)
        return Notice(row) if row is not None else None


def _record(ctx: AppContext, notice: Notice, error: str | None, now: datetime) -> None:
    # a notice superseded while it was being sent did reach the gateway: it is `sent`
    statuses = ("pending", "superseded") if error is None else ("pending",)
    outcome, values = attempt_outcome(ctx.settings, notice.attempts, notice.id, error, now)
    if outcome == "done":
        values.update(status="sent", sent_at=now)
        log.info(
            "notice %s (%s, job %s) sent after %s attempt(s)",
            notice.id,
            notice.kind,
            notice.job_id,
            notice.attempts,
        )
    elif outcome == "dead":
        log.warning(
            "notice %s (%s, job %s) is dead after %s attempts: %s",
            notice.id,
            notice.kind,
            notice.job_id,
            notice.attempts,
            error,
        )
    else:
        log.info(
            "notice %s (job %s) failed (%s), attempt %s; retry at %s",
            notice.id,
            notice.job_id,
            error,
            notice.attempts,
            values["next_attempt_at"],
        )
    with ctx.sessions() as session, session.begin():
        session.execute(
            update(CustomerNoticeRow)
            .where(CustomerNoticeRow.id == notice.id, CustomerNoticeRow.status.in_(statuses))
            .values(**values)
            .execution_options(synchronize_session=False)
        )


class NoticeWorker(PollingWorker):
    """The background thread of one service process: a delivery pass every `webhook_poll_s`
    seconds, or at once when woken (after a publication queued notices)."""

    name = "notice-sender"

    def __init__(self, ctx: AppContext, sender: NoticeSender | None = None) -> None:
        super().__init__(ctx)
        self.sender = sender if sender is not None else make_sender(ctx.settings)

    def on_stop(self) -> None:
        close = getattr(self.sender, "close", None)
        if close is not None:
            close()

    def deliver(self) -> None:
        deliver_due_notices(self.ctx, self.sender, should_stop=lambda: self.stopping)
