"""Engine, sessions and schema migration.

SQLite (the embedded default) runs in WAL mode so drivers' event posts and a dispatcher's
reads don't block each other, with foreign keys on and a busy timeout instead of instant
"database is locked" errors. PostgreSQL goes through psycopg 3. Statement parameters are
hidden from error messages (`hide_parameters`): they may hold customers' personal data.
The schema is created and upgraded only by Alembic (`migrate`), never by `create_all`, so a
deployed database and a test database have the same history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

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


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to `revision` (creating it on an empty database)."""
    command.upgrade(alembic_config(engine), revision)
