"""Publishing a plan: the moment routes become drivers' work.

One published plan per region and day. Publishing a second one is refused (409) unless the
caller names the plan it replaces (`replaces`), which is then marked `superseded` in the same
transaction; the partial unique index on `plans` turns a concurrent publish into a 409 too.
Jobs on the published routes become `assigned` to their crew; jobs of a superseded plan that
are no longer on any route (and have not started) go back to `open`. Subscribers get
`plan.published` and a `job.status_changed` per job that changed, through the outbox.

Customers are told their expected arrival in the same transaction (`api.services.notices`): every
assigned job on a first publication; on a publication that replaces a plan, only jobs whose
arrival moved beyond the tolerance, that will now be late, or that were never told.

A re-plan (`kind` `replan`) may only replace the plan it was computed from (`parent_id`),
and only while that plan is still the version the re-plan started from: an override of the
published plan after the re-plan was asked for would otherwise be silently undone (409).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.principals import Principal
from api.services.audit import record_audit
from api.services.errors import Conflict
from api.services.notices import DEFAULT_TOLERANCE_MINUTES, assignments, queue_publication_notices
from api.services.outbox import enqueue, set_job_status
from api.storage.models import JobRow, PlanRow


def published_plan(session: Session, region: str, day: object) -> PlanRow | None:
    return session.scalar(
        select(PlanRow).where(
            PlanRow.region == region, PlanRow.day == day, PlanRow.status == "published"
        )
    )


def publish_plan(
    session: Session,
    plan: PlanRow,
    now: datetime,
    actor: Principal,
    replaces: str | None = None,
    *,
    eta_tolerance_minutes: int | None = None,
    public_url: str = "",
    language: str = "en",
) -> None:
    """Publish `plan` (status must be `succeeded`) in the caller's transaction, with its
    customer notices. `eta_tolerance_minutes` (default: the plan's option, else 30) is how far
    an arrival may move before the customer is told again; `public_url` the service's address
    from outside, put in front of the customers' tracking links; `language` the notices'
    (`FIELDROUTE_NOTICE_LANGUAGE`)."""
    if plan.status != "succeeded" or plan.result is None:
        raise Conflict(
            f"plan {plan.id} is {plan.status}: only a succeeded plan can be published",
            status=plan.status,
        )
    current = published_plan(session, plan.region, plan.day)
    if current is not None and current.id != replaces:
        raise Conflict(
            f"plan {current.id} is already published for {plan.region} on {plan.day}; "
            f"publish with replaces={current.id!r} to supersede it",
            published_plan_id=current.id,
        )
    if current is None and replaces is not None:
        raise Conflict(
            f"plan {replaces!r} is not the published plan for {plan.region} on {plan.day}",
            published_plan_id=None,
        )
    if plan.kind == "replan":
        _check_replan_base(plan, current)
    previous_jobs: set[str] = set()
    if current is not None:
        current.status = "superseded"
        previous_jobs = {
            s["job_id"] for r in (current.result or {}).get("routes", []) for s in r["stops"]
        }
        session.flush()
    plan.status = "published"
    plan.published_at = now
    plan.published_by = actor.subject
    session.flush()  # the unique index refuses a concurrent publication here

    on_routes: dict[str, tuple[str, str]] = {}
    for route in plan.result["routes"]:
        for stop in route["stops"]:
            on_routes[stop["job_id"]] = (route["crew_id"], stop["start"])
    ids = sorted(set(on_routes) | previous_jobs)
    rows = session.scalars(select(JobRow).where(JobRow.id.in_(ids))).all() if ids else []
    assigned: dict[str, JobRow] = {}
    for job in rows:
        if job.status not in ("open", "assigned"):
            continue  # already on the road, done or cancelled: the plan does not move it
        if job.id in on_routes:
            assigned[job.id] = job
            crew_id, start = on_routes[job.id]
            job.crew_id, job.plan_id = crew_id, plan.id
            job.window_end = window_end_at(job.record, datetime.fromisoformat(start))
            if job.status == "assigned":
                job.updated_at = now
            set_job_status(session, job, "assigned", now, plan_id=plan.id)
        else:
            job.crew_id, job.plan_id, job.window_end = None, None, None
            set_job_status(session, job, "open", now, plan_id=plan.id)
    tolerance = (
        eta_tolerance_minutes
        or (plan.options or {}).get("eta_tolerance_minutes")
        or DEFAULT_TOLERANCE_MINUTES
    )
    notices = queue_publication_notices(
        session,
        plan.id,
        plan.day,
        assignments(plan.result, assigned),
        now,
        replaces=current.id if current is not None else None,
        replaced=assignments(current.result or {}, assigned) if current is not None else (),
        tolerance_minutes=int(tolerance),
        public_url=public_url,
        language=language,
    )
    enqueue(
        session,
        "plan.published",
        {
            "plan_id": plan.id,
            "region": plan.region,
            "day": plan.day.isoformat(),
            "replaces": replaces,
            "routes": len(plan.result["routes"]),
            "jobs_on_routes": len(on_routes),
        },
        now,
    )
    record_audit(
        session,
        actor,
        "plan_published",
        now,
        plan_id=plan.id,
        details={
            "replaces": replaces,
            "jobs_on_routes": len(on_routes),
            "customer_notices": notices,
        },
    )


def _check_replan_base(plan: PlanRow, current: PlanRow | None) -> None:
    """A re-plan replaces only its parent, as it was when the re-plan was asked for."""
    if current is None or current.id != plan.parent_id:
        raise Conflict(
            f"re-plan {plan.id} was computed from plan {plan.parent_id}, which is no longer "
            "the published plan; re-plan the published one instead",
            published_plan_id=current.id if current is not None else None,
        )
    base = (plan.options or {}).get("base_version")
    if base is not None and current.version != base:
        raise Conflict(
            f"plan {current.id} changed (version {base} -> {current.version}, an override?) "
            f"after re-plan {plan.id} was asked for; re-plan it again",
            published_plan_id=current.id,
            field="replaces",
        )


def window_end_at(record: dict, start: datetime) -> datetime | None:
    """The end of the job's window that holds `start` (the booked slot the crew is due in)."""
    for w in record.get("windows", []):
        a, b = datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"])
        if a <= start <= b:
            return b
    return None
