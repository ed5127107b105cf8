"""Shared helpers for the service tests: a database per test (SQLite file, or the PostgreSQL
server named by FIELDROUTE_TEST_DATABASE_URL, emptied first), apps, tokens and seeding.

Two kinds of test database: `database_url` gives one with no schema at all (the migration
and start-up tests migrate it themselves); `migrated_database_url`, which the `settings`
fixture (and so `client`) uses, gives one at the schema head with every table empty, as a
fresh `migrate` leaves it, without paying for the migration in every test (see there).
Run under pytest-xdist (not a dependency; CI runs the tests in one process), each worker has a
PostgreSQL database of its own (`postgresql_url`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from api.http.auth import issue_token
from api.principals import Role
from api.settings import Settings

TEST_SECRET = "test-secret-0123456789abcdef-0123456789"
DEMO_DAY = date(2026, 6, 18)


def postgresql_url() -> str | None:
    """The PostgreSQL database the service tests use (FIELDROUTE_TEST_DATABASE_URL), or None
    for SQLite. Under pytest-xdist each worker gets a database of its own beside it, named
    after the worker (`fieldroute_test_gw0`, ...), created on first use (the CI role may
    create databases: .ci/postgres.sh)."""
    url = os.environ.get("FIELDROUTE_TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    own = base.set(database=name).render_as_string(hide_password=False)
    if own not in _WORKER_DATABASES:
        engine = create_engine(base, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                exists = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                ).first()
                if not exists:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        _WORKER_DATABASES.add(own)
    return own


_WORKER_DATABASES: set[str] = set()


def database_url(tmp_path: Path) -> str:
    """The test database: PostgreSQL when configured (wiped clean: no schema at all), else a
    fresh SQLite file."""
    url = postgresql_url()
    if not url:
        return f"sqlite:///{tmp_path / 'service.db'}"
    engine = create_engine(url)
    try:
        _drop_schema(engine)
    finally:
        engine.dispose()
    return url


def _drop_schema(engine: Engine) -> None:
    # one statement instead of reflecting and dropping table by table (about 0.1 s a test
    # less over some 350 tests); it also drops types and sequences a migration made
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


def migrated_database_url(tmp_path: Path) -> str:
    """The test database at the schema head with every table empty: what `database_url` and
    then `migrate` give (the migrations insert no rows), at a fraction of the cost.

    SQLite: a copy of a file migrated once per test process. PostgreSQL: when the schema is
    exactly the one a fresh migration made earlier in this process (catalog fingerprint and
    Alembic revision), it is emptied as `TRUNCATE <every table but alembic_version> RESTART
    IDENTITY` would (`_truncate_if_at_head`); otherwise (first use, or a test migrated,
    downgraded or altered it) the schema is dropped and migrated afresh. About 0.05 s instead
    of 0.3 s a test; the app still checks the revision as it starts.
    """
    url = postgresql_url()
    if not url:
        path = tmp_path / "service.db"
        shutil.copyfile(_sqlite_template(), path)
        return f"sqlite:///{path}"
    engine = create_engine(url)
    try:
        if not _truncate_if_at_head(engine, _PG_HEAD.get(url)):
            from api.storage.db import migrate

            _drop_schema(engine)
            migrate(engine)
            _PG_HEAD[url] = _pg_state(engine)
    finally:
        engine.dispose()
    return url


#: per PostgreSQL URL: (catalog fingerprint, Alembic revisions) right after a fresh migration
_PG_HEAD: dict[str, tuple[str, tuple[str, ...]]] = {}

#: every object in schema public that a migration (or a test) can make or change
_PG_CATALOG = """
SELECT coalesce(md5(string_agg(item, E'\\n' ORDER BY item)), '') FROM (
    SELECT format('rel %s %s', c.relkind, c.relname)
    FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
    SELECT format('col %s.%s %s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                  a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
    SELECT format('con %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL
    SELECT format('idx %s', indexdef) FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL
    SELECT format('trg %s', pg_get_triggerdef(t.oid))
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
  UNION ALL
    SELECT format('fun %s', p.oid::regprocedure) FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace
  UNION ALL
    SELECT format('typ %s %s', t.typtype, t.typname) FROM pg_type t
    WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd', 'r', 'm')
  UNION ALL
    SELECT format('enu %s %s %s', t.typname, e.enumsortorder, e.enumlabel)
    FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
    WHERE t.typnamespace = 'public'::regnamespace
) AS catalog(item)
"""


def _pg_state(engine: Engine) -> tuple[str, tuple[str, ...]]:
    """The schema's catalog fingerprint and its Alembic revisions (empty: no version table)."""
    with engine.connect() as conn:
        fingerprint = str(conn.execute(text(_PG_CATALOG)).scalar_one())
        if conn.execute(text("SELECT to_regclass('public.alembic_version')")).scalar() is None:
            return fingerprint, ()
        rows = conn.execute(text("SELECT version_num FROM public.alembic_version")).scalars()
        return fingerprint, tuple(sorted(rows))


def _truncate_if_at_head(engine: Engine, head: tuple[str, tuple[str, ...]] | None) -> bool:
    """Empty the schema's tables if it is `head`, the one a fresh migration made in this
    process, and return True; else do nothing and return False.

    Only the tables that hold rows are truncated (TRUNCATE costs about 5 ms a table, there
    are over 20), and only the sequences that were used are restarted, which together is what
    `TRUNCATE <every table but alembic_version> RESTART IDENTITY` would leave."""
    if head is None or not head[1] or _pg_state(engine) != head:
        return False
    with engine.begin() as conn:
        tables = conn.execute(
            text(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version' ORDER BY tablename"
            )
        ).scalars()
        probe = " UNION ALL ".join(
            f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM public.{name})" for name in tables
        )
        filled = conn.execute(text(probe)).scalars().all() if probe else []
        if filled:
            names = ", ".join(f"public.{name}" for name in filled)
            conn.execute(text(f"TRUNCATE TABLE {names} CASCADE"))
        used = conn.execute(
            text(
                "SELECT quote_ident(sequencename) FROM pg_sequences "
                "WHERE schemaname = 'public' AND last_value IS NOT NULL"
            )
        ).scalars()
        for name in used:
            conn.execute(text(f"ALTER SEQUENCE public.{name} RESTART"))
    return True


_SQLITE_TEMPLATE: list[Path] = []


def _sqlite_template() -> Path:
    """An SQLite file migrated to the head, made once per test process (removed at exit)."""
    if _SQLITE_TEMPLATE:
        return _SQLITE_TEMPLATE[0]
    from api.storage.db import make_engine, migrate

    folder = Path(tempfile.mkdtemp(prefix="fieldroute-schema-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "migrated.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
    finally:
        engine.dispose()
    # fold the write-ahead log into the file, so that the file alone is the database
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, f"{wal} was not checkpointed"
    _SQLITE_TEMPLATE.append(path)
    return path


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
    """Test settings; on a fresh `database_url(tmp_path)` unless `database_url` is given."""
    values: dict[str, object] = {
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
    if "database_url" not in values:  # (a test PostgreSQL is emptied only when used)
        values["database_url"] = database_url(tmp_path)
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
