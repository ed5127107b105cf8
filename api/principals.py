"""Who is calling, in the service's own terms: roles, the principal a token names, and the
access rules every layer applies (region-bound dispatchers and call-centre agents, drivers
bound to one crew).

Tokens and the HTTP side of sign-in live in `api.http.auth`; this module knows no HTTP, so
services check access with the same rules the routers declare. A refused check raises
`Forbidden`, answered 403 by `api.http.errors`.

Who sees personal data (customer names, phones, addresses): dispatchers and admins for all
jobs, a driver for the stops on his own route only; planners and managers work on figures
and never see them. A call-centre agent quotes and books new orders (`BOOKING`): he types the
customer's name, phone and address into the booking, and reads no job, route or board, so
he sees no one else's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Forbidden(Exception):
    """The caller may not do this (HTTP 403)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Role(StrEnum):
    DISPATCHER = "dispatcher"
    DRIVER = "driver"  # bound to one crew
    PLANNER = "planner"
    MANAGER = "manager"
    ADMIN = "admin"
    #: quotes slots and books them for customers on the phone; reads no jobs, routes or board
    CALL_CENTRE = "call_centre"


#: roles that see customers' names, phones and addresses on every job
PERSONAL_DATA_ROLES = frozenset({Role.DISPATCHER, Role.ADMIN})
#: shorthand for route declarations
OFFICE = (Role.DISPATCHER, Role.ADMIN)
ANY_OFFICE = (Role.DISPATCHER, Role.ADMIN, Role.PLANNER, Role.MANAGER)
#: who may quote and book slots for new orders (`POST /quotes`, `POST /bookings`)
BOOKING = (Role.DISPATCHER, Role.ADMIN, Role.CALL_CENTRE)
#: roles a user may be bound to regions in (`Principal.regions`); everyone else works on all
REGION_BOUND_ROLES = frozenset({Role.DISPATCHER, Role.CALL_CENTRE})


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    crew_id: str | None = None
    #: the regions a region-bound dispatcher (or call-centre agent) works on; None: every region
    regions: frozenset[str] | None = None

    @property
    def sees_personal_data(self) -> bool:
        return self.role in PERSONAL_DATA_ROLES

    def may_see(self, region: str) -> bool:
        """Whether this caller may read or change things of `region`."""
        return self.regions is None or region in self.regions


def check_region(principal: Principal, region: str) -> None:
    """A region-bound dispatcher or call-centre agent reads and changes only his regions (403
    otherwise)."""
    if not principal.may_see(region):
        names = ", ".join(sorted(principal.regions or ()))
        raise Forbidden(f"{principal.subject!r} works on region(s) {names} only, not {region!r}")


def check_own_crew(principal: Principal, crew_id: str) -> None:
    """Drivers act only on their own crew's route and jobs (403 otherwise)."""
    if principal.role is Role.DRIVER and principal.crew_id != crew_id:
        raise Forbidden("a driver may only read or change his own crew's route")
