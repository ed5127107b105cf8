"""Who is calling: roles, signed bearer tokens, and the access rules every route declares.

Tokens are JWTs signed with HMAC-SHA256 and the service's secret (`Settings.signing_secret`:
`FIELDROUTE_SECRET_KEY`, or the installation's generated secret file); they carry the
subject, the role, for a driver the one crew the driver belongs to, an id (`jti`) and the
moment they were issued (`iat`, to the microsecond). `dispatch token --role driver --crew C17
--subject wang` mints one for a deployment without an identity provider; an identity provider
that signs with the same secret and the same claims works as well.

A token is refused (401) when it is not signed with this service's secret, has expired, lacks
a claim, lasts longer than its role may (`Settings.token_max_hours`: a 90-day driver token is
refused even if it was signed here), or was revoked: signed out, or its user disabled or given
a new password (`api.services.token_revocations`; the check reads an in-process copy of the
revocations, no query per request).

Who sees personal data (customer names, phones, addresses): dispatchers and admins for all
jobs, a driver for the stops on his own route only; planners and managers work on figures
and never see them.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import anyio
import jwt
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.principals import Principal, Role
from api.services.token_revocations import RevocationList
from api.settings import Settings
from dispatch.errors import InputError

ALGORITHM = "HS256"
#: a token may outlast its role's longest lifetime by this much (clock rounding), no more
LIFETIME_LEEWAY_S = 60
#: the longest token id accepted (ours are 22 characters)
MAX_JTI = 100


@dataclass(frozen=True)
class Token:
    """A verified token: who it names, its id, and when it was issued and expires (naive local
    times of the region)."""

    principal: Principal
    jti: str
    issued_at: datetime
    expires_at: datetime


def token_lifetime_hours(settings: Settings, role: Role | str, ttl_hours: float | None) -> float:
    """The lifetime of a new token of `role`: `ttl_hours`, or the service's default capped by
    the role's longest; `InputError` (field `ttl_hours`) if `ttl_hours` exceeds that."""
    longest = settings.token_max_hours(Role(role).value)
    if ttl_hours is None:
        return min(settings.token_ttl_hours, longest)
    if not ttl_hours > 0:
        raise InputError("token", "ttl_hours", "must be more than 0")
    if ttl_hours > longest:
        setting = "DRIVER" if Role(role) is Role.DRIVER else "OFFICE"
        raise InputError(
            "token",
            "ttl_hours",
            f"a {Role(role).value} token may last at most {longest:g} hours "
            f"(FIELDROUTE_TOKEN_MAX_HOURS_{setting}), not {ttl_hours:g}",
        )
    return ttl_hours


def issue_token(
    settings: Settings,
    subject: str,
    role: Role | str,
    crew_id: str | None = None,
    ttl_hours: float | None = None,
    regions: list[str] | tuple[str, ...] | frozenset[str] | None = None,
) -> str:
    """A signed bearer token. A driver token must name the driver's crew; a token that names
    `regions` binds its holder to those regions (`Principal.may_see`). Without `ttl_hours`
    it lasts the service's default, capped by the role's longest lifetime; a longer
    `ttl_hours` is refused (`InputError`)."""
    role = Role(role)
    if role is Role.DRIVER and not crew_id:
        raise ValueError("a driver token must name the driver's crew (crew_id)")
    hours = token_lifetime_hours(settings, role, ttl_hours)
    now = time.time()
    claims: dict[str, object] = {
        "sub": subject,
        "role": role.value,
        "jti": secrets.token_urlsafe(16),
        # to the microsecond: a token issued just after a revocation (in the same second) is
        # told apart from those before it
        "iat": round(now, 6),
        "exp": int(now + hours * 3600),
    }
    if crew_id:
        claims["crew"] = crew_id
    if regions:
        claims["regions"] = sorted(set(regions))
    return jwt.encode(claims, settings.signing_secret(), algorithm=ALGORITHM)


