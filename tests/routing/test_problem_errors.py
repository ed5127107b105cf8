"""One test per input check of `routing`: the smallest bad input, the error type, the message.

In the manner of PyVRP's `ProblemData` tests: every `ProblemError` raised by
`routing.problem` and every check of the readers and providers (`routing.vrplib`,
`routing.travel`, `routing.lazy_travel`, `routing.road_graph`, `routing.road_network`,
`routing.osrm_client`, the solver options) is triggered here once, and the assertion names
the offending record or field as the message does.

Checks already triggered, message asserted, elsewhere (not repeated here):
`tests/routing/test_travel.py::test_bad_settings_are_refused` (detour_factor, profile speed,
congestion factor), `tests/routing/test_road_network.py::test_no_drivable_way_and_missing_file`
(no drivable ways, no such file, invalid XML),
`tests/routing/test_road_network.py::test_pbf_without_osmium_says_what_to_install`,
`tests/routing/test_osrm_client.py::test_server_errors_are_reported` (HTTP error, no JSON),
`tests/routing/test_osrm_client.py::test_too_big_table_is_a_clear_error`,
`tests/routing/test_osrm_client.py::test_timeout_and_unreachable_server` (retries, URL scheme).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from routing.lazy_travel import LazyHaversineModel
from routing.ortools_model import SolveParams
from routing.osrm_client import OsrmClient, OsrmError
from routing.problem import (
    Break,
    Precedence,
    ProblemError,
    RoutingProblem,
    Sync,
    Vehicle,
    Visit,
)
from routing.road_graph import RoadNetworkError, load_road_graph
from routing.road_network import osm_model, profile_durations, road_matrix
from routing.travel import Congestion, TravelModel
from routing.vrplib import (
    VrplibError,
    read_instance,
    read_solution,
    routes_to_solution,
    to_problem,
)
from routing.vrptw_solver import solve_vrptw

HAS_OSMIUM = importlib.util.find_spec("osmium") is not None


def raises(exc: type[Exception], fragment: str) -> Any:
    """`pytest.raises` matching `fragment` literally (messages carry parentheses, quotes)."""
    return pytest.raises(exc, match=re.escape(fragment))


# ------------------------------------------------------------------------ problem types


def make_visit(**kw: Any) -> Visit:
    args: dict[str, Any] = {"id": "v0", "location": 0, "service_s": 0, "windows": ((0, 100),)}
    return Visit(**(args | kw))


def make_vehicle(**kw: Any) -> Vehicle:
    args: dict[str, Any] = {
        "id": "k0",
        "start_location": 0,
        "end_location": 0,
        "shift_start": 0,
        "shift_end": 100,
        "profile": "van",
    }
    return Vehicle(**(args | kw))


def make_travel(n: int = 2) -> TravelModel:
    zeros = np.zeros((n, n), dtype=np.int32)
    return TravelModel(zeros, {"van": zeros.copy()})


def test_problem_error_is_a_value_error() -> None:
    assert issubclass(ProblemError, ValueError)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"service_s": -1}, "visit v0: service_s must be >= 0, got -1"),
        ({"windows": ()}, "visit v0: windows must not be empty"),
        ({"windows": ((10, 5),)}, "visit v0: window (10, 5) ends before it starts"),
        ({"windows": ((0, 10), (5, 20))}, "visit v0: windows must be sorted and disjoint"),
        ({"windows": ((20, 30), (0, 10))}, "visit v0: windows must be sorted and disjoint"),
        # inclusive ranges: (0, 10) and (10, 20) share second 10
        ({"windows": ((0, 10), (10, 20))}, "visit v0: windows must be sorted and disjoint"),
        ({"demand": (1, -1)}, "visit v0: demand must be >= 0, got (1, -1)"),
        ({"lateness_cost_per_s": -1}, "visit v0: costs must be >= 0"),
        ({"drop_penalty": -1}, "visit v0: costs must be >= 0"),
    ],
)
def test_visit_checks(fields: dict[str, Any], message: str) -> None:
    with raises(ProblemError, message):
        make_visit(**fields)


@pytest.mark.parametrize(
    ("window_start", "window_end", "duration_s"),
    [(0, 100, -1), (0, 100, 101), (100, 0, 0)],
    ids=["negative-duration", "longer-than-window", "window-reversed"],
)
def test_break_checks(window_start: int, window_end: int, duration_s: int) -> None:
    with raises(
        ProblemError, f"break: window ({window_start}, {window_end}) cannot hold {duration_s} s"
    ):
        Break(window_start, window_end, duration_s)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"shift_end": 0}, "vehicle k0: shift_end must be after shift_start"),
        ({"shift_start": 50, "shift_end": 10}, "vehicle k0: shift_end must be after shift_start"),
        ({"capacity": (-1,)}, "vehicle k0: capacity must be >= 0, got (-1,)"),
        ({"max_visits": -1}, "vehicle k0: max_visits must be >= 0"),
    ],
)
def test_vehicle_checks(fields: dict[str, Any], message: str) -> None:
    with raises(ProblemError, message):
        make_vehicle(**fields)


@pytest.mark.parametrize(
    ("visits", "vehicles", "message"),
    [
        ([make_visit(), make_visit()], [], "visit v0: duplicate id"),
        ([make_visit(location=2)], [], "visit v0: location 2 outside the matrix"),
        ([make_visit(location=-1)], [], "visit v0: location -1 outside the matrix"),
        (
            [make_visit(allowed_vehicles=(1,))],
            [make_vehicle()],
            "visit v0: allowed_vehicles names an unknown vehicle",
        ),
        (
            [make_visit(allowed_vehicles=(-1,))],
            [make_vehicle()],
            "visit v0: allowed_vehicles names an unknown vehicle",
        ),
        (
            [make_visit(demand=(1,)), make_visit(id="v1", demand=(1, 2))],
            [],
            "visit v1: demand has 2 dimensions",
        ),
        ([], [make_vehicle(start_location=2)], "vehicle k0: location 2 outside the matrix"),
        ([], [make_vehicle(end_location=-1)], "vehicle k0: location -1 outside the matrix"),
        ([], [make_vehicle(profile="bike")], "vehicle k0: unknown travel profile 'bike'"),
        (
            [make_visit(demand=(1,))],
            [make_vehicle(capacity=(5, 5))],
            "vehicle k0: capacity has 2 dimensions",
        ),
    ],
    ids=[
        "duplicate-visit-id",
        "visit-location-past-matrix",
        "visit-location-negative",
        "allowed-vehicle-past-fleet",
        "allowed-vehicle-negative",
        "demand-dimensions-differ",
        "vehicle-start-past-matrix",
        "vehicle-end-negative",
        "unknown-profile",
        "capacity-dimensions-differ",
    ],
)
def test_routing_problem_checks(visits: list[Visit], vehicles: list[Vehicle], message: str) -> None:
    with raises(ProblemError, message):
        RoutingProblem(visits, vehicles, make_travel(2))


def two_visits() -> list[Visit]:
    return [make_visit(), make_visit(id="v1")]


@pytest.mark.parametrize(
    ("precedence", "bad_index"),
    [(Precedence(0, 2), 2), (Precedence(-1, 0), -1)],
    ids=["after-past-visits", "before-negative"],
)
def test_precedence_names_an_unknown_visit(precedence: Precedence, bad_index: int) -> None:
    with raises(ProblemError, f"precedence {precedence}: unknown visit index {bad_index}"):
        RoutingProblem(two_visits(), [], make_travel(), precedences=[precedence])


@pytest.mark.parametrize(
    ("precedence", "message"),
    [
        (Precedence(1, 1), "a visit cannot precede itself"),
        (Precedence(0, 1, gap_s=-60), "gap_s must be >= 0, got -60"),
    ],
    ids=["self", "negative-gap"],
)
def test_precedence_checks(precedence: Precedence, message: str) -> None:
    with raises(ProblemError, f"precedence {precedence}: {message}"):
        RoutingProblem(two_visits(), [], make_travel(), precedences=[precedence])


@pytest.mark.parametrize(
    ("sync", "message"),
    [
        (Sync(0, 2), "unknown visit index 2"),
        (Sync(-1, 1), "unknown visit index -1"),
        (Sync(1, 1), "a visit cannot be synchronised with itself"),
        (Sync(0, 1, min_delay_s=-1, max_delay_s=0), "need 0 <= min_delay_s <= max_delay_s"),
        (Sync(0, 1, min_delay_s=60, max_delay_s=30), "need 0 <= min_delay_s <= max_delay_s"),
    ],
    ids=["second-past-visits", "first-negative", "self", "negative-delay", "min-above-max"],
)
def test_sync_checks(sync: Sync, message: str) -> None:
    with raises(ProblemError, f"sync {sync}: {message}"):
        RoutingProblem(two_visits(), [], make_travel(), syncs=[sync])


# ------------------------------------------------------------------------------- travel


@pytest.mark.parametrize(
    "slice_",
    [(-1, 10, 1200), (0, 86_401, 1200), (10, 10, 1200), (20, 10, 1200)],
    ids=["starts-before-midnight", "ends-after-midnight", "empty", "reversed"],
)
def test_congestion_slice_must_lie_within_one_day(slice_: tuple[int, int, int]) -> None:
    start, end, _ = slice_
    with raises(ValueError, f"congestion slice ({start}, {end}) must lie within one day"):
        Congestion((slice_,))


@pytest.mark.parametrize(
    ("distances", "durations", "message"),
    [
        (np.zeros((2, 3)), {}, "distance matrix must be square"),
        (np.zeros((2, 2)), {"van": np.zeros((3, 3))}, "duration matrix 'van' must be 2x2"),
        (
            np.zeros((2, 2)),
            {"van": np.array([[0, -1], [0, 0]])},
            "duration matrix 'van' has negative entries",
        ),
        (np.array([[0, -1], [0, 0]]), {}, "distance matrix has negative entries"),
    ],
    ids=["distances-not-square", "durations-wrong-shape", "negative-duration", "negative-distance"],
)
def test_travel_model_checks(
    distances: np.ndarray, durations: dict[str, np.ndarray], message: str
) -> None:
    with raises(ValueError, message):
        TravelModel(distances, durations)


@pytest.mark.parametrize(
    ("lon", "lat", "kwargs", "message"),
    [
        ([0, 1], [0, 1], {"detour_factor": 0.5}, "detour_factor must be >= 1, got 0.5"),
        ([0, 1], [0, 1], {"speeds_kmh": {"van": 0}}, "speed for profile 'van' must be > 0"),
        ([0, 1], [0], {}, "lon and lat must be 1-D arrays of the same length"),
    ],
    ids=["detour-below-one", "zero-speed", "lon-lat-lengths-differ"],
)
def test_lazy_haversine_checks(
    lon: list[float], lat: list[float], kwargs: dict[str, Any], message: str
) -> None:
    args: dict[str, Any] = {"speeds_kmh": {"van": 30.0}} | kwargs
    with raises(ValueError, message):
        LazyHaversineModel(lon, lat, **args)


def test_point_matrix_index_checks() -> None:
    m = LazyHaversineModel([0, 1], [0, 1], {"van": 30.0}).durations["van"]
    with raises(IndexError, "index 2 out of range for size 2"):
        m[0, 2]
    with raises(TypeError, "PointMatrix is indexed with [rows, cols]"):
        m[0]
    with raises(TypeError, "pairwise fancy indexing is not supported; use np.ix_"):
        m[[0, 1], [1, 0]]


@pytest.mark.parametrize(
    ("speeds", "message"),
    [
        ({}, "need at least one profile speed"),
        ({"van": 0.0}, "speed for profile 'van' must be > 0"),
    ],
    ids=["no-profiles", "zero-speed"],
)
def test_profile_durations_checks(speeds: dict[str, float], message: str) -> None:
    with raises(ValueError, message):
        profile_durations(np.zeros((2, 2), dtype=np.int32), speeds)


# ------------------------------------------------------------------- OSM road network

TWO_NODE_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
 <node id="1" lat="31.000" lon="121.000"/>
 <node id="2" lat="31.001" lon="121.000"/>
 <way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>
</osm>
"""


