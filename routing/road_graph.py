"""The drivable road graph of an OpenStreetMap extract: read the file, build the graph.

Formats: `.osm` XML is read with the standard library (`xml.etree.ElementTree.iterparse`);
`.osm.pbf` needs the optional `osmium` package (`pip install fieldroute[osm]`) and fails with a
clear `RoadNetworkError` without it.

Only drivable ways are kept (`routing.osm_tags`: speed, direction and access rules); the
graph is directed, its edges carry metres and free-flow seconds. Parsed graphs are kept in
memory for the life of the process (`cached_road_graph`), keyed by path, size, mtime and
speed table. `routing.road_network` computes the all-pairs matrices on it.
"""

from __future__ import annotations

import hashlib
import itertools
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from routing.osm_tags import DEFAULT_SPEEDS_KMH, drivable_speed, way_directions
from routing.travel import EARTH_RADIUS_M


class RoadNetworkError(ValueError):
    """The extract cannot be read or holds no usable drivable network."""


@dataclass(frozen=True)
class RoadGraph:
    """A directed drivable graph: nodes with WGS84 coordinates, edges with metres and seconds."""

    lon: np.ndarray  # float64 per node
    lat: np.ndarray
    src: np.ndarray  # int32 per edge
    dst: np.ndarray
    metres: np.ndarray  # float64 per edge
    seconds: np.ndarray  # float64 per edge, free flow
    source_sha256: str = ""

    @property
    def node_count(self) -> int:
        return int(self.lon.shape[0])

    @property
    def edge_count(self) -> int:
        return int(self.src.shape[0])

    def adjacency(self, weight: np.ndarray) -> csr_matrix:
        n = self.node_count
        return csr_matrix((weight, (self.src, self.dst)), shape=(n, n))

    def largest_component(self) -> np.ndarray:
        """Node indices of the largest strongly connected component (all mutually reachable)."""
        _, labels = connected_components(
            self.adjacency(self.seconds), directed=True, connection="strong"
        )
        return np.flatnonzero(labels == np.bincount(labels).argmax())


def _iter_xml_ways(path: Path) -> Iterator[tuple[dict[str, str], list[tuple[float, float]]]]:
    """(tags, [(lon, lat), ...]) of every highway way in an .osm XML file.

    One streaming pass: node coordinates are remembered (OSM files list nodes before ways),
    each element is cleared once read so memory holds coordinates, not the XML tree. Nodes a
    way references but the extract lacks (ways cut at the bounding box) split the way there.
    """
    coords: dict[int, tuple[float, float]] = {}
    try:
        for _, elem in ET.iterparse(path, events=("end",)):
            tag = elem.tag
            if tag == "node":
                coords[int(elem.get("id"))] = (float(elem.get("lon")), float(elem.get("lat")))
                elem.clear()
            elif tag == "way":
                tags = {t.get("k"): t.get("v") for t in elem.iter("tag")}
                if "highway" in tags:
                    refs = [int(nd.get("ref")) for nd in elem.iter("nd")]
                    for run in _split_missing(refs, coords):
                        yield tags, run
                elem.clear()
            elif tag == "relation":
                elem.clear()
    except ET.ParseError as exc:
        raise RoadNetworkError(f"{path}: not valid OSM XML ({exc})") from exc


def _split_missing(
    refs: Sequence[int], coords: Mapping[int, tuple[float, float]]
) -> Iterator[list[tuple[float, float]]]:
    run: list[tuple[float, float]] = []
    for ref in refs:
        c = coords.get(ref)
        if c is None:
            if len(run) >= 2:
                yield run
            run = []
        else:
            run.append(c)
    if len(run) >= 2:
        yield run


