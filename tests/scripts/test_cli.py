"""The `dispatch` command end to end, in a real subprocess: plan, validate, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from fixtures.shanghai import DEFAULT_DAY, demo_problem

#: one combined crew (it carries goods, so its capacities are given)
CREWS_CSV = (
    "id,kind,people,skills,start_depot,capacity_volume_l,capacity_weight_kg\n"
    "C1,combined,2,,D,2000,500\n"
)


def _dispatch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    run = _dispatch(
        "plan", "--fixture", "shanghai", "--jobs", "80", "--seed", "3",
        "--time-limit", "10", "--solution-limit", "40", "--out", str(out),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "planned" in run.stdout and "deliveries within 12 h" in run.stdout
    return out


def test_plan_writes_plan_geojson_and_summary(demo_out):
    """plan.json carries the problem; plan.geojson is a FeatureCollection with routes."""
    plan = json.loads((demo_out / "plan.json").read_text())
    assert plan["format"] == "fieldroute-plan/1"
    jobs = plan["problem"]["jobs"]
    assert len([j for j in jobs if "assists" not in j]) == 80  # and their assisting jobs
    geo = json.loads((demo_out / "plan.geojson").read_text())
    kinds = {f["geometry"]["type"] for f in geo["features"]}
    assert {"LineString", "Point"} <= kinds
    summary = (demo_out / "summary.txt").read_text()
    assert summary.startswith("jobs")
    # every promise share on both clocks, each clock named (dispatch.promise_clocks)
    assert "deliveries within 12 h (rural: 24 h)" in summary
    assert summary.count("on the customer's clock") == summary.count("on the planning clock") >= 1
    assert "customer's clock: calendar hours from the order's confirmation" in summary
    assert "planning clock: the plan's deadlines in service hours" in summary
    kpis = json.loads((demo_out / "kpis.json").read_text())
    assert set(kpis["promise_shares"]) == {"customer", "planning"}
    assert kpis["promise_clocks"]["customer"].startswith("customer's clock")


def test_validate_accepts_the_saved_plan(demo_out):
    """`dispatch validate` re-checks the plan against the problem inside it: exit 0."""
    run = _dispatch("validate", str(demo_out / "plan.json"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("VALID")


def test_validate_rejects_a_tampered_plan(demo_out, tmp_path):
    """Moving a stop to 03:00 makes `dispatch validate` exit 1 naming the job."""
    plan = json.loads((demo_out / "plan.json").read_text())
    route = next(r for r in plan["routes"] if r["stops"])
    stop = route["stops"][0]
    stop["start"] = stop["start"][:11] + "03:00:00"
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(plan))
    run = _dispatch("validate", str(path))
    assert run.returncode == 1
    assert "INVALID" in run.stdout and stop["job_id"] in run.stdout


def test_bad_job_file_exits_2_naming_row_and_field(tmp_path):
    """A jobs CSV with a window that ends before it starts: exit 2, row and field named."""
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(
        "id,kind,order_id,confirmed_at,lon,lat,windows\n"
        "J1,repair,O1,2026-06-18T07:00,121.40,31.20,2026-06-18T11:00/2026-06-18T09:00\n"
    )
    crews = tmp_path / "crews.csv"
    crews.write_text(CREWS_CSV)
    depots = tmp_path / "depots.csv"
    depots.write_text("id,kind,lon,lat\nD,service_point,121.4,31.2\n")
    run = _dispatch(
        "plan", "--jobs-file", str(jobs), "--crews-file", str(crews), "--depots-file",
        str(depots), "--date", "2026-06-18", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert run.returncode == 2
    assert "row 2" in run.stderr and "window" in run.stderr


def test_files_past_the_record_rules_exit_2_naming_row_and_field(tmp_path):
    """The outside test's findings through `dispatch plan`: a quantity of 10^30 (every plan
    of the day failed with OverflowError), an id with '/', a window in the year 9999, and a
    truck with a blank capacity (it became 0: every pick-up "exceeds capacity", exit 0),
    all reported in one run."""
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(
        "id,kind,order_id,confirmed_at,lon,lat,windows,quantity\n"
        "J1,pickup,O1,2026-06-18T07:00,121.40,31.20,2026-06-18T09:00/17:00,1e30\n"
        "S/1,repair,O2,2026-06-18T07:00,121.40,31.20,2026-06-18T09:00/17:00,\n"
        "J3,repair,O3,2026-06-18T07:00,121.40,31.20,9999-06-18T09:00/17:00,\n"
    )
    crews = tmp_path / "crews.csv"
    crews.write_text("id,kind,people,skills,start_depot\nT1,delivery_truck,2,,D\n")
    depots = tmp_path / "depots.csv"
    depots.write_text("id,kind,lon,lat\nD,service_point,121.4,31.2\n")
    files = ["--jobs-file", str(jobs), "--crews-file", str(crews), "--depots-file", str(depots)]
    run = _dispatch("plan", *files, "--date", "2026-06-18", "--out", str(tmp_path / "out"))
    assert run.returncode == 2, run.stdout
    # every file's problems together
    assert "crews.csv row 2 (crew 'T1'): field 'capacity_volume_l': is required" in run.stderr
    assert "jobs.csv row 2 (job 'J1'): field 'quantity'" in run.stderr
    assert "jobs.csv row 3 (job 'S/1'): field 'id'" in run.stderr
    assert "jobs.csv row 4 (job 'J3'): field 'windows'" in run.stderr


def test_zero_jobs_argument_is_a_clear_error(tmp_path):
    """--jobs 0 is refused with exit 2 and the flag named."""
    run = _dispatch("plan", "--fixture", "shanghai", "--jobs", "0", "--out", str(tmp_path))
    assert run.returncode == 2
    assert "--jobs" in run.stderr


def test_a_horizon_writes_each_day_and_its_table(tmp_path):
    """`--days 2`: day 1 is the plan as ever, day 2 (the demo's next day of orders plus day
    1's leftovers) under day-2/, valid, and horizon.json adds up; --days 8 is refused."""
    run = _dispatch(
        "plan", "--fixture", "shanghai", "--jobs", "60", "--days", "2", "--time-limit", "3",
        "--solution-limit", "20", "--no-baseline", "--out", str(tmp_path),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "horizon of 2 days" in run.stdout and "customer's clock" in run.stdout
    table = json.loads((tmp_path / "horizon.json").read_text())
    first, second = table["days"]
    day1 = json.loads((tmp_path / "plan.json").read_text())
    assert first["carried_out"] == len(day1["unassigned"]) == second["carried_in"]
    # day 2's 60 orders drawn, plus an assisting job for each that needs a second crew
    next_day = DEFAULT_DAY + timedelta(days=1)
    assert second["new_jobs"] == len(demo_problem(day=next_day, jobs=60, seed=1).jobs)
    assert table["open_at_end"] == second["carried_out"]
    valid = _dispatch("validate", str(tmp_path / "day-2" / "plan.json"))
    assert valid.returncode == 0, valid.stdout
    refused = _dispatch("plan", "--fixture", "shanghai", "--days", "8", "--out", str(tmp_path))
    assert refused.returncode == 2 and "--days" in refused.stderr


def test_gcj02_files_are_planned_in_wgs84(tmp_path):
    """Files geocoded with a Chinese map (--coords gcj02): the saved problem holds the WGS84
    points, about 500 m from the raw numbers in Shanghai."""
    from dispatch.files.coords import gcj02_to_wgs84

    jobs = tmp_path / "jobs.csv"
    jobs.write_text(
        "id,kind,order_id,confirmed_at,lon,lat,windows\n"
        "J1,repair,O1,2026-06-18T07:00,121.47,31.23,2026-06-18T09:00/2026-06-18T17:00\n"
    )
    crews = tmp_path / "crews.csv"
    crews.write_text(CREWS_CSV)
    depots = tmp_path / "depots.csv"
    depots.write_text("id,kind,lon,lat\nD,service_point,121.45,31.22\n")
    out = tmp_path / "out"
    run = _dispatch(
        "plan", "--jobs-file", str(jobs), "--crews-file", str(crews), "--depots-file",
        str(depots), "--date", "2026-06-18", "--coords", "gcj02", "--time-limit", "2",
        "--solution-limit", "5", "--out", str(out),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    problem = json.loads((out / "plan.json").read_text())["problem"]
    job = problem["jobs"][0]
    lon, lat = gcj02_to_wgs84(121.47, 31.23)
    assert abs(job["lon"] - lon) < 1e-6 and abs(job["lat"] - lat) < 1e-6
    assert abs(problem["depots"][0]["lon"] - gcj02_to_wgs84(121.45, 31.22)[0]) < 1e-6


def test_travel_on_the_command_line_plans_on_the_roads(tmp_path):
    """`--travel osm:FILE` plans with road travel times and records the choice in plan.json;
    a bad choice exits 2 naming the flag."""
    from tests.routing.test_road_network import lonlat, write_grid

    osm = write_grid(tmp_path)
    (dlon, dlat), (jlon, jlat) = lonlat("A"), lonlat("B")
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(
        "id,kind,order_id,confirmed_at,lon,lat,windows\n"
        f"J1,repair,O1,2026-06-18T07:00,{jlon},{jlat},2026-06-18T09:00/2026-06-18T17:00\n"
    )
    crews = tmp_path / "crews.csv"
    crews.write_text(CREWS_CSV)
    depots = tmp_path / "depots.csv"
    depots.write_text(f"id,kind,lon,lat\nD,service_point,{dlon},{dlat}\n")
    files = ["--jobs-file", str(jobs), "--crews-file", str(crews), "--depots-file", str(depots)]
    out = tmp_path / "out"
    run = _dispatch(
        "plan", *files, "--date", "2026-06-18", "--travel", f"osm:{osm}",
        "--time-limit", "2", "--solution-limit", "5", "--out", str(out),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    plan = json.loads((out / "plan.json").read_text())
    assert plan["problem"]["travel"]["provider"] == "osm"
    route = plan["routes"][0]
    # the grid's one-way street: 100 m from A to B, 300 m back round the block
    assert 390 <= route["distance_m"] <= 410

    bad = _dispatch("plan", *files, "--date", "2026-06-18", "--travel", "roads", "--out", str(out))
    assert bad.returncode == 2 and "--travel" in bad.stderr


def test_travel_specs():
    from dispatch.day_problem import TravelSettings, travel_from_spec
    from dispatch.errors import InputError

    base = TravelSettings(detour_factor=1.5)
    assert travel_from_spec("haversine", base) == base
    osrm = travel_from_spec("osrm:http://osrm:5000", base)
    assert osrm.provider == "osrm" and osrm.osrm_url == "http://osrm:5000"
    assert osrm.speeds_kmh == base.speeds_kmh and osrm.rush_hours == base.rush_hours
    for bad in ("osm:/no/such/file.osm", "osrm:localhost:5000", "roads", "osm:"):
        with pytest.raises(InputError, match="--travel"):
            travel_from_spec(bad, base)
