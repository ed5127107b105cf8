"""`dispatch plan --settings FILE` end to end, in a real subprocess: the settings reach the
plan (slower trucks drive longer, shorter promises give earlier deadlines, service-time
numbers reach imported jobs), plan.json records them all, `dispatch validate` accepts the
plan and refuses a record that disagrees with it, and a bad file exits 2 naming the key."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

#: a third of the default speeds for every crew kind, six calendar hours for urban deliveries
SLOW = {
    "travel": {
        "speeds_kmh": {
            "delivery_truck": 8, "installation_crew": 10, "repair_technician": 10, "combined": 8,
        },
        "rush_hours": [],
    },
    "promises": {"urban": {"delivery_hours": 6, "clock": "calendar"}},
    "link_gap_minutes": 45,
}  # fmt: skip


def _dispatch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def slow_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("slow")
    settings = out / "slow.json"
    settings.write_text(json.dumps(SLOW))
    run = _dispatch(
        "plan", "--fixture", "shanghai", "--jobs", "60", "--time-limit", "3",
        "--solution-limit", "30", "--settings", str(settings), "--out", str(out),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return out


def test_the_plan_records_every_setting(slow_out):
    plan = json.loads((slow_out / "plan.json").read_text())
    settings = plan["settings"]
    assert settings["travel"]["speeds_kmh"]["delivery_truck"] == 8
    assert settings["travel"]["rush_hours"] == []
    assert settings["travel"]["detour_factor"] == 1.3  # the defaults are recorded too
    assert settings["promises"]["urban"]["delivery_hours"] == 6
    assert settings["promises"]["rural"]["delivery_hours"] == 24
    assert settings["link_gap_minutes"] == 45 == plan["problem"]["link_gap_minutes"]
    assert settings["service_time"]["height_minutes"] == 20
    assert plan["problem"]["travel"]["speeds_kmh"]["combined"] == 8


def test_slower_speeds_lengthen_the_drives(slow_out):
    """Every route drives at its crew kind's speed from the file (no rush hours: free flow
    all day), to the second per leg: a third of the default speeds, three times the time."""
    plan = json.loads((slow_out / "plan.json").read_text())
    kinds = {c["id"]: c["kind"] for c in plan["problem"]["crews"]}
    speeds = SLOW["travel"]["speeds_kmh"]
    routes = [r for r in plan["routes"] if r["distance_m"] > 0]
    assert routes
    for route in routes:
        metres_per_s = speeds[kinds[route["crew_id"]]] / 3.6
        expected = route["distance_m"] / metres_per_s
        assert abs(route["drive_s"] - expected) <= len(route["stops"]) + 1, route["crew_id"]


def test_shorter_promises_give_earlier_deadlines(slow_out):
    plan = json.loads((slow_out / "plan.json").read_text())
    jobs = {j["id"]: j for j in plan["problem"]["jobs"]}
    checked = 0
    for route in plan["routes"]:
        for stop in route["stops"]:
            job = jobs[stop["job_id"]]
            if job["kind"] == "delivery" and job["region"] == "urban" and not job["deadline"]:
                confirmed = datetime.fromisoformat(job["confirmed_at"])
                assert datetime.fromisoformat(stop["deadline"]) == confirmed + timedelta(hours=6)
                checked += 1
    assert checked


def test_validate_accepts_the_plan_and_refuses_a_record_that_disagrees(slow_out, tmp_path):
    run = _dispatch("validate", str(slow_out / "plan.json"))
    assert run.returncode == 0 and run.stdout.startswith("VALID"), run.stdout + run.stderr
    plan = json.loads((slow_out / "plan.json").read_text())
    plan["settings"]["travel"]["speeds_kmh"]["delivery_truck"] = 25
    tampered = tmp_path / "plan.json"
    tampered.write_text(json.dumps(plan))
    run = _dispatch("validate", str(tampered))
    assert run.returncode == 2
    assert "plan.json settings: field 'travel.speeds_kmh.delivery_truck'" in run.stderr


def test_service_time_reaches_imported_jobs(tmp_path):
    """--jobs-file: a job without `service_minutes` takes the settings' estimate (written
    into the saved problem); a job that states its minutes keeps them."""
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(
        "id,kind,order_id,confirmed_at,lon,lat,windows,category,service_minutes\n"
        "J1,repair,O1,2026-06-18T07:00,121.40,31.20,2026-06-18T09:00/17:00,tv,\n"
        "J2,repair,O2,2026-06-18T07:00,121.41,31.21,2026-06-18T09:00/17:00,tv,25\n"
    )
    crews = tmp_path / "crews.csv"
    crews.write_text("id,kind,people,skills,start_depot\nR1,repair_technician,1,,D\n")
    depots = tmp_path / "depots.csv"
    depots.write_text("id,kind,lon,lat\nD,service_point,121.4,31.2\n")
    settings = tmp_path / "city.toml"
    settings.write_text("[service_time.base_minutes.repair]\ntv = 95\n")
    out = tmp_path / "out"
    run = _dispatch(
        "plan", "--jobs-file", str(jobs), "--crews-file", str(crews), "--depots-file",
        str(depots), "--date", "2026-06-18", "--settings", str(settings), "--time-limit", "2",
        "--solution-limit", "5", "--out", str(out),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    plan = json.loads((out / "plan.json").read_text())
    minutes = {j["id"]: j["service_minutes"] for j in plan["problem"]["jobs"]}
    assert minutes == {"J1": 95, "J2": 25}
    assert plan["settings"]["service_time"]["base_minutes"]["repair"]["tv"] == 95
    stop = next(s for r in plan["routes"] for s in r["stops"] if s["job_id"] == "J1")
    start, end = (datetime.fromisoformat(stop[k]) for k in ("start", "end"))
    assert end - start == timedelta(minutes=95)


def test_a_bad_settings_file_exits_2_naming_the_key(tmp_path):
    settings = tmp_path / "city.json"
    settings.write_text(json.dumps({"travel": {"speeds_kmh": {"delivery_truck": 0}}}))
    run = _dispatch(
        "plan", "--fixture", "shanghai", "--jobs", "5", "--settings", str(settings),
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert run.returncode == 2
    assert (
        "settings file 'city.json': field 'travel.speeds_kmh.delivery_truck': must be from 1 "
        "to 130, got 0" in run.stderr
    )
    assert not (tmp_path / "out").exists()