def _iter_pbf_ways(path: Path) -> Iterator[tuple[dict[str, str], list[tuple[float, float]]]]:
    """Same as `_iter_xml_ways` for .osm.pbf, through the optional `osmium` package."""
    try:
        import osmium
    except ImportError as exc:
        raise RoadNetworkError(
            f"{path}: reading .osm.pbf needs the optional 'osmium' package "
            "(pip install 'fieldroute[osm]'), or convert the extract to .osm XML"
        ) from exc
    try:
        processor = osmium.FileProcessor(
            str(path), osmium.osm.NODE | osmium.osm.WAY
        ).with_locations()
        for way in processor:
            if not isinstance(way, osmium.osm.Way) or "highway" not in way.tags:
                continue
            tags = {t.k: t.v for t in way.tags}
            run: list[tuple[float, float]] = []
            for nd in way.nodes:
                if nd.location.valid():
                    run.append((nd.location.lon, nd.location.lat))
                else:
                    if len(run) >= 2:
                        yield tags, run
                    run = []
            if len(run) >= 2:
                yield tags, run
    except RuntimeError as exc:
        raise RoadNetworkError(f"{path}: cannot read OSM PBF ({exc})") from exc


def _segment_metres(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Great-circle metres between coordinate rows a[k] = (lon, lat) and b[k]."""
    lon1, lat1 = np.radians(a[:, 0]), np.radians(a[:, 1])
    lon2, lat2 = np.radians(b[:, 0]), np.radians(b[:, 1])
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_road_graph(path: str | Path, speeds_kmh: Mapping[str, float] | None = None) -> RoadGraph:
    """The directed drivable graph of an OSM extract (.osm XML, or .osm.pbf with osmium).

    Nodes are the way vertices that drivable ways use (keyed by coordinate, so the XML and
    PBF readers agree); parallel edges keep the fastest one.
    """
    path = Path(path)
    speeds = dict(DEFAULT_SPEEDS_KMH if speeds_kmh is None else speeds_kmh)
    if not path.is_file():
        raise RoadNetworkError(f"{path}: no such OSM file")
    name = path.name.lower()
    ways = _iter_pbf_ways(path) if name.endswith(".pbf") else _iter_xml_ways(path)

    index: dict[tuple[float, float], int] = {}
    src: list[int] = []
    dst: list[int] = []
    kmh: list[float] = []
    for tags, run in ways:
        speed = drivable_speed(tags, speeds)
        direction = way_directions(tags) if speed else None
        if not speed or direction is None:
            continue
        ids = [index.setdefault(c, len(index)) for c in run]
        forward, backward = direction
        for u, v in itertools.pairwise(ids):
            if u == v:
                continue
            if forward:
                src.append(u)
                dst.append(v)
                kmh.append(speed)
            if backward:
                src.append(v)
                dst.append(u)
                kmh.append(speed)
    if not src:
        raise RoadNetworkError(f"{path}: no drivable ways (highway=motorway..service) found")

    xy = np.array(list(index), dtype=np.float64)
    s = np.array(src, dtype=np.int32)
    d = np.array(dst, dtype=np.int32)
    metres = np.maximum(_segment_metres(xy[s], xy[d]), 0.01)  # no zero-weight edges
    seconds = metres * 3.6 / np.array(kmh)
    # Parallel edges (two ways over one segment): keep the fastest.
    order = np.lexsort((seconds, d, s))
    s, d, metres, seconds = s[order], d[order], metres[order], seconds[order]
    first = np.ones(len(s), dtype=bool)
    first[1:] = (s[1:] != s[:-1]) | (d[1:] != d[:-1])
    return RoadGraph(
        lon=xy[:, 0].copy(),
        lat=xy[:, 1].copy(),
        src=s[first],
        dst=d[first],
        metres=metres[first],
        seconds=seconds[first],
        source_sha256=file_sha256(path),
    )


_GRAPHS: dict[tuple, RoadGraph] = {}


def cached_road_graph(path: str | Path, speeds_kmh: Mapping[str, float] | None = None) -> RoadGraph:
    """`load_road_graph`, memoised for the process (planner and validator share one parse)."""
    p = Path(path).resolve()
    if not p.is_file():  # the same error as load_road_graph's, not the OS's
        raise RoadNetworkError(f"{path}: no such OSM file")
    stat = p.stat()
    speeds = dict(DEFAULT_SPEEDS_KMH if speeds_kmh is None else speeds_kmh)
    key = (str(p), stat.st_size, stat.st_mtime_ns, tuple(sorted(speeds.items())))
    graph = _GRAPHS.get(key)
    if graph is None:
        if len(_GRAPHS) >= 4:
            _GRAPHS.pop(next(iter(_GRAPHS)))
        graph = _GRAPHS[key] = load_road_graph(p, speeds)
    return graph
