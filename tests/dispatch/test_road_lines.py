"""Maps of road-timed plans follow the roads; road matrices are cached per region.

* `dispatch.files.geojson`: a plan timed with the "osm" provider has route lines along the
  roads (`geometry_source: "roads"`, more vertices than stops, through every stop), coarse
  ones for the roles without personal data; a haversine plan keeps straight lines; roads
  that cannot be had give straight lines and a note, never an error.
* `dispatch.road_lines`: lines are kept per route, so a second map computes nothing.
* `dispatch.translate.travel_cache_dir`: one cache folder per region, each evicting only
  its own entries.

The streets are the drivable ways cut from the shared Baoshan extract (tests/data/osm).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import dispatch.translate as translate
import routing.road_network as road_network
from dispatch.day_problem import TravelSettings
from dispatch.files.geojson import plan_to_geojson
from dispatch.models import GeoPoint, Job
from dispatch.privacy import coarse
from dispatch.road_lines import clear_cache, route_lines
from dispatch.translate import build_travel, travel_cache_dir, use_travel_cache
from tests.factories import FLAT_TRAVEL, crew, depot, job, planned, problem

BAOSHAN_ROADS = Path(__file__).resolve().parents[1] / "data" / "osm" / "baoshan_roads.osm"
OSM = dataclasses.replace(FLAT_TRAVEL, provider="osm", osm_file=str(BAOSHAN_ROADS))
#: points inside the extract's bounds (lon, lat)
DEPOT_AT = GeoPoint(121.3890, 31.3160)
STOPS = [(121.3830, 31.3110), (121.3950, 31.3120), (121.3960, 31.3220), (121.3840, 31.3210)]


def jobs_at(points: list[tuple[float, float]], region: str = "urban") -> list[Job]:
    return [
        dataclasses.replace(job(f"J{k}", 0.0), location=GeoPoint(*p), region=region)
        for k, p in enumerate(points, start=1)
    ]


def day(travel: TravelSettings, region: str = "urban", points=STOPS):
    at_depot = dataclasses.replace(depot(), location=DEPOT_AT)
    return problem(jobs_at(points, region), [crew()], [at_depot], travel=travel)


@pytest.fixture(autouse=True)
def fresh_lines() -> None:
    clear_cache()


def route_feature(collection: dict) -> dict:
    (feature,) = [f for f in collection["features"] if f["properties"]["feature"] == "route"]
    return feature


def test_osm_plan_routes_follow_the_roads() -> None:
    plan = planned(day(OSM), {"C1": ["J1", "J2", "J3", "J4"]})
    line = route_feature(plan_to_geojson(plan))
    coords = line["geometry"]["coordinates"]
    assert line["properties"]["geometry_source"] == "roads"
    assert "geometry_note" not in line["properties"]
    assert len(coords) > 3 * (len(STOPS) + 2)  # road corners between the stops
    depot_xy = [DEPOT_AT.lon, DEPOT_AT.lat]
    assert coords[0] == depot_xy and coords[-1] == depot_xy
    for x, y in STOPS:  # the line passes through every stop, in order
        assert [x, y] in coords
    order = [coords.index([x, y]) for x, y in STOPS]
    assert order == sorted(order)


def test_coarse_map_runs_roads_between_coarse_corners() -> None:
    plan = planned(day(OSM), {"C1": ["J1", "J2", "J3", "J4"]})
    coords = route_feature(plan_to_geojson(plan, exact_locations=False))["geometry"]["coordinates"]
    for x, y in STOPS:
        assert [x, y] not in coords and [coarse(x), coarse(y)] in coords
    straight = route_feature(plan_to_geojson(plan, roads=False))
    assert straight["properties"]["geometry_source"] == "straight"
    assert len(straight["geometry"]["coordinates"]) == len(STOPS) + 2


def test_haversine_plan_keeps_straight_lines() -> None:
    plan = planned(day(FLAT_TRAVEL), {"C1": ["J1", "J2", "J3", "J4"]})
    line = route_feature(plan_to_geojson(plan))
    depot_xy = [DEPOT_AT.lon, DEPOT_AT.lat]
    assert line["properties"]["geometry_source"] == "straight"
    assert line["geometry"]["coordinates"] == [depot_xy, *map(list, STOPS), depot_xy]


def test_roads_that_cannot_be_had_give_straight_lines_and_a_note(tmp_path: Path) -> None:
    """A stored plan whose extract is not on this host still maps, straight; the note does
    not name the server's file."""
    plan = planned(day(OSM), {"C1": ["J1", "J2"]})
    gone = str(tmp_path / "elsewhere" / "city.osm")
    plan.problem = dataclasses.replace(plan.problem, travel=dataclasses.replace(OSM, osm_file=gone))
    props = route_feature(plan_to_geojson(plan))["properties"]
    assert props["geometry_source"] == "straight"
    assert "OSM extract cannot be read" in props["geometry_note"]
    assert "elsewhere" not in props["geometry_note"]


