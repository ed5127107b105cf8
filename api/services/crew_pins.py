"""Crews' PINs: how drivers sign in on the phone app with a crew id and a PIN.

A dispatcher of the crew's region (or an admin) sets a crew's PIN (`PUT /crews/{id}/pin`);
the crew's drivers sign in with the crew id and that PIN (`POST /auth/driver-sign-in`) and get
a driver token bound to the crew, subject `crew:<id>` (`driver_subject`). Why a crew PIN and
not a user per driver: crews share phones and change people from day to day; the dispatcher
hands the crew its PIN, and a new PIN takes the phones back at once.

- **Rules** (`pin_problem`): 6 to 8 ASCII digits; not one digit repeated (`000000`), not a
  run up or down (`123456`, `876543`, also wrapping round: `890123`). Refusals name the field
  `pin` and never repeat the PIN.
- **Stored** as an argon2id hash only (`api.services.users.hash_password`, the users'
  hasher), in `crew_pins`; the PIN is never logged, audited or answered. Setting and removing
  a PIN are in the audit log (the crew's id, no PIN).
- **A new PIN, or none, revokes** every token the crew's drivers got with the PIN before
  (`revoke_subject` of `crew:<id>`, `api.services.token_revocations`) and lifts a lock. Tokens
  of drivers with a user account of their own (`dispatch user add --role driver`) are not
  touched: they have their own subject.
- **Sign-in** (`authenticate_crew`) answers one `WrongPin` for an unknown crew, a crew
  without a PIN, an inactive (retired) crew and a wrong PIN, spending one hash verification in
  every case, so neither the answer nor its timing tells which crews exist. Failures lock like
  users' sign-ins (`api.services.users`: `MAX_FAILURES` in `WINDOW` lock for `LOCK`), keyed
  `crew:<id>` in `sign_in_locks` (user names cannot hold a `:`, so the keys never meet).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from itertools import pairwise

from sqlalchemy.orm import Session

from api.principals import Principal, Role
from api.services.audit import record_audit
from api.services.token_revocations import revoke_subject
from api.services.users import (
    AccountLocked,
    clear_failed_sign_ins,
    count_failed_sign_in,
    hash_password,
    locked_for,
    needs_rehash,
    verify_nothing,
    verify_password,
)
from api.storage.driver_models import CrewPinRow
from api.storage.models import CrewRow
from dispatch.errors import InputError

MIN_PIN = 6
MAX_PIN = 8
#: the one answer to every failed driver sign-in that is not a lock
WRONG_CREW_OR_PIN = "wrong crew id or PIN"
#: what a PIN must be, in words (the field's description and its refusals)
PIN_RULE = (
    f"{MIN_PIN} to {MAX_PIN} digits, not all one digit and not a run up or down (123456, 654321)"
)


class WrongPin(Exception):
    """Unknown crew, no PIN, retired crew or wrong PIN: deliberately indistinguishable."""

    def __init__(self) -> None:
        super().__init__(WRONG_CREW_OR_PIN)


def driver_subject(crew_id: str) -> str:
    """The subject of the tokens a crew's PIN gives (and of its sign-in lock)."""
    return f"crew:{crew_id}"


def pin_problem(pin: str) -> str | None:
    """Why `pin` is refused, in words that do not repeat it; None for a good PIN."""
    if not (MIN_PIN <= len(pin) <= MAX_PIN) or not all("0" <= c <= "9" for c in pin):
        return f"must be {MIN_PIN} to {MAX_PIN} digits (0-9)"
    if len(set(pin)) == 1:
        return "is one digit repeated: too easy to guess"
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(pin)}
    if steps in ({1}, {9}):
        return "is a run of digits up or down: too easy to guess"
    return None


def check_pin(pin: str, crew_id: str) -> None:
    """Refuse a PIN that breaks the rules (`InputError` naming the field `pin`)."""
    problem = pin_problem(pin)
    if problem is not None:
        raise InputError(f"crew {crew_id!r}", "pin", problem)


def new_pin() -> str:
    """A random 6-digit PIN that keeps the rules (for the demo crew: `dispatch seed`)."""
    while True:
        pin = f"{secrets.randbelow(10**MIN_PIN):0{MIN_PIN}d}"
        if pin_problem(pin) is None:
            return pin


def has_pin(session: Session, crew_id: str) -> bool:
    return session.get(CrewPinRow, crew_id) is not None


def set_crew_pin(
    session: Session, crew: CrewRow, pin: str, now: datetime, principal: Principal
) -> None:
    """Give `crew` a new PIN (not committed). Every token its drivers got with the earlier PIN
    is revoked (`now` a precise time: see `api.services.token_revocations`) and a sign-in lock
    on it is lifted; audited without the PIN."""
    check_pin(pin, crew.id)
    row = session.get(CrewPinRow, crew.id)
    if row is None:
        row = CrewPinRow(crew_id=crew.id)
        session.add(row)
    row.pin_hash = hash_password(pin)
    row.set_at = now.replace(microsecond=0)
    row.set_by = principal.subject
    _take_back(session, crew.id, now, "pin")
    record_audit(
        session, principal, "crew_pin_set", now.replace(microsecond=0), details={"crew_id": crew.id}
    )
    session.flush()


def remove_crew_pin(session: Session, crew: CrewRow, now: datetime, principal: Principal) -> bool:
    """Remove `crew`'s PIN (not committed): nobody signs in with it any more, and the tokens
    its drivers got with it are revoked. Whether there was one; audited when there was."""
    row = session.get(CrewPinRow, crew.id)
    if row is not None:
        session.delete(row)
    _take_back(session, crew.id, now, "pin_removed")
    if row is not None:
        at = now.replace(microsecond=0)
        record_audit(session, principal, "crew_pin_removed", at, details={"crew_id": crew.id})
    session.flush()
    return row is not None


def _take_back(session: Session, crew_id: str, now: datetime, reason: str) -> None:
    subject = driver_subject(crew_id)
    revoke_subject(session, subject, now, reason)
    clear_failed_sign_ins(session, subject)


def authenticate_crew(session: Session, crew_id: str, pin: str, now: datetime) -> Principal:
    """The driver a correct crew id and PIN sign in as, or an exception.

    Raises `AccountLocked` while the crew's sign-in is locked (the PIN is not looked at) and
    when this attempt locks it; `WrongPin` for everything else that fails. Commits its own
    changes, the failure counter included (a failure must be counted although the request
    fails)."""
    key = driver_subject(crew_id)
    seconds = locked_for(session, key, now)
    if seconds is not None:
        session.rollback()
        raise AccountLocked(seconds)
    row = session.get(CrewPinRow, crew_id)
    crew = session.get(CrewRow, crew_id) if row is not None else None
    if row is None:
        verify_nothing(pin)  # the same work as for a crew with a PIN
        ok = False
    else:
        ok = verify_password(row.pin_hash, pin) and crew is not None and crew.active
    if not ok:
        seconds = count_failed_sign_in(session, key, now)
        session.commit()
        if seconds is not None:
            raise AccountLocked(seconds)
        raise WrongPin
    assert row is not None
    clear_failed_sign_ins(session, key)
    if needs_rehash(row.pin_hash):
        row.pin_hash = hash_password(pin)
    principal = Principal(key, Role.DRIVER, crew_id)
    record_audit(session, principal, "driver_sign_in", now, details={"crew_id": crew_id})
    session.commit()
    return principal
