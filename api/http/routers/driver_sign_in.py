"""Drivers' sign-in on the phone app: a crew's PIN, set by the office, and sign-in with crew id
and PIN (`api.services.crew_pins` holds the rules).

- `PUT /crews/{crew_id}/pin` (dispatcher of the crew's region, admin): a new PIN, 204. It
  revokes the tokens the crew's drivers got with the earlier one. `DELETE` removes it.
- `POST /auth/driver-sign-in` (no token): `{"crew_id", "pin"}` -> a driver token bound to the
  crew, subject `crew:<id>`, lasting the drivers' longest lifetime
  (`FIELDROUTE_TOKEN_MAX_HOURS_DRIVER`, 72 h): a phone stays signed in over a few shifts. The
  token is in the body only (`Cache-Control: no-store`), never in a URL or a cookie. One 401
  for every failure; 429 with `Retry-After` once the crew's sign-in is locked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.http.auth import (
    issue_token,
    locked_out,
    require,
    revocation_list,
    verify_token,
    wrong_credentials,
)
from api.http.deps import CtxDep, SessionDep
from api.principals import OFFICE, Principal, Role, check_region
from api.services.crew_pins import (
    PIN_RULE,
    WRONG_CREW_OR_PIN,
    WrongPin,
    authenticate_crew,
    driver_subject,
    remove_crew_pin,
    set_crew_pin,
)
from api.services.users import AccountLocked
from api.storage.models import CrewRow

router = APIRouter(tags=["access"])

#: any text up to the widest PIN a client might type: the rules are checked on the value
PinText = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00]+$")]


class PinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pin: PinText = Field(description=f"the crew's new PIN, as a string: {PIN_RULE}")


class DriverSignInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: any text up to an id's width: an id outside the id charset is simply unknown (401)
    crew_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00]+$")]
    pin: PinText


class DriverSignInOut(BaseModel):
    token: str = Field(description="send it as `Authorization: Bearer <token>`")
    token_type: str = "bearer"
    crew_id: str = Field(description="the crew the token is bound to")
    expires_at: datetime = Field(description="when the token expires (local time, naive)")


def _crew(session: SessionDep, crew_id: str, principal: Principal) -> CrewRow:
    """The crew; 404 if there is none, 403 for a dispatcher bound to other regions."""
    crew = session.get(CrewRow, crew_id)
    if crew is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"crew {crew_id!r} not found")
    check_region(principal, crew.region)
    return crew


@router.put(
    "/crews/{crew_id}/pin",
    status_code=204,
    summary="Set a crew's PIN for the drivers' phone sign-in",
    description=f"The PIN: {PIN_RULE} (422 naming `pin` otherwise). Stored as an argon2 hash "
    "only. Tokens the crew's drivers got with the earlier PIN stop working (401), and a "
    "sign-in lock on the crew is lifted. Audited without the PIN. Dispatchers of the crew's "
    "region and admins.",
)
def set_pin(
    crew_id: str,
    body: PinIn,
    request: Request,
    *,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
) -> Response:
    crew = _crew(session, crew_id, principal)
    now = ctx.settings.precise_now()
    set_crew_pin(session, crew, body.pin, now, principal)
    session.commit()
    revocation_list(request.app).note_subject(driver_subject(crew_id), now)
    return Response(status_code=204)


@router.delete(
    "/crews/{crew_id}/pin",
    status_code=204,
    summary="Remove a crew's PIN (nobody signs in with it any more)",
    description="The crew's drivers can no longer sign in with a PIN, and the tokens they got "
    "with it stop working. 204 also when the crew had none.",
)
def remove_pin(
    crew_id: str,
    request: Request,
    *,
    principal: Principal = Depends(require(*OFFICE)),
    ctx: CtxDep,
    session: SessionDep,
) -> Response:
    crew = _crew(session, crew_id, principal)
    now = ctx.settings.precise_now()
    remove_crew_pin(session, crew, now, principal)
    session.commit()
    revocation_list(request.app).note_subject(driver_subject(crew_id), now)
    return Response(status_code=204)


@router.post(
    "/auth/driver-sign-in",
    response_model=DriverSignInOut,
    summary="Sign in on the drivers' phone app with crew id and PIN",
    responses={
        401: {"description": "wrong crew id or PIN (also: no PIN set, crew retired)"},
        429: {"description": "too many failed sign-ins for this crew; `Retry-After` seconds"},
    },
)
def driver_sign_in(
    body: DriverSignInIn, response: Response, ctx: CtxDep, session: SessionDep
) -> DriverSignInOut:
    """A driver token bound to the crew (subject `crew:<id>`), in the body only.

    One answer for an unknown crew, a crew without a PIN, a retired crew and a wrong PIN
    (401, "wrong crew id or PIN"). After 5 failed attempts for one crew within 10 minutes its
    sign-in is locked for 10 minutes: the 5th attempt and every one while locked answer 429
    with `Retry-After`, as for users (`api.services.users`).
    """
    now = ctx.settings.now()
    try:
        principal = authenticate_crew(session, body.crew_id, body.pin, now)
    except WrongPin:
        raise wrong_credentials(WRONG_CREW_OR_PIN) from None
    except AccountLocked as exc:
        raise locked_out(exc.message, exc.seconds_left) from None
    settings = ctx.settings
    token = issue_token(
        settings,
        principal.subject,
        Role.DRIVER,
        principal.crew_id,
        ttl_hours=settings.token_max_hours_driver,
    )
    response.headers["Cache-Control"] = "no-store"
    return DriverSignInOut(
        token=token,
        crew_id=body.crew_id,
        expires_at=verify_token(settings, token).expires_at,
    )
