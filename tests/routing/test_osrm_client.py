"""OSRM `table` client against a fake OSRM server on 127.0.0.1 (no network).

The fake answers like OSRM: durations = great-circle metres / 10 m/s, distances = metres,
`sources[].distance` = a fixed 7 m snap, `null` for any pair touching a coordinate whose
latitude is 0 (a point "off the road network"); it records every request so the chunking
can be checked, and can be told to fail, to answer too slowly, or to refuse large tables.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pytest

from routing.osrm_client import OsrmClient, OsrmError, osrm_model
from routing.road_network import UNREACHABLE_M, UNREACHABLE_S
from routing.travel import Congestion, haversine_metres


class FakeOsrm(BaseHTTPRequestHandler):
    mode = "ok"  # ok | error | slow | html
    max_table = 100
    requests: ClassVar[list[tuple[int, int, int]]] = []  # (coordinates, sources, destinations)

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: object, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)  # not urlparse: it would cut the path at ';'
        parts = url.path.split("/")
        if parts[1:4] != ["table", "v1", "driving"]:
            self._send(400, {"code": "InvalidUrl", "message": f"bad path {url.path}"})
            return
        if self.mode == "slow":
            time.sleep(0.5)
        if self.mode == "html":
            self._send(502, "<html>Bad Gateway</html>", "text/html")
            return
        if self.mode == "error":
            self._send(400, {"code": "InvalidQuery", "message": "Query string malformed"})
            return
        pts = np.array([[float(v) for v in c.split(",")] for c in unquote(parts[4]).split(";")])
        q = parse_qs(url.query)
        assert q["annotations"] == ["distance,duration"]
        src = [int(v) for v in q["sources"][0].split(";")] if "sources" in q else range(len(pts))
        dst = [int(v) for v in q["destinations"][0].split(";")] if "destinations" in q else None
        dst = range(len(pts)) if dst is None else dst
        type(self).requests.append((len(pts), len(src), len(dst)))
        if len(src) * len(dst) > self.max_table**2:
            self._send(400, {"code": "TooBig", "message": "Too many table coordinates"})
            return
        metres = haversine_metres(pts[:, 0], pts[:, 1])
        off = pts[:, 1] == 0.0
        cell = [
            [None if off[i] or off[j] else float(metres[i, j]) for j in dst] for i in src
        ]  # fmt: skip
        self._send(
            200,
            {
                "code": "Ok",
                "durations": [[None if v is None else round(v / 10, 1) for v in r] for r in cell],
                "distances": [[None if v is None else round(v, 1) for v in r] for r in cell],
                "sources": [{"location": list(pts[i]), "distance": 7.0} for i in src],
                "destinations": [{"location": list(pts[j]), "distance": 7.0} for j in dst],
            },
        )


@pytest.fixture
def server() -> Iterator[str]:
    FakeOsrm.mode, FakeOsrm.max_table, FakeOsrm.requests = "ok", 100, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOsrm)
    httpd.block_on_close = False  # do not wait for a deliberately slow answer
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(121.38, 121.40, n), rng.uniform(31.31, 31.32, n)


def expected(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = haversine_metres(np.round(lon, 6), np.round(lat, 6))  # as sent: 6 decimals
    return np.ceil(np.round(m, 1) - 1e-9), np.ceil(np.round(m / 10, 1) - 1e-9)


def test_single_request_table(server: str) -> None:
    lon, lat = points(5)
    with OsrmClient(server) as client:
        m = client.table(lon, lat)
    want_m, want_s = expected(lon, lat)
    assert np.array_equal(m.metres, want_m) and np.array_equal(m.seconds, want_s)
    assert m.metres.dtype == np.int32 and not m.unreachable.any()
    assert np.all(m.snap_m == 7.0)
    assert FakeOsrm.requests == [(5, 5, 5)]


def test_chunked_table_matches_one_request(server: str) -> None:
    """23 points in chunks of 10: 3 x 3 blocks, each <= 10 x 10, assembled to the same table."""
    lon, lat = points(23, seed=1)
    with OsrmClient(server, chunk=10) as client:
        m = client.table(lon, lat)
    want_m, want_s = expected(lon, lat)
    assert np.array_equal(m.metres, want_m) and np.array_equal(m.seconds, want_s)
    assert len(FakeOsrm.requests) == 9
    assert all(s <= 10 and d <= 10 for _, s, d in FakeOsrm.requests)
    assert np.all(m.snap_m == 7.0)


def test_too_big_table_is_a_clear_error(server: str) -> None:
    FakeOsrm.max_table = 4
    lon, lat = points(6)
    with OsrmClient(server) as client, pytest.raises(OsrmError, match="TooBig"):
        client.table(lon, lat)
    with OsrmClient(server, chunk=4) as client:  # small enough chunks pass
        assert client.table(lon, lat).metres.shape == (6, 6)


def test_null_cells_become_flagged_penalties(server: str) -> None:
    lon, lat = points(4)
    lat[2] = 0.0
    with OsrmClient(server) as client:
        m = client.table(lon, lat)
    flagged = np.zeros((4, 4), dtype=bool)
    flagged[2, :] = flagged[:, 2] = True
    flagged[2, 2] = False  # a point is always 0 from itself
    assert np.array_equal(m.unreachable, flagged)
    assert np.all(m.metres[flagged] == UNREACHABLE_M) and np.all(
        m.seconds[flagged] == UNREACHABLE_S
    )
    assert m.metres[2, 2] == 0


@pytest.mark.parametrize(
    ("mode", "message"),
    [("error", "HTTP 400, code 'InvalidQuery': Query string malformed"), ("html", "HTTP 502")],
)
def test_server_errors_are_reported(server: str, mode: str, message: str) -> None:
    FakeOsrm.mode = mode
    with OsrmClient(server) as client, pytest.raises(OsrmError, match=message):
        client.table(*points(3))


def test_timeout_and_unreachable_server(server: str) -> None:
    FakeOsrm.mode = "slow"
    slow = OsrmClient(server, timeout_s=0.2, retries=1)
    with slow, pytest.raises(OsrmError, match="unreachable after 2 tries: ReadTimeout"):
        slow.table(*points(3))
    closed = OsrmClient("http://127.0.0.1:9", timeout_s=1, retries=0)  # discard port: refused
    with closed, pytest.raises(OsrmError, match="ConnectError"):
        closed.table(*points(3))
    with pytest.raises(ValueError, match="http"):
        OsrmClient("127.0.0.1:5000")


def test_osrm_model_scales_profiles(server: str) -> None:
    lon, lat = points(6)
    model = osrm_model(server, lon, lat, {"van": 30.0, "truck": 20.0}, Congestion())
    _, want_s = expected(lon, lat)
    assert np.array_equal(model.durations["van"], want_s)
    assert np.array_equal(model.durations["truck"], np.ceil(want_s * 1.5 - 1e-9))
    assert model.settings["provider"] == "osrm"
