"""Load the embedded Shanghai demo city into a database: depots, zones, crews and a day of jobs.

`dispatch seed --fixture shanghai [--date D] [--jobs N] [--seed S]` runs it. Seeding is
idempotent for the city (depots, zones and crews are inserted or replaced by id) and adds the
day's jobs that are not there yet, so running it twice loses and duplicates nothing.

`seed_demo_users` adds the demo users (one per role, the call centre's included, a
region-bound dispatcher and a driver) with fresh random passwords, which `dispatch seed`
prints once; a user that exists already is left as it is, password included. Every
installation gets its own passwords: none is written in the code or the docs.
`seed_demo_driver_pin` gives the demo driver's crew a random PIN for the phone app
(`/driver`: crew id and PIN), printed once the same way; a crew that has a PIN keeps it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.principals import Principal, Role
from api.services.crew_pins import has_pin, new_pin, set_crew_pin
from api.services.users import create_user, get_user
from api.storage.models import CrewRow, JobRow, ZoneRow
from api.storage.store import new_crew_row, new_depot_row, new_job_row
from fixtures.shanghai import demo_problem


@dataclass(frozen=True)
class SeedResult:
    day: date
    depots: int
    zones: int
    crews: int
    jobs_added: int
    jobs_present: int


def seed_demo(
    sessions: sessionmaker[Session],
    now: datetime,
    day: date | None = None,
    jobs: int | None = None,
    seed: int = 0,
    peak: bool = False,
) -> SeedResult:
    problem = demo_problem(day=day, jobs=jobs, seed=seed, peak=peak)
    with sessions() as session, session.begin():
        for depot in problem.depots:
            session.merge(new_depot_row(depot))
        for zone in problem.zones:
            feature = zone.to_geojson()
            session.merge(
                ZoneRow(id=zone.id, name=zone.name, region="urban", geometry=feature["geometry"])
            )
        existing_crews = set(session.scalars(select(CrewRow.id)))
        for crew in problem.crews:
            if crew.id not in existing_crews:
                # the demo's temporary (TMP) crews are hired for the whole season, so they
                # are stored as regular crews: no per-day booking needed to plan them
                session.add(new_crew_row(crew, now, temporary=False, region="urban"))
        ids = [j.id for j in problem.jobs]
        present = set(session.scalars(select(JobRow.id).where(JobRow.id.in_(ids))))
        added = [new_job_row(j, now) for j in problem.jobs if j.id not in present]
        session.add_all(added)
        depots = len(problem.depots)
    return SeedResult(
        problem.date, depots, len(problem.zones), len(problem.crews), len(added), len(present)
    )


#: the demo driver's crew (an installation crew of the demo fleet)
DEMO_DRIVER_CREW = "IC001"

#: (user name, role, regions, display name) of the demo users besides the driver
DEMO_USERS: tuple[tuple[str, Role, list[str] | None, str], ...] = (
    ("dispatcher", Role.DISPATCHER, None, "Demo dispatcher (all regions)"),
    ("dispatcher-rural", Role.DISPATCHER, ["rural"], "Demo dispatcher (rural region)"),
    ("planner", Role.PLANNER, None, "Demo planner"),
    ("manager", Role.MANAGER, None, "Demo service manager"),
    ("admin", Role.ADMIN, None, "Demo administrator"),
    ("call-centre", Role.CALL_CENTRE, None, "Demo call-centre agent (all regions)"),
)


def seed_demo_users(
    sessions: sessionmaker[Session], now: datetime
) -> list[tuple[str, str, str | None]]:
    """Create the demo users that do not exist yet; `(user name, role, password)` for each,
    the password None for a user that was there already (left unchanged).

    The driver is bound to crew `DEMO_DRIVER_CREW`, or to the first installation crew in
    the database when that one is missing (`driver-<crew>`); without crews there is no demo
    driver. Passwords are random per installation (`secrets`), shown only to the caller.
    """
    out: list[tuple[str, str, str | None]] = []
    with sessions() as session, session.begin():
        users: list[tuple[str, Role, list[str] | None, str, str | None]] = [
            (name, role, regions, display, None) for name, role, regions, display in DEMO_USERS
        ]
        crew = _demo_driver_crew(session)
        if crew is not None:
            users.append((f"driver-{crew}", Role.DRIVER, None, f"Demo driver of {crew}", crew))
        for name, role, regions, display, crew_id in users:
            if get_user(session, name) is not None:
                out.append((name, role.value, None))
                continue
            password = secrets.token_urlsafe(9)
            create_user(
                session,
                name,
                role,
                password,
                now,
                crew_id=crew_id,
                regions=regions,
                display_name=display,
            )
            out.append((name, role.value, password))
    return out


def _demo_driver_crew(session: Session) -> str | None:
    if session.get(CrewRow, DEMO_DRIVER_CREW) is not None:
        return DEMO_DRIVER_CREW
    return session.scalar(
        select(CrewRow.id).where(CrewRow.kind == "installation_crew").order_by(CrewRow.id)
    )


#: who the audit log names for the demo PIN
SEED_ACTOR = Principal("seed", Role.ADMIN)


def seed_demo_driver_pin(
    sessions: sessionmaker[Session], now: datetime
) -> tuple[str, str | None] | None:
    """Give the demo driver's crew (as `seed_demo_users` picks it) a random 6-digit PIN if it
    has none: `(crew id, PIN)`, the PIN None when the crew had one (left unchanged); None
    without crews. `now` a precise time (the PIN revokes earlier tokens of the crew)."""
    with sessions() as session, session.begin():
        crew_id = _demo_driver_crew(session)
        if crew_id is None:
            return None
        if has_pin(session, crew_id):
            return crew_id, None
        pin = new_pin()
        set_crew_pin(session, session.get_one(CrewRow, crew_id), pin, now, SEED_ACTOR)
    return crew_id, pin