def write_osm(tmp_path: Path) -> Path:
    path = tmp_path / "two.osm"
    path.write_text(TWO_NODE_OSM, encoding="utf-8")
    return path


@pytest.mark.skipif(not HAS_OSMIUM, reason="osmium absent (the test extra installs it)")
def test_unreadable_pbf(tmp_path: Path) -> None:
    path = tmp_path / "x.osm.pbf"
    path.write_bytes(b"not a pbf")
    with raises(RoadNetworkError, f"{path}: cannot read OSM PBF"):
        load_road_graph(path)


@pytest.mark.parametrize("speed", [0.0, -5.0])
def test_road_matrix_access_speed_must_be_positive(tmp_path: Path, speed: float) -> None:
    graph = load_road_graph(write_osm(tmp_path))
    with raises(ValueError, f"access_speed_kmh must be > 0, got {speed}"):
        road_matrix(graph, [121.0, 121.0], [31.0, 31.001], access_speed_kmh=speed)


def test_damaged_matrix_cache_file_is_rebuilt(tmp_path: Path) -> None:
    """`_cache_read` does not trust a cache file it cannot load: the matrix is recomputed."""
    graph = load_road_graph(write_osm(tmp_path))
    cache = tmp_path / "cache"
    lon, lat = [121.0, 121.0], [31.0, 31.001]
    first = road_matrix(graph, lon, lat, cache_dir=cache)
    (cached,) = cache.glob("road-*.npz")
    cached.write_bytes(b"damaged")
    again = road_matrix(graph, lon, lat, cache_dir=cache)
    assert np.array_equal(first.metres, again.metres)
    assert np.array_equal(first.seconds, again.seconds)
    with np.load(cached) as z:  # and the file is good again
        assert np.array_equal(z["metres"], first.metres)


