"""`dispatch` subcommands for the service: migrate, seed the demo city, mint tokens, serve.

    dispatch db upgrade                      # create/upgrade the schema (Alembic)
    dispatch db check                        # exit 0 if the schema is this version's, else 1
    dispatch seed --fixture shanghai [--date D] [--jobs N] [--seed S] [--peak]
    dispatch token --role dispatcher [--subject NAME] [--crew C] [--ttl-hours H]
    dispatch user add USERNAME --role R [--crew C] [--regions urban,rural] [--name "..."]
                      [--password-stdin]
    dispatch user disable USERNAME
    dispatch user list
    dispatch user password USERNAME [--password-stdin]
    dispatch serve [--host 127.0.0.1] [--port 8000] [--workers 1]
    dispatch retention [--dry-run] [--before YYYY-MM-DD [--force]]

`dispatch user add` and `dispatch user password` without `--password-stdin` make a random
password and print it once; with it they read the password from the first line of stdin
(`printf %s "$PW" | dispatch user add ...`), so it never shows in the process list or the
shell history. `dispatch seed` also creates the demo users and prints their passwords once,
and gives the demo driver's crew a PIN for the phone app (printed once too).

The database is `DATABASE_URL` (default: the SQLite file fieldroute.db in the current
directory); every other setting is a `FIELDROUTE_*` variable (see api/settings.py).

Migrations: `dispatch db upgrade` is the way to migrate; run it once per deployment before the
servers start. `dispatch serve`, `dispatch seed` and `dispatch user` also upgrade the schema
when they start if `FIELDROUTE_MIGRATE_ON_START` allows it (`auto`, the default: for an
SQLite database, so the README's two commands work on a fresh checkout; not for PostgreSQL);
otherwise a schema behind the code is refused with exit code 2 naming `dispatch db upgrade`.
`dispatch serve` upgrades once, in the parent process, before uvicorn starts any server
process; those, and the worker processes, only check.

`dispatch serve` configures logging itself (api/logs.py): JSON lines on stderr (or text with
`FIELDROUTE_LOG_FORMAT=text`), an access line per request, a request id on every line.

Tokens are signed with `FIELDROUTE_SECRET_KEY` if set, else with the installation's own
secret, generated on first use into a file readable by its owner only, beside the SQLite file
(`fieldroute.db.secret-key`) or in `FIELDROUTE_DATA_DIR`: `dispatch serve` and
`dispatch token` read the same one. The in-source development secret only with
`FIELDROUTE_USE_DEVELOPMENT_SECRET=1` (development environment only; warned at start-up).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from scripts.cli_support import (
    ROLES,
    format_table,
    load_settings,
    ready_engine,
    refusing_old_schemas,
)
from scripts.user_cli import add_user_commands

if TYPE_CHECKING:  # imported lazily at run time: `dispatch` starts fast for every command
    pass

#: `api.logs.LOG_LEVELS` (spelled out for the same reason)
LOG_LEVELS = ["debug", "info", "warning", "error", "critical"]


def add_service_commands(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser(
        "db", help="database: `dispatch db upgrade | check | backup FILE | restore FILE`"
    )
    db.add_argument(
        "action",
        choices=["upgrade", "check", "backup", "restore"],
        help="upgrade: migrate to this version's schema; check: exit 1 if it is not there; "
        "backup FILE: a consistent copy (SQLite online backup, pg_dump); restore FILE: "
        "replace the database's contents with a backup (stop the service first)",
    )
    db.add_argument("file", nargs="?", type=Path, help="the backup file (backup, restore)")
    db.set_defaults(run=cmd_db)

    seed = sub.add_parser("seed", help="load the demo city and a day of jobs into the database")
    seed.add_argument("--fixture", choices=["shanghai"], required=True)
    seed.add_argument("--date", type=date.fromisoformat, help="day of the jobs, YYYY-MM-DD")
    seed.add_argument("--jobs", type=int, help="jobs on that day (default 1,500; 4,000 peak)")
    seed.add_argument("--seed", type=int, default=0)
    seed.add_argument("--peak", action="store_true", help="peak air-conditioner day")
    seed.set_defaults(run=refusing_old_schemas(cmd_seed))

    token = sub.add_parser("token", help="mint a bearer token signed with the service secret")
    token.add_argument("--role", required=True, choices=ROLES)
    token.add_argument("--subject", default="cli", help="who the token is for")
    token.add_argument("--crew", help="the driver's crew (required for --role driver)")
    token.add_argument(
        "--ttl-hours",
        type=float,
        default=None,
        help="lifetime (default 12 h; at most 72 h for drivers, 12 h for other roles, see "
        "FIELDROUTE_TOKEN_MAX_HOURS_DRIVER / _OFFICE)",
    )
    token.set_defaults(run=cmd_token)

    add_user_commands(sub)

    retention = sub.add_parser(
        "retention",
        help="anonymise customer data of jobs finished before the retention period "
        "(FIELDROUTE_RETENTION_DAYS); prints the rows changed per table",
    )
    retention.add_argument(
        "--dry-run", action="store_true", help="count what would change, change nothing"
    )
    retention.add_argument(
        "--before",
        type=date.fromisoformat,
        help="cutoff day YYYY-MM-DD (default: today minus FIELDROUTE_RETENTION_DAYS)",
    )
    retention.add_argument(
        "--force",
        action="store_true",
        help="accept a --before that falls inside the shortest allowed retention (jobs "
        "possibly still under the repair guarantee)",
    )
    retention.set_defaults(run=refusing_old_schemas(cmd_retention))

    serve = sub.add_parser("serve", help="run the API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="server processes")
    serve.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=None,
        help="lowest level logged (default FIELDROUTE_LOG_LEVEL, info)",
    )
    serve.set_defaults(run=cmd_serve)


def cmd_db(args: argparse.Namespace) -> int:
    from api.storage.db import make_engine, migrate, schema_state

    if args.action in ("backup", "restore"):
        return cmd_db_backup(args)
    settings = load_settings()
    engine = make_engine(settings.database_url)
    url = engine.url.render_as_string(hide_password=True)
    try:
        before = schema_state(engine)
        if args.action == "check":
            if not before.up_to_date:
                print(f"error: {before.problem(url)}", file=sys.stderr)
                return 1
        elif not before.up_to_date:
            if before.unknown:
                print(f"error: {before.problem(url)}", file=sys.stderr)
                return 2
            migrate(engine)
            was = ", ".join(before.current) or "no schema"
            print(f"schema upgraded from {was} to {', '.join(before.heads)} ({url})")
            return 0
    finally:
        engine.dispose()
    print(f"schema is up to date: revision {', '.join(before.heads)} ({url})")
    return 0


def cmd_db_backup(args: argparse.Namespace) -> int:
    """`dispatch db backup FILE` / `dispatch db restore FILE` (docs/operations.md)."""
    from api.storage.backup import BackupError, backup, restore

    if args.file is None:
        print(f"error: dispatch db {args.action} needs a FILE", file=sys.stderr)
        return 2
    settings = load_settings()
    try:
        if args.action == "backup":
            held = backup(settings.database_url, args.file)
            print(f"backup written to {args.file}: {held}")
        else:
            back = restore(settings.database_url, args.file)
            print(f"restored from {args.file}: {back}")
            print("run `dispatch db check` (and `dispatch db upgrade` if it says so)")
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from api.services.seed import seed_demo, seed_demo_driver_pin, seed_demo_users
    from api.storage.db import session_factory
    from dispatch.errors import InputError

    if args.jobs is not None and args.jobs < 1:
        raise InputError("arguments", "--jobs", f"must be >= 1, got {args.jobs}")
    settings = load_settings()
    engine = ready_engine(settings)
    result = seed_demo(
        session_factory(engine),
        settings.now(),
        day=args.date,
        jobs=args.jobs,
        seed=args.seed,
        peak=args.peak,
    )
    print(
        f"seeded {engine.url.render_as_string(hide_password=True)}: {result.depots} depots, "
        f"{result.zones} zones, {result.crews} crews; jobs on {result.day}: "
        f"{result.jobs_added} added, {result.jobs_present} already there"
    )
    users = seed_demo_users(session_factory(engine), settings.now())
    print(
        "sign in at http://127.0.0.1:8000/ with one of these users; "
        "the passwords are shown only now:"
    )
    rows = [("user", "role", "password")]
    rows += [(name, role, pw or "already exists, password unchanged") for name, role, pw in users]
    print(format_table(rows))
    crew_pin = seed_demo_driver_pin(session_factory(engine), settings.precise_now())
    if crew_pin is not None:
        crew, pin = crew_pin
        print(
            f"drivers sign in on the phone at http://127.0.0.1:8000/driver with crew id {crew} "
            + (f"and PIN {pin} (shown only now)" if pin else "and its PIN (already set, unchanged)")
        )
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from api.http.auth import issue_token
    from api.settings import SecretKeyError
    from dispatch.errors import InputError

    if args.role == "driver" and not args.crew:
        raise InputError("arguments", "--crew", "is required for a driver token")
    settings = load_settings()
    try:
        token = issue_token(settings, args.subject, args.role, args.crew, args.ttl_hours)
    except SecretKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except InputError as exc:
        raise InputError("arguments", "--ttl-hours", exc.message) from None
    origin, created = settings.signing_secret_origin()
    if created:
        print(f"generated a new token signing secret in {origin} (mode 0600)", file=sys.stderr)
    print(token)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Configure logging, resolve the signing secret, prepare the schema (upgrade or check,
    once, here), then run uvicorn; its server processes only check the schema."""
    import logging
    import os

    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from api.logs import configure_logging, logging_config
    from api.settings import DEVELOPMENT_SECRET, SecretKeyError
    from api.storage.db import SchemaNotCurrent
    from api.storage.installation import InstallationMismatch

    settings = load_settings()
    level = args.log_level or settings.log_level
    configure_logging(settings.log_format, level)
    log = logging.getLogger("api.serve")
    try:
        secret = settings.signing_secret()  # made here on first start, before any worker
    except SecretKeyError as exc:
        log.error("error: %s", exc)
        return 2
    origin, created = settings.signing_secret_origin()
    if secret != DEVELOPMENT_SECRET:  # the development secret is warned about by the app
        made = "generated a new one in" if created else "from"
        log.info("token signing secret: %s %s", made, origin)
    try:
        ready_engine(settings).dispose()
    except (SchemaNotCurrent, InstallationMismatch) as exc:
        log.error("refusing to start: %s", exc)
        return 2
    except SQLAlchemyError as exc:
        log.error("refusing to start: the database cannot be read (%s)", type(exc).__name__)
        return 2
    # the server processes uvicorn starts read these: they only check the schema (upgraded
    # above, once), log at this level, and hand both settings on to their worker processes
    os.environ["FIELDROUTE_MIGRATE_ON_START"] = "false"
    os.environ["FIELDROUTE_LOG_LEVEL"] = level
    log.info(
        "serving on http://%s:%s (docs at /docs); a token: dispatch token --role dispatcher",
        args.host,
        args.port,
    )
    uvicorn.run(
        "api.http.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=level,
        log_config=logging_config(settings.log_format, level),  # in every server process
        access_log=False,  # the app writes its own, without query strings (api.http.request_log)
    )
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    """`dispatch retention [--dry-run] [--before D] [--force]` (docs/operations.md)."""
    from api.services.retention import TABLES, apply_retention, cutoff_for
    from api.storage.db import session_factory
    from api.storage.upload_store import upload_folder

    settings = load_settings()
    today = settings.now().date()
    shortest = settings.shortest_retention_days()
    before = args.before or cutoff_for(today, settings.retention_days)
    if args.before is not None and before > cutoff_for(today, shortest) and not args.force:
        print(
            f"error: --before {before} is within {shortest} days of today ({today}): "
            "jobs may still be under the repair guarantee; pass --force to anonymise anyway",
            file=sys.stderr,
        )
        return 2
    engine = ready_engine(settings)
    try:
        report = apply_retention(
            session_factory(engine),
            before,
            settings.now(),
            dry_run=args.dry_run,
            upload_dir=upload_folder(settings),
        )
    finally:
        engine.dispose()
    verb = "would change" if args.dry_run else "changed"
    print(
        f"retention{' (dry run)' if args.dry_run else ''}: customer data of jobs finished "
        f"before {before}: {report.jobs_in_scope} jobs in scope"
    )
    for table in TABLES:
        print(f"  {table:<18} {report.changed[table]:>8} rows {verb}")
    for table, rows in report.purged.items():  # live tracking data, kept a day at most
        print(f"  {table:<18} {rows:>8} rows {'would be ' if args.dry_run else ''}deleted")
    if report.plans_skipped_busy:
        print(f"  {report.plans_skipped_busy} plans queued or running were left for the next run")
    return 0
