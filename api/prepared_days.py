"""The parsed problem and prepared move checks of the plans being edited, kept between
requests: a dispatcher drags stop after stop on one plan, and each drop is an override
request that would otherwise parse the 1.3 MB problem and rebuild the travel model and the
day's translation (0.3 s of a 0.4 s check on the 1,500-job demo day).

A plan row's problem never changes (overrides change its routes; a re-plan is a new row),
so entries are keyed by plan id. A small LRU; threads share it under a lock, and the
objects in it are only read (the route timing's own cache is thread-safe).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from dispatch.overrides import PreparedDay, prepare_day
from dispatch.plan import Plan
from dispatch.plan_io import plan_from_dict

#: plans kept (a region's day and its re-plans, for a few regions)
SIZE = 8

_entries: OrderedDict[str, PreparedDay] = OrderedDict()
_lock = threading.Lock()


def stored_plan_prepared(plan_id: str, result: dict[str, Any]) -> tuple[Plan, PreparedDay]:
    """The stored plan `result` of row `plan_id`, read with the cached problem, and its
    prepared day (built and kept on the first call for this plan)."""
    with _lock:
        prepared = _entries.get(plan_id)
        if prepared is not None:
            _entries.move_to_end(plan_id)
    if prepared is not None:
        plan = plan_from_dict(result, source=f"plan {plan_id}", problem=prepared.problem)
        return plan, prepared
    plan = plan_from_dict(result, source=f"plan {plan_id}")
    prepared = prepare_day(plan.problem)
    with _lock:
        _entries[plan_id] = prepared
        while len(_entries) > SIZE:
            _entries.popitem(last=False)
    return plan, prepared


def clear() -> None:
    with _lock:
        _entries.clear()
