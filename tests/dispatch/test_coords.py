"""GCJ-02 (Chinese map providers) to WGS84 and back."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from dispatch.files.coords import (
    CoordSystem,
    gcj02_to_wgs84,
    out_of_china,
    records_to_wgs84,
    to_wgs84,
    wgs84_to_gcj02,
)
from dispatch.models import GeoPoint
from routing.travel import haversine_metres


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(haversine_metres([a[0], b[0]], [a[1], b[1]])[0, 1])


def test_shanghai_offset_is_a_few_hundred_metres_north_west_to_south_east() -> None:
    """People's Square, Shanghai: GCJ-02 shifts it east and south by roughly 500 m (the
    offset every Shanghai user of a Chinese map sees against GPS)."""
    wgs = (121.4737, 31.2304)
    gcj = wgs84_to_gcj02(*wgs)
    assert gcj[0] > wgs[0] and gcj[1] < wgs[1]
    assert 300 < _metres(wgs, gcj) < 800


@given(
    st.floats(min_value=73.0, max_value=135.0),
    st.floats(min_value=18.0, max_value=53.0),
)
def test_round_trip_is_exact_to_a_millimetre(lon: float, lat: float) -> None:
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _metres((lon, lat), back) < 0.001


def test_outside_china_points_pass_through() -> None:
    assert out_of_china(24.94, 60.17)  # Helsinki
    assert wgs84_to_gcj02(24.94, 60.17) == (24.94, 60.17)
    assert gcj02_to_wgs84(24.94, 60.17) == (24.94, 60.17)


def test_records_are_converted_only_for_gcj02() -> None:
    from tests.factories import depot

    d = depot()
    assert records_to_wgs84([d], CoordSystem.WGS84) == [d]
    (moved,) = records_to_wgs84([d], "gcj02")
    assert moved.id == d.id and moved.location != d.location
    expected = to_wgs84(GeoPoint(d.location.lon, d.location.lat), "gcj02")
    assert math.isclose(moved.location.lon, expected.lon)
