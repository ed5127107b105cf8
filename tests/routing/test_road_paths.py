"""Road route lines: the fastest road path between consecutive stops on the OSM graph
(`routing.road_paths`) and the OSRM `route` service's geometry (`OsrmClient.route_line`).

The OSM cases use the tiny inline square of test_road_network.py (one-way A->B, so B->A
drives round the square) and the drivable streets cut from the shared Baoshan extract
(tests/data/osm, ODbL: see its SOURCE.txt). OSRM is a fake server on 127.0.0.1 answering
like the documented `route` service: no network.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pytest

from routing.osrm_client import OsrmClient, OsrmError, osrm_road_lines
from routing.road_graph import _segment_metres, load_road_graph
from routing.road_network import road_matrix
from routing.road_paths import osm_road_lines, road_lines
from tests.routing.test_road_network import DLAT, lonlat, write_grid

BAOSHAN_ROADS = Path(__file__).resolve().parents[1] / "data" / "osm" / "baoshan_roads.osm"


def length_m(line: list[list[float]]) -> float:
    a = np.asarray(line, dtype=np.float64)
    return float(_segment_metres(a[:-1], a[1:]).sum())


def test_one_way_square_goes_round(tmp_path: Path) -> None:
    """A->B is the one-way street: straight; B->A drives B-C-D-A, every corner a vertex."""
    graph = load_road_graph(write_grid(tmp_path))
    a, b, c, d = (lonlat(n) for n in "ABCD")
    there, back = road_lines(graph, [[a, b], [b, a]])
    assert there == [[round(x, 6), round(y, 6)] for x, y in (a, b)]
    assert back == [[round(x, 6), round(y, 6)] for x, y in (b, c, d, a)]
    assert road_lines(graph, [[a], []]) == [[[round(a[0], 6), round(a[1], 6)]], []]


def test_a_leg_without_a_road_path_is_drawn_straight(tmp_path: Path) -> None:
    """E-F is oneway=-1 (only F->E): snapped to any node, E->F has no path; F->E has one."""
    graph = load_road_graph(write_grid(tmp_path))
    e, f = lonlat("E"), lonlat("F")
    there, back = road_lines(graph, [[e, f], [f, e]], largest_component_only=False)
    assert there == back[::-1] == [[round(x, 6), round(y, 6)] for x, y in (e, f)]


def test_stops_off_the_road_keep_their_access_legs(tmp_path: Path) -> None:
    """A stop 50 m south of B: the line runs A -> B (its node) -> the stop itself."""
    graph = load_road_graph(write_grid(tmp_path))
    a, b = lonlat("A"), lonlat("B")
    off_b = (b[0], b[1] - 0.5 * DLAT)
    (line,) = road_lines(graph, [[a, off_b, off_b]])  # the repeated stop adds nothing
    assert line == [[round(x, 6), round(y, 6)] for x, y in (a, b, off_b)]


def test_baoshan_lines_are_the_matrix_paths() -> None:
    """Each leg's line is as long as the matrix's road metres (the same fastest path, with
    the access legs), has road corners between the stops and starts and ends at them."""
    rng = np.random.default_rng(4)
    lon, lat = rng.uniform(121.3817, 121.3973, 7), rng.uniform(31.3098, 31.3235, 7)
    stops = list(zip(lon.tolist(), lat.tolist(), strict=True))
    graph = load_road_graph(BAOSHAN_ROADS)
    m = road_matrix(graph, lon, lat)
    for i in range(6):
        (leg,) = road_lines(graph, [[stops[i], stops[i + 1]]])
        assert length_m(leg) == pytest.approx(m.metres[i, i + 1], abs=1.5)
        assert leg[0] == [round(lon[i], 6), round(lat[i], 6)]
        assert leg[-1] == [round(lon[i + 1], 6), round(lat[i + 1], 6)]
    (whole,) = osm_road_lines(BAOSHAN_ROADS, [stops])
    assert len(whole) > 3 * len(stops)
    legs = sum(int(m.metres[i, i + 1]) for i in range(6))
    assert length_m(whole) == pytest.approx(legs, abs=6)


# ----------------------------------------------------------------------------- OSRM route


class FakeRoute(BaseHTTPRequestHandler):
    """OSRM's `route` service, documented shape: each leg drawn via a corner point (its end's
    longitude, its start's latitude), so a line has more vertices than waypoints."""

    mode = "ok"  # ok | noroute | nogeometry
    requests: ClassVar[list[int]] = []  # waypoints per request

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = url.path.split("/")
        q = parse_qs(url.query)
        assert parts[1:4] == ["route", "v1", "driving"]
        assert q["overview"] == ["full"] and q["geometries"] == ["geojson"]
        pts = [[float(v) for v in c.split(",")] for c in unquote(parts[4]).split(";")]
        type(self).requests.append(len(pts))
        if self.mode == "noroute":
            self._send(400, {"code": "NoRoute", "message": "Impossible route between points"})
            return
        coords = [pts[0]]
        for (_, y0), (x1, y1) in itertools.pairwise(pts):
            coords += [[x1, y0], [x1, y1]]
        route = {"distance": 1.0, "duration": 1.0, "legs": []}
        if self.mode != "nogeometry":
            route["geometry"] = {"type": "LineString", "coordinates": coords}
        self._send(200, {"code": "Ok", "routes": [route], "waypoints": []})


@pytest.fixture
def osrm() -> Iterator[str]:
    FakeRoute.mode, FakeRoute.requests = "ok", []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeRoute)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_osrm_route_line_in_chunks_joins_seamlessly(osrm: str) -> None:
    """7 waypoints in requests of at most 3 share their end points: 3 requests, and the
    joined line is the one a single request gives."""
    pts = [(121.38 + 0.001 * k, 31.31 + 0.002 * (k % 3)) for k in range(7)]
    lon, lat = [p[0] for p in pts], [p[1] for p in pts]
    with OsrmClient(osrm) as client:
        whole = client.route_line(lon, lat)
    with OsrmClient(osrm, chunk=3) as client:
        chunked = client.route_line(lon, lat)
    assert FakeRoute.requests == [7, 3, 3, 3]
    assert chunked == whole and len(whole) == 1 + 2 * 6
    assert whole[0] == [121.38, 31.31] and whole[-1] == pytest.approx([121.386, 31.31])
    assert osrm_road_lines(osrm, [pts[:2], pts[:1]]) == [whole[:3], [list(pts[0])]]


def test_osrm_route_errors_are_reported(osrm: str) -> None:
    FakeRoute.mode = "noroute"
    with OsrmClient(osrm) as client, pytest.raises(OsrmError, match="NoRoute"):
        client.route_line([121.38, 121.39], [31.31, 31.32])
    FakeRoute.mode = "nogeometry"
    with OsrmClient(osrm) as client, pytest.raises(OsrmError, match="without a GeoJSON"):
        client.route_line([121.38, 121.39], [31.31, 31.32])
