"""`dispatch user add | disable | list | password`: the people who sign in (docs/api.md).

`add` and `password` without `--password-stdin` make a random password and print it once;
with it they read the password from the first line of stdin, so it never shows in the
process list or the shell history.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from scripts.cli_support import (
    ROLES,
    format_table,
    load_settings,
    ready_engine,
    refusing_old_schemas,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from api.settings import Settings


def add_user_commands(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser("user", help="users who sign in: add, disable, list, password")
    actions = user.add_subparsers(dest="user_action", required=True)

    add = actions.add_parser("add", help="add a user (prints a random password once)")
    add.add_argument("username", help="letters, digits, '.', '_', '-', '@' (up to 100)")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--crew", help="the driver's crew (required for --role driver)")
    add.add_argument(
        "--regions",
        help="dispatchers and call-centre agents only: the regions they work on, comma-separated",
    )
    add.add_argument("--name", help="display name (default: the user name)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(run=refusing_old_schemas(cmd_user_add))

    disable = actions.add_parser("disable", help="stop a user from signing in")
    disable.add_argument("username")
    disable.set_defaults(run=refusing_old_schemas(cmd_user_disable))

    listing = actions.add_parser("list", help="the users (never their passwords)")
    listing.set_defaults(run=refusing_old_schemas(cmd_user_list))

    password = actions.add_parser(
        "password", help="set a new password (random and printed once, or from stdin)"
    )
    password.add_argument("username")
    password.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    password.set_defaults(run=refusing_old_schemas(cmd_user_password))


#: roles bound to regions when given some (`api.principals.REGION_BOUND_ROLES`); "all" otherwise
_REGION_ROLES = ("dispatcher", "call_centre")
#: `api.services.users` names model fields; on the command line the message names the flag
_USER_FLAGS = {"crew_id": "--crew", "regions": "--regions", "display_name": "--name"}


def _user_sessions() -> tuple[Settings, sessionmaker[Session]]:
    """Settings and a session factory on a database at this version's schema."""
    from api.storage.db import session_factory

    settings = load_settings()
    return settings, session_factory(ready_engine(settings))


def _read_password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password from stdin's first line (`--password-stdin`), or a random one; and
    whether it was generated (then it is printed once)."""
    from api.services.users import new_password

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return new_password(), True


def _as_flags(exc: Exception) -> Exception:
    from dispatch.errors import InputError

    if isinstance(exc, InputError) and exc.field in _USER_FLAGS:
        return InputError(exc.record, _USER_FLAGS[exc.field], exc.message)
    return exc


def cmd_user_add(args: argparse.Namespace) -> int:
    from api.services.users import create_user
    from dispatch.errors import InputError

    regions = None
    if args.regions is not None:
        regions = [r.strip() for r in args.regions.split(",") if r.strip()]
    password, generated = _read_password(args)
    settings, sessions = _user_sessions()
    try:
        with sessions() as session, session.begin():
            user = create_user(
                session,
                args.username,
                args.role,
                password,
                settings.now(),
                crew_id=args.crew,
                regions=regions,
                display_name=args.name,
            )
    except InputError as exc:
        raise _as_flags(exc) from None
    bound = f", crew {user.crew_id}" if user.crew_id else ""
    bound += f", regions {','.join(user.regions)}" if user.regions else ""
    print(f"added user {user.username} ({user.role}{bound})")
    if generated:
        print(f"password: {password}  (shown only now)")
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    from api.services.users import disable_user

    settings, sessions = _user_sessions()
    with sessions() as session, session.begin():
        disable_user(session, args.username, settings.precise_now())
    print(
        f"disabled user {args.username}: no more sign-ins, and the tokens already issued "
        f"are refused (within {settings.token_revocation_cache_s:g} s by running servers)"
    )
    return 0


def cmd_user_list(_args: argparse.Namespace) -> int:
    from api.services.users import list_users

    _, sessions = _user_sessions()
    with sessions() as session:
        users = list_users(session)
    rows = [("user", "role", "crew", "regions", "active", "last sign-in", "name")]
    for u in users:
        rows.append(
            (
                u.username,
                u.role,
                u.crew_id or "-",
                ",".join(u.regions) if u.regions else "all" if u.role in _REGION_ROLES else "-",
                "yes" if u.active else "no",
                u.last_sign_in_at.isoformat(timespec="minutes") if u.last_sign_in_at else "-",
                u.display_name,
            )
        )
    print(format_table(rows))
    return 0


def cmd_user_password(args: argparse.Namespace) -> int:
    from api.services.users import set_password

    password, generated = _read_password(args)
    settings, sessions = _user_sessions()
    with sessions() as session, session.begin():
        set_password(session, args.username, password, settings.precise_now())
    print(
        f"new password set for {args.username} (a sign-in lock on the name is lifted; "
        "tokens issued before are refused)"
    )
    if generated:
        print(f"password: {password}  (shown only now)")
    return 0
