"""A background thread: one pass every `poll_s()` seconds (`webhook_poll_s` unless a subclass
says otherwise), or at once when woken (after a commit that queued work). The webhook and
customer-notice senders are this loop around their own delivery pass, and the plan and
simulation runners (`api.background.job_runner`) around theirs; everything they work on waits in the
database, so stopping between passes loses nothing."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy import update

from api.context import AppContext
from api.storage.models import CustomerNoticeRow, OutboxRow

log = logging.getLogger("api")


class PollingWorker:
    """Subclasses give `name` and `deliver()`, and may open/close resources in
    `on_start()`/`on_stop()`."""

    name = "worker"

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def deliver(self) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def on_start(self) -> None:
        """Open what the passes need (an HTTP client, say)."""

    def on_stop(self) -> None:
        """Close what `on_start` opened."""

    def poll_s(self) -> float:
        """Seconds between passes when nothing wakes the thread."""
        return self.ctx.settings.webhook_poll_s

    def stop_timeout_s(self) -> float:
        """How long `stop()` waits for the pass in flight (a send may take its timeout)."""
        return self.ctx.settings.webhook_timeout_s + 5

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self.on_start()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the pass in flight (if any); what was not done stays pending."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout if timeout is not None else self.stop_timeout_s())
            self._thread = None
        self.on_stop()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.deliver()
            except Exception:  # the database away for a moment, say: try again next poll
                log.exception("%s pass failed", self.name)
            self._wake.wait(self.poll_s())


def give_up_interrupted(
    ctx: AppContext, table: type[OutboxRow] | type[CustomerNoticeRow], row_id: int, now: datetime
) -> None:
    """A delivery (webhook or customer notice) whose last attempt was cut off (its process
    died while sending) and that has no attempts left: dead, like one whose last attempt
    failed. Only a row still pending and due is changed."""
    with ctx.sessions() as session, session.begin():
        session.execute(
            update(table)
            .where(table.id == row_id, table.status == "pending", table.next_attempt_at <= now)
            .values(status="dead", last_error="interrupted")
            .execution_options(synchronize_session=False)
        )
