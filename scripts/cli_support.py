"""What the service's `dispatch` subcommands share: the settings, an engine on a database
at this version's schema, the refusal of an old schema as an error, and plain tables."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily at run time: `dispatch` starts fast for every command
    from sqlalchemy import Engine

    from api.settings import Settings

#: `api.principals.Role`'s values (spelled out so building the parser imports nothing heavy)
ROLES = ["dispatcher", "driver", "planner", "manager", "admin", "call_centre"]


class SettingsInvalid(RuntimeError):
    """The service's settings (environment, `.env`) do not validate; one line per setting."""


def load_settings() -> Settings:
    """The service's settings; `SettingsInvalid` naming each bad `FIELDROUTE_*` variable and
    why (reported by `dispatch` as an error, exit code 2, not as a traceback)."""
    from pydantic import ValidationError

    from api.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "FIELDROUTE_" + "_".join(str(part) for part in error["loc"]).upper()
            lines.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
        raise SettingsInvalid("invalid settings: " + "; ".join(lines)) from None


def ready_engine(settings: Settings) -> Engine:
    """An engine on a database at this version's schema: upgraded first when the settings
    allow it (`Settings.migrates_on_start`), else checked; `SchemaNotCurrent` (exit code 2,
    naming `dispatch db upgrade`) when it is not."""
    from api.storage.db import make_engine, prepare_schema
    from api.storage.installation import check_installation

    engine = make_engine(settings.database_url)
    try:
        prepare_schema(engine, upgrade=settings.migrates_on_start())
        check_installation(engine, settings)
    except BaseException:
        engine.dispose()
        raise
    return engine


def refusing_old_schemas(run: Callable[[argparse.Namespace], int]):
    """`run`, with a database schema that is not this version's reported as an error (exit
    code 2) naming the command to run, not as a traceback."""

    @functools.wraps(run)
    def checked(args: argparse.Namespace) -> int:
        from api.storage.db import SchemaNotCurrent
        from api.storage.installation import InstallationMismatch

        try:
            return run(args)
        except (SchemaNotCurrent, InstallationMismatch) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return checked


def format_table(rows: list[tuple[str, ...]]) -> str:
    """Plain left-aligned columns, the first row a header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
