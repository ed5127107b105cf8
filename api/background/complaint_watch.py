"""The complaint watch: a background pass that escalates complaints whose 4-hour first-answer
clock ran out (`api.services.complaints.escalate_overdue`: once each, the
`complaint.escalated` webhook queued in the same transaction), then wakes the webhook sender.

It runs every `COMPLAINT_POLL_S` seconds in each service process; the sweep's conditional
update makes several processes safe. The worklist (`GET /complaints`) shows a complaint
overdue from its due time whether or not a pass has run yet. Logs carry counts, never text.
"""

from __future__ import annotations

import logging

from api.background.polling import PollingWorker
from api.services.complaints import escalate_overdue

log = logging.getLogger("api")

#: seconds between passes: an escalation is at most this late
COMPLAINT_POLL_S = 30.0


class ComplaintWatch(PollingWorker):
    name = "complaint-watch"

    def poll_s(self) -> float:
        return COMPLAINT_POLL_S

    def deliver(self) -> None:
        with self.ctx.sessions() as session, session.begin():
            escalated = escalate_overdue(session, self.ctx.settings.now())
        if escalated:
            log.info("escalated %d complaint(s) past their first-answer time", len(escalated))
            self.ctx.wake("webhooks")
