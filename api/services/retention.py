"""Retention: customer personal data anonymised once a job's last activity is older than
the period kept (`Settings.retention_days`; `dispatch retention`, docs/operations.md).

A job is due for anonymising when it is finished for good (`completed` or `cancelled`; never
an open, assigned, failed or running one) and both its due date and its completion lie before
the cutoff. For such a job:

- its record loses the customer's name, phone and address (blanked, as
  `include_personal_data=False` writes them), its coordinates are coarsened
  (`dispatch.privacy.coarse`, about a kilometre); ids, kind, region, zone, dates, windows,
  status, faults and the columns beside the record stay, so every figure still computes;
  a free-text cancellation reason is removed;
- its drivers' reports lose notes, the signature and photo references, and the reporting
  position is coarsened;
- its photos and signatures (`uploads`, `api.services.uploads`) are deleted, files and rows:
  the files first, then the rows with the batch's commit (a run interrupted in between
  leaves rows without files, which the next run deletes). A dry run deletes no file. The
  files are found in the upload folder of the settings the run is given
  (`api.storage.upload_store.upload_folder`: run it with the service's settings);
- its customer notices lose the phone and the text (a notice still pending is given up);
- its follow-up calls lose the free text of the reported problem; audit entries about it
  lose a callback's free-text description;
- in the stored plan documents of days before the cutoff (`PlanRow.problem`, `result`,
  `day_state`), the job's copy gets the same treatment. Jobs in those documents that are
  still open elsewhere are left alone; plans still queued or running are left for the
  next run.

Each step compares the stored value with the anonymised one and writes only differences,
so a second run changes nothing (idempotent) and a dry run (everything done, then rolled
back) counts exactly what a real run would change. Work is committed in batches of
`batch_size` jobs (or plans), so a large database never holds one huge transaction. A real
run that changed anything adds an audit entry with the cutoff and the counts only.

Every run also deletes live tracking data, whatever the cutoff (`purged`, apart from the
counts above): crews' last positions received more than a day ago
(`api.services.positions.KEEP`) and expired tracking links (`api.services.tracking`), so
where a crew was is kept for a day at most; and slot quotes past their lifetime (expired a
day ago, booked or not: `api.services.quotes.purge_quotes`; new quotes delete them too, but
a service that stops quoting keeps them until this runs).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from api.principals import Principal, Role
from api.services.audit import record_audit
from api.services.positions import purge_positions
from api.services.quotes import purge_quotes
from api.services.tracking import purge_links
from api.services.uploads import delete_job_uploads
from api.storage.models import (
    AuditRow,
    CustomerNoticeRow,
    FollowUpRow,
    JobEventRow,
    JobRow,
    PlanRow,
)
from dispatch.privacy import PERSONAL_FIELDS, coarse

#: statuses a job never leaves: the only ones retention touches
FINAL_STATUSES = ("completed", "cancelled")
#: plans a worker may be reading: left for the next run
BUSY_PLAN_STATUSES = ("queued", "running")
#: jobs (or plans) per transaction
BATCH_SIZE = 500
#: what a pending notice of an anonymised job ends with
GIVEN_UP = "customer data removed by retention"
#: who the audit entry names
RETENTION_ACTOR = Principal("retention", Role.ADMIN)
#: the tables counted, in the order they are reported
TABLES = (
    "jobs",
    "job_events",
    "uploads",
    "customer_notices",
    "follow_up_calls",
    "audit_log",
    "plans",
)
#: live data deleted on every run, whatever the cutoff (reported apart: `purged`): tracking,
#: and quotes past their lifetime
LIVE_TABLES = ("crew_positions", "tracking_links", "quotes")


@dataclass
class RetentionReport:
    """What a run changed (or, dry, would change): rows per table, and jobs in scope."""

    before: date
    dry_run: bool
    jobs_in_scope: int = 0
    changed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    plans_skipped_busy: int = 0
    #: rows of live data deleted (not counted in `total`, which is customer data)
    purged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LIVE_TABLES, 0))

    @property
    def total(self) -> int:
        return sum(self.changed.values())


def cutoff_for(today: date, retention_days: int) -> date:
    """The first day kept: data of jobs whose last activity is before it is anonymised."""
    return date.fromordinal(today.toordinal() - retention_days)


def _due_jobs(before: date) -> Any:
    """The condition on `JobRow` of a job due for anonymising (see the module docstring)."""
    start = datetime.combine(before, time.min)
    return and_(
        JobRow.status.in_(FINAL_STATUSES),
        JobRow.due_date < before,
        or_(JobRow.completed_at.is_(None), JobRow.completed_at < start),
    )


def anonymised_record(record: dict[str, Any]) -> dict[str, Any]:
    """A job record (or a job in a plan document) without its customer: personal fields
    blanked, coordinates coarsened. A new dict; the same dict's equal when already done."""
    out = dict(record)
    for key in PERSONAL_FIELDS:
        if key in out and out[key] not in ("", None):
            out[key] = ""
    for key in ("lon", "lat"):
        if isinstance(out.get(key), int | float) and not isinstance(out.get(key), bool):
            out[key] = coarse(out[key])
    return out


