"""`dispatch` subcommands for the service: migrate, seed the demo city, mint tokens, serve.

    dispatch db upgrade                      # create/upgrade the schema (Alembic)
    dispatch seed --fixture shanghai [--date D] [--jobs N] [--seed S] [--peak]
    dispatch token --role dispatcher [--subject NAME] [--crew C] [--ttl-hours H]
    dispatch serve [--host 127.0.0.1] [--port 8000] [--workers 1]

The database is `DATABASE_URL` (default: the SQLite file fieldroute.db in the current
directory); every other setting is a `FIELDROUTE_*` variable (see api/settings.py).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date


def add_service_commands(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="database schema: `dispatch db upgrade`")
    db.add_argument("action", choices=["upgrade"])
    db.set_defaults(run=cmd_db)

    seed = sub.add_parser("seed", help="load the demo city and a day of jobs into the database")
    seed.add_argument("--fixture", choices=["shanghai"], required=True)
    seed.add_argument("--date", type=date.fromisoformat, help="day of the jobs, YYYY-MM-DD")
    seed.add_argument("--jobs", type=int, help="jobs on that day (default 1,500; 4,000 peak)")
    seed.add_argument("--seed", type=int, default=0)
    seed.add_argument("--peak", action="store_true", help="peak air-conditioner day")
    seed.set_defaults(run=cmd_seed)

    token = sub.add_parser("token", help="mint a bearer token signed with the service secret")
    token.add_argument(
        "--role", required=True, choices=["dispatcher", "driver", "planner", "manager", "admin"]
    )
    token.add_argument("--subject", default="cli", help="who the token is for")
    token.add_argument("--crew", help="the driver's crew (required for --role driver)")
    token.add_argument("--ttl-hours", type=float, default=None)
    token.set_defaults(run=cmd_token)

    serve = sub.add_parser("serve", help="run the API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="server processes")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(run=cmd_serve)


def _settings():
    from api.settings import Settings

    return Settings()


def cmd_db(_args: argparse.Namespace) -> int:
    from api.db import make_engine, migrate

    settings = _settings()
    engine = make_engine(settings.database_url)
    migrate(engine)
    print(f"schema is up to date ({engine.url.render_as_string(hide_password=True)})")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from api.db import make_engine, migrate, session_factory
    from api.seed import seed_demo
    from dispatch.errors import InputError

    if args.jobs is not None and args.jobs < 1:
        raise InputError("arguments", "--jobs", f"must be >= 1, got {args.jobs}")
    settings = _settings()
    engine = make_engine(settings.database_url)
    migrate(engine)
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
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from api.auth import issue_token
    from dispatch.errors import InputError

    if args.role == "driver" and not args.crew:
        raise InputError("arguments", "--crew", "is required for a driver token")
    print(issue_token(_settings(), args.subject, args.role, args.crew, args.ttl_hours))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings()
    try:
        settings.check_for_startup()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"serving on http://{args.host}:{args.port} (docs at /docs); "
        f"a token: dispatch token --role dispatcher",
        file=sys.stderr,
    )
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
    )
    return 0
