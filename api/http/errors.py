"""How failures become HTTP answers: every client mistake is a 4xx naming the field.

- `InputError(s)` from the domain (a bad window, an unknown depot) -> 422 with one entry per
  problem: `{"record", "field", "message"}`; request-shape errors keep FastAPI's 422 form
  (`loc` names the field);
- `Forbidden` (another region, another crew's route) -> 403;
- `Conflict` (illegal transition, already published, stale version) -> 409;
- an update that lost a race (SQLAlchemy's version check) -> 409;
- a unique-constraint race -> 409;
- bodies larger than `max_body_bytes` -> 413.
Anything else is a bug: logged with its traceback (never with request bodies, which may hold
personal data) and answered 500 without internals.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.principals import Forbidden
from api.services.errors import Conflict, Unprocessable
from dispatch.errors import InputError, InputErrors

log = logging.getLogger("api")


def input_error_body(errors: list[InputError]) -> dict:
    return {
        "detail": [{"record": e.record, "field": e.field, "message": e.message} for e in errors]
    }


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InputError)
    async def _input_error(_request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(input_error_body([exc]), status_code=422)

    @app.exception_handler(InputErrors)
    async def _input_errors(_request: Request, exc: InputErrors) -> JSONResponse:
        return JSONResponse(input_error_body(list(exc.errors)), status_code=422)

    @app.exception_handler(Forbidden)
    async def _forbidden(_request: Request, exc: Forbidden) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=403)

    @app.exception_handler(Conflict)
    async def _conflict(_request: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": exc.message, **exc.context}, status_code=409)

    @app.exception_handler(Unprocessable)
    async def _unprocessable(_request: Request, exc: Unprocessable) -> JSONResponse:
        return JSONResponse({"detail": exc.message, "reasons": exc.reasons}, status_code=422)

    @app.exception_handler(StaleDataError)
    async def _stale(_request: Request, _exc: StaleDataError) -> JSONResponse:
        return JSONResponse(
            {"detail": "the record was changed by someone else meanwhile; reload and retry"},
            status_code=409,
        )

    @app.exception_handler(DataError)
    async def _data(_request: Request, exc: DataError) -> JSONResponse:
        # a value the database cannot hold (a number out of range) that slipped past the
        # request checks: the client's input, so 422, never a 500
        log.info("database refused a value: %s", type(exc.orig).__name__)
        return JSONResponse(
            {"detail": "a value is out of the range the database can store"}, status_code=422
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity conflict: %s", type(exc.orig).__name__)
        return JSONResponse(
            {"detail": "conflicts with an existing record (duplicate or concurrent change)"},
            status_code=409,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)


class BodySizeLimit:
    """Refuse request bodies over `limit` bytes with 413, by header or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(send, self.limit)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = (f'{{"detail":"request body is larger than the limit of {limit} bytes"}}').encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
