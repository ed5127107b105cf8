"""The service's tables (SQLAlchemy 2 declarative models).

Domain records (a job, a crew, a depot) are stored whole as the same JSON records the
importers read and `dispatch.files.records` writes, so the planner gets exactly what was imported;
the columns beside them are what the service filters, joins and locks on. The schema is owned
by Alembic (`api/storage/migrations`); these models are its source.

Rows that change under concurrent writers carry a `version` (SQLAlchemy's version counter):
an update against a stale version fails instead of overwriting (HTTP 409).

Times are naive local times of the region (see `api.settings`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = String(64)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class JobRow(Base):
    """A job (one customer visit). `record` is `dispatch.files.records.job_to_dict`, personal data
    in."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True, default="open")
    region: Mapped[str] = mapped_column(String(32), index=True)
    zone: Mapped[str | None] = mapped_column(ID, index=True)
    priority: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[str] = mapped_column(ID, index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: a callback (repeat visit) points at the completed job it repeats
    callback_of: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    fault: Mapped[str | None] = mapped_column(String(100))
    #: visits so far: a failed visit that is rescheduled starts visit 2, and so on
    visit: Mapped[int] = mapped_column(Integer, default=1)
    crew_id: Mapped[str | None] = mapped_column(ID, index=True)
    plan_id: Mapped[str | None] = mapped_column(String(36), index=True)
    arrived_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    window_end: Mapped[datetime | None] = mapped_column(DateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}


class CrewRow(Base):
    """A crew. `record` is `dispatch.files.records.crew_to_dict`. Temporary crews work only on days
    they are booked for (a `CrewDayRow` with status available)."""

    __tablename__ = "crews"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    home_zone: Mapped[str | None] = mapped_column(ID, index=True)
    region: Mapped[str] = mapped_column(String(32), index=True, default="urban")
    temporary: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}


class CrewDayRow(Base):
    """A crew's availability on one day: off, sick, a changed shift, or a booked temporary crew."""

    __tablename__ = "crew_days"
    __table_args__ = (UniqueConstraint("crew_id", "day", name="uq_crew_days_crew_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    crew_id: Mapped[str] = mapped_column(ForeignKey("crews.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20))  # available | off | sick
    shift_start: Mapped[str | None] = mapped_column(String(5))  # HH:MM
    shift_end: Mapped[str | None] = mapped_column(String(5))
    note: Mapped[str | None] = mapped_column(Text)


class DepotRow(Base):
    """A warehouse or service point. `record` is `dispatch.files.records.depot_to_dict`."""

    __tablename__ = "depots"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    zone: Mapped[str | None] = mapped_column(ID, index=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)


class ZoneRow(Base):
    """A dispatch territory: a GeoJSON (Multi)Polygon geometry in WGS84, within a region."""

    __tablename__ = "zones"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    region: Mapped[str] = mapped_column(String(32), index=True, default="urban")
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)


class PlanRow(Base):
    """A planning run for a region and day, from `queued` to `succeeded`/`failed`/`cancelled`,
    then possibly `published` (and later `superseded`).

    Two partial unique indexes make the one-at-a-time rules hold under concurrent requests,
    in the database rather than in application code: one queued/running plan and one
    published plan per region and day.
    """

    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    region: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date, index=True)
    zones: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: `dispatch.files.problem_io.problem_to_dict` of the day as it was when the plan was triggered
    #: (personal data in): the worker solves this snapshot, not the tables as they are later
    problem: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: `dispatch.files.plan_io.plan_to_dict` of the plan, with the problem it solved
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    kpis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker_pid: Mapped[int | None] = mapped_column(Integer)
    #: the host name of the service process whose runner claimed the row (`worker_pid` is a
    #: process there) and when that runner last saw the worker running (it refreshes this on
    #: every pass): how another host tells a live worker from one whose host went away
    #: (`api.background.job_runner`)
    runner_host: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    published_by: Mapped[str | None] = mapped_column(String(100))
    #: `plan` (solved from `problem`) or `replan` (a published plan re-planned mid-day from
    #: `day_state`); a re-plan is queued and run like a plan, so the same index refuses a
    #: second one while one is queued or running
    kind: Mapped[str] = mapped_column(String(20), default="plan", server_default="plan")
    #: the published plan a re-plan starts from (and supersedes once approved)
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("plans.id", name="fk_plans_parent_id"), index=True
    )
    #: a re-plan's input: `api.services.day_state.day_state_to_dict` of the day as it stood when the
    #: re-plan was asked for (done, in progress, overruns, absent crews, new and cancelled
    #: jobs, the ETAs customers were told), plus the parent's version it was taken against
    day_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: a re-plan's changes against its parent (`dispatch.running.plan_diff.PlanDiff.summary()`)
    diff: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index(
            "uq_plans_active_region_day",
            "region",
            "day",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        Index(
            "uq_plans_published_region_day",
            "region",
            "day",
            unique=True,
            sqlite_where=text("status = 'published'"),
            postgresql_where=text("status = 'published'"),
        ),
    )


