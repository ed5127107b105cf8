"""The error answers in the OpenAPI document, declared once for every operation.

`install_problem_responses(app)` wraps `app.openapi()`: after FastAPI has built the document,
every operation declares the errors the service can answer it with, each as
`application/problem+json` (the `Problem` schema, `api.http.errors`) with an example:

- 401 and 403 for operations with security (a bearer token);
- 404 for operations with path parameters (and where a router declares it: `/me/route`);
- 409 for mutating operations (every write can meet a concurrent one), less `NO_CONFLICT`,
  and the reads in `READ_CONFLICTS` that answer it;
- 413 and 415 (JSON) or 400 (multipart) for operations with a body;
- 422 for operations with a body or parameters, in place of FastAPI's `HTTPValidationError`;
- 429 for the sign-ins (users', drivers').

A response a router declares keeps its description; its content becomes the problem's. The
schemas that only the replaced declarations used (`HTTPValidationError`, `ValidationError`)
leave the document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from api.http.errors import PROBLEM_JSON, PROBLEMS, ProblemType, problem_body
from api.http.openapi_local_times import declare_local_times

_REF = "#/components/schemas/"
_MUTATING = frozenset({"post", "put", "patch", "delete"})
#: writes that cannot conflict with anything stored: tokens, sign-in and sign-out
NO_CONFLICT = frozenset(
    {
        ("post", "/auth/tokens"),
        ("post", "/auth/sign-in"),
        ("post", "/auth/driver-sign-in"),
        ("post", "/auth/sign-out"),
    }
)
#: sign-ins without a token: 401 for wrong credentials, 429 once locked
SIGN_INS = frozenset({("post", "/auth/sign-in"), ("post", "/auth/driver-sign-in")})
#: reads that answer 409 (a result asked for before it exists)
READ_CONFLICTS = frozenset(
    {("get", "/simulations/{sim_id}/report"), ("get", "/simulations/{sim_id}/days.csv")}
)

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": (
        "An error, as RFC 9457 problem details (`application/problem+json`). Extension "
        "members: `errors` (request-shape and data errors, one entry per field, never the "
        "value sent), `reasons` (a business rule's refusal), and for a 409 the state it "
        "conflicts with (`field`, `version`, `current_status`, ids such as "
        "`running_plan_id`)."
    ),
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {
            "type": "string",
            "format": "uri-reference",
            "description": "the problem type: `/problems/<name>` or `about:blank`",
        },
        "title": {"type": "string", "description": "the problem type in words"},
        "status": {"type": "integer", "description": "the HTTP status code"},
        "detail": {"type": "string", "description": "this occurrence, in words"},
        "errors": {
            "type": "array",
            "items": {"$ref": _REF + "ProblemError"},
            "description": "every field with a problem (422 `invalid-request`, `invalid-input`)",
        },
        "reasons": {
            "type": "array",
            "items": {"type": "string"},
            "description": "why a rule refused the request (422 `rule-violation`)",
        },
    },
    "additionalProperties": True,
}
PROBLEM_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ProblemError",
    "type": "object",
    "description": (
        "One field with a problem: `field` and `message` always; `loc` (where in the "
        "request) and `type` for request-shape errors, `record` for data errors."
    ),
    "required": ["field", "message"],
    "properties": {
        "field": {"type": "string", "description": "the field: `windows[0].start`"},
        "message": {"type": "string"},
        "loc": {
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "description": "`body`, `query`, `path` or `header`, then the field's path",
        },
        "type": {"type": "string", "description": "the kind of error (`missing`, ...)"},
        "record": {"type": "string", "description": "the record, in an import: `job 'J1'`"},
    },
    "additionalProperties": False,
}


def _example(kind: ProblemType, detail: str, **extensions: Any) -> dict[str, Any]:
    return problem_body(kind, detail, **extensions)


_EXAMPLES: dict[int, dict[str, dict[str, Any]]] = {
    400: {"bad-request": _example(PROBLEMS["bad-request"], "There was an error parsing the body")},
    401: {"unauthorized": _example(PROBLEMS["unauthorized"], "missing bearer token")},
    403: {
        "forbidden": _example(
            PROBLEMS["forbidden"], "role 'planner' may not do this (allowed: admin, dispatcher)"
        )
    },
    404: {"not-found": _example(PROBLEMS["not-found"], "job 'J1' not found")},
    409: {
        "conflict": _example(
            PROBLEMS["conflict"],
            "plan 5f0c2a1e is at version 4, not 3: reload it",
            field="version",
            version=4,
        )
    },
    413: {
        "too-large": _example(
            PROBLEMS["too-large"], "request body is larger than the limit of 20971520 bytes"
        )
    },
    415: {
        "unsupported-media-type": _example(
            PROBLEMS["unsupported-media-type"],
            "send the body as JSON, with the header Content-Type: application/json",
        )
    },
    422: {
        "invalid-request": _example(
            PROBLEMS["invalid-request"],
            "lat: must be a finite number: NaN, Infinity and numbers beyond ±1.8e308 are not taken",
            errors=[
                {
                    "loc": ["body", "lat"],
                    "field": "lat",
                    "message": "must be a finite number: NaN, Infinity and numbers beyond "
                    "±1.8e308 are not taken",
                    "type": "finite_number",
                }
            ],
        ),
        "invalid-input": _example(
            PROBLEMS["invalid-input"],
            "job 'J1': windows: a window must end after it starts",
            errors=[
                {
                    "record": "job 'J1'",
                    "field": "windows",
                    "message": "a window must end after it starts",
                }
            ],
        ),
        "rule-violation": _example(
            PROBLEMS["rule-violation"],
            "the move breaks the plan's rules",
            reasons=["job J7 would arrive at 13:40, after its window ends at 12:00"],
        ),
    },
    429: {
        "too-many-requests": _example(
            PROBLEMS["too-many-requests"],
            "too many failed sign-ins for this account: try again in 10 minutes",
        )
    },
}
_DESCRIPTIONS: dict[int, str] = {
    400: PROBLEMS["bad-request"].when,
    401: "Not signed in: " + PROBLEMS["unauthorized"].when,
    403: "Not allowed: " + PROBLEMS["forbidden"].when,
    404: "Not found: " + PROBLEMS["not-found"].when,
    409: "Conflicts with the current state: " + PROBLEMS["conflict"].when,
    413: "Too large: " + PROBLEMS["too-large"].when,
    415: "Unsupported media type: " + PROBLEMS["unsupported-media-type"].when,
    422: (
        "Not valid: a parameter or body field does not match the schema (`invalid-request`, "
        "`errors`), a record breaks the data rules (`invalid-input`, `errors`) or a rule "
        "refuses the request (`rule-violation`, `reasons`)"
    ),
    429: "Too many requests: " + PROBLEMS["too-many-requests"].when,
    503: "Unavailable: " + PROBLEMS["unavailable"].when,
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`: the scheme to authenticate with",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "seconds until the account may sign in again",
            "schema": {"type": "integer"},
        }
    },
    503: {
        "Retry-After": {
            "description": "seconds to wait before sending the same request again",
            "schema": {"type": "integer"},
        }
    },
}


def problem_content(status: int) -> dict[str, Any]:
    """The `content` of an error response: the problem schema and its example(s)."""
    media: dict[str, Any] = {"schema": {"$ref": _REF + "Problem"}}
    examples = _EXAMPLES.get(status)
    if examples is None:
        media["example"] = problem_body(status, "what went wrong, in words")
    elif len(examples) == 1:
        media["example"] = next(iter(examples.values()))
    else:
        media["examples"] = {name: {"value": value} for name, value in examples.items()}
    return {PROBLEM_JSON: media}


def error_statuses(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses the service can answer this operation with."""
    statuses = {int(code) for code in operation.get("responses", {}) if code.isdigit()}
    statuses = {s for s in statuses if s >= 400}
    params = operation.get("parameters", [])
    body = operation.get("requestBody", {}).get("content", {})
    if operation.get("security"):  # every such operation reads the database
        statuses |= {401, 403, 503}
    if any(p.get("in") == "path" for p in params):
        statuses.add(404)
    if (method in _MUTATING and (method, path) not in NO_CONFLICT) or (
        method,
        path,
    ) in READ_CONFLICTS:
        statuses.add(409)
    if body:
        statuses.add(413)
        statuses.add(400 if "multipart/form-data" in body else 415)
    if body or params:
        statuses.add(422)
    if (method, path) in SIGN_INS:
        statuses |= {401, 429}
    return statuses


