"""Backup and restore of the service's database, SQLite or PostgreSQL.

`dispatch db backup FILE` and `dispatch db restore FILE` (see docs/operations.md):

* **SQLite** (the embedded default): the backup is SQLite's online backup
  (`sqlite3.Connection.backup`), a consistent copy taken page by page while the service keeps
  running; the file is itself a SQLite database. Restoring copies it back the same way.
* **PostgreSQL**: `pg_dump --format=custom` and `pg_restore --clean --if-exists --no-owner`,
  the PostgreSQL client tools of the server's major version (Debian: `postgresql-client`).
  The dump is one consistent snapshot; the restore replaces the schema's tables.

A restore checks the file first (a database of this service, with its `alembic_version`) and
says whether the restored schema is behind the code (then `dispatch db upgrade`). What a
backup does not hold: the installation's signing secret (kept beside the SQLite file or in
the data directory); without it every token is refused after a restore on a new host, and
users sign in again. Stop the service (or its writers) before restoring.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, Engine, make_url

from api.storage.db import make_engine

#: tables counted in a backup's or restore's summary
COUNTED = ("jobs", "crews", "plans", "job_events", "users")


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Summary:
    """What a backup holds or a restore brought back: row counts and the schema revision."""

    revision: str | None
    rows: dict[str, int]

    def __str__(self) -> str:
        counts = ", ".join(f"{n} {t}" for t, n in self.rows.items())
        return f"schema {self.revision or 'unknown'}; {counts}"


def summarize(database_url: str) -> Summary:
    """The schema revision and the row counts of the main tables."""
    engine: Engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            revision = None
            if "alembic_version" in tables:
                revision = conn.scalar(text("SELECT version_num FROM alembic_version"))
            rows = {
                t: int(conn.scalar(text(f"SELECT count(*) FROM {t}")) or 0)
                for t in COUNTED
                if t in tables
            }
    finally:
        engine.dispose()
    return Summary(revision, rows)


def backup(database_url: str, dest: Path) -> Summary:
    """Write a backup of the database to `dest` (overwritten); what it holds."""
    url = make_url(database_url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        src = _sqlite_file(url)
        tmp = dest.with_name(dest.name + ".part")
        tmp.unlink(missing_ok=True)
        with sqlite3.connect(src) as source, sqlite3.connect(tmp) as target:
            source.backup(target)
        source.close()
        target.close()
        tmp.replace(dest)
        return summarize(f"sqlite:///{dest}")
    if url.get_backend_name() == "postgresql":
        _run(["pg_dump", "--format=custom", f"--file={dest}", *_pg_args(url)], url)
        return summarize(database_url)
    raise BackupError(f"no backup for {url.get_backend_name()} databases")


def restore(database_url: str, src: Path) -> Summary:
    """Replace the database's contents with the backup at `src`; what it brought back."""
    if not src.is_file():
        raise BackupError(f"no backup file at {src}")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        _check_sqlite_backup(src)
        target_file = _sqlite_file(url, must_exist=False)
        with sqlite3.connect(src) as source, sqlite3.connect(target_file) as target:
            source.backup(target)
        source.close()
        target.close()
    elif url.get_backend_name() == "postgresql":
        if src.read_bytes()[:5] != b"PGDMP":
            raise BackupError(f"{src} is not a pg_dump custom-format file (dispatch db backup)")
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                *_pg_args(url),
                str(src),
            ],
            url,
        )
    else:
        raise BackupError(f"no restore for {url.get_backend_name()} databases")
    return summarize(database_url)


def _sqlite_file(url: URL, must_exist: bool = True) -> str:
    name = url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupError("an in-memory SQLite database has nothing to back up or restore")
    if must_exist and not Path(name).is_file():
        raise BackupError(f"no SQLite database at {name}")
    return name


def _check_sqlite_backup(src: Path) -> None:
    if src.read_bytes()[:16] != b"SQLite format 3\x00":
        raise BackupError(f"{src} is not a SQLite database (dispatch db backup)")
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as conn:
        found = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    if "alembic_version" not in found or "jobs" not in found:
        raise BackupError(f"{src} is a SQLite database but not one of this service")


def _pg_args(url: URL) -> list[str]:
    args = [f"--dbname={url.database}"]
    if url.host:
        args.append(f"--host={url.host}")
    if url.port:
        args.append(f"--port={url.port}")
    if url.username:
        args.append(f"--username={url.username}")
    return args


def _run(command: list[str], url: URL) -> None:
    tool = command[0]
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed (Debian: apt install postgresql-client)")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password  # never on the command line, where `ps` shows it
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip()[-2000:]}")
