"""Why jobs stay unplanned: `GET /plans/{id}/explanations` says, per unassigned job, what
binds it and what would fix it, and sums the shortfall per zone (`dispatch.running.explain`);
computed once per plan version and kept in a small in-memory LRU (`explain_cache`).

A dispatcher bound to regions reads only his regions' plans (`get_plan` checks the plan's
region).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from datetime import date, datetime
from enum import Enum
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.http.auth import require
from api.http.deps import SessionDep
from api.principals import ANY_OFFICE, Principal
from api.services.errors import Conflict
from api.services.plan_rows import FINISHED, get_plan, stored_plan
from dispatch.privacy import PERSONAL_FIELDS
from dispatch.running.explain import explain_plan, zone_shortages

router = APIRouter(tags=["re-plans"])

#: plans whose explanations are kept in memory (explaining 1,500 jobs takes seconds)
EXPLAIN_CACHE_SIZE = 8


class ExplanationsOut(BaseModel):
    plan_id: str
    version: int
    jobs: list[dict[str, Any]] = Field(description="one explanation per unassigned job")
    zones: list[dict[str, Any]] = Field(description="shortfalls summed per zone")


class _ExplainCache:
    """Explanations per (plan id, version): a small thread-safe LRU."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> dict[str, Any] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[str, int], value: dict[str, Any]) -> None:
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


explain_cache = _ExplainCache(EXPLAIN_CACHE_SIZE)


def to_json(value: Any) -> Any:
    """Explanation dataclasses as JSON-ready data (enums by value, sets sorted, times ISO),
    personal fields dropped should one ever appear."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_json(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in PERSONAL_FIELDS
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items() if k not in PERSONAL_FIELDS}
    if isinstance(value, set | frozenset):
        return sorted(to_json(v) for v in value)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


@router.get(
    "/plans/{plan_id}/explanations",
    response_model=ExplanationsOut,
    summary="Why jobs are unassigned (or late), what would fix it, and shortfalls per zone",
    description="One explanation per unassigned job: what binds it (no crew with the skill, "
    "windows, capacity, the day full) and the fixes; `zones` sums the shortfall per zone "
    "and crew kind for the dispatcher. Ids only, no personal data.",
)
def read_explanations(
    plan_id: str,
    *,
    principal: Principal = Depends(require(*ANY_OFFICE)),
    session: SessionDep,
) -> ExplanationsOut:
    row = get_plan(session, plan_id, principal)
    if row.status not in FINISHED:
        raise Conflict(f"plan {plan_id} is {row.status}: it has no routes", status=row.status)
    key = (row.id, row.version)
    cached = explain_cache.get(key)
    if cached is None:
        plan = stored_plan(row)
        explanations = explain_plan(plan)
        cached = {
            "jobs": to_json(explanations),
            "zones": to_json(zone_shortages(plan, explanations)),
        }
        explain_cache.put(key, cached)
    return ExplanationsOut(plan_id=row.id, version=row.version, **cached)