def declare_problems(doc: dict[str, Any]) -> dict[str, Any]:
    """Declare every operation's error answers in `doc` (in place; returned for chaining)."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    replaced: set[str] = set()
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "put", "post", "delete", "patch", "head", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(error_statuses(method, path, operation)):
                declared = responses.get(str(status), {})
                replaced |= _refs(declared.get("content", {}))
                response = {
                    "description": declared.get("description") or _DESCRIPTIONS[status],
                    "content": problem_content(status),
                }
                if status in _HEADERS:
                    response["headers"] = {**_HEADERS[status], **declared.get("headers", {})}
                responses[str(status)] = response
            operation["responses"] = dict(sorted(responses.items()))
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ProblemError"] = PROBLEM_ERROR_SCHEMA
    _drop_unused(doc, replaced | {"HTTPValidationError", "ValidationError"})
    return doc


def _refs(node: Any) -> set[str]:
    """The schema names `node` refers to, directly."""
    found: set[str] = set()
    stack = [node]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str) and ref.startswith(_REF):
                found.add(ref.removeprefix(_REF))
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def _drop_unused(doc: dict[str, Any], candidates: set[str]) -> None:
    """Remove the `candidates` that nothing reachable from the paths refers to any more."""
    schemas = doc["components"]["schemas"]
    reachable: set[str] = set()
    frontier = _refs(doc.get("paths", {}))
    while frontier:
        name = frontier.pop()
        if name in reachable or name not in schemas:
            continue
        reachable.add(name)
        frontier |= _refs(schemas[name])
    for name in candidates - reachable:
        schemas.pop(name, None)


def install_problem_responses(app: FastAPI) -> None:
    """Make `app.openapi()` answer the document with the error responses declared (and the
    local times declared as such: `api.http.openapi_local_times`)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_local_times(declare_problems(build()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
