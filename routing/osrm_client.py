"""Client for an OSRM-compatible server: road matrices (`table`) and route lines (`route`).

The provider behind `TravelSettings(provider="osrm")`, for deployments that run OSRM (or a
service with the same API, e.g. Valhalla's OSRM-compatible output or a hosted one). It asks
`GET {base}/table/v1/{profile}/{lon,lat;...}?annotations=distance,duration` and splits a
large matrix into blocks of at most `chunk` sources x `chunk` destinations per request: OSRM
refuses tables larger than its `--max-table-size` (100 by default, checked as
sources x destinations <= 100 x 100), so `chunk=100` works against a default server.

`OsrmClient.route_line` asks the `route` service (`GET {base}/route/v1/{profile}/{lon,lat;...}
?overview=full&geometries=geojson`) for the road polyline through a crew's stops: the map's
route geometry (`routing.road_paths` is the same for the "osm" provider).

Durations and distances are rounded up to whole seconds and metres (the road provider's
rule). OSRM measures from the points where it snapped each coordinate onto the road; the snap
distance is reported (`RoadMatrix.snap_m`) but, unlike `routing.road_network`, no access leg
is added: the server's answer is taken as it is. A `null` cell (no route) becomes
`UNREACHABLE_M` / `UNREACHABLE_S` with its `unreachable` flag set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import numpy as np

from routing.road_network import UNREACHABLE_M, UNREACHABLE_S, RoadMatrix, profile_durations
from routing.travel import Congestion, TravelModel

DEFAULT_CHUNK = 100
DEFAULT_TIMEOUT_S = 30.0


class OsrmError(RuntimeError):
    """The OSRM service could not be reached or answered with an error."""


def _coords(lon: np.ndarray, lat: np.ndarray) -> str:
    """`lon,lat;lon,lat...` with 6 decimals (about 0.1 m), as OSRM expects (lon first)."""
    return ";".join(f"{x:.6f},{y:.6f}" for x, y in zip(lon, lat, strict=True))


class OsrmClient:
    """Blocks of an all-pairs table from one OSRM server, over one reused HTTP connection."""

    def __init__(
        self,
        base_url: str,
        *,
        profile: str = "driving",
        chunk: int = DEFAULT_CHUNK,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = 1,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"OSRM url must start with http:// or https://, got {base_url!r}")
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        self.base_url = base_url.rstrip("/")
        self.profile = profile
        self.chunk = chunk
        self.retries = retries
        self._http = httpx.Client(timeout=httpx.Timeout(timeout_s), transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OsrmClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, url: str, params: dict[str, str]) -> dict[str, Any]:
        """One table request; transport errors are retried, OSRM errors are not."""
        last: Exception | None = None
        for _ in range(self.retries + 1):
            try:
                resp = self._http.get(url, params=params)
            except httpx.TransportError as exc:  # includes timeouts
                last = exc
                continue
            return self._parse(resp)
        raise OsrmError(
            f"OSRM at {self.base_url} unreachable after {self.retries + 1} tries: "
            f"{type(last).__name__}: {last}"
        ) from last

    def _parse(self, resp: httpx.Response) -> dict[str, Any]:
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise OsrmError(
                f"OSRM at {self.base_url} answered HTTP {resp.status_code} without JSON: "
                f"{resp.text[:200]!r}"
            )
        if resp.status_code != 200 or body.get("code") != "Ok":
            raise OsrmError(
                f"OSRM at {self.base_url} answered HTTP {resp.status_code}, "
                f"code {body.get('code')!r}: {body.get('message', '')}"
            )
        return body

    def table(
        self, lon: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray
    ) -> RoadMatrix:
        """The all-pairs table, assembled from blocks of `chunk` x `chunk` cells."""
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        n = len(lon)
        seconds = np.zeros((n, n), dtype=np.float64)
        metres = np.zeros((n, n), dtype=np.float64)
        missing = np.zeros((n, n), dtype=bool)
        snap_m = np.zeros(n, dtype=np.float64)
        url_base = f"{self.base_url}/table/v1/{self.profile}/"
        blocks = [np.arange(a, min(a + self.chunk, n)) for a in range(0, n, self.chunk)]
        for src in blocks:
            for dst in blocks:
                same = src[0] == dst[0]
                pts = src if same else np.concatenate([src, dst])
                params = {"annotations": "distance,duration"}
                if not same:
                    params["sources"] = ";".join(map(str, range(len(src))))
                    params["destinations"] = ";".join(
                        map(str, range(len(src), len(src) + len(dst)))
                    )
                body = self._get(url_base + _coords(lon[pts], lat[pts]), params)
                d, m = self._block(body, len(src), len(dst))
                seconds[np.ix_(src, dst)] = d
                metres[np.ix_(src, dst)] = m
                missing[np.ix_(src, dst)] = np.isnan(d) | np.isnan(m)
                if same:
                    snap_m[src] = [float(w.get("distance") or 0.0) for w in body["sources"]]
        np.fill_diagonal(seconds, 0.0)
        np.fill_diagonal(metres, 0.0)
        np.fill_diagonal(missing, False)
        sec_i = np.where(missing, UNREACHABLE_S, np.ceil(np.nan_to_num(seconds) - 1e-9))
        met_i = np.where(missing, UNREACHABLE_M, np.ceil(np.nan_to_num(metres) - 1e-9))
        return RoadMatrix(met_i.astype(np.int32), sec_i.astype(np.int32), snap_m, missing)

    def route_line(
        self, lon: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray
    ) -> list[list[float]]:
        """The road polyline through the waypoints in order ([lon, lat] vertices), from the
        `route` service (`overview=full`, `geometries=geojson`): what a map draws.

        Waypoints beyond `chunk` go in several requests, each starting where the last ended.
        """
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        if len(lon) < 2:
            return [[float(x), float(y)] for x, y in zip(lon, lat, strict=True)]
        url_base = f"{self.base_url}/route/v1/{self.profile}/"
        params = {"overview": "full", "geometries": "geojson", "steps": "false"}
        line: list[list[float]] = []
        size = max(2, self.chunk)
        for lo in range(0, len(lon) - 1, size - 1):
            part = slice(lo, lo + size)
            body = self._get(url_base + _coords(lon[part], lat[part]), params)
            try:
                coords = body["routes"][0]["geometry"]["coordinates"]
                piece = [[float(x), float(y)] for x, y in coords]
            except (KeyError, IndexError, TypeError, ValueError):
                raise OsrmError(
                    f"OSRM at {self.base_url} sent a route without a GeoJSON geometry"
                ) from None
            line += piece[1:] if line and piece and piece[0] == line[-1] else piece
        return line

    def _block(
        self, body: Mapping[str, Any], rows: int, cols: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(durations, distances) of one answer as float arrays, NaN where OSRM gave null."""
        out = []
        for name in ("durations", "distances"):
            grid = body.get(name)
            if grid is None:
                raise OsrmError(
                    f"OSRM at {self.base_url} sent no {name!r}: it needs "
                    "annotations=distance,duration support (OSRM 5.19 or later)"
                )
            arr = np.array(
                [[math.nan if v is None else v for v in row] for row in grid], dtype=np.float64
            )
            if arr.shape != (rows, cols):
                raise OsrmError(
                    f"OSRM at {self.base_url} sent {name} of shape {arr.shape}, "
                    f"expected {(rows, cols)}"
                )
            out.append(arr)
        return out[0], out[1]


