"""Engine, sessions and schema migration.

SQLite (the embedded default) runs in WAL mode so drivers' event posts and a dispatcher's
reads don't block each other, with foreign keys on and a busy timeout instead of instant
"database is locked" errors. PostgreSQL goes through psycopg 3. Statement parameters are
hidden from error messages (`hide_parameters`): they may hold customers' personal data.
The schema is created and upgraded only by Alembic (`migrate`), never by `create_all`, so a
deployed database and a test database have the same history.

Who migrates (docs/api.md, "Operations"): `dispatch db upgrade`, always; `dispatch serve`,
`dispatch seed` and `dispatch user` when `Settings.migrates_on_start()` (an SQLite database by
default), once, before any server process starts; nothing else. Every other process checks
(`check_schema`) and refuses to start on a schema that is not the code's (`SchemaNotCurrent`,
naming the command to run): the server processes, the worker processes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from api.settings import Settings

log = logging.getLogger("api.db")

MIGRATIONS = Path(__file__).parent / "migrations"
#: FastAPI's (anyio's) default thread pool for sync endpoints has 40 threads
SQLITE_POOL_SIZE = 40


def make_engine(url: str) -> Engine:
    """An engine for `url`, with SQLite tuned for a concurrent web service."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        # a connection per request thread (FastAPI runs sync endpoints on up to 40 threads):
        # with fewer, overflow connections are opened and closed per request, each paying
        # the pragmas below
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=10,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives power loss
            cur.close()

        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session


def dialect_insert(session: Session) -> Callable[..., Any]:
    """The dialect's INSERT, which has `on_conflict_do_nothing` and `on_conflict_do_update`
    (SQLite and PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def alembic_config(engine: Engine | None = None, settings: Settings | None = None) -> Config:
    """Alembic's configuration; `settings` are what migrations that need a key read (0007,
    webhook secrets), else they read `Settings()` from the environment."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.attributes["engine"] = engine
    if settings is not None:
        cfg.attributes["settings"] = settings
    return cfg


def migrate(engine: Engine, revision: str = "head", settings: Settings | None = None) -> None:
    """Bring the database schema up to `revision` (creating it on an empty database)."""
    command.upgrade(alembic_config(engine, settings), revision)


#: where Alembic keeps a database's revision
VERSION_TABLE = "alembic_version"
#: what to run when the schema is behind
UPGRADE_COMMAND = "dispatch db upgrade"


class SchemaNotCurrent(RuntimeError):
    """The database schema is not the one this version of the code needs."""


@dataclass(frozen=True)
class SchemaState:
    """The database's Alembic revisions and the code's."""

    #: the database's revisions (empty: no schema at all)
    current: tuple[str, ...]
    #: the newest revisions of this code
    heads: tuple[str, ...]
    #: database revisions this code does not know (a newer version migrated it)
    unknown: tuple[str, ...]

    @property
    def up_to_date(self) -> bool:
        return set(self.current) == set(self.heads)

    def problem(self, url: str) -> str:
        """What is wrong, in one sentence naming what to do (empty when up to date)."""
        if self.up_to_date:
            return ""
        heads = ", ".join(self.heads)
        if self.unknown:
            return (
                f"the database {url} has schema revision {', '.join(self.unknown)}, which this "
                f"version does not know (it needs {heads}): a newer version migrated it; run "
                "that version"
            )
        where = f"revision {', '.join(self.current)}" if self.current else "no schema yet"
        return (
            f"the database {url} has {where}, this version needs revision {heads}: run "
            f"`{UPGRADE_COMMAND}` (with the same DATABASE_URL) once, then start again"
        )


def schema_state(engine: Engine) -> SchemaState:
    """Read the database's revisions (a query) and the code's (the migration scripts)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    with engine.connect() as conn:  # Alembic's own table, read without Alembic's chatter
        current: tuple[str, ...] = ()
        if inspect(conn).has_table(VERSION_TABLE):
            rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
            current = tuple(sorted(rows))
    known = {rev.revision for rev in script.walk_revisions()}
    return SchemaState(
        current=current,
        heads=tuple(sorted(script.get_heads())),
        unknown=tuple(r for r in current if r not in known),
    )


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def check_schema(engine: Engine) -> SchemaState:
    """The schema state; `SchemaNotCurrent` unless the database is at the code's revision."""
    state = schema_state(engine)
    if not state.up_to_date:
        raise SchemaNotCurrent(state.problem(_url(engine)))
    return state


def prepare_schema(engine: Engine, *, upgrade: bool, settings: Settings | None = None) -> None:
    """At start: upgrade the schema to the code's (`upgrade`), else only check it.
    `SchemaNotCurrent` for a database a newer version migrated (never downgraded here) or,
    without `upgrade`, one that is behind."""
    state = schema_state(engine)
    if state.up_to_date:
        return
    if state.unknown or not upgrade:
        raise SchemaNotCurrent(state.problem(_url(engine)))
    log.info(
        "upgrading the database schema from %s to %s",
        ", ".join(state.current) or "nothing",
        ", ".join(state.heads),
    )
    migrate(engine, settings=settings)
