"""Road polylines of a plan's legs: the fastest road path between consecutive stops, for maps.

`routing.road_network` computes the travel matrices a plan is timed on; a map of the plan
should draw the roads those times were measured along, not straight lines. `road_lines`
snaps each stop to the same graph the same way (nearest node of the largest strongly
connected component, `routing.road_network.snap`), searches the same free-flow seconds with
Dijkstra and walks the predecessors back, so each leg is the path whose time is in the
matrix (ties between equally fast paths aside), with the straight access legs from the stop
to its node at both ends.

Cheap by construction: only the plan's legs are searched (one search per distinct leg, not
all pairs), and each search is bounded (`scipy`'s `limit`): it starts at twice the time the
straight line takes at the graph's median speed and doubles until the leg's end is reached,
so a 2 km leg explores a few kilometres around its start, not the whole city.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.sparse.csgraph import dijkstra

from routing.road_graph import RoadGraph, _segment_metres, cached_road_graph
from routing.road_network import _BLOCK_CELLS, snap

#: a polyline: [lon, lat] vertices, WGS84, as GeoJSON writes them
Line = list[list[float]]
#: decimals kept in the vertices (about 0.1 m): the map needs no more, the JSON stays small
DECIMALS = 6
#: rounds of doubling limits: far more than a limit needs to outgrow the whole graph
_MAX_ROUNDS = 64


def road_lines(
    graph: RoadGraph,
    routes: Sequence[Sequence[tuple[float, float]]],
    *,
    largest_component_only: bool = True,
) -> list[Line]:
    """For each route (its waypoints, (lon, lat), in visiting order) the polyline along the
    fastest road path between each pair of consecutive waypoints.

    A leg whose two ends snap to the same node is drawn straight; so is one with no road path
    (possible only with `largest_component_only=False`).
    """
    flat = [pt for route in routes for pt in route]
    if not flat:
        return [[] for _ in routes]
    pts = np.asarray(flat, dtype=np.float64).reshape(-1, 2)
    candidates = graph.largest_component() if largest_component_only else None
    node, _ = snap(graph, pts[:, 0], pts[:, 1], candidates)
    legs: dict[tuple[int, int], list[int]] = {}
    offset = 0
    for route in routes:
        ids = node[offset : offset + len(route)]
        for u, v in itertools.pairwise(ids):
            if u != v:
                legs.setdefault((int(u), int(v)), [])
        offset += len(route)
    _search(graph, legs)
    out: list[Line] = []
    offset = 0
    for route in routes:
        line: Line = []
        for k, (lon, lat) in enumerate(route):
            if k:
                u, v = int(node[offset + k - 1]), int(node[offset + k])
                for n in legs.get((u, v), []):
                    _append(line, graph.lon[n], graph.lat[n])
            _append(line, lon, lat)
        out.append(line)
        offset += len(route)
    return out


def osm_road_lines(
    osm_file: str | Path,
    routes: Sequence[Sequence[tuple[float, float]]],
    road_speeds_kmh: dict[str, float] | None = None,
) -> list[Line]:
    """`road_lines` on the extract's graph: the one `osm_model` timed the plan on (the same
    process-wide parse, `routing.road_graph.cached_road_graph`)."""
    return road_lines(cached_road_graph(osm_file, road_speeds_kmh), routes)


def _append(line: Line, lon: float, lat: float) -> None:
    """Add a vertex, unless it repeats the last one (a stop sitting on its snap node)."""
    xy = [round(float(lon), DECIMALS), round(float(lat), DECIMALS)]
    if not line or line[-1] != xy:
        line.append(xy)


def _search(graph: RoadGraph, legs: dict[tuple[int, int], list[int]]) -> None:
    """Fill `legs[(u, v)]` with the nodes of the fastest path u -> v (u and v included).

    Rounds of bounded Dijkstra: the legs still open are sorted by their current limit and
    searched in blocks of sources (one limit per block: the largest of its legs); a leg whose
    end lies beyond its limit doubles it for the next round.
    """
    if not legs:
        return
    adj = graph.adjacency(graph.seconds)
    keys = list(legs)
    u = np.array([k[0] for k in keys])
    v = np.array([k[1] for k in keys])
    speed = float(np.median(graph.metres / graph.seconds))  # m/s
    straight = _segment_metres(
        np.column_stack([graph.lon[u], graph.lat[u]]), np.column_stack([graph.lon[v], graph.lat[v]])
    )
    limit = 2.0 * straight / speed + 10.0
    whole = float(graph.seconds.sum())  # no path takes longer than every edge in a row
    step = max(1, _BLOCK_CELLS // max(1, graph.node_count))
    open_ = np.arange(len(keys))
    for _ in range(_MAX_ROUNDS):
        if not len(open_):
            return
        open_ = open_[np.argsort(limit[open_], kind="stable")]
        missed: list[int] = []
        for lo in range(0, len(open_), step):
            block = open_[lo : lo + step]
            dist, pred = dijkstra(
                adj, directed=True, indices=u[block], limit=float(limit[block].max()),
                return_predecessors=True,
            )  # fmt: skip
            for r, k in enumerate(block):
                if np.isfinite(dist[r, v[k]]):
                    legs[keys[k]] = _walk(pred[r], int(u[k]), int(v[k]))
                else:
                    missed.append(int(k))
        # a leg not reached although its limit exceeded every edge together has no path:
        # drawn straight (only possible when snapping may leave the strong component)
        open_ = np.array([k for k in missed if limit[k] <= whole], dtype=np.int64)
        limit[open_] *= 2.0


def _walk(pred: np.ndarray, u: int, v: int) -> list[int]:
    """The nodes u .. v along one Dijkstra predecessor row."""
    path = [v]
    while path[-1] != u:
        path.append(int(pred[path[-1]]))
    path.reverse()
    return path
