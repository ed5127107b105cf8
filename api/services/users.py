"""Users who sign in, their passwords, and the lock that stops password guessing.

Passwords are hashed with argon2id (argon2-cffi's `PasswordHasher`, its default RFC 9106
parameters); the hash string carries its own salt and parameters, so raising the parameters
later only needs `PasswordHasher`'s new defaults: old hashes still verify and are re-hashed at
the user's next sign-in. The plain password is never stored, logged or echoed.

Sign-in (`authenticate`) answers the same `WrongCredentials` for an unknown user name, a wrong
password and a disabled account, and spends one hash verification in every case, so neither
the answer nor its timing tells whether a name exists.

Lockout, per user name as typed (existing or not): failed attempts are counted in a window of
`WINDOW` that starts at the first failure; the `MAX_FAILURES`-th failure within the window
locks the name for `LOCK` from that failure, and that attempt itself already gets
`AccountLocked` (HTTP 429). While locked, every attempt gets `AccountLocked` without the
password being looked at. A successful sign-in clears the count. The counter is updated by
single SQL statements (insert-if-missing, then an `UPDATE ... SET failures = failures + 1`),
so concurrent wrong guesses are all counted.

Disabling a user and a new password revoke every token the user was given before
(`api.services.token_revocations`).

Validation failures raise `dispatch.errors.InputError` naming the field, as everywhere else
(exit 2 on the command line).
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, case, delete, literal, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.types import DateTime

from api.principals import REGION_BOUND_ROLES, Principal, Role
from api.services.token_revocations import revoke_subject
from api.storage.db import dialect_insert
from api.storage.models import CrewRow, SignInLockRow, UserRow
from dispatch.errors import InputError

#: failed sign-ins of one user name within `WINDOW` that lock it
MAX_FAILURES = 5
#: the counting window: it starts at the first failure (a failure after it starts a new one)
WINDOW = timedelta(minutes=10)
#: how long a locked name stays locked, from the failure that locked it
LOCK = timedelta(minutes=10)

#: user names: letters, digits, `.`, `_`, `-`, `@`; a letter or digit first (no `-name` that
#: reads like a command-line flag); at most 100 characters (the column's width)
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
#: region names, as the zones and crews tables hold them (String(32))
REGION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}")
MIN_PASSWORD = 8
#: an upper bound so nobody makes the server hash megabytes
MAX_PASSWORD = 1024
MAX_DISPLAY_NAME = 200

#: the one answer to every failed sign-in that is not a lock
WRONG_CREDENTIALS = "wrong user name or password"

_hasher = PasswordHasher()


class WrongCredentials(Exception):
    """Unknown user, wrong password or disabled account: deliberately indistinguishable."""

    def __init__(self) -> None:
        super().__init__(WRONG_CREDENTIALS)


class AccountLocked(Exception):
    """Too many failed sign-ins for this user name: try again in `seconds_left` seconds."""

    def __init__(self, seconds_left: int) -> None:
        self.seconds_left = seconds_left
        minutes = max(1, math.ceil(seconds_left / 60))
        self.message = (
            "too many failed sign-ins for this account: "
            f"try again in {minutes} minute{'s' if minutes != 1 else ''}"
        )
        super().__init__(self.message)


# ---- passwords


def hash_password(password: str) -> str:
    """The argon2id hash of `password` (salted; the string names its own parameters)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches `password_hash`; False for a corrupt hash too."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """A hash nobody knows the password of: verified against for unknown user names so they
    take as long as known ones. Made once per process, on first use (not at import)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def new_password() -> str:
    """A random password for a new user (12 characters from `secrets`, 72 bits)."""
    return secrets.token_urlsafe(9)


def check_password(password: str, record: str = "user") -> None:
    """Refuse passwords shorter than `MIN_PASSWORD` or longer than `MAX_PASSWORD`."""
    if len(password) < MIN_PASSWORD:
        raise InputError(record, "password", f"must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InputError(record, "password", f"must be at most {MAX_PASSWORD} characters")


# ---- users


def get_user(session: Session, username: str) -> UserRow | None:
    return session.scalar(select(UserRow).where(UserRow.username == username))


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.username)))


