"""Shared helpers for the service tests: a database per test (SQLite file, or the PostgreSQL
server named by FIELDROUTE_TEST_DATABASE_URL, emptied first), apps, tokens and seeding."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from api.http.auth import issue_token
from api.principals import Role
from api.settings import Settings

TEST_SECRET = "test-secret-0123456789abcdef-0123456789"
DEMO_DAY = date(2026, 6, 18)


def database_url(tmp_path: Path) -> str:
    """The test database: PostgreSQL when configured (wiped clean), else a fresh SQLite file."""
    url = os.environ.get("FIELDROUTE_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'service.db'}"
    engine = create_engine(url)
    # one statement instead of reflecting and dropping table by table (about 0.1 s a test
    # less over some 350 tests); it also drops types and sequences a migration made
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


class Clock:
    """The service's clock, moved by a test (a fixture patches `Settings.now` to read it)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def move(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def migration_round_trip(tmp_path: Path, previous: str, tables: set[str], kept: str) -> None:
    """Upgrade to head, downgrade to `previous` (the migration's `tables` go, `kept`, a table
    of `previous`, stays), and upgrade again: a migration that cannot be undone fails."""
    from alembic import command
    from sqlalchemy import inspect

    from api.storage.db import alembic_config, make_engine, migrate

    engine = make_engine(database_url(tmp_path))
    try:
        migrate(engine)
        assert tables <= set(inspect(engine).get_table_names())
        command.downgrade(alembic_config(engine), previous)
        names = set(inspect(engine).get_table_names())
        assert not tables & names
        assert kept in names
        migrate(engine)
        assert tables <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url(tmp_path),
        "environment": "test",
        "secret_key": TEST_SECRET,
        "background_workers": False,
        # the app upgrades the schema as it starts, as `dispatch db upgrade` would, also on
        # PostgreSQL (where a deployment runs that command once: `migrate_on_start` is off)
        "migrate_on_start": True,
        "plan_time_limit_s": 5.0,
        "webhook_backoff_s": 0.2,
        "webhook_poll_s": 0.1,
        # the webhook tests deliver to a receiver on 127.0.0.1, which production refuses
        "webhook_allow_private": True,
        # photos and signatures: a folder of the test's own (PostgreSQL has none by default)
        "upload_dir": tmp_path / "uploads",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def bearer(settings: Settings, role: Role | str, crew_id: str | None = None) -> dict[str, str]:
    token = issue_token(settings, f"test-{role}", role, crew_id)
    return {"Authorization": f"Bearer {token}"}


Auth = Callable[..., dict[str, str]]


def publish_demo_plan(client, settings: Settings, day: date = DEMO_DAY, jobs: int = 30) -> str:
    """Plan the seeded demo day directly (no plan runner) and publish it; returns the plan id.

    The demo problem is rebuilt from the fixture with the same arguments `seed_demo` used, so
    it holds exactly the seeded jobs and crews.
    """
    import uuid

    from api.principals import Principal
    from api.services.publication import publish_plan
    from api.storage.models import PlanRow
    from dispatch.files.plan_io import plan_to_dict
    from dispatch.metrics.kpis import plan_kpis
    from dispatch.planning.planner import PlanOptions, make_plan
    from fixtures.shanghai import demo_problem

    plan = make_plan(
        demo_problem(day=day, jobs=jobs), PlanOptions(time_limit_s=10, solution_limit=50)
    )
    now = settings.now()
    plan_id = str(uuid.uuid4())
    sessions = client.app.state.ctx.sessions
    with sessions() as session, session.begin():
        row = PlanRow(
            id=plan_id,
            region="urban",
            day=day,
            zones=[],
            status="succeeded",
            progress=1.0,
            message="done",
            options={},
            result=plan_to_dict(plan),
            kpis=plan_kpis(plan).as_dict(),
            created_by="test",
            created_at=now,
            finished_at=now,
        )
        session.add(row)
        session.flush()
        publish_plan(
            session,
            row,
            now,
            Principal("test", Role.DISPATCHER),
            public_url=client.app.state.ctx.settings.public_url,  # as the publish endpoint
        )
    return plan_id


def poll_status(
    client,
    headers: dict[str, str],
    url: str,
    statuses: tuple[str, ...],
    terminal: tuple[str, ...],
    timeout: float,
    until: Callable[[dict], bool] | None = None,
) -> dict:
    """Poll `GET url` (a plan or a simulation) until its status is in `statuses` (and
    `until(body)` holds); fails at once if it ends in another terminal status, or on timeout."""
    import time

    import pytest

    deadline = time.monotonic() + timeout
    while True:
        body = client.get(url, headers=headers).json()
        if body["status"] in statuses and (until is None or until(body)):
            return body
        if body["status"] in terminal and body["status"] not in statuses:
            pytest.fail(f"{url} ended {body['status']}: {body['error']}")
        assert time.monotonic() < deadline, f"{url} still {body['status']}: {body['message']}"
        time.sleep(0.1)
