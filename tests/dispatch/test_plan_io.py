"""Saving and loading plans as JSON with their problem, and exporting them as GeoJSON."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import Polygon

from dispatch.day_problem import DispatchProblem, TravelSettings
from dispatch.errors import InputErrors
from dispatch.files.geojson import plan_to_geojson
from dispatch.files.plan_io import (
    FORMAT,
    load_plan_json,
    plan_from_dict,
    plan_to_dict,
    save_plan_json,
)
from dispatch.models import (
    Crew,
    CrewKind,
    Depot,
    DepotKind,
    GeoPoint,
    Job,
    JobKind,
    LunchBreak,
    Priority,
    ProductCategory,
    TimeWindow,
)
from dispatch.plan import CrewRoute, Plan, PlannedBreak, PlannedStop, Unassigned, UnassignedReason
from dispatch.promises import PromiseBook, PromiseClock, RegionPolicy
from dispatch.zones import Zone

DAY = date(2026, 6, 18)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 6, 18, hour, minute, second)


def tiny_plan() -> Plan:
    """Two jobs (one planned, one not), one crew, one depot, one zone, non-default settings."""
    j1 = Job(
        id="J1",
        kind=JobKind.DELIVERY,
        order_id="O1",
        confirmed_at=at(7, 45),
        location=GeoPoint(121.4737, 31.2304),
        windows=(TimeWindow(at(9), at(11)), TimeWindow(at(14), at(16))),
        category=ProductCategory.SPLIT_AC,
        quantity=2,
        volume_l=180.5,
        weight_kg=95.0,
        floor=6,
        has_lift=False,
        skills=frozenset({"height_work"}),
        people=2,
        priority=Priority.VIP,
        zone="Z1",
        address="上海市黄浦区南京东路 1 号",
        customer_name="张三",
        customer_phone="13800138000",
    )
    j2 = Job(
        id="J2",
        kind=JobKind.REPAIR,
        order_id="R2",
        confirmed_at=at(8, 5),
        location=GeoPoint(121.61, 31.05),
        windows=(TimeWindow(at(13), at(15)),),
        service_minutes=75,
        region="rural",
        deadline=at(20),
        customer_name="李四",
    )
    crew = Crew(
        id="T1",
        kind=CrewKind.COMBINED,
        people=2,
        skills=frozenset({"height_work", "refrigeration"}),
        start_depot="WH1",
        end_depot="WH1",
        shift_start=time(7, 30),
        capacity_volume_l=12000.0,
        capacity_weight_kg=1500.0,
        lunch=LunchBreak(time(11, 30), time(13, 30), 30),
        max_jobs=12,
        home_zone="Z1",
    )
    depot = Depot("WH1", DepotKind.WAREHOUSE, GeoPoint(121.40, 31.25), "浦西仓", "Z1")
    zone = Zone("Z1", "黄浦", Polygon([(121.3, 31.1), (121.7, 31.1), (121.7, 31.4), (121.3, 31.4)]))
    promises = PromiseBook(
        {
            "urban": RegionPolicy(),
            "rural": RegionPolicy(24, 48, None, 72.5, PromiseClock.CALENDAR, closing=time(21)),
        }
    )
    travel = TravelSettings(detour_factor=1.25, rush_hours=(("07:00", "09:00", 1.35),))
    problem = DispatchProblem(
        DAY, [j1, j2], [crew], [depot], [zone], promises, travel, 45, 60.0, "浦西 2026-06-18"
    )
    stop = PlannedStop("J1", at(9, 2, 30), at(9, 2, 30), at(9, 47, 30), at(19, 45))
    route = CrewRoute(
        "T1", at(8, 40), at(12, 40), [stop], PlannedBreak(at(11, 30), 30, 0, True), 18_250, 2_700
    )
    unassigned = Unassigned("J2", UnassignedReason.NO_ELIGIBLE_CREW, "no repair crew on shift")
    return Plan(problem, [route], [unassigned], {"objective": 123456, "wall_s": 0.42})


def assert_same_plan(got: Plan, want: Plan) -> None:
    g, w = got.problem, want.problem
    assert (g.date, g.name, g.link_gap_minutes, g.max_km_from_depot) == (
        w.date,
        w.name,
        w.link_gap_minutes,
        w.max_km_from_depot,
    )
    assert g.jobs == w.jobs and g.crews == w.crews and g.depots == w.depots
    assert g.zones == w.zones and g.promises == w.promises and g.travel == w.travel
    assert got.routes == want.routes and got.unassigned == want.unassigned
    assert got.stats == want.stats


def test_plan_round_trips_exactly_through_a_dict() -> None:
    """plan_from_dict(plan_to_dict(p)) gives equal jobs, crews, depots, zones, settings, routes."""
    plan = tiny_plan()
    data = plan_to_dict(plan)
    assert data["format"] == FORMAT
    assert_same_plan(plan_from_dict(data), plan)
    assert plan_to_dict(plan_from_dict(data)) == data


def test_plan_round_trips_exactly_through_a_json_file(tmp_path: Path) -> None:
    """save_plan_json then load_plan_json gives the same plan; datetimes are ISO strings."""
    plan = tiny_plan()
    save_plan_json(plan, tmp_path / "plan.json")
    text = (tmp_path / "plan.json").read_text(encoding="utf-8")
    # 19:45 deadline - 09:47:30 end = 597.5 min, floored
    assert '"arrival": "2026-06-18T09:02:30"' in text and '"slack_minutes": 597' in text
    assert_same_plan(load_plan_json(tmp_path / "plan.json"), plan)


def test_personal_data_is_removed_when_asked(tmp_path: Path) -> None:
    """Without personal data, customer names, phones and addresses are blank in file and plan."""
    plan = tiny_plan()
    save_plan_json(plan, tmp_path / "plan.json", include_personal_data=False)
    text = (tmp_path / "plan.json").read_text(encoding="utf-8")
    for secret in ("张三", "李四", "13800138000", "南京东路"):
        assert secret not in text
    loaded = load_plan_json(tmp_path / "plan.json")
    assert all(j.customer_name == j.customer_phone == j.address == "" for j in loaded.problem.jobs)
    assert loaded.routes == plan.routes and loaded.problem.jobs[0].weight_kg == 95.0


@pytest.mark.parametrize("marker", ["fieldroute-plan/2", None])
def test_unknown_or_missing_format_marker_is_refused(marker: str | None) -> None:
    """A document without this version's format marker is refused before anything else."""
    data = plan_to_dict(tiny_plan())
    data["format"] = marker
    with pytest.raises(InputErrors) as exc:
        plan_from_dict(data, source="old.json")
    [error] = exc.value.errors
    assert (error.record, error.field) == ("old.json", "format")
    assert FORMAT in error.message


