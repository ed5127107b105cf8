"""Road travel times in the service: chosen in settings (`FIELDROUTE_TRAVEL`,
`FIELDROUTE_TRAVEL_REGIONS`), checked at start-up, cached per region (`FIELDROUTE_TRAVEL_CACHE`,
default `travel-cache` in the data dir), and maps of road-timed plans along the roads.

The plans are solved by the real plan runner (worker processes), so what reaches a worker
(the provider in the problem snapshot, the cache folder in its environment) is what is
tested. The streets are the drivable ways cut from the shared Baoshan extract (tests/data/osm,
ODbL): a small depot-and-crews day is stored inside its box for each region.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.background.plan_runner import PlanRunner
from api.http.app import create_app
from api.settings import Settings
from api.storage.store import new_crew_row, new_depot_row, new_job_row
from dispatch.models import GeoPoint
from dispatch.translate import build_travel, use_travel_cache
from scripts.cli_support import SettingsInvalid, load_settings
from tests.api.test_api_plans import stored, wait_for
from tests.api_support import DEMO_DAY, bearer, make_settings
from tests.factories import crew, depot, job

pytestmark = pytest.mark.api

BAOSHAN_ROADS = Path(__file__).resolve().parents[1] / "data" / "osm" / "baoshan_roads.osm"
SPEC = f"osm:{BAOSHAN_ROADS}"
DEPOT_AT = GeoPoint(121.3890, 31.3160)
STOPS = [(121.3830, 31.3110), (121.3950, 31.3120), (121.3960, 31.3220), (121.3840, 31.3210)]
QUICK = {"date": DEMO_DAY.isoformat(), "time_limit_s": 2, "solution_limit": 20}


# ---------------------------------------------------------------------- start-up checks


def refused(tmp_path: Path, **values: object) -> dict:
    with pytest.raises(ValidationError) as caught:
        make_settings(tmp_path, **values)
    (error,) = caught.value.errors()
    return error


def test_bad_travel_settings_are_refused_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = refused(tmp_path, travel="osm:absent.osm")
    assert error["loc"] == ("travel",) and "no OSM file at 'absent.osm'" in error["msg"]
    error = refused(tmp_path, travel="googlemaps")
    assert "is not one of haversine, osm:FILE" in error["msg"]
    error = refused(tmp_path, travel_regions='{"urbn": "haversine"}')
    assert (
        error["loc"] == ("travel_regions",) and "'urbn' is not one of: rural, urban" in error["msg"]
    )
    assert (
        "region 'rural': no OSM file"
        in refused(tmp_path, travel_regions='{"rural": "osm:x"}')["msg"]
    )
    assert "not JSON" in refused(tmp_path, travel_regions="urban=haversine")["msg"]
    pbf = tmp_path / "city.osm.pbf"
    pbf.write_bytes(b"\0")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "osmium" else real(name, *a)
    )
    assert "'osmium'" in refused(tmp_path, travel=f"osm:{pbf}")["msg"]
    # as `dispatch serve` reports it: the variable named, no traceback
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("FIELDROUTE_TRAVEL", "osrm:localhost:5000")
    with pytest.raises(SettingsInvalid, match="FIELDROUTE_TRAVEL: 'osrm:localhost:5000' is not"):
        load_settings()


def test_travel_settings_resolve_per_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "city.osm").write_text("<osm/>")
    monkeypatch.chdir(tmp_path)
    s = make_settings(
        tmp_path,
        travel="osrm:http://osrm.internal:5000",
        travel_regions='{"urban": "osm:maps/city.osm"}',
        data_dir=tmp_path / "data",
    )
    city = str(tmp_path / "maps" / "city.osm")
    assert s.region_travel() == {"urban": f"osm:{city}", "rural": "osrm:http://osrm.internal:5000"}
    assert s.travel_for("urban").provider == "osm" and s.travel_for("urban").osm_file == city
    assert s.travel_for("rural").osrm_url == "http://osrm.internal:5000"
    assert s.travel_cache_dir() == tmp_path / "data" / "travel-cache"
    env = s.travel_env()
    assert env["FIELDROUTE_TRAVEL_CACHE"] == str(tmp_path / "data" / "travel-cache")
    assert json.loads(env["FIELDROUTE_TRAVEL_REGIONS"]) == {"urban": f"osm:{city}"}
    assert make_settings(tmp_path).travel_cache_dir() is None  # no data dir, no cache
    assert Settings(**{**s.model_dump(), "travel_cache": tmp_path / "c"}).travel_cache_dir() == (
        tmp_path / "c"
    )


# ------------------------------------------------------------------ plans timed on roads


@pytest.fixture
def road_service(tmp_path: Path) -> Iterator[tuple[TestClient, Settings, PlanRunner]]:
    """The service with both regions timed on the Baoshan streets, a data dir (so a road
    cache), a small day stored per region and a plan runner."""
    settings = make_settings(
        tmp_path,
        travel_regions=json.dumps({"urban": SPEC, "rural": SPEC}),
        data_dir=tmp_path / "data",
    )
    with TestClient(create_app(settings)) as client:
        ctx = client.app.state.ctx
        now = settings.now()
        with ctx.sessions() as session, session.begin():
            for region, tag in (("urban", "U"), ("rural", "R")):
                home = dataclasses.replace(depot(f"D{tag}"), location=DEPOT_AT)
                session.add(new_depot_row(home))
                worker = crew(f"C{tag}", start_depot=home.id, end_depot=home.id)
                session.add(new_crew_row(worker, now, temporary=False, region=region))
                for k, (x, y) in enumerate(STOPS, start=1):
                    visit = job(f"{tag}{k}", 0.0, region=region)
                    session.add(
                        new_job_row(dataclasses.replace(visit, location=GeoPoint(x, y)), now)
                    )
        runner = PlanRunner(ctx)
        ctx.wakeups["plans"] = runner.wake
        runner.start()
        try:
            yield client, settings, runner
        finally:
            runner.stop()
            ctx.wakeups.pop("plans", None)
            use_travel_cache(None)


def test_service_plans_on_roads_cached_per_region(road_service, tmp_path: Path) -> None:
    client, settings, runner = road_service
    office = bearer(settings, "dispatcher")
    cache = tmp_path / "data" / "travel-cache"
    assert runner.worker_env()["FIELDROUTE_TRAVEL_CACHE"] == str(cache)
    ids = {}
    for region in ("urban", "rural"):
        r = client.post("/plans", json={**QUICK, "region": region}, headers=office)
        assert r.status_code == 202, r.text
        ids[region] = r.json()["id"]
        wait_for(client, office, ids[region], "succeeded")

    plan = stored(client, ids["urban"])
    assert plan.problem.travel.provider == "osm"
    assert plan.problem.travel.osm_file == str(BAOSHAN_ROADS)
    (route,) = plan.routes
    assert len(route.stops) == len(STOPS)
    # the route's metres are the road ones, not the haversine estimate
    roads = build_travel(plan.problem)
    straight = build_travel(
        dataclasses.replace(
            plan.problem, travel=dataclasses.replace(plan.problem.travel, provider="haversine")
        )
    )
    depots = [d.id for d in plan.problem.depots]  # every depot, then the jobs
    where = {j.id: len(depots) + k for k, j in enumerate(plan.problem.jobs)}
    home = depots.index("DU")
    legs = list(itertools.pairwise([home, *(where[s.job_id] for s in route.stops), home]))
    assert route.distance_m == sum(int(roads.distances[a, b]) for a, b in legs)
    assert route.distance_m != sum(int(straight.distances[a, b]) for a, b in legs)

    # the worker cached each region's matrix in its own folder
    assert len(list((cache / "urban").glob("road-*.npz"))) == 1
    assert len(list((cache / "rural").glob("road-*.npz"))) == 1

    # maps follow the roads: GeoJSON (exact and coarse) and the board's route lines
    for role in ("dispatcher", "planner"):
        geo = client.get(f"/plans/{ids['urban']}/geojson", headers=bearer(settings, role)).json()
        (line,) = [f for f in geo["features"] if f["properties"]["feature"] == "route"]
        assert line["properties"]["geometry_source"] == "roads"
        assert len(line["geometry"]["coordinates"]) > 3 * (len(STOPS) + 2)
        board = client.get(f"/plans/{ids['urban']}/board", headers=bearer(settings, role)).json()
        assert len(board["routes"][0]["road_line"]) > 3 * (len(STOPS) + 2)
