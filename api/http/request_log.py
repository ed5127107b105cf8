"""Request ids and the access log: the outermost middleware of the app.

Every request gets an id: the caller's `X-Request-ID` when it is a sane short token (letters,
digits, `.`, `_`, `:`, `-`; up to 100 characters, starting with a letter or digit: what
proxies and load balancers send), else a new random one. The answer carries it back in
`X-Request-ID`, and it is set in `api.logs.REQUEST_ID` while the request is handled, so every
log line written meanwhile (the routers, services, the error handlers, a sync endpoint in its
worker thread) names it.

One access line per request on the `api.access` logger, written when the answer has gone:
method, path (the URL path only: never the query string, which may hold personal data; path
parameters are ids), route (the matched template, `/jobs/{job_id}`), status and duration in
milliseconds. Never headers, bodies or the caller's token; a customer's tracking token in a
path (`/track/<token>`) is written as `<token>`.

A request that raises past the app's handlers (a bug) leaves its id set: the 500 handler,
which Starlette runs outside every middleware, logs the traceback and answers with the id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.logs import REQUEST_ID

REQUEST_ID_HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
#: longest path written to the access log (a 404 for an absurd path stays one short line)
_MAX_PATH = 300
#: a path whose segment after the prefix is a secret (a customer's tracking token): the log
#: writes `<token>` in its place
_SECRET_SEGMENT = re.compile(r"^(/track/)[^/]+")

access = logging.getLogger("api.access")


def loggable_path(path: str) -> str:
    """`path` as logs may show it: a tracking token replaced by `<token>`."""
    return _SECRET_SEGMENT.sub(r"\1<token>", path)


def request_id_from(header: str | None) -> str:
    """The caller's id when it is a sane short token, else a new one (32 hex digits)."""
    if header is not None and _SANE.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestLog:
    """ASGI middleware: the request id (context variable and answer header) and the access
    log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope).get(REQUEST_ID_HEADER))
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        method, path = str(scope.get("method", "")), str(scope.get("path", ""))[:_MAX_PATH]
        path = loggable_path(path)
        answered: list[int] = []

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered.append(int(message["status"]))
                message.setdefault("headers", [])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            _access(method, path, scope, answered[0] if answered else 500, started)
            raise  # the id stays set for the 500 handler outside (module doc)
        _access(method, path, scope, answered[0] if answered else 500, started)
        REQUEST_ID.reset(token)


def _access(method: str, path: str, scope: Scope, status: int, started: float) -> None:
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    route = getattr(scope.get("route"), "path", None)  # set by the router once matched
    access.info(
        "%s %s %d %.1f ms",
        method,
        path,
        status,
        duration_ms,
        extra={
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
        },
    )
