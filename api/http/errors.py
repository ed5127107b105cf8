"""How failures become HTTP answers: one shape for every error, RFC 9457 problem details.

Every error the service answers is `application/problem+json` with the members `type` (a
stable `/problems/<name>` path, `PROBLEMS` below; `about:blank` for a status without a name of
its own), `title` (the same for every problem of that type), `status` and `detail` (a sentence
for a person, always a string), plus extension members:

- request-shape errors (FastAPI's validation, and the JSON body guard in `api.http.json_guard`)
  -> 422 `invalid-request` with `errors`: `{"loc", "field", "message", "type"}` per problem,
  **never the input value** (it may be what cannot be encoded: NaN, a lone surrogate, bytes);
  a body that is not JSON where JSON is expected -> 415;
- `InputError(s)` from the domain (a bad window, an unknown depot) -> 422 `invalid-input` with
  `errors`: `{"record", "field", "message"}` per problem;
- `Unprocessable` (a business rule) -> 422 `rule-violation` with `reasons`;
- `Forbidden` (another region, another crew's route) -> 403;
- `Conflict` (illegal transition, already published, stale version) -> 409 with its context
  (`field`, `version`, ids; a `status` of the resource is `current_status`, since `status` is
  the answer's own);
- an update that lost a race (SQLAlchemy's version check) or a unique-constraint race -> 409;
- a value the database cannot hold -> 422 `value-out-of-range`;
- `HTTPException` from the routers, FastAPI or Starlette (401 with `WWW-Authenticate`, 404,
  405 with `Allow`, 413, 429 with `Retry-After`, ...) -> the same shape, headers kept;
- bodies larger than `max_body_bytes` -> 413.
Anything else is a bug: logged with its traceback (never with request bodies, which may hold
personal data) and answered 500 without internals.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.request_log import REQUEST_ID_HEADER, loggable_path
from api.logs import current_request_id
from api.principals import Forbidden
from api.services.errors import Conflict, Unprocessable
from dispatch.errors import InputError, InputErrors

log = logging.getLogger("api")

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    """A kind of problem: its stable `type` URI, HTTP status and title."""

    name: str
    status: int
    title: str
    #: when the service answers it (the OpenAPI descriptions and docs/api.md say the same)
    when: str

    @property
    def uri(self) -> str:
        return f"/problems/{self.name}"


PROBLEMS: dict[str, ProblemType] = {
    p.name: p
    for p in (
        ProblemType(
            "bad-request",
            400,
            "The request could not be read",
            "the body could not be parsed (a malformed multipart upload)",
        ),
        ProblemType(
            "unauthorized",
            401,
            "Authentication required",
            "no bearer token, or one that is invalid or expired; wrong user name or password",
        ),
        ProblemType("forbidden", 403, "Not allowed", "the caller's role or regions forbid it"),
        ProblemType("not-found", 404, "Not found", "no such resource (or route)"),
        ProblemType("method-not-allowed", 405, "Method not allowed", "see the `Allow` header"),
        ProblemType(
            "conflict",
            409,
            "Conflicts with the current state",
            "an illegal transition, a second plan, a stale `version`, a concurrent change",
        ),
        ProblemType(
            "too-large", 413, "Request too large", "the body or the import is over the limit"
        ),
        ProblemType(
            "unsupported-media-type",
            415,
            "Unsupported media type",
            "the body is not sent as `application/json` where JSON is expected",
        ),
        ProblemType(
            "invalid-request",
            422,
            "The request is not valid",
            "a parameter or body field does not match the schema (`errors` names each)",
        ),
        ProblemType(
            "invalid-input",
            422,
            "Invalid input",
            "a record breaks the data rules (`errors` names each record and field)",
        ),
        ProblemType(
            "rule-violation",
            422,
            "Refused by a business rule",
            "a well-formed request that a rule refuses (`reasons` says why)",
        ),
        ProblemType(
            "value-out-of-range",
            422,
            "A value is out of range",
            "a value the database cannot store",
        ),
        ProblemType(
            "too-many-requests",
            429,
            "Too many requests",
            "too many failed sign-ins for the account: see `Retry-After`",
        ),
        ProblemType("internal-error", 500, "Internal server error", "a bug; it has been logged"),
        ProblemType(
            "unavailable",
            503,
            "Service unavailable",
            "the database cannot be reached or is busy; retry after `Retry-After` seconds",
        ),
    )
}
#: seconds a client is asked to wait when the database cannot be reached
RETRY_AFTER_UNAVAILABLE_S = 5
#: the problem type of an `HTTPException`'s status (others: `about:blank`)
_BY_STATUS: dict[int, ProblemType] = {
    400: PROBLEMS["bad-request"],
    401: PROBLEMS["unauthorized"],
    403: PROBLEMS["forbidden"],
    404: PROBLEMS["not-found"],
    405: PROBLEMS["method-not-allowed"],
    409: PROBLEMS["conflict"],
    413: PROBLEMS["too-large"],
    415: PROBLEMS["unsupported-media-type"],
    422: PROBLEMS["invalid-request"],
    429: PROBLEMS["too-many-requests"],
    500: PROBLEMS["internal-error"],
    503: PROBLEMS["unavailable"],
}
#: the standard members; extension members of these names would hide them
_RESERVED = frozenset({"type", "title", "status", "detail", "instance"})
_SURROGATE = re.compile("[\ud800-\udfff]")
#: entries listed in `detail` before "(and N more)"
_IN_DETAIL = 3


class ProblemResponse(JSONResponse):
    """`application/problem+json`, rendered so that it always encodes: lone surrogates become
    U+FFFD, non-finite numbers null, anything else not JSON its text."""

    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        return json.dumps(
            _encodable(content),
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
            default=str,
        ).encode("utf-8", errors="replace")


def _encodable(value: Any, depth: int = 0) -> Any:
    if depth > 20:  # our own bodies are shallow; a deeper one is cut, never a RecursionError
        return None
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {_encodable(str(k)): _encodable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(v, depth + 1) for v in value]
    return value


def problem_body(kind: ProblemType | int, detail: str, **extensions: Any) -> dict[str, Any]:
    """The problem document: a named type, or a bare status (`about:blank`)."""
    if isinstance(kind, ProblemType):
        head = {"type": kind.uri, "title": kind.title, "status": kind.status}
    else:
        head = {"type": "about:blank", "title": _phrase(kind), "status": kind}
    return {**head, "detail": detail, **_extensions(extensions)}


def problem_response(
    kind: ProblemType | int,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> ProblemResponse:
    body = problem_body(kind, detail, **extensions)
    return ProblemResponse(body, status_code=body["status"], headers=headers)


def _extensions(members: Mapping[str, Any]) -> dict[str, Any]:
    """Extension members, those named like a standard member renamed `current_<name>`."""
    return {(f"current_{k}" if k in _RESERVED else k): v for k, v in members.items()}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def summary(items: Sequence[str]) -> str:
    """Up to three problems in one sentence, then how many more."""
    text = "; ".join(items[:_IN_DETAIL])
    more = len(items) - _IN_DETAIL
    return f"{text} (and {more} more)" if more > 0 else text


# ---- request-shape errors


def field_of(loc: Iterable[str | int]) -> str:
    """A location as the field's path: `windows[0].start`, `query.date`, `header.X` (the body's
    own fields without a prefix, as the domain names them)."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def validation_entry(loc: Sequence[str | int], message: str, kind: str) -> dict[str, Any]:
    return {"loc": list(loc), "field": field_of(loc), "message": message, "type": kind}


