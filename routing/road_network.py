"""Road-network travel times from an OpenStreetMap extract: snap, all pairs, cache, model.

The provider behind `TravelSettings(provider="osm")`. `routing.road_graph` reads the OSM
extract into a directed graph of the drivable ways (`routing.osm_tags` holds the speed and
direction rules); this module snaps each location to its nearest graph node and runs
`scipy.sparse.csgraph.dijkstra` from the day's locations to get the all-pairs matrices.

Rules (all documented in docs/routing.md, "Road-network travel times"):

* Paths are the fastest (minimum free-flow seconds); the distance reported is the length of
  that fastest path, not the shortest possible one, so metres and seconds describe one route.
* A location is joined to its snap node by a straight access leg (its great-circle distance)
  at `access_speed_kmh`, at both ends of a trip. Snapping uses only the largest strongly
  connected component (by default) so that every pair is reachable; pairs that are not
  (possible when that is switched off) get `UNREACHABLE_M` / `UNREACHABLE_S` and a flag.
* Metres and seconds are rounded up (ceil) to integers, which keeps the triangle inequality
  of the (fastest-path) seconds exact on the integer matrix: ceil(a) + ceil(b) >= ceil(a + b).
  The metres of fastest paths need not obey it (a fast detour may be longer than two legs).

Results are cached on disk (optional) as `.npz`, keyed by the graph file's SHA-256, the
locations, the speed table and the access parameters, at most `CACHE_ENTRIES` per folder (the
least recently used are deleted); parsed graphs are also kept in memory for the life of the
process (`routing.road_graph.cached_road_graph`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from routing.road_graph import RoadGraph, _segment_metres, cached_road_graph
from routing.travel import EARTH_RADIUS_M, Congestion, TravelModel

#: access leg between a location and its snap node (driveway, car park, last metres)
DEFAULT_ACCESS_SPEED_KMH = 10.0
#: stand-in for "no path": large, finite and safe to add a few of in int32 arithmetic
UNREACHABLE_M = 10_000_000
UNREACHABLE_S = 1_000_000
_CACHE_VERSION = 1
#: road matrices kept per cache folder (the service gives each region its own folder): the
#: least recently used go first
CACHE_ENTRIES = 16


@dataclass(frozen=True)
class RoadMatrix:
    """All-pairs road travel between locations, integer metres and free-flow seconds."""

    metres: np.ndarray  # int32 (n, n)
    seconds: np.ndarray  # int32 (n, n)
    snap_m: np.ndarray  # float64 (n,): straight distance from each location to its node
    unreachable: np.ndarray  # bool (n, n): no road path; metres/seconds hold the penalty


# ------------------------------------------------------------------------- snap and paths


def _local_xy(lon: np.ndarray, lat: np.ndarray, lat0: float) -> np.ndarray:
    """Equirectangular metres around latitude lat0: exact enough for a city-sized snap."""
    k = math.pi / 180 * EARTH_RADIUS_M
    return np.column_stack([lon * k * math.cos(math.radians(lat0)), lat * k])


def snap(
    graph: RoadGraph,
    lon: np.ndarray,
    lat: np.ndarray,
    candidates: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(node index, great-circle metres to it) of the nearest candidate node per location."""
    nodes = np.arange(graph.node_count) if candidates is None else np.asarray(candidates)
    lat0 = float(np.mean(graph.lat[nodes]))
    tree = cKDTree(_local_xy(graph.lon[nodes], graph.lat[nodes], lat0))
    _, k = tree.query(_local_xy(np.asarray(lon, float), np.asarray(lat, float), lat0))
    node = nodes[k]
    pts = np.column_stack([lon, lat]).astype(np.float64)
    gxy = np.column_stack([graph.lon[node], graph.lat[node]])
    return node, _segment_metres(pts, gxy)