def principal_of(user: UserRow) -> Principal:
    """The caller a user's token names: subject = user name, role, crew, regions."""
    regions = frozenset(user.regions) if user.regions else None
    return Principal(user.username, Role(user.role), user.crew_id, regions)


def create_user(
    session: Session,
    username: str,
    role: Role | str,
    password: str,
    now: datetime,
    *,
    crew_id: str | None = None,
    regions: Iterable[str] | None = None,
    display_name: str | None = None,
) -> UserRow:
    """Add a user (flushed, not committed: the caller's transaction decides).

    Rules, each refused with an `InputError` naming the field: the user name's charset and
    uniqueness; `role` one of `api.principals.Role`; a driver needs `crew_id`, an existing
    crew, and nobody else may have one; `regions` only for dispatchers and call-centre
    agents (`REGION_BOUND_ROLES`), at least one when given (leave it out for every region);
    a password of `MIN_PASSWORD` characters or more.
    """
    record = f"user {username!r}"
    if not USERNAME_PATTERN.fullmatch(username):
        raise InputError(
            record,
            "username",
            "1 to 100 letters, digits, '.', '_', '-' or '@', starting with a letter or digit",
        )
    try:
        role = Role(role)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise InputError(record, "role", f"must be one of {names}, got {role!r}") from None
    if role is Role.DRIVER:
        if not crew_id:
            raise InputError(record, "crew_id", "a driver must be bound to a crew")
        if session.get(CrewRow, crew_id) is None:
            raise InputError(record, "crew_id", f"no crew {crew_id!r}")
    elif crew_id:
        raise InputError(record, "crew_id", f"only drivers are bound to a crew, not a {role}")
    region_list = _check_regions(record, role, regions)
    display = username if display_name is None else display_name.strip()
    if len(display) > MAX_DISPLAY_NAME or "\x00" in display:
        raise InputError(record, "display_name", f"at most {MAX_DISPLAY_NAME} characters, no NUL")
    check_password(password, record)
    if get_user(session, username) is not None:
        raise InputError(record, "username", "a user with this name already exists")
    user = UserRow(
        username=username,
        display_name=display or username,
        role=role.value,
        crew_id=crew_id if role is Role.DRIVER else None,
        regions=region_list,
        password_hash=hash_password(password),
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    return user


def _check_regions(record: str, role: Role, regions: Iterable[str] | None) -> list[str] | None:
    if regions is None:
        return None
    names = sorted({r.strip() for r in regions})
    if role not in REGION_BOUND_ROLES:
        raise InputError(
            record,
            "regions",
            f"only dispatchers and call-centre agents are bound to regions, not a {role}",
        )
    if not names or names == [""]:
        raise InputError(
            record, "regions", "name at least one region, or leave it out for every region"
        )
    for name in names:
        if not REGION_PATTERN.fullmatch(name):
            raise InputError(record, "regions", f"{name!r} is not a region name")
    return names


def _existing(session: Session, username: str) -> UserRow:
    user = get_user(session, username)
    if user is None:
        raise InputError(f"user {username!r}", "username", "no such user")
    return user


def set_password(session: Session, username: str, password: str, now: datetime) -> UserRow:
    """Give a user a new password (not committed). Every token the user was given before
    `now` is revoked (`api.services.token_revocations`; pass a precise time, see there). It
    also lifts a sign-in lock on the name: an administrator resetting the password is the
    way out of a lock besides waiting."""
    user = _existing(session, username)
    check_password(password, f"user {username!r}")
    user.password_hash = hash_password(password)
    user.updated_at = now
    session.execute(delete(SignInLockRow).where(SignInLockRow.username == username))
    revoke_subject(session, username, now, "password")
    session.flush()
    return user


def disable_user(session: Session, username: str, now: datetime) -> UserRow:
    """Stop a user from signing in and revoke every token the user was given before `now`
    (not committed; pass a precise time, see `api.services.token_revocations`)."""
    user = _existing(session, username)
    user.active = False
    user.updated_at = now
    revoke_subject(session, username, now, "disabled")
    session.flush()
    return user


# ---- sign-in


def authenticate(session: Session, username: str, password: str, now: datetime) -> UserRow:
    """The active user whose name and password these are, or an exception.

    Raises `AccountLocked` while the name is locked (the password is not looked at) and when
    this attempt is the one that locks it; `WrongCredentials` for an unknown name, a wrong
    password or a disabled account. Commits its own changes, the failure counter included:
    a failed attempt must be counted although the request it came with fails.
    """
    lock = session.execute(
        select(SignInLockRow.locked_until).where(SignInLockRow.username == username)
    ).first()
    if lock is not None and lock.locked_until is not None and lock.locked_until > now:
        session.rollback()
        raise AccountLocked(_seconds_until(lock.locked_until, now))

    user = get_user(session, username)
    if user is None:
        verify_password(_dummy_hash(), password)  # same work as for a real user
        ok = False
    else:
        ok = verify_password(user.password_hash, password) and user.active

    if not ok:
        locked_until = _count_failure(session, username, now)
        session.commit()
        if locked_until is not None:
            raise AccountLocked(_seconds_until(locked_until, now))
        raise WrongCredentials

    assert user is not None
    session.execute(delete(SignInLockRow).where(SignInLockRow.username == username))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_sign_in_at = now
    session.commit()
    return user


def _count_failure(session: Session, username: str, now: datetime) -> datetime | None:
    """Count one failed attempt for `username`; the time it is locked until if this attempt
    locks it. Atomic in the database: the row is created if missing (a no-op when a
    concurrent attempt created it first), then updated from its own current values."""
    table = SignInLockRow.__table__
    session.execute(
        dialect_insert(session)(table)
        .values(username=username, failures=0, window_start=now, locked_until=None)
        .on_conflict_do_nothing(index_elements=["username"])
    )
    at = literal(now, DateTime())
    # a new window when the last one is over, or when a lock has passed
    fresh = or_(
        SignInLockRow.window_start <= literal(now - WINDOW, DateTime()),
        and_(SignInLockRow.locked_until.is_not(None), SignInLockRow.locked_until <= at),
    )
    # SET expressions all read the row as it was before this statement
    failures = case((fresh, 1), else_=SignInLockRow.failures + 1)
    session.execute(
        update(SignInLockRow)
        .where(SignInLockRow.username == username)
        .values(
            failures=failures,
            window_start=case((fresh, at), else_=SignInLockRow.window_start),
            locked_until=case(
                (failures >= MAX_FAILURES, literal(now + LOCK, DateTime())), else_=None
            ),
        )
        .execution_options(synchronize_session=False)
    )
    return session.scalar(
        select(SignInLockRow.locked_until).where(SignInLockRow.username == username)
    )


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


# ---- the same lock for other sign-ins (a crew's PIN: `api.services.crew_pins`)


def locked_for(session: Session, key: str, now: datetime) -> int | None:
    """Seconds the sign-in key `key` (a user name, `crew:<id>`) stays locked; None if it is
    not locked now."""
    until = session.scalar(select(SignInLockRow.locked_until).where(SignInLockRow.username == key))
    return _seconds_until(until, now) if until is not None and until > now else None


def count_failed_sign_in(session: Session, key: str, now: datetime) -> int | None:
    """Count a failed sign-in for `key` (not committed: the caller commits, also when the
    request then fails); the seconds it is locked for if this attempt locked it."""
    until = _count_failure(session, key, now)
    return _seconds_until(until, now) if until is not None else None


def clear_failed_sign_ins(session: Session, key: str) -> None:
    """Forget `key`'s failed sign-ins and lift its lock (a success, or a new secret)."""
    session.execute(delete(SignInLockRow).where(SignInLockRow.username == key))


def verify_nothing(secret: str) -> None:
    """Spend one hash verification on nothing: a sign-in with no hash to check takes as long
    as one with a hash."""
    verify_password(_dummy_hash(), secret)


def needs_rehash(secret_hash: str) -> bool:
    """Whether a stored hash was made with weaker parameters than the hasher's current ones."""
    return _hasher.check_needs_rehash(secret_hash)
