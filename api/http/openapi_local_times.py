"""Declare the service's times in the OpenAPI document as what they are: local wall-clock
times of the region, without a UTC offset.

Every date-time the service answers (and the form it asks for) is the region's local time,
naive (`Settings.timezone`, docs/api.md). Pydantic declares a `datetime` as `format:
date-time`, which in JSON Schema means RFC 3339 and so requires an offset: a client
generated from the document, or a validator, would reject every answer. `declare_local_times`
rewrites each such string schema to `format: local-date-time` with the pattern of an ISO
local date-time and a description saying whose clock it is. (Requests with an offset are
still accepted and converted to the region's clock; the document states the form answers
use.)
"""

from __future__ import annotations

from typing import Any

LOCAL_DATE_TIME: dict[str, Any] = {
    "type": "string",
    "format": "local-date-time",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$",
    "example": "2026-06-18T09:30:00",
}
NOTE = "the region's local time, ISO 8601 without a UTC offset"


def declare_local_times(doc: dict[str, Any]) -> dict[str, Any]:
    """Rewrite every `format: date-time` string schema in `doc` (in place; returned)."""
    stack: list[Any] = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "string" and node.get("format") == "date-time":
                description = node.get("description")
                node.update(LOCAL_DATE_TIME)
                node["description"] = f"{description} ({NOTE})" if description else NOTE
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return doc