class AuditRow(Base):
    """Who did what to a plan or job, and when: overrides, publications, cancellations."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(50))
    plan_id: Mapped[str | None] = mapped_column(String(36), index=True)
    job_id: Mapped[str | None] = mapped_column(ID, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class JobEventRow(Base):
    """A driver's report on a visit. The idempotency key makes a retried request a no-op."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload_hash: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    visit: Mapped[int] = mapped_column(Integer)
    crew_id: Mapped[str] = mapped_column(ID, index=True)
    type: Mapped[str] = mapped_column(String(20))
    device_time: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    signature_ref: Mapped[str | None] = mapped_column(String(500))
    photo_refs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    receipt: Mapped[str | None] = mapped_column(String(30))
    items_received: Mapped[int | None] = mapped_column(Integer)
    rating: Mapped[str | None] = mapped_column(String(20))


class FollowUpRow(Base):
    """A follow-up call to the customer after a completed job (target: every completed job)."""

    __tablename__ = "follow_up_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    called_at: Mapped[datetime] = mapped_column(DateTime)
    caller: Mapped[str] = mapped_column(String(100))
    reached: Mapped[bool] = mapped_column(Boolean)
    satisfied: Mapped[bool | None] = mapped_column(Boolean)
    problem_reported: Mapped[bool] = mapped_column(Boolean, default=False)
    problem: Mapped[str | None] = mapped_column(Text)
    callback_job_id: Mapped[str | None] = mapped_column(ID)


