"""Assisted jobs (协助, `Job.assists`) in the files and in the driver's view.

The job field through the records (CSV, JSON, the saved problem) with its errors; the
problem's `assist_tolerance_minutes` in the problem file and as a plan setting; and the
driver's route of a two-crew visit on a hand-made day (tests/factories.py: 1 km = 100 s):

A (60 min at 3 km) is assisted by B (60 min, same order and door); X (30 min at 5 km) is a
job of its own. C1 does X then A, C2 only B: C1 arrives at A at 08:41:40 (08:08:20-08:38:20
at X, 200 s on), C2 waits for it, and both start at 08:41:40.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatch.errors import InputErrors
from dispatch.files.importers import read_jobs, write_jobs_csv
from dispatch.files.plan_io import plan_from_dict, plan_to_dict
from dispatch.files.plan_settings import (
    apply_settings,
    check_recorded,
    effective_settings,
    parse_settings,
)
from dispatch.files.problem_io import problem_from_dict, problem_to_dict
from dispatch.files.records import job_from_dict, job_to_dict
from dispatch.models import JobKind
from dispatch.running.driver_route import driver_route
from tests.factories import crew, job, planned, problem

RAW = {
    "id": "J2",
    "kind": "installation",
    "confirmed_at": "2026-06-17T10:00",
    "lon": 121.47,
    "lat": 31.23,
    "windows": "2026-06-18T09:00/2026-06-18T12:00",
}


def _pair_problem(**kw):
    jobs = [
        job("A", 3, kind=JobKind.INSTALLATION, minutes=60, order_id="O-A", floor=18),
        job("B", 3, kind=JobKind.INSTALLATION, minutes=60, order_id="O-A", floor=18, assists="A"),
        job("X", 5),
    ]
    return problem(jobs, [crew("C1"), crew("C2"), crew("IDLE")], **kw)


def _pair_plan():
    return planned(_pair_problem(), {"C1": ["X", "A"], "C2": ["B"]})


# ---- records


def test_assists_round_trips_and_is_written_only_when_set():
    lead = job_from_dict(RAW | {"id": "J1"})
    helper = job_from_dict(RAW | {"assists": "J1"})
    assert (lead.assists, helper.assists) == (None, "J1")
    assert "assists" not in job_to_dict(lead)
    assert job_to_dict(helper)["assists"] == "J1"
    assert job_from_dict(job_to_dict(helper)) == helper
    assert job_from_dict(RAW | {"assists": "  "}).assists is None  # blank: none
    assert job_from_dict(RAW | {"assists": 17}).assists == "17"  # an id as a JSON number


def test_assists_in_csv_and_json_files(tmp_path: Path):
    jobs = [job_from_dict(RAW | {"id": "J1"}), job_from_dict(RAW | {"assists": "J1"})]
    write_jobs_csv(jobs, tmp_path / "jobs.csv")
    header = (tmp_path / "jobs.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "assists" in header.split(",")
    assert read_jobs(tmp_path / "jobs.csv") == jobs
    (tmp_path / "jobs.json").write_text(json.dumps([job_to_dict(j) for j in jobs]))
    assert read_jobs(tmp_path / "jobs.json") == jobs


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("J 1", "is not an id"),
        ("J2", "a job cannot assist itself"),
        (["J1"], "must be text"),
        (True, "must be text"),
        ("x" * 65, "an id has at most 64"),
    ],
)
def test_a_bad_assists_names_the_record_and_the_field(value, message):
    with pytest.raises(InputErrors) as exc:
        job_from_dict(RAW | {"assists": value}, "jobs.json item 4")
    [error] = exc.value.errors
    assert (error.record, error.field) == ("jobs.json item 4 (job 'J2')", "assists")
    assert message in error.message


def test_a_bad_assists_in_a_csv_names_the_row(tmp_path: Path):
    path = tmp_path / "jobs.csv"
    path.write_text(
        "id,kind,confirmed_at,lon,lat,windows,assists\n"
        "J1,repair,2026-06-17T10:00,121.47,31.23,2026-06-18T09:00/2026-06-18T12:00,\n"
        "J2,repair,2026-06-17T10:00,121.47,31.23,2026-06-18T09:00/2026-06-18T12:00,J/1\n",
        encoding="utf-8",
    )
    with pytest.raises(InputErrors) as exc:
        read_jobs(path)
    assert [(e.record, e.field) for e in exc.value.errors] == [
        ("jobs.csv row 3 (job 'J2')", "assists")
    ]


# ---- the problem file


def test_the_problem_file_keeps_the_tolerance_and_the_pair():
    p = _pair_problem(assist_tolerance_minutes=40)
    data = json.loads(json.dumps(problem_to_dict(p)))
    assert data["assist_tolerance_minutes"] == 40
    assert data["jobs"][1]["assists"] == "A"
    again = problem_from_dict(data)
    assert again == p
    assert [(s.first, s.second, s.max_delay_minutes) for s in again.syncs] == [("A", "B", 40)]


def test_a_problem_file_without_the_tolerance_reads_the_default():
    data = problem_to_dict(_pair_problem())
    del data["assist_tolerance_minutes"]
    assert "syncs" not in data  # an assisting job's pair is derived again when read
    again = problem_from_dict(data)
    assert again.assist_tolerance_minutes == 15
    assert [(s.first, s.second, s.max_delay_minutes) for s in again.syncs] == [("A", "B", 15)]


@pytest.mark.parametrize("value", [-1, 241, "soon"])
def test_a_bad_tolerance_in_the_problem_file_names_the_field(value):
    data = problem_to_dict(_pair_problem()) | {"assist_tolerance_minutes": value}
    with pytest.raises(InputErrors) as exc:
        problem_from_dict(data, source="plan.json")
    assert [e.field for e in exc.value.errors] == ["assist_tolerance_minutes"]
    assert exc.value.errors[0].record.startswith("plan.json problem")


# ---- the plan setting


def test_the_setting_is_read_applied_and_recorded():
    p = _pair_problem()
    settings = parse_settings({"assist_tolerance_minutes": 30}, "settings file 'city.json'")
    assert settings.assist_tolerance_minutes == 30
    applied = apply_settings(p, settings)
    assert applied.assist_tolerance_minutes == 30
    # the pair's sync follows the new tolerance (not kept at the old one, nor doubled)
    assert [(s.first, s.second, s.max_delay_minutes) for s in applied.syncs] == [("A", "B", 30)]
    recorded = effective_settings(applied)
    assert recorded["assist_tolerance_minutes"] == 30
    assert effective_settings(p)["assist_tolerance_minutes"] == 15  # the default, recorded
    assert check_recorded(recorded, applied, "plan.json settings")[1] == []
    wrong = check_recorded(recorded, p, "plan.json settings")[1]
    assert [e.field for e in wrong] == ["assist_tolerance_minutes"]
    # left out: the problem's own value stays
    assert apply_settings(applied, parse_settings({}, "x")).assist_tolerance_minutes == 30


@pytest.mark.parametrize("value", [-1, 241, 7.5, "15 min", None])
def test_a_bad_setting_names_the_key(value):
    with pytest.raises(InputErrors) as exc:
        parse_settings({"assist_tolerance_minutes": value}, "request body", prefix="settings")
    [error] = exc.value.errors
    assert (error.record, error.field) == ("request body", "settings.assist_tolerance_minutes")


def test_the_bounds_are_inclusive():
    for value in (0, 240):
        assert parse_settings(
            {"assist_tolerance_minutes": value}, "x"
        ).assist_tolerance_minutes == (value)


# ---- the driver's route


def test_the_assisted_crew_sees_who_assists_and_when():
    view = driver_route(_pair_plan(), "C1")
    x, a = view["stops"]
    assert "assist" not in x  # a job of its own: no key at all
    assert a["job_id"] == "A" and a["start"] == "2026-06-18T08:41"
    assert a["assist"] == {
        "role": "assisted",
        "meet": "2026-06-18T08:41",
        "partners": [{"job_id": "B", "crew_id": "C2"}],
    }
    assert a["linked"] == []  # the partner (same order) is not listed twice


def test_the_assisting_crew_sees_whom_it_assists_and_when_to_be_there():
    view = driver_route(_pair_plan(), "C2")
    (b,) = view["stops"]
    assert b["start"] == "2026-06-18T08:41"  # it waited for C1
    assert b["assist"] == {
        "role": "assisting",
        "meet": "2026-06-18T08:41",
        "partners": [{"job_id": "A", "crew_id": "C1"}],
    }
    # nothing else of C1's day: not its other stop (X, 08:08-08:38), nor its route
    text = json.dumps(view)
    assert '"X"' not in text and "08:08" not in text and "08:38" not in text
    assert b["linked"] == []


def test_the_partner_info_survives_the_plan_file_and_hides_no_door():
    plan = _pair_plan()
    again = plan_from_dict(json.loads(json.dumps(plan_to_dict(plan))))
    for crew_id in ("C1", "C2"):
        assert driver_route(again, crew_id) == driver_route(plan, crew_id)
        office = driver_route(plan, crew_id, include_contact=False)
        assert office["stops"][-1]["assist"] == driver_route(plan, crew_id)["stops"][-1]["assist"]


def test_a_partner_off_the_plan_shows_no_crew():
    """The assisting job taken off C2's route (a hand move): A still says it is a pair, with
    no crew for B; B's own view is gone with C2's stop."""
    plan = _pair_plan()
    plan.routes = [r for r in plan.routes if r.crew_id != "C2"]
    (_, a) = driver_route(plan, "C1")["stops"]
    assert a["assist"]["partners"] == [{"job_id": "B", "crew_id": None}]
    assert a["assist"]["meet"] == "2026-06-18T08:41"
    assert driver_route(plan, "C2")["stops"] == []
