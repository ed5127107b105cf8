"""Travel matrices: haversine distances, rush-hour factors and the optimizer's safe bound."""

from __future__ import annotations

import numpy as np
import pytest

from routing.travel import (
    EARTH_RADIUS_M,
    Congestion,
    apply_factor,
    haversine_metres,
    haversine_model,
)

#: degrees of latitude for exactly 10 km on the model's sphere
TEN_KM_DEG = 10_000 / (EARTH_RADIUS_M * np.pi / 180)
RUSH = Congestion(((7 * 3600, 9 * 3600, 1400), (17 * 3600, 19 * 3600, 1500)))


def test_one_degree_of_latitude_is_about_111_km():
    """Great-circle distance between (0,0) and (0,1) is 111.2 km on the mean-radius sphere."""
    d = haversine_metres(np.array([0.0, 0.0]), np.array([0.0, 1.0]))
    assert d[0, 1] == pytest.approx(111_195, abs=5)
    assert d[0, 0] == 0


def test_speed_and_detour_give_integer_seconds_and_metres():
    """10 km straight at detour 1.3 is 13 km; at 26 km/h that takes 1800 s."""
    lat = np.array([31.0, 31.0 + TEN_KM_DEG])
    m = haversine_model(np.array([121.0, 121.0]), lat, {"truck": 26.0}, detour_factor=1.3)
    assert m.distances.dtype == np.int32
    assert m.distances[0, 1] == 13_000
    assert m.durations["truck"][0, 1] == 1800


def test_rush_hour_slows_departures_inside_it():
    """Leaving at 08:00 takes 40 % longer than at 10:00; 17:30 takes 50 % longer."""
    lat = np.array([31.0, 31.0 + TEN_KM_DEG])
    m = haversine_model(np.array([121.0, 121.0]), lat, {"van": 36.0}, 1.0, RUSH)
    assert m.travel_time("van", 0, 1, 10 * 3600) == 1000
    assert m.travel_time("van", 0, 1, 8 * 3600) == 1400
    assert m.travel_time("van", 0, 1, 17 * 3600 + 1800) == 1500


def test_max_factor_over_ranges_including_wrap_past_midnight():
    """The bound sees every slice a range touches, also across midnight."""
    f = RUSH.max_factor(
        np.array([6 * 3600, 10 * 3600, 8 * 3600, 20 * 3600, 0]),
        np.array([6 * 3600 + 59, 16 * 3600, 18 * 3600, 24 * 3600 + 8 * 3600, 2 * 86_400]),
    )
    assert f.tolist() == [1000, 1000, 1500, 1400, 1500]


def test_conservative_arc_time_bounds_every_departure_in_range():
    """For random ranges, the bound is >= the real time of any departure inside the range."""
    rng = np.random.default_rng(3)
    lon = 121 + rng.random(6) * 0.1
    lat = 31 + rng.random(6) * 0.1
    m = haversine_model(lon, lat, {"van": 30.0}, 1.3, RUSH)
    earliest = rng.integers(6 * 3600, 14 * 3600, 6)
    latest = earliest + rng.integers(0, 6 * 3600, 6)
    bound = m.conservative_durations("van", range(6), earliest, latest)
    for i in range(6):
        for j in range(6):
            for t in range(int(earliest[i]), int(latest[j]) + 1, 600):
                assert m.travel_time("van", i, j, t) <= bound[i, j]


def test_rounding_rule_is_a_ceiling():
    """ceil(base * factor / 1000): 1001 s at 1.4 is 1401.4 -> 1402 s."""
    assert apply_factor(1001, 1400) == 1402
    assert apply_factor(1000, 1000) == 1000


def test_bad_settings_are_refused():
    """A detour factor under 1, a zero speed or a factor under 1.0 are clear errors."""
    with pytest.raises(ValueError, match="detour_factor"):
        haversine_model([0, 1], [0, 1], {"x": 30}, detour_factor=0.5)
    with pytest.raises(ValueError, match="speed"):
        haversine_model([0, 1], [0, 1], {"x": 0})
    with pytest.raises(ValueError, match="factor"):
        Congestion(((0, 10, 900),))