def _path_metres(graph: RoadGraph, pred: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Length of each fastest path, summed over the predecessor trees by pointer doubling.

    `pred[r, v]` is v's predecessor on the fastest path from `sources[r]` (negative if none);
    each round adds the length gathered so far at the pointer and jumps it ahead, so the
    whole (sources x nodes) block is done in log2(longest path) vectorised rounds.
    """
    rows, n = pred.shape
    has = pred >= 0
    parent = np.where(has, pred, np.arange(n)[None, :])
    # Edge (u, v) -> metres via its position in the (src, dst)-sorted edge list.
    keys = graph.src.astype(np.int64) * n + graph.dst
    cols = np.broadcast_to(np.arange(n), pred.shape)
    acc = np.zeros(pred.shape, dtype=np.float64)
    acc[has] = graph.metres[np.searchsorted(keys, parent[has].astype(np.int64) * n + cols[has])]
    r = np.arange(rows)[:, None]
    src = sources[:, None]
    active = has & (parent != src)
    while active.any():
        acc = np.where(active, acc + acc[r, parent], acc)
        parent = np.where(active, parent[r, parent], parent)
        active &= parent != src
    return acc


#: (sources x nodes) cells per Dijkstra block: bounds the predecessor arrays' memory
_BLOCK_CELLS = 4_000_000


def _fastest_paths(graph: RoadGraph, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(seconds, metres) of the fastest paths between all pairs of `targets` (node indices)."""
    adj = graph.adjacency(graph.seconds)
    k = len(targets)
    sec = np.empty((k, k))
    met = np.empty((k, k))
    step = max(1, _BLOCK_CELLS // max(1, graph.node_count))
    for lo in range(0, k, step):
        rows = targets[lo : lo + step]
        s, pred = dijkstra(adj, directed=True, indices=rows, return_predecessors=True)
        sec[lo : lo + step] = s[:, targets]
        met[lo : lo + step] = _path_metres(graph, pred, rows)[:, targets]
    return sec, met


def road_matrix(
    graph: RoadGraph,
    lon: Sequence[float] | np.ndarray,
    lat: Sequence[float] | np.ndarray,
    *,
    access_speed_kmh: float = DEFAULT_ACCESS_SPEED_KMH,
    largest_component_only: bool = True,
    cache_dir: str | Path | None = None,
) -> RoadMatrix:
    """All-pairs fastest road paths between the locations, plus the access legs at both ends.

    Dijkstra runs once per distinct snap node (many locations share one), limited to the
    nodes that are snap targets; locations with identical coordinates are 0 apart.
    """
    if access_speed_kmh <= 0:
        raise ValueError(f"access_speed_kmh must be > 0, got {access_speed_kmh}")
    pts = np.column_stack([np.asarray(lon, float), np.asarray(lat, float)])
    key = None
    if cache_dir is not None:
        key = _cache_key(graph, pts, access_speed_kmh, largest_component_only)
        hit = _cache_read(Path(cache_dir), key)
        if hit is not None:
            return hit

    uniq, inverse = np.unique(pts, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    candidates = graph.largest_component() if largest_component_only else None
    node, snap_m = snap(graph, uniq[:, 0], uniq[:, 1], candidates)
    targets, node_slot = np.unique(node, return_inverse=True)
    node_slot = node_slot.ravel()

    sec, met = _fastest_paths(graph, targets)  # target x target
    # Gather to the n x n result in row blocks: float work arrays stay small (the int32
    # outputs are the only n x n allocations), which matters at 5,000 points.
    slot = node_slot[inverse]
    snap_n = snap_m[inverse]
    access_n = snap_n * 3.6 / access_speed_kmh
    n = len(inverse)
    metres = np.empty((n, n), dtype=np.int32)
    seconds = np.empty((n, n), dtype=np.int32)
    unreachable = np.empty((n, n), dtype=bool)
    step = max(1, _BLOCK_CELLS // max(1, n))
    for lo in range(0, n, step):
        rows = slice(lo, lo + step)
        same = inverse[rows, None] == inverse[None, :]  # identical coordinates: 0 apart
        cut = ~np.isfinite(sec[slot[rows, None], slot[None, :]])
        for out, base, leg, penalty in (
            (seconds, sec, access_n, UNREACHABLE_S),
            (metres, met, snap_n, UNREACHABLE_M),
        ):
            block = base[slot[rows, None], slot[None, :]] + leg[rows, None] + leg[None, :]
            block[same] = 0.0
            block[cut] = penalty
            out[rows] = np.ceil(block - 1e-9)
        unreachable[rows] = cut
    result = RoadMatrix(metres=metres, seconds=seconds, snap_m=snap_n, unreachable=unreachable)
    if cache_dir is not None and key is not None:
        _cache_write(Path(cache_dir), key, result)
    return result


# -------------------------------------------------------------------------------- caching


def _cache_key(
    graph: RoadGraph, pts: np.ndarray, access_speed_kmh: float, largest_only: bool
) -> str:
    """Graph file hash + edge speeds (the speed table's effect) + locations + parameters."""
    h = hashlib.sha256()
    h.update(
        json.dumps([_CACHE_VERSION, graph.source_sha256, access_speed_kmh, largest_only]).encode()
    )
    h.update(np.ascontiguousarray(graph.seconds).tobytes())
    h.update(np.ascontiguousarray(pts, dtype=np.float64).tobytes())
    return h.hexdigest()[:32]


def _cache_read(cache_dir: Path, key: str) -> RoadMatrix | None:
    path = cache_dir / f"road-{key}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            m = RoadMatrix(z["metres"], z["seconds"], z["snap_m"], z["unreachable"])
    except (OSError, KeyError, ValueError):
        return None  # a damaged cache file is rebuilt, not trusted
    with contextlib.suppress(OSError):  # recently used: the last to be evicted
        os.utime(path)
    return m


def _cache_write(cache_dir: Path, key: str, m: RoadMatrix) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f"road-{key}.{os.getpid()}.tmp.npz"  # one per writing process
    np.savez(tmp, metres=m.metres, seconds=m.seconds, snap_m=m.snap_m, unreachable=m.unreachable)
    tmp.replace(cache_dir / f"road-{key}.npz")  # atomic: readers never see half a file
    _evict(cache_dir, CACHE_ENTRIES)


def _evict(cache_dir: Path, keep: int) -> None:
    """Delete all but the `keep` most recently used matrices of the folder (not the files
    being written): a day's locations change every day, so entries would pile up."""
    entries = []
    for path in cache_dir.glob("road-*.npz"):
        if not path.name.endswith(".tmp.npz"):
            with contextlib.suppress(OSError):  # deleted meanwhile by another process
                entries.append((path.stat().st_mtime_ns, path))
    entries.sort(reverse=True)
    for _, path in entries[keep:]:
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- travel model


def profile_durations(
    seconds: np.ndarray, speeds_kmh: Mapping[str, float], reference_kmh: float | None = None
) -> dict[str, np.ndarray]:
    """Per-profile durations from road free-flow seconds: the rule shared by osm and osrm.

    Road seconds already reflect each road's speed, so a crew kind's configured speed is used
    relative to the fastest kind (or `reference_kmh`): that kind drives the road free-flow
    time, a kind configured at 25 km/h against 32 km/h takes 32/25 = 1.28x as long. Computed
    in per-mille integers with the same ceil rule as congestion, so whole seconds stay whole.
    """
    if not speeds_kmh:
        raise ValueError("need at least one profile speed")
    for name, speed in speeds_kmh.items():
        if speed <= 0:
            raise ValueError(f"speed for profile {name!r} must be > 0, got {speed}")
    ref = max(speeds_kmh.values()) if reference_kmh is None else reference_kmh
    out = {}
    step = max(1, _BLOCK_CELLS // max(1, seconds.shape[1]))
    for name, speed in speeds_kmh.items():
        permille = max(1000, round(1000 * ref / speed))
        scaled = np.empty(seconds.shape, dtype=np.int32)
        for lo in range(0, seconds.shape[0], step):  # int64 work in row blocks, not n x n
            block = (seconds[lo : lo + step].astype(np.int64) * permille + 999) // 1000
            scaled[lo : lo + step] = np.minimum(block, np.iinfo(np.int32).max)
        out[name] = scaled
    return out


def osm_model(
    osm_file: str | Path,
    lon: Sequence[float] | np.ndarray,
    lat: Sequence[float] | np.ndarray,
    speeds_kmh: Mapping[str, float],
    congestion: Congestion | None = None,
    *,
    road_speeds_kmh: Mapping[str, float] | None = None,
    access_speed_kmh: float = DEFAULT_ACCESS_SPEED_KMH,
    cache_dir: str | Path | None = None,
) -> TravelModel:
    """A `TravelModel` from an OSM extract: road metres, per-profile road seconds, congestion."""
    started = time.perf_counter()
    graph = cached_road_graph(osm_file, road_speeds_kmh)
    m = road_matrix(graph, lon, lat, access_speed_kmh=access_speed_kmh, cache_dir=cache_dir)
    congestion = congestion or Congestion()
    settings = {
        "provider": "osm",
        "osm_file": str(osm_file),
        "osm_sha256": graph.source_sha256,
        "speeds_kmh": dict(speeds_kmh),
        "access_speed_kmh": access_speed_kmh,
        "congestion": [list(s) for s in congestion.slices],
        "max_snap_m": float(m.snap_m.max()) if len(m.snap_m) else 0.0,
        "unreachable_pairs": int(m.unreachable.sum()),
        "build_s": round(time.perf_counter() - started, 3),
    }
    return TravelModel(m.metres, profile_durations(m.seconds, speeds_kmh), congestion, settings)