def apply_retention(
    sessions: sessionmaker[Session],
    before: date,
    now: datetime,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    upload_dir: Path | None = None,
) -> RetentionReport:
    """Anonymise the customer data of the jobs whose last activity is before `before` (the
    cutoff, a day) and of their copies in plan documents of days before it, and delete their
    uploads (files in `upload_dir`). `dry_run`: count only, every batch rolled back, no file
    deleted. Returns the counts per table."""
    report = RetentionReport(before=before, dry_run=dry_run)
    last_id = ""
    while True:
        with sessions() as session:
            ids = list(
                session.scalars(
                    select(JobRow.id)
                    .where(_due_jobs(before), JobRow.id > last_id)
                    .order_by(JobRow.id)
                    .limit(batch_size)
                )
            )
            if not ids:
                break
            last_id = ids[-1]
            report.jobs_in_scope += len(ids)
            _jobs_batch(session, ids, report.changed)
            report.changed["uploads"] += delete_job_uploads(
                session, upload_dir, ids, files=not dry_run
            )
            _finish(session, dry_run)
    last_plan = ""
    while True:
        with sessions() as session:
            plans = list(
                session.scalars(
                    select(PlanRow)
                    .where(PlanRow.day < before, PlanRow.id > last_plan)
                    .order_by(PlanRow.id)
                    .limit(batch_size)
                )
            )
            if not plans:
                break
            last_plan = plans[-1].id
            for plan in plans:
                if plan.status in BUSY_PLAN_STATUSES:
                    report.plans_skipped_busy += 1
                elif _plan(session, plan, before):
                    report.changed["plans"] += 1
            _finish(session, dry_run)
    with sessions() as session:  # live data: kept for a day, whatever `before`
        report.purged["crew_positions"] += purge_positions(session, now)
        report.purged["tracking_links"] += purge_links(session, now)
        report.purged["quotes"] += purge_quotes(session, now)
        _finish(session, dry_run)
    if not dry_run and report.total:
        with sessions() as session, session.begin():
            record_audit(
                session,
                RETENTION_ACTOR,
                "retention_applied",
                now,
                details={"before": before.isoformat(), **report.changed},
            )
    return report


def _finish(session: Session, dry_run: bool) -> None:
    if dry_run:
        session.rollback()
    else:
        session.commit()


def _jobs_batch(session: Session, ids: list[str], changed: dict[str, int]) -> None:
    for job in session.scalars(select(JobRow).where(JobRow.id.in_(ids))):
        record = anonymised_record(job.record)
        if record != job.record or job.cancel_reason is not None:
            job.record = record
            job.cancel_reason = None
            changed["jobs"] += 1
    for ev in session.scalars(select(JobEventRow).where(JobEventRow.job_id.in_(ids))):
        lon = coarse(ev.lon) if ev.lon is not None else None
        lat = coarse(ev.lat) if ev.lat is not None else None
        if (ev.note, ev.signature_ref, list(ev.photo_refs or []), ev.lon, ev.lat) != (
            None,
            None,
            [],
            lon,
            lat,
        ):
            ev.note, ev.signature_ref, ev.photo_refs, ev.lon, ev.lat = None, None, [], lon, lat
            changed["job_events"] += 1
    for notice in session.scalars(
        select(CustomerNoticeRow).where(CustomerNoticeRow.job_id.in_(ids))
    ):
        if notice.phone or notice.message or notice.status == "pending":
            notice.phone, notice.message = "", ""
            if notice.status == "pending":
                notice.status, notice.last_error = "dead", GIVEN_UP
            changed["customer_notices"] += 1
    for call in session.scalars(select(FollowUpRow).where(FollowUpRow.job_id.in_(ids))):
        if call.problem is not None:
            call.problem = None
            changed["follow_up_calls"] += 1
    for entry in session.scalars(select(AuditRow).where(AuditRow.job_id.in_(ids))):
        details = dict(entry.details or {})
        if details.get("description") is not None:
            details["description"] = None
            entry.details = details
            changed["audit_log"] += 1
    session.flush()


def _plan(session: Session, plan: PlanRow, before: date) -> bool:
    """Anonymise the due jobs in `plan`'s documents; whether anything changed."""
    docs = {
        "problem": plan.problem,
        "result": plan.result,
        "day_state": plan.day_state,
    }
    in_docs = {str(j.get("id")) for doc in docs.values() for j in _doc_jobs(doc)}
    if not in_docs:
        return False
    # jobs still open somewhere (not due) keep their data; a job no longer in the table
    # (or due) is anonymised
    kept = set(
        session.scalars(select(JobRow.id).where(JobRow.id.in_(sorted(in_docs)), ~_due_jobs(before)))
    )
    changed = False
    for name, doc in docs.items():
        if doc is None:
            continue
        new = _anonymised_doc(doc, kept)
        if new != doc:
            setattr(plan, name, new)
            changed = True
    session.flush()
    return changed


def _doc_jobs(doc: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    """The job records inside a plan document (a problem, a plan result, a day state)."""
    if not doc:
        return
    for jobs in _job_lists(doc):
        yield from (j for j in jobs if isinstance(j, dict))


def _job_lists(doc: dict[str, Any]) -> Iterable[list[Any]]:
    for holder, key in ((doc, "jobs"), (doc, "new_jobs"), (doc.get("problem"), "jobs")):
        if isinstance(holder, dict) and isinstance(holder.get(key), list):
            yield holder[key]


def _anonymised_doc(doc: dict[str, Any], kept: set[str]) -> dict[str, Any]:
    """A copy of `doc` with every job not in `kept` anonymised (JSON columns are replaced
    whole, so the ORM sees the change)."""

    def jobs(items: list[Any]) -> list[Any]:
        return [
            anonymised_record(j) if isinstance(j, dict) and str(j.get("id")) not in kept else j
            for j in items
        ]

    out = dict(doc)
    for key in ("jobs", "new_jobs"):
        if isinstance(out.get(key), list):
            out[key] = jobs(out[key])
    problem = out.get("problem")
    if isinstance(problem, dict) and isinstance(problem.get("jobs"), list):
        out["problem"] = {**problem, "jobs": jobs(problem["jobs"])}
    return out
