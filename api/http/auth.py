"""Who is calling: roles, signed bearer tokens, and the access rules every route declares.

Tokens are JWTs signed with HMAC-SHA256 and the service's secret (`Settings.secret_key`);
they carry the subject, the role and, for a driver, the one crew the driver belongs to.
`dispatch token --role driver --crew C17 --subject wang` mints one for a deployment without
an identity provider; an identity provider that signs with the same secret works as well.

Who sees personal data (customer names, phones, addresses): dispatchers and admins for all
jobs, a driver for the stops on his own route only; planners and managers work on figures
and never see them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.principals import Principal, Role
from api.settings import Settings

ALGORITHM = "HS256"


def issue_token(
    settings: Settings,
    subject: str,
    role: Role | str,
    crew_id: str | None = None,
    ttl_hours: float | None = None,
    regions: list[str] | tuple[str, ...] | frozenset[str] | None = None,
) -> str:
    """A signed bearer token. A driver token must name the driver's crew; a token that names
    `regions` binds its holder to those regions (`Principal.may_see`)."""
    role = Role(role)
    if role is Role.DRIVER and not crew_id:
        raise ValueError("a driver token must name the driver's crew (crew_id)")
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": subject,
        "role": role.value,
        "iat": now,
        "exp": now + timedelta(hours=ttl_hours or settings.token_ttl_hours),
    }
    if crew_id:
        claims["crew"] = crew_id
    if regions:
        claims["regions"] = sorted(set(regions))
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)


def read_token(settings: Settings, token: str) -> Principal:
    """The principal a token names; 401 if it is not ours, expired or malformed."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[ALGORITHM],
            options={"require": ["sub", "role", "exp"]},
        )
        role = Role(claims["role"])
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise _unauthorized(f"invalid token: {exc}") from None
    crew = claims.get("crew")
    if role is Role.DRIVER and not crew:
        raise _unauthorized("invalid token: a driver token must name a crew")
    regions = claims.get("regions")
    if regions is not None and (
        not isinstance(regions, list) or not all(isinstance(r, str) for r in regions)
    ):
        raise _unauthorized("invalid token: regions must be a list of region names")
    return Principal(
        str(claims["sub"]),
        role,
        str(crew) if crew else None,
        frozenset(regions) if regions else None,
    )


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"}
    )


_bearer = HTTPBearer(auto_error=False, description="Bearer token from `dispatch token`")


async def current_principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    """The caller, from the bearer token. `async` on purpose: it does no I/O, and a sync
    dependency would cost a thread-pool hop on every request."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("missing bearer token")
    return read_token(request.app.state.ctx.settings, credentials.credentials)


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
