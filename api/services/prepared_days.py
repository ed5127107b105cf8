"""The parsed problem and prepared move checks of the plans being edited, kept between
requests: a dispatcher drags stop after stop on one plan, and each drop is an override
request that would otherwise parse the 1.3 MB problem and rebuild the travel model and the
day's translation (0.3 s of a 0.4 s check on the 1,500-job demo day).

A plan row's problem never changes (overrides change its routes; a re-plan is a new row),
so entries are keyed by plan id; the routes read are kept for the plan's current version
(every change of a plan row raises its version). A small LRU; threads share it under a
lock, and the objects in it are only read (the route timing's own cache is thread-safe).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from dispatch.files.plan_io import plan_from_dict
from dispatch.plan import Plan
from dispatch.planning.routed_day import RoutedDay
from dispatch.running.overrides import prepare_day

#: plans kept (a region's day and its re-plans, for a few regions)
SIZE = 8


@dataclass
class _Entry:
    prepared: RoutedDay
    #: the last version of the plan read, and the plan read at it (a refused move leaves the
    #: version as it was, so the next drop finds the routes already read)
    version: int
    plan: Plan


_entries: OrderedDict[str, _Entry] = OrderedDict()
_lock = threading.Lock()


def stored_plan_prepared(
    plan_id: str, version: int, result: dict[str, Any]
) -> tuple[Plan, RoutedDay]:
    """The stored plan `result` of row `plan_id` at `version`, read with the cached problem,
    and its prepared day (built and kept on the first call for this plan). Plans are never
    changed in place, so the plan read at a version is shared by the requests at it."""
    with _lock:
        entry = _entries.get(plan_id)
        if entry is not None:
            _entries.move_to_end(plan_id)
    if entry is not None and entry.version == version:
        return entry.plan, entry.prepared
    if entry is not None:
        plan = plan_from_dict(result, source=f"plan {plan_id}", problem=entry.prepared.problem)
        prepared = entry.prepared
    else:
        plan = plan_from_dict(result, source=f"plan {plan_id}")
        prepared = prepare_day(plan.problem)
    with _lock:
        _entries[plan_id] = _Entry(prepared, version, plan)
        while len(_entries) > SIZE:
            _entries.popitem(last=False)
    return plan, prepared


def clear() -> None:
    with _lock:
        _entries.clear()
