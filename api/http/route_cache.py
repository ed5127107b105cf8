"""The drivers' route answers' in-process caches: parsed plans and built bodies.

Reading and validating a 1,500-job plan document takes far longer than the rest of a route
request, so parsed plans are kept in a small LRU keyed by (plan id, plan version), with one
loader per key (200 phones asking at once parse the plan once), and each crew's route is
kept with its plan (`PlanCache`).

A body, once built, is kept under its crew and ETag (`BodyCache`): the ETag is derived from
everything the body is made of (`api.http.routers.routes.route_etag`), so the same key
always means the same bytes, and a phone that fetches without `If-None-Match` (a fresh app
start, a client without ETag support) costs what a 304 costs: no contact read, no JSON
serialisation. Both are bounded, per process, and safe across threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dispatch.files.plan_io import plan_from_dict
from dispatch.plan import Plan
from dispatch.running.driver_route import driver_route

#: parsed plans kept in memory (a region's day is one plan; a few days and regions fit)
PLAN_CACHE_SIZE = 16
#: built route bodies kept (about 4 KB each for a 1,500-job day: a few MB in all)
BODY_CACHE_SIZE = 2048
#: a stop whose ETA moved by at least this many minutes since the previous version is
#: marked `eta_moved` (smaller moves are the re-timing noise of any re-plan)
ETA_MOVED_MINUTES = 5


@dataclass
class _Entry:
    plan: Plan
    crews: frozenset[str]
    routes: dict[tuple[str, bool], dict[str, Any]] = field(default_factory=dict)
    #: the superseded version's routes (crew -> job id -> ETA), for a re-plan
    previous: dict[str, dict[str, str]] | None = None
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def changes_of(self, crew_id: str) -> dict[str, Any] | None:
        """What changed on the crew's route since the previous version (None: no previous
        version): `{"stops": {job_id: (change, previous_eta)}, "removed": [job ids]}`."""
        if self.previous is None:
            return None
        found = self.changes.get(crew_id)
        if found is None:
            found = route_changes(self.route(crew_id, False), self.previous.get(crew_id, {}))
            self.changes[crew_id] = found
        return found

    def route(self, crew_id: str, contact: bool) -> dict[str, Any]:
        """The crew's route (built once per plan version; read-only for callers)."""
        key = (crew_id, contact)
        found = self.routes.get(key)
        if found is None:
            found = driver_route(self.plan, crew_id, include_contact=contact)
            self.routes[key] = found
        return found


class PlanCache:
    """A thread-safe LRU of parsed plans with single-flight loading per key."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, int], _Entry] = OrderedDict()
        self._loading: dict[tuple[str, int], threading.Lock] = {}
        self._lock = threading.Lock()

    def get(
        self,
        key: tuple[str, int],
        load: Callable[[], dict[str, Any]],
        load_previous: Callable[[], dict[str, Any] | None] | None = None,
    ) -> _Entry:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one thread parses; the others wait for its result
            try:
                with self._lock:
                    entry = self._entries.get(key)
                if entry is None:
                    plan = plan_from_dict(load(), source=f"plan {key[0]}")
                    entry = _Entry(plan, frozenset(c.id for c in plan.problem.crews))
                    previous = load_previous() if load_previous is not None else None
                    if previous is not None:
                        entry.previous = previous_etas(previous)
                    with self._lock:
                        self._entries[key] = entry
                        while len(self._entries) > self.size:
                            self._entries.popitem(last=False)
            finally:
                with self._lock:
                    self._loading.pop(key, None)
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


plan_cache = PlanCache(PLAN_CACHE_SIZE)


def previous_etas(result: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Crew -> job id -> ETA (as the route shows it) of a stored plan result."""
    return {
        r["crew_id"]: {
            s["job_id"]: datetime.fromisoformat(s["arrival"]).isoformat(timespec="minutes")
            for s in r["stops"]
        }
        for r in result.get("routes", [])
    }


def route_changes(route: dict[str, Any], before: dict[str, str]) -> dict[str, Any]:
    """Per stop of `route` (a `driver_route`), whether it is new to the crew or its ETA moved
    against `before` (job id -> previous ETA); and the jobs of `before` no longer on it."""
    stops: dict[str, tuple[str | None, str | None]] = {}
    for stop in route["stops"]:
        old = before.get(stop["job_id"])
        if old is None:
            stops[stop["job_id"]] = ("new", None)
            continue
        moved = abs(datetime.fromisoformat(stop["eta"]) - datetime.fromisoformat(old))
        if moved >= timedelta(minutes=ETA_MOVED_MINUTES):
            stops[stop["job_id"]] = ("eta_moved", old)
        else:
            stops[stop["job_id"]] = (None, None)
    on_route = {s["job_id"] for s in route["stops"]}
    return {"stops": stops, "removed": sorted(j for j in before if j not in on_route)}


class BodyCache:
    """A thread-safe LRU of built route bodies keyed by (crew id, ETag).

    The crew is in the key because two crews' empty routes on the same plan version share an
    ETag (no jobs) but not a body (the crew id is in it)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._bodies: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, crew_id: str, etag: str) -> bytes | None:
        with self._lock:
            body = self._bodies.get((crew_id, etag))
            if body is not None:
                self._bodies.move_to_end((crew_id, etag))
            return body

    def put(self, crew_id: str, etag: str, body: bytes) -> None:
        with self._lock:
            self._bodies[(crew_id, etag)] = body
            self._bodies.move_to_end((crew_id, etag))
            while len(self._bodies) > self.size:
                self._bodies.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._bodies.clear()


body_cache = BodyCache(BODY_CACHE_SIZE)
