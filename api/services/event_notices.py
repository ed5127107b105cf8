"""The notices the day's reports from the road cause, written in the report's transaction
(an outbox, like the publication's notices in `api.services.notices`):

* **departed**: the crew reports it set out for the visit: "on the way, arriving about
  14:20", the arrival being the report's time plus the leg's planned driving (never before the
  planned start: a crew early for its window waits), with the customer's tracking link;
* **done**: the visit is completed: thanks, and the follow-up call announced;
* **running_late**: a report shows the crew behind its plan (an arrival, start or completion
  later than planned), and carrying that delay along the rest of the crew's route (each later
  stop's planned driving and service, waiting for a window absorbing it) predicts a later
  stop to start more than `LATE_MARGIN_MINUTES` past the end of its booked window: that
  stop's customer is told once that day, with the predicted time, before the crew gets there.

Only jobs still waiting for their crew (`assigned`) are told they will be late; a job with no
phone gets its notice `dead` at once ("no customer phone"), as publications do. Texts:
`api.services.notice_texts`, in the service's language. Logs name job ids and kinds only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.services.notice_texts import notice_text, track_text
from api.services.notices import NO_PHONE, round_eta, supersede_pending
from api.services.publication import published_plan
from api.services.tracking import link_for_notice
from api.storage.models import CustomerNoticeRow, JobRow
from dispatch.running.lifecycle import EventType

log = logging.getLogger("api.services.notices")

#: a predicted start this far past the end of the booked window makes a running-late notice
LATE_MARGIN_MINUTES = 15


@dataclass(frozen=True)
class Leg:
    """A stop of the published route with its planned times."""

    job_id: str
    arrival: datetime
    start: datetime
    end: datetime
    prev_end: datetime  # the previous stop's end, or the route's departure


def planned_route(session: Session, job: JobRow) -> tuple[str, list[Leg]] | None:
    """The published plan's id and the route (as legs) the job is on that day, if any."""
    plan = published_plan(session, job.region, job.due_date)
    if plan is None or not plan.result:
        return None
    for route in plan.result.get("routes", []):
        if any(s["job_id"] == job.id for s in route["stops"]):
            legs: list[Leg] = []
            before = datetime.fromisoformat(route["depart"])
            for s in route["stops"]:
                arrival, start, end = (
                    datetime.fromisoformat(s[k]) for k in ("arrival", "start", "end")
                )
                legs.append(Leg(s["job_id"], arrival, start, end, before))
                before = end
            return plan.id, legs
    return None


def predicted_starts(legs: list[Leg], k: int, end_k: datetime) -> dict[str, datetime]:
    """With stop `k` ending at `end_k`, each later stop's predicted start: the planned leg
    after the previous predicted end, no earlier than its planned start."""
    out: dict[str, datetime] = {}
    end = end_k
    for leg in legs[k + 1 :]:
        start = max(end + (leg.arrival - leg.prev_end), leg.start)
        out[leg.job_id] = start
        end = start + (leg.end - leg.start)
    return out


def booked_window_end(job: JobRow, planned_start: datetime) -> datetime | None:
    """The end of the booked window the visit was planned in (the last one's if none holds
    the planned start)."""
    windows = [
        (datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"]))
        for w in job.record.get("windows") or []
    ]
    if not windows:
        return None
    holding = [b for a, b in windows if a <= planned_start <= b]
    return holding[0] if holding else max(b for _, b in windows)


def queue_event_notices(
    session: Session,
    job: JobRow,
    event: EventType,
    at: datetime,
    now: datetime,
    settings: Any,
) -> list[str]:
    """The notices `event` of `job` (effective time `at`) causes, added to the caller's
    transaction; their kinds (see the module docstring)."""
    found = planned_route(session, job)
    if found is None or event is EventType.FAILED:
        return []
    plan_id, legs = found
    k = next(i for i, leg in enumerate(legs) if leg.job_id == job.id)
    leg = legs[k]
    written: list[str] = []
    writer = _Writer(session, plan_id, now, settings)
    if event is EventType.DEPARTED:
        if job.status != "en_route":
            return written  # a late report of a visit already further on: nothing to announce
        eta = round_eta(max(at + (leg.arrival - leg.prev_end), leg.start))
        if writer.add(job, "departed", eta, f"{job.id}:v{job.visit}:departed", link=True):
            written.append("departed")
        return written
    if event is EventType.COMPLETED:
        if job.status == "completed" and writer.add(
            job, "done", at, f"{job.id}:v{job.visit}:done", work=job.kind
        ):
            written.append("done")
        end_k = at
    elif event is EventType.STARTED:
        end_k = at + (leg.end - leg.start)
    else:  # arrived: work starts now or when its window opens
        end_k = max(at, leg.start) + (leg.end - leg.start)
    if end_k <= leg.end:
        return written  # on time or ahead: nothing to say
    for job_id, start in predicted_starts(legs, k, end_k).items():
        later = session.get(JobRow, job_id)
        if later is None or later.status != "assigned":
            continue
        planned = next(x.start for x in legs if x.job_id == job_id)
        window_end = booked_window_end(later, planned)
        if window_end is None or start <= window_end + timedelta(minutes=LATE_MARGIN_MINUTES):
            continue
        key = f"{job_id}:{later.due_date.isoformat()}:running_late"
        if writer.add(later, "running_late", round_eta(start), key):
            written.append("running_late")
    return written


class _Writer:
    """Writes notices of one report, each once (its `dedupe_key`)."""

    def __init__(self, session: Session, plan_id: str, now: datetime, settings: Any) -> None:
        self.session, self.plan_id, self.now, self.settings = session, plan_id, now, settings

    def add(
        self, job: JobRow, kind: str, eta: datetime, key: str, *, link: bool = False, work: str = ""
    ) -> bool:
        key = f"event:{key}"
        taken = self.session.scalar(
            select(CustomerNoticeRow.id).where(CustomerNoticeRow.dedupe_key == key)
        )
        if taken is not None:
            return False
        s = self.settings
        language = s.notice_language
        message = notice_text(kind, eta, s.eta_tolerance_minutes, language, work=work)
        phone = str(job.record.get("customer_phone") or "").strip()
        if link and phone:
            message += track_text(
                link_for_notice(self.session, job, self.now, s.public_url), language
            )
        supersede_pending(self.session, job.id, self.now)
        self.session.add(
            CustomerNoticeRow(
                job_id=job.id,
                plan_id=self.plan_id,
                kind=kind,
                eta=eta,
                message=message,
                phone=phone,
                status="pending" if phone else "dead",
                attempts=0,
                next_attempt_at=self.now,
                last_error=None if phone else NO_PHONE,
                created_at=self.now,
                dedupe_key=key,
            )
        )
        log.info("job %s: %s notice queued", job.id, kind)
        return True
