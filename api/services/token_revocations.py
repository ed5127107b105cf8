"""Revoked bearer tokens: signing out, and taking every token from a user at once.

Tokens are signed, not stored, so revoking one means remembering it until it would have
expired anyway (`token_revocations`, migration 0005):

- **sign-out** (`POST /auth/sign-out`) revokes the presented token, by its id (`jti`), until
  its expiry;
- **every token of a subject issued before a moment**: sign-out everywhere
  (`POST /auth/sign-out?everywhere=true`), disabling a user (`dispatch user disable`) and a new
  password (`dispatch user password`). Tokens issued after it (the next sign-in) are valid.
  Kept for `MAX_TOKEN_HOURS` (90 days), longer than any token may last.

Rows are pruned when a revocation is written, once nothing they refuse can still be valid.

The check on every request (`RevocationList`, one per server process) costs no query: the
live rows are held in memory and re-read when the copy is older than
`Settings.token_revocation_cache_s` (5 s by default; one indexed query, in a worker thread).
A revocation made by the same process (a sign-out) is noted in the copy at once; one made
elsewhere (another server process, the `dispatch user` commands) is seen within that time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from api.settings import MAX_TOKEN_HOURS
from api.storage.db import dialect_insert
from api.storage.models import TokenRevocationRow

#: `kind` of a row revoking one token (`value` is its `jti`)
TOKEN = "token"
#: `kind` of a row revoking a subject's tokens issued before `not_before` (`value` is the `sub`)
SUBJECT = "subject"
#: how long a subject's revocation is kept: no token issued before it can outlive this
SUBJECT_HORIZON = timedelta(hours=MAX_TOKEN_HOURS, minutes=5)


def revoke_token(
    session: Session, jti: str, expires_at: datetime, now: datetime, reason: str = "sign_out"
) -> None:
    """Refuse the token `jti` from now on (until `expires_at`, its own expiry). Not
    committed; revoking a token twice is a no-op."""
    prune(session, now)
    table = TokenRevocationRow.__table__
    session.execute(
        dialect_insert(session)(table)
        .values(
            kind=TOKEN,
            value=jti,
            not_before=None,
            expires_at=expires_at,
            revoked_at=now,
            reason=reason,
        )
        .on_conflict_do_nothing(index_elements=["kind", "value"])
    )


def revoke_subject(session: Session, subject: str, now: datetime, reason: str) -> None:
    """Refuse every token of `subject` issued before `now` (a precise time: a token issued in
    the same second, after it, stays valid). Not committed; a later revocation replaces an
    earlier one."""
    prune(session, now)
    table = TokenRevocationRow.__table__
    values = {
        "not_before": now,
        "expires_at": now + SUBJECT_HORIZON,
        "revoked_at": now,
        "reason": reason,
    }
    session.execute(
        dialect_insert(session)(table)
        .values(kind=SUBJECT, value=subject, **values)
        .on_conflict_do_update(index_elements=["kind", "value"], set_=values)
    )


def prune(session: Session, now: datetime) -> None:
    """Forget the revocations nothing can need any more (past their `expires_at`)."""
    session.execute(delete(TokenRevocationRow).where(TokenRevocationRow.expires_at <= now))


@dataclass(frozen=True)
class Revocations:
    """The revocations in force at one moment: revoked token ids, and per subject the moment
    before which its tokens are refused."""

    tokens: frozenset[str] = frozenset()
    subjects: dict[str, datetime] = field(default_factory=dict)

    def refuses(self, jti: str, subject: str, issued_at: datetime) -> bool:
        """Whether a token (`jti`, `sub`, `iat` as naive local time) is revoked."""
        if jti in self.tokens:
            return True
        not_before = self.subjects.get(subject)
        return not_before is not None and issued_at < not_before

    def with_token(self, jti: str) -> Revocations:
        return Revocations(self.tokens | {jti}, self.subjects)

    def with_subject(self, subject: str, not_before: datetime) -> Revocations:
        earlier = self.subjects.get(subject)
        if earlier is not None and earlier >= not_before:
            return self
        return Revocations(self.tokens, {**self.subjects, subject: not_before})


def load_revocations(session: Session, now: datetime) -> Revocations:
    """The revocations in force at `now` (one query on the `expires_at` index)."""
    rows = session.execute(
        select(
            TokenRevocationRow.kind, TokenRevocationRow.value, TokenRevocationRow.not_before
        ).where(TokenRevocationRow.expires_at > now)
    ).all()
    return _from_rows(rows)


def _from_rows(rows: Iterable[tuple[str, str, datetime | None]]) -> Revocations:
    tokens: set[str] = set()
    subjects: dict[str, datetime] = {}
    for kind, value, not_before in rows:
        if kind == TOKEN:
            tokens.add(value)
        elif kind == SUBJECT and not_before is not None:
            subjects[value] = not_before
    return Revocations(frozenset(tokens), subjects)


class RevocationList:
    """One server process's copy of the revocations in force, re-read from the database when
    older than `ttl_s`. `refuses` only reads memory; `refresh` (called when `stale`) runs one
    query and should run off the event loop. Thread-safe: the copy is replaced whole, and
    the lock keeps a refresh from overwriting a revocation noted while it read."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        now: Callable[[], datetime],
        ttl_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._now = now
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._current = Revocations()
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def stale(self) -> bool:
        loaded = self._loaded_at
        return loaded is None or self._monotonic() - loaded >= self._ttl_s

    def should_refresh(self) -> bool:
        """Stale and nobody re-reading it yet: requests arriving while one thread re-reads
        go on with the copy they have (never loaded: every request waits for the first)."""
        return self._loaded_at is None or (self.stale() and not self._lock.locked())

    def refresh(self) -> None:
        """Re-read the revocations if the copy is stale (another thread may have just)."""
        with self._lock:
            if not self.stale():
                return
            started = self._monotonic()
            with self._sessions() as session:
                self._current = load_revocations(session, self._now())
            self._loaded_at = started

    def refuses(self, jti: str, subject: str, issued_at: datetime) -> bool:
        return self._current.refuses(jti, subject, issued_at)

    def note_token(self, jti: str) -> None:
        """A token this process has just revoked (committed): refused from now on."""
        with self._lock:
            self._current = self._current.with_token(jti)

    def note_subject(self, subject: str, not_before: datetime) -> None:
        """A subject whose earlier tokens this process has just revoked (committed)."""
        with self._lock:
            self._current = self._current.with_subject(subject, not_before)
