"""Chinese map coordinates: GCJ-02 to WGS84 and back.

Chinese map providers (AMap/Gaode, Tencent, and Baidu before its own BD-09 step) deliver
coordinates in GCJ-02, the state-mandated obfuscation of WGS84 that shifts points by a few
hundred metres (about 500 m in Shanghai) in a smooth, non-linear way. The engine works in
WGS84 (GPS, OpenStreetMap), so an address geocoded by such a provider must be converted on
input, or the crew is sent to the wrong street. Conversion happens at the edges only: the
importers (`dispatch plan --coords gcj02`), and the service's job endpoints
(`?coords=gcj02`); everything stored and planned is WGS84.

The forward transform (WGS84 -> GCJ-02) is the published formula (Krasovsky 1940 ellipsoid
with the obfuscation polynomials); it is not invertible in closed form, so the inverse is
solved by fixed-point iteration until the forward transform of the answer lands within
1e-9 degrees (about 0.1 mm) of the input. Outside mainland China's bounding box GCJ-02 equals
WGS84 and points pass through unchanged.
"""

from __future__ import annotations

import math
from dataclasses import replace
from enum import StrEnum
from typing import TypeVar

from dispatch.models import Depot, GeoPoint, Job

_A = 6378245.0  # Krasovsky 1940 semi-major axis (m)
_EE = 0.00669342162296594323  # its first eccentricity squared
_TOLERANCE_DEG = 1e-9
_MAX_ITERATIONS = 30


class CoordSystem(StrEnum):
    WGS84 = "wgs84"  # GPS, OpenStreetMap: what the engine uses
    GCJ02 = "gcj02"  # AMap/Gaode, Tencent maps in mainland China


def out_of_china(lon: float, lat: float) -> bool:
    """GCJ-02 applies only inside this box; outside it the two systems are the same."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _transform_lon(x: float, y: float) -> float:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """The GCJ-02 coordinates a Chinese map shows for a WGS84 point."""
    if out_of_china(lon, lat):
        return lon, lat
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """The WGS84 point a GCJ-02 coordinate stands for (exact to about 0.1 mm)."""
    if out_of_china(lon, lat):
        return lon, lat
    x, y = lon, lat
    for _ in range(_MAX_ITERATIONS):
        gx, gy = wgs84_to_gcj02(x, y)
        dx, dy = gx - lon, gy - lat
        if abs(dx) < _TOLERANCE_DEG and abs(dy) < _TOLERANCE_DEG:
            break
        x, y = x - dx, y - dy
    return x, y


def to_wgs84(point: GeoPoint, system: CoordSystem | str) -> GeoPoint:
    """`point` given in `system`, as WGS84."""
    if CoordSystem(system) is CoordSystem.WGS84:
        return point
    lon, lat = gcj02_to_wgs84(point.lon, point.lat)
    return GeoPoint(round(lon, 7), round(lat, 7))


T = TypeVar("T", Job, Depot)


def records_to_wgs84(records: list[T], system: CoordSystem | str) -> list[T]:
    """Jobs or depots whose locations were given in `system`, with WGS84 locations."""
    if CoordSystem(system) is CoordSystem.WGS84:
        return records
    return [replace(r, location=to_wgs84(r.location, system)) for r in records]