def test_missing_osm_file_through_the_provider(tmp_path: Path) -> None:
    with raises(RoadNetworkError, "no such OSM file"):
        osm_model(tmp_path / "absent.osm", [121.0], [31.0], {"van": 30.0})


# ---------------------------------------------------------------------------------- OSRM


def osrm_answering(body: dict[str, Any]) -> OsrmClient:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(body).encode())

    return OsrmClient("http://osrm.test", transport=httpx.MockTransport(reply))


def test_osrm_chunk_must_be_positive() -> None:
    with raises(ValueError, "chunk must be >= 1, got 0"):
        OsrmClient("http://osrm.test", chunk=0)


@pytest.mark.parametrize("missing", ["durations", "distances"])
def test_osrm_answer_without_annotations(missing: str) -> None:
    body: dict[str, Any] = {"code": "Ok", "durations": [[0, 1], [1, 0]]}
    body["distances"] = body["durations"]
    del body[missing]
    with osrm_answering(body) as client, raises(OsrmError, f"sent no {missing!r}"):
        client.table([121.0, 121.0], [31.0, 31.001])


def test_osrm_answer_of_the_wrong_shape() -> None:
    body = {"code": "Ok", "durations": [[0]], "distances": [[0]]}
    with (
        osrm_answering(body) as client,
        raises(OsrmError, "sent durations of shape (1, 1), expected (2, 2)"),
    ):
        client.table([121.0, 121.0], [31.0, 31.001])


