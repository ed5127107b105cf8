"""Plan settings in one file (`dispatch.files.plan_settings`): the schema refuses bad values
naming the key path, a key left out keeps the problem's value, slower speeds lengthen travel,
promise hours move deadlines, service-time numbers reach the jobs without their own duration,
and a saved plan records the settings, checked against its own problem when read back."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dispatch.errors import InputErrors
from dispatch.files.plan_io import plan_from_dict, plan_to_dict
from dispatch.files.plan_settings import (
    PlanSettings,
    apply_settings,
    effective_settings,
    parse_settings,
    read_settings_file,
    service_rules,
    settings_to_dict,
)
from dispatch.models import JobKind, ProductCategory
from dispatch.plan import Plan
from dispatch.service_time import estimate_minutes
from dispatch.translate import build_travel
from fixtures.shanghai import demo_problem

EXAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "settings.example.json"
FILE = "settings file 'city.json'"


@pytest.fixture(scope="module")
def problem():
    return demo_problem(jobs=40, seed=2)


def test_the_example_file_holds_every_default(problem):
    """fixtures/settings.example.json names every key at the engine's defaults: applying it
    changes nothing, and it is exactly what a plan made without settings records."""
    settings = read_settings_file(EXAMPLE)
    assert settings_to_dict(settings) == effective_settings(problem)
    applied = apply_settings(problem, settings)
    assert effective_settings(applied, service_rules(settings)) == effective_settings(problem)
    assert applied.jobs == problem.jobs  # the default estimate: no duration written in
    assert service_rules(settings) == service_rules(PlanSettings())


BAD: list[tuple[Any, str, str]] = [
    ({"travel": {"speeds_kmh": {"delivery_truck": 0}}}, "travel.speeds_kmh.delivery_truck",
     "must be from 1 to 130, got 0"),
    ({"travel": {"speeds_kmh": {"bus": 20}}}, "travel.speeds_kmh.bus", "unknown key"),
    ({"travel": {"speeds_kmh": [25]}}, "travel.speeds_kmh", "must be an object"),
    ({"travel": {"detour_factor": 0.9}}, "travel.detour_factor", "must be from 1 to 3"),
    ({"travel": {"detour_factor": True}}, "travel.detour_factor", "not a number"),
    ({"travel": {"rush_hours": [["09:00", "08:00", 1.2]]}}, "travel.rush_hours", "not after"),
    ({"travel": {"rush_hours": [["07:00", "09:00", 9]]}}, "travel.rush_hours", "from 1 to 5"),
    ({"travel": {"rush_hours": [["7h", "09:00", 1.2]]}}, "travel.rush_hours", "time of day"),
    ({"travel": {"provider": "roads"}}, "travel.provider", "not one of"),
    ({"travel": {"speed_kmh": {}}}, "travel.speed_kmh", "unknown key"),
    ({"travel": []}, "travel", "must be an object"),
    ({"speeds": 3}, "speeds", "unknown key"),
    ({"promises": {"urban": {"delivery_hours": 0}}}, "promises.urban.delivery_hours",
     "must be from 1 to 720"),
    ({"promises": {"urban": {"pickup_hours": 721}}}, "promises.urban.pickup_hours", "720"),
    ({"promises": {"urban": {"clock": "lunar"}}}, "promises.urban.clock", "not one of"),
    ({"promises": {"urban": {"cutoff": "21:00"}}}, "promises.urban.cutoff",
     "opening < cutoff <= closing"),
    ({"promises": {"urban": {"opening": "25:00"}}}, "promises.urban.opening", "time of day"),
    ({"promises": {"urban": {"delivery_hour": 5}}}, "promises.urban.delivery_hour",
     "unknown key"),
    ({"promises": {"east side": {}}}, "promises.east side", "is not an id"),
    ({"link_gap_minutes": 30.5}, "link_gap_minutes", "not a whole number"),
    ({"link_gap_minutes": -1}, "link_gap_minutes", "must be from 0 to 720"),
    ({"max_km_from_depot": 0}, "max_km_from_depot", "must be from 1 to 1000"),
    ({"service_time": {"base_minutes": {"installation": {"split_ac": 0}}}},
     "service_time.base_minutes.installation.split_ac", "must be from 1 to 720"),
    ({"service_time": {"base_minutes": {"assembly": {}}}}, "service_time.base_minutes.assembly",
     "unknown key"),
    ({"service_time": {"base_minutes": {"repair": {"sofa": 5}}}},
     "service_time.base_minutes.repair.sofa", "unknown key"),
    ({"service_time": {"stairs_minutes_per_floor": {"delivery": 61}}},
     "service_time.stairs_minutes_per_floor.delivery", "must be from 0 to 60"),
    ({"service_time": {"height_floor": 0}}, "service_time.height_floor", "from 1 to 200"),
    ({"service_time": {"height_minutes": 241}}, "service_time.height_minutes", "0 to 240"),
    ([], "(document)", "must be an object"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "field", "message"), BAD, ids=[b[1] for b in BAD])
def test_bad_values_are_refused_naming_the_key(raw, field, message):
    with pytest.raises(InputErrors) as exc:
        parse_settings(raw, FILE)
    errors = exc.value.errors
    assert [(e.record, e.field) for e in errors] == [(FILE, field)], errors
    assert message in errors[0].message


def test_every_problem_is_reported_at_once_under_a_prefix():
    """The service names the body's key (`settings.travel...`); all problems in one answer."""
    raw = {
        "travel": {"speeds_kmh": {"combined": 500}, "detour_factor": 9},
        "link_gap_minutes": "soon",
        "colour": "blue",
    }
    with pytest.raises(InputErrors) as exc:
        parse_settings(raw, "request body", prefix="settings")
    assert {e.field for e in exc.value.errors} == {
        "settings.colour",
        "settings.travel.speeds_kmh.combined",
        "settings.travel.detour_factor",
        "settings.link_gap_minutes",
    }
    assert {e.record for e in exc.value.errors} == {"request body"}