class WebhookRow(Base):
    """A subscriber: the order system, the call centre. Deliveries are signed with `secret`,
    stored encrypted (`fernet:...`, api.storage.webhook_secrets)."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(500))  # encrypted: api.storage.webhook_secrets
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class OutboxRow(Base):
    """A webhook delivery waiting, done or given up. Written in the same transaction as the
    change it reports, so nothing acknowledged is lost on a restart (transactional outbox)."""

    __tablename__ = "webhook_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|delivered|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class CustomerNoticeRow(Base):
    """A message to a customer about a visit: the expected arrival when a route is published
    (`eta`), a new arrival time when a re-plan moves it beyond the tolerance (`eta_changed`),
    or an apology when the crew will be late (`late`); and from the day's reports, the crew on
    its way (`departed`), running behind (`running_late`) or done (`done`,
    `api.services.event_notices`). Written in the publication's or the report's transaction (an
    outbox, like `OutboxRow`) and delivered by `api.background.notice_sender`.

    `phone` is personal data: it is stored because the sender needs it, shown only to the
    roles that see personal data, and never logged. `dedupe_key` is unique, so writing the
    notices of one publication twice adds nothing. Status: `pending` (to send, or waiting
    for a retry), `sent`, `dead` (gave up; can be put back by hand) or `superseded` (a newer
    notice for the same job replaced it before it went out).
    """

    __tablename__ = "customer_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    plan_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # api.services.notices.KINDS
    eta: Mapped[datetime] = mapped_column(DateTime)
    message: Mapped[str] = mapped_column(Text)
    phone: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)

    __table_args__ = (Index("ix_customer_notices_due", "status", "next_attempt_at"),)


class SimulationRow(Base):
    """A peak-season simulation asked for by a planner (`POST /simulations`), from `queued`
    through `running` to `done`, `failed` or `cancelled`; run by `api.background.simulation_runner`
    in a worker process like a plan.

    `params` holds the request as validated (fixture, replications, the scenario overrides
    and the full settings they resolve to); `city` the service's zones, depots and own crews
    as they were when a simulation of fixture `own` was asked for (the worker simulates this
    snapshot, not the tables as they are later). The outcome is stored whole in the row: the
    summary and weekly figures as JSON, the report page and the daily table as text, so the
    service needs no file storage. Simulated customers have no names: no personal data.
    """

    __tablename__ = "simulations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    city: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: `dispatch.season.report.summary_dict`: per replication and across replications
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: every replication's weekly rows, with `replication` and `seed` (as weeks.csv)
    weeks: Mapped[list[Any] | None] = mapped_column(JSON)
    #: the capacity recommendation, when one was asked for
    recommendation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    report_html: Mapped[str | None] = mapped_column(Text)
    days_csv: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker_pid: Mapped[int | None] = mapped_column(Integer)
    #: the host name of the service process whose runner claimed the row (`worker_pid` is a
    #: process there) and when that runner last saw the worker running (it refreshes this on
    #: every pass): how another host tells a live worker from one whose host went away
    #: (`api.background.job_runner`)
    runner_host: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class UserRow(Base):
    """A person who signs in (`POST /auth/sign-in`), managed with `dispatch user ...`.

    `username` is 1..100 characters of letters, digits, `.`, `_`, `-` and `@`, starting with
    a letter or digit (`api.services.users.USERNAME_PATTERN`); it is the `sub` of the tokens the
    user gets. `role` is an `api.principals.Role`; a driver is bound to one crew (`crew_id`); a
    dispatcher may be bound to regions (`regions`, a JSON list; null: every region), and then
    sees and changes only those. `password_hash` is an argon2id hash (argon2-cffi's encoded
    form, parameters included), never the password. A disabled user (`active` false) cannot
    sign in; the row stays, so the audit log's names keep meaning something.
    """

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("username", name="uq_users_username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    #: a driver's crew (required for drivers, empty for everyone else)
    crew_id: Mapped[str | None] = mapped_column(ID)
    #: the regions a region-bound dispatcher works on; null: every region
    regions: Mapped[list[Any] | None] = mapped_column(JSON)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime)


class SignInLockRow(Base):
    """Failed sign-ins of one user name (existing or not) and the lock they led to.

    `failures` counts the failed attempts in the window that began at `window_start` (the
    first failure); the fifth within the window sets `locked_until` (`api.services.users` holds the
    numbers). Keyed by the name as typed, not by user id, so guessing at names that do not
    exist is throttled the same way and answers the same. A successful sign-in deletes the row.
    """

    __tablename__ = "sign_in_locks"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)


class TokenRevocationRow(Base):
    """A revoked bearer token, or every token of one subject issued before a moment.

    `kind` "token": the token whose `jti` is `value` is refused (sign-out); `not_before` is
    empty. `kind` "subject": every token whose `sub` is `value` issued (`iat`) before
    `not_before` is refused (a disabled user, a new password, sign-out everywhere). A row is
    needed only while a token it refuses could still be valid: until `expires_at` (the
    token's expiry; for a subject, `not_before` plus the longest lifetime any token may have),
    then it is pruned (`api.services.token_revocations`). Each server process keeps the live
    rows in memory and re-reads them every few seconds, so the check costs no query.
    """

    __tablename__ = "token_revocations"
    __table_args__ = (Index("ix_token_revocations_expires_at", "expires_at"),)

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    not_before: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime] = mapped_column(DateTime)
    #: why: sign_out, sign_out_everywhere, disabled, password
    reason: Mapped[str] = mapped_column(String(30))


class InstallationFactRow(Base):
    """A fact about the installation fixed when its database was first served, checked at
    every start (`api.storage.installation`): today the time zone its naive local times are
    in, so a changed `FIELDROUTE_TIMEZONE` cannot silently shift every stored time."""

    __tablename__ = "installation_facts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