# --------------------------------------------------------------------------------- VRPLIB

VRP = """NAME : T
DIMENSION : 3
CAPACITY : 10
SERVICE_TIME : 5
EDGE_WEIGHT_TYPE : EUC_2D
NODE_COORD_SECTION
1 0 0
2 3 4
3 1 1
DEMAND_SECTION
1 0
2 4
3 5
TIME_WINDOW_SECTION
1 0 100
2 0 50
3 10 20
DEPOT_SECTION
1
-1
EOF
"""


def test_vrplib_reference_instance_reads(tmp_path: Path) -> None:
    """The instance the cases below break is itself valid."""
    path = tmp_path / "t.vrp"
    path.write_text(VRP, encoding="utf-8")
    assert read_instance(path).customers == 2


# Line numbers of VRP: 2 DIMENSION, 3 CAPACITY, 4 SERVICE_TIME, 5 EDGE_WEIGHT_TYPE,
# 6 NODE_COORD_SECTION (rows 7-9), 10 DEMAND_SECTION (11-13), 14 TIME_WINDOW_SECTION (15-17),
# 18 DEPOT_SECTION (19-20). Each case: the text replaced, its replacement, and the message
# after the file's path (", line N: ..." where a line is to blame).
SERVICE_SECTION = "SERVICE_TIME_SECTION\n1 0\n2 {}\n3 {}\nDEPOT_SECTION"  # lines 18-21


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("NAME : T\n", "NAME : T\nstray text\n", ", line 2: unexpected line 'stray text'"),
        ("DIMENSION : 3\n", "", ": missing DIMENSION"),
        ("CAPACITY : 10\n", "", ": missing CAPACITY"),
        (
            "DIMENSION : 3",
            "DIMENSION : three",
            ", line 2: DIMENSION must be an integer >= 1, got 'three'",
        ),
        ("DIMENSION : 3", "DIMENSION : 0", ", line 2: DIMENSION must be an integer >= 1, got '0'"),
        (
            "CAPACITY : 10",
            "CAPACITY : ten",
            ", line 3: CAPACITY must be an integer >= 0, got 'ten'",
        ),
        (
            "NAME : T\n",
            "NAME : T\nVEHICLES : two\n",
            ", line 2: VEHICLES must be an integer >= 0, got 'two'",
        ),
        (
            "NAME : T\n",
            "NAME : T\nVEHICLES : -1\n",
            ", line 2: VEHICLES must be an integer >= 0, got '-1'",
        ),
        (
            "CAPACITY : 10\n",
            "CAPACITY : 10\nCAPACITY : 20\n",
            ", line 4: second CAPACITY (the first is on line 3)",
        ),
        (
            "EDGE_WEIGHT_TYPE : EUC_2D",
            "EDGE_WEIGHT_TYPE : EXPLICIT",
            ", line 5: only EDGE_WEIGHT_TYPE EUC_2D is supported, got 'EXPLICIT'",
        ),
        ("DEMAND_SECTION\n1 0\n2 4\n3 5\n", "", ": missing DEMAND_SECTION"),
        (
            "DEPOT_SECTION",
            "DEMAND_SECTION\n1 0\n2 4\n3 5\nDEPOT_SECTION",
            ", line 18: second DEMAND_SECTION (the first is on line 10)",
        ),
        (
            "2 3 4\n",
            "2 3 4 9\n",
            ", line 8: NODE_COORD_SECTION rows must have 3 fields (node x y), got 4",
        ),
        (
            "2 3 4\n3 1 1\n",
            "3 3 4\n2 1 1\n",
            ", line 8: NODE_COORD_SECTION node ids must be 1..3 in order: expected 2, got '3'",
        ),
        (
            "2 3 4\n",
            "b 3 4\n",
            ", line 8: NODE_COORD_SECTION node ids must be 1..3 in order: expected 2, got 'b'",
        ),
        (
            "2 3 4\n",
            "2 3 x\n",
            ", line 8: NODE_COORD_SECTION node 2: y must be a finite number, got 'x'",
        ),
        (
            "2 3 4\n",
            "2 nan 4\n",
            ", line 8: NODE_COORD_SECTION node 2: x must be a finite number, got 'nan'",
        ),
        ("3 1 1\n", "", ", line 6: NODE_COORD_SECTION has 2 rows, DIMENSION 3"),
        ("3 5\n", "", ", line 10: DEMAND_SECTION has 2 rows, DIMENSION 3"),
        ("3 5\n", "3 5\n4 6\n", ", line 14: DEMAND_SECTION has more rows than DIMENSION 3"),
        ("3 10 20\n", "", ", line 14: TIME_WINDOW_SECTION has 2 rows, DIMENSION 3"),
        (
            "2 4\n",
            "2 4.5\n",
            ", line 12: DEMAND_SECTION node 2: demand must be an integer, got '4.5'",
        ),
        (
            "2 4\n",
            "2 four\n",
            ", line 12: DEMAND_SECTION node 2: demand must be an integer, got 'four'",
        ),
        ("2 4\n", "2 -4\n", ", line 12: DEMAND_SECTION node 2: demand must be >= 0, got '-4'"),
        (
            "3 10 20\n",
            "3 10.5 20\n",
            ", line 17: TIME_WINDOW_SECTION node 3: ready must be an integer, got '10.5'",
        ),
        (
            "3 10 20\n",
            "3 10 inf\n",
            ", line 17: TIME_WINDOW_SECTION node 3: due must be an integer, got 'inf'",
        ),
        (
            "3 10 20\n",
            "3 20 10\n",
            ", line 17: TIME_WINDOW_SECTION node 3: due 10 is before ready 20",
        ),
        (
            "DEPOT_SECTION\n1\n",
            "DEPOT_SECTION\n2\n",
            ", line 19: DEPOT_SECTION: exactly one depot, node 1, is supported; got '2'",
        ),
        (
            "DEPOT_SECTION\n1\n",
            "DEPOT_SECTION\n1\n2\n",
            ", line 20: DEPOT_SECTION: exactly one depot, node 1, is supported; got '2'",
        ),
        (
            "DEPOT_SECTION\n1\n",
            "DEPOT_SECTION\none\n",
            ", line 19: DEPOT_SECTION: exactly one depot, node 1, is supported; got 'one'",
        ),
        (
            "DEPOT_SECTION\n1\n-1\n",
            "DEPOT_SECTION\n",
            ", line 18: DEPOT_SECTION is empty: one depot, node 1, is needed",
        ),
        (
            "SERVICE_TIME : 5\n",
            "SERVICE_TIME : 5.5\n",
            ", line 4: SERVICE_TIME must be an integer >= 0, got '5.5'",
        ),
        (
            "SERVICE_TIME : 5\n",
            "SERVICE_TIME : five\n",
            ", line 4: SERVICE_TIME must be an integer >= 0, got 'five'",
        ),
        (
            "SERVICE_TIME : 5\n",
            "SERVICE_TIME : -5\n",
            ", line 4: SERVICE_TIME must be an integer >= 0, got '-5'",
        ),
        (
            "DEPOT_SECTION",
            SERVICE_SECTION.format(5, 5.5),
            ", line 21: SERVICE_TIME_SECTION node 3: service must be an integer, got '5.5'",
        ),
        (
            "DEPOT_SECTION",
            SERVICE_SECTION.format(-5, 5),
            ", line 20: SERVICE_TIME_SECTION node 2: service must be >= 0, got '-5'",
        ),
        (
            "DEPOT_SECTION",
            "SERVICE_TIME_SECTION\n1 0\n2 5\nDEPOT_SECTION",
            ", line 18: SERVICE_TIME_SECTION has 2 rows, DIMENSION 3",
        ),
    ],
    ids=[
        "stray-line",
        "no-dimension",
        "no-capacity",
        "dimension-not-integer",
        "dimension-zero",
        "capacity-not-integer",
        "vehicles-not-integer",
        "vehicles-negative",
        "keyword-twice",
        "edge-weight-type",
        "missing-section",
        "section-twice",
        "row-width",
        "node-ids-out-of-order",
        "node-id-not-a-number",
        "coordinate-not-a-number",
        "coordinate-nan",
        "coords-rows-vs-dimension",
        "demand-rows-vs-dimension",
        "demand-rows-past-dimension",
        "windows-rows-vs-dimension",
        "demand-not-integer",
        "demand-not-a-number",
        "demand-negative",
        "window-not-integer",
        "window-infinite",
        "window-reversed",
        "depot-not-node-1",
        "two-depots",
        "depot-not-a-number",
        "depot-section-empty",
        "service-time-not-integer",
        "service-time-not-a-number",
        "service-time-negative",
        "service-section-not-integer",
        "service-section-negative",
        "service-section-rows-vs-dimension",
    ],
)
def test_vrplib_reader_checks(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert VRP.count(old) == 1
    path = tmp_path / "t.vrp"
    path.write_text(VRP.replace(old, new), encoding="utf-8")
    with raises(VrplibError, f"{path}{message}"):
        read_instance(path)


def test_vrplib_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "t.vrp"
    path.write_bytes(b"NAME : \xff\n")
    with raises(VrplibError, f"{path}: not UTF-8 text"):
        read_instance(path)


def test_vrplib_solution_reads(tmp_path: Path) -> None:
    """The solution the cases below break is itself valid (and `Cost:` is read too)."""
    path = tmp_path / "t.sol"
    path.write_text("Route #1: 2 1\nRoute #2: 3\nCost: 12.5\n", encoding="utf-8")
    assert read_solution(path, customers=3) == ([[2, 1], [3]], 12.5)


@pytest.mark.parametrize(
    ("text", "customers", "message"),
    [
        ("Route #1: 1 x\n", None, ", line 1: Route #1: customer 'x' is not an integer"),
        ("Route #1: 0 1\n", None, ", line 1: Route #1: unknown customer 0 (not in 1..n)"),
        ("Route #1: 1 3\n", 2, ", line 1: Route #1: unknown customer 3 (not in 1..2)"),
        (
            "Route #1: 1 2\nRoute #2: 2\n",
            None,
            ", line 2: Route #2: customer 2 is already on the route of line 1",
        ),
        ("Route 1 2\n", None, ", line 1: 'Route 1 2' has no ':' before its customers"),
        ("Route #1: 1\nCost abc\n", None, ", line 2: Cost must be a number, got 'abc'"),
        ("Route #1: 1\nCost 1 2\n", None, ", line 2: Cost must be a number, got '1 2'"),
        ("Route #1: 1\nCost 5\nCost 6\n", None, ", line 3: second Cost (the first is on line 2)"),
        ("Cost 5\n", None, ": no 'Route' lines"),
        ("", None, ": no 'Route' lines"),
    ],
    ids=[
        "customer-not-integer",
        "customer-zero",
        "customer-past-instance",
        "customer-twice",
        "route-without-colon",
        "cost-not-a-number",
        "cost-two-fields",
        "cost-twice",
        "no-routes",
        "empty-file",
    ],
)
def test_vrplib_solution_checks(
    tmp_path: Path, text: str, customers: int | None, message: str
) -> None:
    path = tmp_path / "t.sol"
    path.write_text(text, encoding="utf-8")
    with raises(VrplibError, f"{path}{message}"):
        read_solution(path, customers=customers)


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ([[0]], "route 1: unknown customer 0 (not in 1..2)"),
        ([[1], [3]], "route 2: unknown customer 3 (not in 1..2)"),
        ([[1], [1]], "route 2: customer 1 is on an earlier route"),
        ([[1], [], [2]], "route 3: the fleet has only 2 vehicles"),
    ],
    ids=["customer-zero", "customer-past-instance", "customer-twice", "more-routes-than-fleet"],
)
def test_vrplib_routes_must_fit_the_instance(
    tmp_path: Path, routes: list[list[int]], message: str
) -> None:
    path = tmp_path / "t.vrp"
    path.write_text(VRP, encoding="utf-8")
    problem = to_problem(read_instance(path))  # 2 customers, VEHICLES defaults to 2
    with raises(VrplibError, message):
        routes_to_solution(problem, routes)


# ------------------------------------------------------------------------ solver options


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"time_limit_s": 0}, "time_limit_s must be > 0, got 0"),
        ({"first_solution": "greedy"}, "unknown first_solution 'greedy'"),
        ({"metaheuristic": "annealing"}, "unknown metaheuristic 'annealing'"),
    ],
)
def test_solve_params_checks(fields: dict[str, Any], message: str) -> None:
    with raises(ValueError, message):
        SolveParams(**fields)


def test_unknown_vrptw_portfolio() -> None:
    problem = RoutingProblem([make_visit()], [make_vehicle()], make_travel())
    with raises(ValueError, "unknown portfolio 'fastest'; choose from"):
        solve_vrptw(problem, 1.0, portfolio="fastest")