def test_file_level_problems(tmp_path):
    yaml = tmp_path / "city.yaml"
    yaml.write_text("travel: {}\n")
    broken = tmp_path / "city.json"
    broken.write_text('{"travel": {')
    for path, text in (
        (yaml, "use .json or .toml"),
        (broken, "invalid JSON"),
        (tmp_path / "none.json", "no such file"),
    ):
        with pytest.raises(InputErrors) as exc:
            read_settings_file(path)
        assert exc.value.errors[0].field == "(file)" and text in exc.value.errors[0].message
        assert exc.value.errors[0].record.startswith(f"settings file {path.name!r}")


def test_toml_reads_like_json(tmp_path):
    """TOML has no null and writes times of day bare: "same_day" and 17:00:00 are taken."""
    toml = tmp_path / "city.toml"
    toml.write_text(
        "link_gap_minutes = 45\n"
        "[travel]\n"
        "detour_factor = 1.4\n"
        'rush_hours = [["07:00", "10:00", 1.6]]\n'
        "[travel.speeds_kmh]\n"
        "delivery_truck = 18\n"
        "[promises.urban]\n"
        'repair_hours = "same_day"\n'
        "delivery_hours = 8\n"
        "cutoff = 17:00:00\n"
    )
    as_json = tmp_path / "city.json"
    as_json.write_text(
        json.dumps(
            {
                "link_gap_minutes": 45,
                "travel": {
                    "detour_factor": 1.4,
                    "rush_hours": [["07:00", "10:00", 1.6]],
                    "speeds_kmh": {"delivery_truck": 18},
                },
                "promises": {
                    "urban": {"repair_hours": None, "delivery_hours": 8, "cutoff": "17:00"}
                },
            }
        )
    )
    assert read_settings_file(toml) == read_settings_file(as_json)


def test_keys_left_out_keep_the_problems_values(problem):
    custom = dataclasses.replace(
        problem, travel=dataclasses.replace(problem.travel, detour_factor=1.5)
    )
    applied = apply_settings(custom, parse_settings({"link_gap_minutes": 45}, FILE))
    assert applied.link_gap_minutes == 45
    assert applied.travel == custom.travel and applied.promises == custom.promises
    assert applied.max_km_from_depot == custom.max_km_from_depot
    partial = apply_settings(
        problem, parse_settings({"travel": {"speeds_kmh": {"combined": 9}}}, FILE)
    )
    assert partial.travel.speeds_kmh == {**problem.travel.speeds_kmh, "combined": 9}
    assert apply_settings(problem, PlanSettings()) == problem