def verify_token(settings: Settings, token: str) -> Token:
    """The verified token: signature, expiry, claims and the role's longest lifetime (401
    otherwise). Revocation is checked by `current_token`, which knows the app."""
    try:
        claims = jwt.decode(
            token,
            settings.signing_secret(),
            algorithms=[ALGORITHM],
            options={"require": ["sub", "role", "exp", "iat", "jti"]},
        )
        role = Role(claims["role"])
        issued, expires = float(claims["iat"]), float(claims["exp"])
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise _unauthorized(f"invalid token: {exc}") from None
    jti = claims["jti"]
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI:
        raise _unauthorized(f"invalid token: jti must be a text of 1 to {MAX_JTI} characters")
    longest = settings.token_max_hours(role.value)
    if expires - issued > longest * 3600 + LIFETIME_LEEWAY_S:
        raise _unauthorized(
            f"invalid token: a {role.value} token may last at most {longest:g} hours, "
            f"this one {(expires - issued) / 3600:g}"
        )
    crew = claims.get("crew")
    if role is Role.DRIVER and not crew:
        raise _unauthorized("invalid token: a driver token must name a crew")
    regions = claims.get("regions")
    if regions is not None and (
        not isinstance(regions, list) or not all(isinstance(r, str) for r in regions)
    ):
        raise _unauthorized("invalid token: regions must be a list of region names")
    principal = Principal(
        str(claims["sub"]),
        role,
        str(crew) if crew else None,
        frozenset(regions) if regions else None,
    )
    return Token(
        principal,
        jti,
        settings.local_from_timestamp(issued),
        settings.local_from_timestamp(expires),
    )


def read_token(settings: Settings, token: str) -> Principal:
    """The principal a token names; 401 if it is not ours, expired, malformed or too long-
    lived (revocation aside: see `current_principal`)."""
    return verify_token(settings, token).principal


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"}
    )


_bearer = HTTPBearer(auto_error=False, description="Bearer token from `dispatch token`")
_lists_lock = threading.Lock()


def revocation_list(app: FastAPI) -> RevocationList:
    """The app's in-process copy of the token revocations (made on first use)."""
    found = getattr(app.state, "token_revocations", None)
    if found is None:
        with _lists_lock:
            found = getattr(app.state, "token_revocations", None)
            if found is None:
                ctx = app.state.ctx
                found = RevocationList(
                    ctx.sessions, ctx.settings.now, ctx.settings.token_revocation_cache_s
                )
                app.state.token_revocations = found
    return found


async def current_token(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Token:
    """The caller's verified, unrevoked token. `async` on purpose: it reads memory only (a
    sync dependency would cost a thread-pool hop on every request); the revocations are
    re-read in a worker thread when the copy is stale (every few seconds)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("missing bearer token")
    token = verify_token(request.app.state.ctx.settings, credentials.credentials)
    revoked = revocation_list(request.app)
    if revoked.should_refresh():
        await anyio.to_thread.run_sync(revoked.refresh)
    if revoked.refuses(token.jti, token.principal.subject, token.issued_at):
        raise _unauthorized(
            "token revoked: signed out, or the user was disabled or given a new password"
        )
    return token


async def current_principal(token: Token = Depends(current_token)) -> Principal:
    """The caller, from the bearer token (see `current_token`)."""
    return token.principal


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency that admits only `roles` (403 for the others)."""
    allowed = frozenset(roles)

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {principal.role.value!r} may not do this (allowed: {names})",
            )
        return principal

    return dependency


# ---- the answers both sign-ins give (users by password, drivers by crew id and PIN)


def wrong_credentials(message: str) -> HTTPException:
    """401 for a failed sign-in: one message whatever was wrong, so names cannot be probed."""
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"}
    )


def locked_out(message: str, seconds_left: int) -> HTTPException:
    """429 for a sign-in locked after repeated failures, with when to try again."""
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS, message, headers={"Retry-After": str(seconds_left)}
    )