def _validation_entries(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI's errors without `input`, `ctx` or `url`: location, message and type only."""
    entries = []
    for error in errors:
        loc = [p if isinstance(p, int) else str(p) for p in error.get("loc", ())]
        message = str(error.get("msg", "is not valid"))
        ctx = error.get("ctx")
        if error.get("type") == "json_invalid" and isinstance(ctx, Mapping):
            where = f" at character {loc[1]}" if len(loc) > 1 else ""
            message = f"invalid JSON: {ctx.get('error', 'cannot be parsed')}{where}"
            loc = loc[:1]
        entries.append(validation_entry(loc, message, str(error.get("type", "value_error"))))
    return entries


def invalid_request(entries: list[dict[str, Any]]) -> ProblemResponse:
    """422 naming every field that does not match the operation's schema."""
    detail = summary([f"{e['field']}: {e['message']}" for e in entries])
    return problem_response(PROBLEMS["invalid-request"], detail, errors=entries)


def _not_json(errors: Sequence[Any]) -> bool:
    """FastAPI validated the raw bytes: the body was sent without a JSON content type."""
    return any(
        tuple(e.get("loc", ()))[:1] == ("body",) and isinstance(e.get("input"), bytes | bytearray)
        for e in errors
    )


# ---- the handlers


def input_error_response(errors: list[InputError]) -> ProblemResponse:
    entries = [e.as_dict() for e in errors]
    detail = summary([f"{e.record}: {e.field}: {e.message}" for e in errors])
    return problem_response(PROBLEMS["invalid-input"], detail, errors=entries)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if _not_json(errors):
            return problem_response(
                PROBLEMS["unsupported-media-type"],
                "send the body as JSON, with the header Content-Type: application/json",
            )
        return invalid_request(_validation_entries(errors))

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> Response:
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code < 400:  # 304 and the like carry no body
            return Response(status_code=exc.status_code, headers=headers)
        detail = exc.detail if isinstance(exc.detail, str) else _phrase(exc.status_code)
        kind = _BY_STATUS.get(exc.status_code, exc.status_code)
        return problem_response(kind, detail, headers=headers)

    @app.exception_handler(InputError)
    async def _input_error(_request: Request, exc: InputError) -> Response:
        return input_error_response([exc])

    @app.exception_handler(InputErrors)
    async def _input_errors(_request: Request, exc: InputErrors) -> Response:
        return input_error_response(list(exc.errors))

    @app.exception_handler(Forbidden)
    async def _forbidden(_request: Request, exc: Forbidden) -> Response:
        return problem_response(PROBLEMS["forbidden"], exc.message)

    @app.exception_handler(Conflict)
    async def _conflict(_request: Request, exc: Conflict) -> Response:
        return problem_response(PROBLEMS["conflict"], exc.message, **exc.context)

    @app.exception_handler(Unprocessable)
    async def _unprocessable(_request: Request, exc: Unprocessable) -> Response:
        return problem_response(PROBLEMS["rule-violation"], exc.message, reasons=exc.reasons)

    @app.exception_handler(StaleDataError)
    async def _stale(_request: Request, _exc: StaleDataError) -> Response:
        return problem_response(
            PROBLEMS["conflict"],
            "the record was changed by someone else meanwhile; reload and retry",
        )

    @app.exception_handler(DataError)
    async def _data(_request: Request, exc: DataError) -> Response:
        # a value the database cannot hold (a number out of range) that slipped past the
        # request checks: the client's input, so 422, never a 500
        log.info("database refused a value: %s", type(exc.orig).__name__)
        return problem_response(
            PROBLEMS["value-out-of-range"], "a value is out of the range the database can store"
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError) -> Response:
        log.info("integrity conflict: %s", type(exc.orig).__name__)
        return problem_response(
            PROBLEMS["conflict"],
            "conflicts with an existing record (duplicate or concurrent change)",
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_unavailable(request: Request, exc: DBAPIError) -> Response:
        # the database is down, unreachable or (SQLite) locked past its timeout: not the
        # request's fault and not a bug; the client may retry the same request unchanged
        log.warning(
            "database unavailable on %s %s: %s",
            request.method,
            loggable_path(request.url.path),
            type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__,
        )
        return problem_response(
            PROBLEMS["unavailable"],
            "the database cannot be reached just now; retry in a few seconds",
            headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE_S)},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Starlette runs this outside every middleware: the request id is still set
        # (api.http.request_log), so the traceback's log line and the answer name it
        log.exception("unhandled error on %s %s", request.method, loggable_path(request.url.path))
        request_id = current_request_id()
        return problem_response(
            PROBLEMS["internal-error"],
            "internal error; it has been logged",
            headers={REQUEST_ID_HEADER: request_id} if request_id else None,
        )


# ---- the body-size limit


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
            await _BodyTooLarge(self.limit).response()(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge(self.limit)
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge as exc:  # raised outside the exception handlers (a middleware)
            await exc.response()(scope, receive, send)


class _BodyTooLarge(HTTPException):
    """An `HTTPException`, so that FastAPI's body reading passes it on (it turns any other
    error while reading into a 400) and the handlers answer it 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {limit} bytes")

    def response(self) -> ProblemResponse:
        return problem_response(PROBLEMS["too-large"], str(self.detail))