def test_loading_reports_every_bad_record_and_field() -> None:
    """Bad values anywhere in the document are all reported, each naming record and field."""
    data: dict[str, Any] = plan_to_dict(tiny_plan())
    data["problem"]["jobs"][0]["kind"] = "delivry"
    data["problem"]["crews"][0]["end_depot"] = "WH9"
    data["problem"]["promises"]["rural"]["clock"] = "lunar"
    data["routes"][0]["stops"][0]["arrival"] = "soon"
    data["unassigned"][0]["job_id"] = "J1"  # also planned
    with pytest.raises(InputErrors) as exc:
        plan_from_dict(data, source="plan.json")
    assert {(e.record, e.field) for e in exc.value.errors} == {
        ("plan.json problem.jobs[0] (job 'J1')", "kind"),
        ("plan.json problem.crews[0] (crew 'T1')", "end_depot"),
        ("plan.json problem.promises['rural']", "clock"),
        ("plan.json routes[0] (crew 'T1') stops[0]", "arrival"),
        ("plan.json unassigned[0]", "job_id"),
    }


def test_geojson_has_one_feature_per_route_stop_unassigned_depot_and_zone() -> None:
    """The FeatureCollection counts match the plan, coordinates are [lon, lat], no personal data."""
    plan = tiny_plan()
    collection = plan_to_geojson(plan)
    assert collection["type"] == "FeatureCollection"
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for feature in collection["features"]:
        by_kind.setdefault(feature["properties"]["feature"], []).append(feature)
    assert {k: len(v) for k, v in by_kind.items()} == {
        "route": 1,
        "stop": 1,
        "unassigned": 1,
        "depot": 1,
        "zone": 1,
    }
    [route] = by_kind["route"]
    assert route["geometry"]["type"] == "LineString"
    assert route["geometry"]["coordinates"] == [
        [121.40, 31.25],
        [121.4737, 31.2304],
        [121.40, 31.25],
    ]
    assert route["properties"]["n_stops"] == 1 and route["properties"]["distance_km"] == 18.25
    [stop] = by_kind["stop"]
    assert stop["properties"]["sequence"] == 1 and stop["properties"]["late"] is False
    assert stop["properties"]["eta"] == "2026-06-18T09:02:30"
    assert by_kind["unassigned"][0]["properties"]["reason"] == "no_eligible_crew"
    assert by_kind["zone"][0]["geometry"]["type"] == "Polygon"
    text = json.dumps(collection, ensure_ascii=False, allow_nan=False)
    for secret in ("张三", "李四", "13800138000", "南京东路"):
        assert secret not in text
    for feature in collection["features"]:
        for lon, lat in _positions(feature["geometry"]):
            assert -180 <= lon <= 180 and -90 <= lat <= 90
            assert 121 < lon < 122 and 31 < lat < 32  # [lon, lat], not swapped


def _positions(geometry: dict[str, Any]) -> list[list[float]]:
    coords = geometry["coordinates"]
    if geometry["type"] == "Point":
        return [coords]
    if geometry["type"] == "LineString":
        return coords
    return [p for ring in coords for p in ring]  # Polygon
