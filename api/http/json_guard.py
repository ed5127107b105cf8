"""The JSON body guard: values that JSON text can carry but the service cannot hold.

Python's JSON reader (and so FastAPI's) takes `NaN`, `Infinity` and `-Infinity`, turns
`1e309` into infinity, keeps an escaped lone surrogate (`"\\ud800"`) as a string that cannot
be encoded as UTF-8 again, and gives up on deep nesting with a `RecursionError`. Let through,
such a value is refused by a field's check at best (and the 422 echoing it cannot be encoded:
a 500), stored at worst (and every later answer holding it is a 500).

`JsonBodyGuard` reads each JSON request body once before the application and answers 422
(`invalid-request`, `errors` naming each field: `body.lon`, `body.windows[0].start`) when it
holds a non-finite number, an unpaired surrogate, more than `MAX_DEPTH` levels of nesting or
is not UTF-8. Anything else, JSON syntax errors included, is left to the operation's own
validation. The checks that need a walk over the parsed value run only when the raw bytes
hint at a problem (a constant, a three-digit exponent, a surrogate escape, many brackets), so
an ordinary body costs one C-speed parse.
"""

from __future__ import annotations

import json
import math
import re
from email.message import Message as MimeMessage
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.errors import invalid_request, validation_entry

#: deeper bodies are refused; the service's deepest (GeoJSON multipolygons) need 8
MAX_DEPTH = 64
#: problems listed in one answer
MAX_REPORTED = 20
#: a number literal that may overflow a float (3+ exponent digits, or 309+ digits)
_HUGE = re.compile(rb"[eE][+]?0*[1-9][0-9]{2,}|[0-9]{309,}")
#: an escaped surrogate (a pair is fine; a lone one is not text)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_json(content_type: str | None) -> bool:
    """The content types FastAPI parses as JSON: `application/json` and `application/*+json`."""
    if not content_type:
        return False
    mime = MimeMessage()
    mime["content-type"] = content_type
    if mime.get_content_maintype() != "application":
        return False
    subtype = mime.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def body_problems(body: bytes) -> list[dict[str, Any]]:
    """The problems of a JSON body that a JSON reader lets through (empty: none).

    Syntax errors are not reported here: the operation reports them with their position."""
    constants: list[str] = []

    def constant(name: str) -> float:
        constants.append(name)
        return float(name)

    try:
        doc = json.loads(body, parse_constant=constant)
    except RecursionError:
        return [_entry(("body",), f"is nested too deeply (more than {MAX_DEPTH} levels)")]
    except UnicodeDecodeError:
        return [_entry(("body",), "is not UTF-8 text", "json_invalid")]
    except json.JSONDecodeError:
        return []  # a syntax error: FastAPI's json_invalid names the position
    except ValueError as exc:  # an integer of more digits than Python converts
        too_long = "digits" in str(exc)
        return [_entry(("body",), _TOO_LONG if too_long else "cannot be read as JSON")]
    numbers = bool(constants) or _HUGE.search(body) is not None
    strings = _SURROGATE_ESCAPE.search(body) is not None
    depth = body.count(b"[") + body.count(b"{") > MAX_DEPTH
    if not (numbers or strings or depth):
        return []
    return _walk(doc, numbers=numbers, strings=strings)


def _walk(doc: Any, *, numbers: bool, strings: bool) -> list[dict[str, Any]]:
    """Every non-finite number and unpaired surrogate with its location, or the first place
    nested deeper than `MAX_DEPTH`; iterative, so no depth can overflow the stack. Only
    containers are stacked, scalars are checked in place."""

    def scalar(item: Any, loc: tuple[str | int, ...]) -> dict[str, Any] | None:
        if numbers and isinstance(item, float) and not math.isfinite(item):
            return _entry(loc, _NUMBER_MESSAGE, "finite_number")
        if strings and isinstance(item, str) and _SURROGATE.search(item):
            return _entry(loc, _SURROGATE_MESSAGE.format("text"), "string_unicode")
        return None

    found: list[dict[str, Any]] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(doc, ("body",))]
    while stack and len(found) < MAX_REPORTED:
        value, loc = stack.pop()
        if not isinstance(value, dict | list):  # a bare scalar body
            problem = scalar(value, loc)
            found += [problem] if problem else []
            continue
        if len(loc) > MAX_DEPTH:
            return [_entry(loc, f"is nested too deeply (more than {MAX_DEPTH} levels)")]
        items: Any = value.items() if isinstance(value, dict) else enumerate(value)
        children = []
        for key, item in items:
            if strings and isinstance(key, str) and _SURROGATE.search(key):
                found.append(_entry(loc, _SURROGATE_MESSAGE.format("a member name")))
            elif isinstance(item, dict | list):
                children.append((item, (*loc, key)))
            elif (problem := scalar(item, (*loc, key))) is not None:
                found.append(problem)
        stack.extend(reversed(children))
    return found[:MAX_REPORTED]


_NUMBER_MESSAGE = "must be a finite number: NaN, Infinity and numbers beyond ±1.8e308 are not taken"
_TOO_LONG = "holds a number with too many digits to read"
_SURROGATE_MESSAGE = (
    "{} holds an unpaired surrogate escape (\\ud800 to \\udfff), which is not Unicode text"
)


def _entry(loc: tuple[str | int, ...], message: str, kind: str = "json_invalid") -> dict:
    return validation_entry(loc, message, kind)


class JsonBodyGuard:
    """ASGI middleware: read a JSON request body, answer 422 for what `body_problems` finds,
    else hand the same bytes on. Sits inside `BodySizeLimit`, so the body it buffers is
    already bounded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        if not is_json(content_type.decode("latin-1")):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        pending: list[Message] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: pass it on
                pending.append(message)
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problems = body_problems(body) if body.strip() else []
        if problems:
            await invalid_request(problems)(scope, receive, send)
            return
        pending.insert(0, {"type": "http.request", "body": body, "more_body": False})

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        await self.app(scope, replay, send)
