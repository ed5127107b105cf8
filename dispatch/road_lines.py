"""Road polylines of a plan's routes, from the provider its travel times came from.

A map of a plan (`dispatch.files.geojson`, the dispatcher board) draws each crew's route. With
a road provider the times were measured along roads, so the lines follow them too:

* "osm": the fastest path in the extract's graph between consecutive stops
  (`routing.road_paths`, on the same graph and snapping as the matrix);
* "osrm": the server's `route` service geometry through the stops
  (`routing.osrm_client.OsrmClient.route_line`).

"haversine" and "matrix" have no roads: `route_lines` answers None and the map draws straight
lines between the stops. So it does, with the reason in `RouteLines.note`, when the roads
cannot be had here (the OSM file is not on this host, the OSRM server does not answer): a
map is never refused for want of roads. A map waits at most `OSRM_TIMEOUT_S` per OSRM
answer, and a source that just failed is not asked again for `RETRY_AFTER_S`, so a board
does not hang on a server that is down.

Lines are kept per route in a small process-wide LRU keyed by the provider's source and the
route's waypoints, so a board redrawn after one moved stop recomputes only the routes that
changed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dispatch.day_problem import TravelSettings

#: a polyline: [lon, lat] vertices, WGS84
Line = list[list[float]]
#: the providers whose times come from roads, and so have road lines
ROAD_PROVIDERS = ("osm", "osrm")
#: routes kept in the process-wide cache (a few boards' worth)
CACHE_ROUTES = 4096
#: a map waits at most this long for each OSRM answer (a plan's table waits longer)
OSRM_TIMEOUT_S = 5.0
#: after a failure, maps of that source are drawn straight at once for this long
RETRY_AFTER_S = 60.0

_cache: OrderedDict[Hashable, Line] = OrderedDict()
#: (provider, file, URL) -> (when it failed, the note): no map waits on a source just failed
_failed: dict[tuple[str, str, str], tuple[float, str]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class RouteLines:
    """One road polyline per route, or None: draw straight lines (`note` says why, if a road
    provider was asked)."""

    lines: list[Line] | None
    note: str = ""


def route_lines(
    travel: TravelSettings, routes: Sequence[Sequence[tuple[float, float]]]
) -> RouteLines:
    """The road polylines of `routes` (each its waypoints, (lon, lat), in visiting order)."""
    if travel.provider not in ROAD_PROVIDERS:
        return RouteLines(None)
    failed = _failed.get((travel.provider, travel.osm_file, travel.osrm_url))
    if failed is not None and time.monotonic() - failed[0] < RETRY_AFTER_S:
        return RouteLines(None, failed[1])
    try:
        source = _source_key(travel)
        keys = [(source, tuple(route)) for route in routes]
        with _lock:
            found = {k: _cache[k] for k in keys if k in _cache}
            for k in found:
                _cache.move_to_end(k)
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            computed = _compute(travel, [list(k[1]) for k in missing])
            found.update(zip(missing, computed, strict=True))
            with _lock:
                for k, line in zip(missing, computed, strict=True):
                    _cache[k] = line
                while len(_cache) > CACHE_ROUTES:
                    _cache.popitem(last=False)
    except (OSError, ValueError, RuntimeError) as exc:  # RoadNetworkError, OsrmError
        # the reason without the message: it may name a file of the server, and maps go out
        what = "the OSRM server's route service failed"
        if travel.provider == "osm":
            what = "the OSM extract cannot be read here"
        note = f"straight lines: {what} ({type(exc).__name__})"
        _failed[(travel.provider, travel.osm_file, travel.osrm_url)] = (time.monotonic(), note)
        return RouteLines(None, note)
    return RouteLines([found[k] for k in keys])


def _source_key(travel: TravelSettings) -> Hashable:
    """What the lines depend on besides the waypoints: the OSM file as it is now, the URL."""
    if travel.provider == "osm":
        stat = Path(travel.osm_file).stat()  # OSError when the file is not on this host
        return ("osm", str(Path(travel.osm_file).resolve()), stat.st_size, stat.st_mtime_ns)
    return ("osrm", travel.osrm_url)


def _compute(travel: TravelSettings, routes: list[list[tuple[float, float]]]) -> list[Line]:
    if travel.provider == "osm":
        from routing.road_paths import osm_road_lines

        return osm_road_lines(travel.osm_file, routes)
    from routing.osrm_client import osrm_road_lines

    return osrm_road_lines(travel.osrm_url, routes, timeout_s=OSRM_TIMEOUT_S)


def clear_cache() -> None:
    """Forget every kept line and failure (tests; a process that swapped its OSM files)."""
    with _lock:
        _cache.clear()
        _failed.clear()