def test_a_failing_osrm_server_is_not_asked_again_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import routing.osrm_client
    from routing.osrm_client import OsrmError

    calls: list[float] = []

    def down(url, routes, *, timeout_s):
        calls.append(timeout_s)
        raise OsrmError(f"OSRM at {url} unreachable after 2 tries: ConnectError")

    monkeypatch.setattr(routing.osrm_client, "osrm_road_lines", down)
    osrm = dataclasses.replace(FLAT_TRAVEL, provider="osrm", osrm_url="http://osrm.invalid:5000")
    first = route_lines(osrm, [STOPS])
    again = route_lines(osrm, [STOPS])
    assert first.lines is None and again.lines is None and again.note == first.note
    assert "OSRM server's route service failed (OsrmError)" in first.note
    assert calls == [5.0]  # a map's short timeout, and one try within RETRY_AFTER_S


def test_lines_are_kept_per_route(monkeypatch: pytest.MonkeyPatch) -> None:
    import routing.road_paths

    calls: list[int] = []
    real = routing.road_paths.osm_road_lines

    def counted(path, routes, *a):
        calls.append(len(routes))
        return real(path, routes, *a)

    monkeypatch.setattr(routing.road_paths, "osm_road_lines", counted)
    first = route_lines(OSM, [STOPS[:2], STOPS[1:3]])
    again = route_lines(OSM, [STOPS[1:3], STOPS[2:]])  # one route known, one new
    assert calls == [2, 1]
    assert first.lines is not None and again.lines is not None
    assert again.lines[0] == first.lines[1]
    assert route_lines(FLAT_TRAVEL, [STOPS]).lines is None  # no roads, nothing computed
    assert calls == [2, 1]


# ------------------------------------------------------------------ cache, one per region


def test_cache_folder_per_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(translate.TRAVEL_CACHE_ENV, raising=False)
    use_travel_cache(None)
    assert travel_cache_dir(day(OSM)) is None  # nothing configured: no disk cache
    monkeypatch.setenv(translate.TRAVEL_CACHE_ENV, str(tmp_path / "env"))
    assert travel_cache_dir(day(OSM)) == tmp_path / "env" / "urban"
    use_travel_cache(tmp_path / "service")  # a service's setting wins over the variable
    try:
        assert travel_cache_dir(day(OSM, "rural")) == tmp_path / "service" / "rural"
        mixed = day(OSM)
        mixed.jobs[0] = dataclasses.replace(mixed.jobs[0], region="rural")
        assert travel_cache_dir(mixed) == tmp_path / "service" / "_mixed"
        odd = day(OSM, region="../north east")
        assert travel_cache_dir(odd) == tmp_path / "service" / "___north_east"
    finally:
        use_travel_cache(None)


def test_regions_never_share_or_evict_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three days of one region fill its folder past the bound (2 here): its oldest goes;
    the other region's entry stays, and a repeated day reads its matrix back."""
    monkeypatch.setenv(translate.TRAVEL_CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(road_network, "CACHE_ENTRIES", 2)
    rng = np.random.default_rng(7)

    def some_points(n: int) -> list[tuple[float, float]]:
        return list(
            zip(rng.uniform(121.382, 121.397, n), rng.uniform(31.310, 31.323, n), strict=True)
        )

    rural = build_travel(day(OSM, "rural", some_points(5)))
    for n in (3, 4, 5):
        build_travel(day(OSM, "urban", some_points(n)))
    assert len(list((tmp_path / "urban").glob("road-*.npz"))) == 2
    (rural_file,) = (tmp_path / "rural").glob("road-*.npz")

    def boom(*a, **k):
        raise AssertionError("cache miss")

    monkeypatch.setattr(road_network, "_fastest_paths", boom)
    rng = np.random.default_rng(7)
    again = build_travel(day(OSM, "rural", some_points(5)))  # read back, not recomputed
    assert np.array_equal(again.distances, rural.distances) and rural_file.exists()
