"""Tokens: an admin mints bearer tokens for people and devices; anyone can ask who they are."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.auth import Principal, Role, current_principal, issue_token, require
from api.context import AppContext, get_ctx
from api.types import Ident

router = APIRouter(prefix="/auth", tags=["access"])


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: Ident
    role: Role
    crew_id: Ident | None = Field(None, description="required for drivers: their crew")
    ttl_hours: float = Field(12.0, gt=0, le=24 * 90)

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


@router.post("/tokens", response_model=TokenOut, status_code=201, summary="Mint a token")
def mint(
    body: TokenIn,
    _admin: Principal = Depends(require(Role.ADMIN)),
    ctx: AppContext = Depends(get_ctx),
) -> TokenOut:
    token = issue_token(ctx.settings, body.subject, body.role, body.crew_id, body.ttl_hours)
    return TokenOut(token=token)


@router.get("/me", response_model=WhoAmI, summary="Who the token belongs to")
def me(principal: Principal = Depends(current_principal)) -> WhoAmI:
    return WhoAmI(subject=principal.subject, role=principal.role, crew_id=principal.crew_id)
