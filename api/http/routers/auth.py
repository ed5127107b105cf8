"""Tokens and sign-in: people sign in with a user name and password and get a bearer token;
an admin mints tokens for scripts and devices; anyone can ask who they are; signing out
revokes the token on the server (`api.services.token_revocations`).

Sign-in answers the token in the JSON body only (`Cache-Control: no-store`): never in a URL, a
redirect or a cookie, so it stays out of browser history, server logs and referrers. The
web sign-in page (built separately) posts to `POST /auth/sign-in`; `dispatch token` stays
for scripts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.context import AppContext
from api.http.auth import (
    Token,
    current_principal,
    current_token,
    issue_token,
    locked_out,
    require,
    revocation_list,
    wrong_credentials,
)
from api.http.deps import CtxDep, SessionDep
from api.principals import Principal, Role
from api.services.audit import record_audit
from api.services.token_revocations import revoke_subject, revoke_token
from api.services.users import (
    MAX_PASSWORD,
    WRONG_CREDENTIALS,
    AccountLocked,
    WrongCredentials,
    authenticate,
    principal_of,
)
from api.settings import MAX_TOKEN_HOURS
from api.storage.types import Ident

router = APIRouter(prefix="/auth", tags=["access"])


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: Ident
    role: Role
    crew_id: Ident | None = Field(None, description="required for drivers: their crew")
    ttl_hours: float | None = Field(
        None,
        gt=0,
        le=MAX_TOKEN_HOURS,
        description="lifetime in hours; default: the service's (12 h), capped by the role's "
        "longest (drivers 72 h, everyone else 12 h by default); longer is refused (422)",
    )

    @model_validator(mode="after")
    def _driver_has_crew(self) -> TokenIn:
        if self.role is Role.DRIVER and not self.crew_id:
            raise ValueError("crew_id is required for a driver token")
        return self


class TokenOut(BaseModel):
    token: str
    token_type: str = "bearer"


class WhoAmI(BaseModel):
    subject: str
    role: Role
    crew_id: str | None
    regions: list[str] | None = Field(
        None, description="the regions a region-bound dispatcher works on; null: every region"
    )


class SignInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: any text up to the column's width: a name outside the user-name charset is simply
    #: unknown (401), so the answer never tells which names could exist
    username: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00]+$")]
    password: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD)]


class SignInOut(BaseModel):
    token: str = Field(description="send it as `Authorization: Bearer <token>`")
    token_type: str = "bearer"
    subject: str = Field(description="the user name; the token's `sub`")
    role: Role
    crew_id: str | None = Field(description="a driver's crew; null for everyone else")
    regions: list[str] | None = Field(
        description="the regions a region-bound dispatcher works on; null: every region"
    )
    expires_at: datetime = Field(description="when the token expires (local time, naive)")


@router.post("/tokens", response_model=TokenOut, status_code=201, summary="Mint a token")
def mint(
    body: TokenIn,
    *,
    _admin: Principal = Depends(require(Role.ADMIN)),
    ctx: CtxDep,
) -> TokenOut:
    token = issue_token(ctx.settings, body.subject, body.role, body.crew_id, body.ttl_hours)
    return TokenOut(token=token)


@router.get("/me", response_model=WhoAmI, summary="Who the token belongs to")
def me(principal: Principal = Depends(current_principal)) -> WhoAmI:
    return WhoAmI(
        subject=principal.subject,
        role=principal.role,
        crew_id=principal.crew_id,
        regions=sorted(principal.regions) if principal.regions is not None else None,
    )


@router.post(
    "/sign-in",
    response_model=SignInOut,
    summary="Sign in with user name and password",
    responses={
        401: {"description": "wrong user name or password"},
        429: {"description": "too many failed sign-ins for this account; `Retry-After` seconds"},
    },
)
def sign_in(
    body: SignInIn,
    response: Response,
    ctx: CtxDep,
    session: SessionDep,
) -> SignInOut:
    """A bearer token for a user (`dispatch user add`), in the body only.

    One answer for an unknown name, a wrong password and a disabled account (401). After
    5 failed attempts for one name within 10 minutes the name is locked for 10 minutes: the
    5th attempt and every one while locked answer 429 with `Retry-After` (see `api.services.users`).
    """
    now = ctx.settings.now()
    try:
        user = authenticate(session, body.username, body.password, now)
    except WrongCredentials:
        raise wrong_credentials(WRONG_CREDENTIALS) from None
    except AccountLocked as exc:
        raise locked_out(exc.message, exc.seconds_left) from None
    principal = principal_of(user)
    regions = sorted(principal.regions) if principal.regions is not None else None
    token = issue_token(
        ctx.settings, principal.subject, principal.role, principal.crew_id, regions=regions
    )
    record_audit(session, principal, "sign_in", now)
    session.commit()
    response.headers["Cache-Control"] = "no-store"
    return SignInOut(
        token=token,
        subject=principal.subject,
        role=principal.role,
        crew_id=principal.crew_id,
        regions=regions,
        expires_at=_expires_at(ctx, token),
    )


def _expires_at(ctx: AppContext, token: str) -> datetime:
    """The token's `exp` as the service's naive local time (the token we just signed)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    moment = datetime.fromtimestamp(int(claims["exp"]), UTC)
    return moment.astimezone(ctx.settings.tz).replace(tzinfo=None)


@router.post("/sign-out", status_code=204, summary="Sign out (revokes the token)")
def sign_out(
    request: Request,
    *,
    everywhere: bool = Query(
        False,
        description="revoke every token of this subject issued until now, not only this one",
    ),
    token: Token = Depends(current_token),
    ctx: CtxDep,
    session: SessionDep,
) -> Response:
    """Revoke the presented token on the server: from now on it answers 401 everywhere (in
    other server processes within `FIELDROUTE_TOKEN_REVOCATION_CACHE_S`, 5 s). With
    `everywhere=true`, every token of the same subject issued until now (other devices,
    other browsers) too. Recorded in the audit log.
    """
    principal = token.principal
    now = ctx.settings.precise_now()
    if everywhere:
        revoke_subject(session, principal.subject, now, "sign_out_everywhere")
    else:
        revoke_token(session, token.jti, token.expires_at, now)
    at = now.replace(microsecond=0)
    record_audit(session, principal, "sign_out", at, details={"everywhere": everywhere})
    session.commit()
    revoked = revocation_list(request.app)
    if everywhere:
        revoked.note_subject(principal.subject, now)
    else:
        revoked.note_token(token.jti)
    return Response(status_code=204)