def osrm_road_lines(
    base_url: str,
    routes: Sequence[Sequence[tuple[float, float]]],
    *,
    chunk: int = DEFAULT_CHUNK,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> list[list[list[float]]]:
    """For each route (its waypoints, (lon, lat), in visiting order) the road polyline the
    server's `route` service gives through them, over one connection."""
    with OsrmClient(base_url, chunk=chunk, timeout_s=timeout_s) as client:
        return [client.route_line([p[0] for p in route], [p[1] for p in route]) for route in routes]


def osrm_model(
    base_url: str,
    lon: Sequence[float] | np.ndarray,
    lat: Sequence[float] | np.ndarray,
    speeds_kmh: Mapping[str, float],
    congestion: Congestion | None = None,
    *,
    chunk: int = DEFAULT_CHUNK,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> TravelModel:
    """A `TravelModel` from an OSRM server, per-profile times by `profile_durations`' rule."""
    with OsrmClient(base_url, chunk=chunk, timeout_s=timeout_s) as client:
        m = client.table(lon, lat)
    congestion = congestion or Congestion()
    settings = {
        "provider": "osrm",
        "osrm_url": base_url,
        "speeds_kmh": dict(speeds_kmh),
        "congestion": [list(s) for s in congestion.slices],
        "unreachable_pairs": int(m.unreachable.sum()),
    }
    return TravelModel(m.metres, profile_durations(m.seconds, speeds_kmh), congestion, settings)