def test_slower_speeds_lengthen_travel(problem):
    slow = parse_settings({"travel": {"speeds_kmh": {"delivery_truck": 12.5}}}, FILE)
    before = build_travel(problem)
    after = build_travel(apply_settings(problem, slow))
    truck = before.durations["delivery_truck"]
    assert truck.max() > 0
    # half the speed, twice the time (to the second), and the other kinds unchanged
    assert abs(after.durations["delivery_truck"] - 2 * truck).max() <= 1
    assert (after.durations["repair_technician"] == before.durations["repair_technician"]).all()
    assert after.travel_time("delivery_truck", 0, 5, 8 * 3600) > before.travel_time(
        "delivery_truck", 0, 5, 8 * 3600
    )


def test_promise_hours_change_deadlines(problem):
    """Six calendar hours for urban deliveries: every such deadline is the order time + 6 h."""
    raw = {"promises": {"urban": {"delivery_hours": 6, "clock": "calendar"}}}
    applied = apply_settings(problem, parse_settings(raw, FILE))
    deliveries = [
        j for j in applied.jobs
        if j.kind is JobKind.DELIVERY and j.region == "urban" and j.deadline is None
    ]  # fmt: skip
    assert deliveries
    for job in deliveries:
        assert applied.promises.deadline(job) == job.confirmed_at + timedelta(hours=6)
        assert problem.promises.deadline(job) != applied.promises.deadline(job)
    assert applied.promises.policies["rural"] == problem.promises.policies["rural"]


def test_a_new_region_takes_the_urban_defaults(problem):
    applied = apply_settings(problem, parse_settings({"promises": {"island": {}}}, FILE))
    assert applied.promises.policies["island"] == problem.promises.policies["urban"]


def test_service_time_numbers_reach_jobs_without_their_own(problem):
    """Jobs without `service_minutes` get the settings' estimate; stated ones keep theirs;
    an estimate past 720 minutes is written as 720 (the most a job may state)."""
    raw = {"service_time": {"base_minutes": {"installation": {"split_ac": 150}}}}
    settings = parse_settings(raw, FILE)
    rules = service_rules(settings)
    assert rules.base_minutes[JobKind.INSTALLATION][ProductCategory.SPLIT_AC] == 150
    stated = dataclasses.replace(problem.jobs[0], service_minutes=33)
    big = next(
        j for j in problem.jobs
        if j.kind is JobKind.INSTALLATION and j.category is ProductCategory.SPLIT_AC
    )  # fmt: skip
    big = dataclasses.replace(big, id="BIG", quantity=10)
    jobs = [stated, *problem.jobs[1:], big]
    applied = apply_settings(dataclasses.replace(problem, jobs=jobs), settings)
    by_id = {j.id: j for j in applied.jobs}
    assert by_id[stated.id].service_minutes == 33
    assert by_id["BIG"].service_minutes == 720
    for job in jobs[1:-1]:
        assert by_id[job.id].service_minutes == estimate_minutes(job, rules)
    installs = [
        j for j in jobs[1:-1]
        if j.kind is JobKind.INSTALLATION and j.category is ProductCategory.SPLIT_AC
    ]  # fmt: skip
    assert installs
    assert all(by_id[j.id].service_minutes > estimate_minutes(j) for j in installs)


def test_a_saved_plan_records_the_settings_and_they_are_checked(problem):
    settings = parse_settings(
        {"travel": {"detour_factor": 1.6}, "service_time": {"height_minutes": 30}}, FILE
    )
    applied = apply_settings(problem, settings)
    plan = Plan(applied, [], [], {}, effective_settings(applied, service_rules(settings)))
    doc = json.loads(json.dumps(plan_to_dict(plan)))
    assert doc["settings"]["travel"]["detour_factor"] == 1.6
    assert doc["settings"]["service_time"]["height_minutes"] == 30
    assert doc["settings"]["link_gap_minutes"] == 30  # defaults recorded too
    again = plan_from_dict(doc, source="plan.json")
    assert again.settings == plan.settings

    doc["settings"]["travel"]["detour_factor"] = 1.3  # not what the problem holds
    doc["settings"]["promises"]["urban"]["cutoff"] = "17:00"
    with pytest.raises(InputErrors) as exc:
        plan_from_dict(doc, source="plan.json")
    assert {(e.record, e.field) for e in exc.value.errors} == {
        ("plan.json settings", "travel.detour_factor"),
        ("plan.json settings", "promises.urban.cutoff"),
    }
    doc["settings"] = {"travel": {"speed": 1}}
    with pytest.raises(InputErrors) as exc:
        plan_from_dict(doc, source="plan.json")
    assert exc.value.errors[0].field == "travel.speed"

    del doc["settings"]  # plans saved before settings were recorded still load
    assert plan_from_dict(doc, source="plan.json").settings is None
