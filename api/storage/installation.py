"""Facts an installation fixes on its first start and checks at every start after.

The service stores every time as a naive local time of the region (`api.settings`): a job's
window, an event's time, a token's expiry. Those values mean something only together with
the time zone they were written in. Were `FIELDROUTE_TIMEZONE` changed on an existing
database (a new host with another default, a typo in a deployment file), every stored time
would silently move by the difference, and windows, promises and callbacks with them.

So the first process that serves a database records the time zone in `installation_facts`,
and every later start (the server, its background workers, the `dispatch` commands that open
the database) compares its setting with it and refuses to start on a mismatch, naming both.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from api.settings import Settings
from api.storage.db import session_factory
from api.storage.models import InstallationFactRow

log = logging.getLogger(__name__)

TIMEZONE = "timezone"


class InstallationMismatch(RuntimeError):
    """The settings contradict a fact the database was created under."""


def check_installation(engine: Engine, settings: Settings) -> None:
    """Record the time zone on a database's first start; raise `InstallationMismatch` when
    the settings name another one than the database's times were written in."""
    sessions = session_factory(engine)
    wanted = settings.timezone
    with sessions() as session:
        stored = session.scalar(
            select(InstallationFactRow.value).where(InstallationFactRow.key == TIMEZONE)
        )
    if stored is None:
        try:
            with sessions() as session, session.begin():
                session.add(
                    InstallationFactRow(key=TIMEZONE, value=wanted, recorded_at=settings.now())
                )
            log.info("recorded the installation's time zone: %s", wanted)
            return
        except IntegrityError:  # another process recorded it first: compare with that one
            with sessions() as session:
                stored = session.scalar(
                    select(InstallationFactRow.value).where(InstallationFactRow.key == TIMEZONE)
                )
    if stored != wanted:
        raise InstallationMismatch(
            f"the database's times are local times of {stored!r}, but FIELDROUTE_TIMEZONE is "
            f"{wanted!r}: every stored window, event and expiry would shift. Set "
            f"FIELDROUTE_TIMEZONE={stored} (the installation's time zone cannot be changed in "
            "place)"
        )
