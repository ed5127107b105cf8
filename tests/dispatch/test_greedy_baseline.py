"""Greedy nearest-crew dispatch (issue 19): the baseline dispatchers know, and its comparison.

The hand-built days lie on the test street of `tests.factories` (1 km = 100 s, no rush hour),
so every choice the greedy makes can be worked out by hand.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest

from dispatch.metrics.customer_clock import promise_shares
from dispatch.models import CrewKind, JobKind, TimeWindow
from dispatch.plan import Plan, UnassignedReason
from dispatch.plan_validator import validate_plan
from dispatch.planning.greedy_baseline import greedy_plan
from dispatch.planning.greedy_compare import compare, plan_figures
from dispatch.translate import build_travel
from fixtures.shanghai import demo_problem
from tests.factories import at, crew, depot, job, problem


def _routes(plan: Plan) -> dict[str, list[str]]:
    return {r.crew_id: [s.job_id for s in r.stops] for r in plan.routes if r.stops}


def _reasons(plan: Plan) -> dict[str, UnassignedReason]:
    return {u.job_id: u.reason for u in plan.unassigned}


def _street_day():
    """Two technicians, C1 from depot D (km 0) and C2 from depot E (km 20); five repairs
    listed out of promise order (explicit deadlines)."""
    technician = CrewKind.REPAIR_TECHNICIAN
    crews = [crew("C1", technician), crew("C2", technician, start_depot="E", end_depot="E")]
    jobs = [
        job("J1", 12, deadline=at(9)),  # C2 is 8 km away, C1 12 km
        job("J2", 4, deadline=at(10)),  # C1 (at J4, km 1) 3 km, C2 (at J1, km 12) 8 km
        job("J3", 9, deadline=at(11)),  # from the depots C1 is nearer; from the last stops C2
        job("J4", 1, deadline=at(8, 30)),  # the earliest promise: handed out first
        # reachable alone (C1 from its depot by 08:23), but by the time its promise comes up
        # both crews are busy past its 08:00-08:30 window
        replace(job("J5", 14, deadline=at(12)), windows=(TimeWindow(at(8), at(8, 30)),)),
    ]
    return problem(jobs, crews, [depot("D", 0), depot("E", 20)])


def test_each_job_goes_in_promise_order_to_the_nearest_crew_from_its_last_stop():
    plan = greedy_plan(_street_day())
    assert _routes(plan) == {"C1": ["J4", "J2"], "C2": ["J1", "J3"]}
    c1 = next(r for r in plan.routes if r.crew_id == "C1")
    assert [s.start for s in c1.stops] == [at(8, 1, 40), at(8, 36, 40)]  # 1 km, 30 min, 3 km
    assert validate_plan(plan) == []


def test_a_job_that_fits_no_crew_is_unassigned_with_the_reason_that_binds():
    plan = greedy_plan(_street_day())
    (u,) = plan.unassigned
    assert u.job_id == "J5" and u.reason is UnassignedReason.WINDOW_FULL
    assert u.detail.startswith("closest crew: ")


def test_an_installation_waits_for_its_delivery_and_is_dropped_without_it():
    """The truck takes one job a day: D1 (earlier promise) gets it; D2 fits no more, so its
    installation I2 is not planned; I1 starts at D1's end + the 30 min link gap."""
    jobs = [
        job("D1", 5, kind=JobKind.DELIVERY, order_id="O1", deadline=at(12)),
        job("I1", 5, kind=JobKind.INSTALLATION, order_id="O1", minutes=60, deadline=at(16)),
        job("D2", 6, kind=JobKind.DELIVERY, order_id="O2", deadline=at(13)),
        job("I2", 6, kind=JobKind.INSTALLATION, order_id="O2", minutes=60, deadline=at(17)),
    ]
    crews = [crew("T", CrewKind.DELIVERY_TRUCK, max_jobs=1), crew("I", CrewKind.INSTALLATION_CREW)]
    plan = greedy_plan(problem(jobs, crews))
    assert _routes(plan) == {"T": ["D1"], "I": ["I1"]}
    stops = {s.job_id: s for r in plan.routes for s in r.stops}
    assert stops["D1"].end == at(8, 38, 20)  # 5 km, 30 min
    assert stops["I1"].start == at(9, 8, 20)  # + the 30 min gap on another crew
    assert _reasons(plan) == {
        "D2": UnassignedReason.JOBS_PER_DAY,
        "I2": UnassignedReason.LINKED_JOB_UNASSIGNED,
    }


@pytest.fixture(scope="module")
def generated() -> tuple:
    day = demo_problem(jobs=250, seed=4)
    return day, greedy_plan(day)


def test_the_greedy_plan_of_a_generated_day_is_valid_and_accounts_for_every_job(generated):
    day, plan = generated
    assert validate_plan(plan, build_travel(day)) == []
    planned = [s.job_id for r in plan.routes for s in r.stops]
    assert sorted(planned + [u.job_id for u in plan.unassigned]) == sorted(j.id for j in day.jobs)
    assert len(planned) > 0.5 * len(day.jobs)
    assert plan.stats["greedy_trials"] > 0


def test_the_greedy_plan_is_deterministic(generated):
    day, plan = generated
    again = greedy_plan(day)
    assert _routes(again) == _routes(plan)
    assert again.unassigned == plan.unassigned
    assert [r.stops for r in again.routes] == [r.stops for r in plan.routes]


def test_the_comparison_counts_promises_as_the_plan_kpis_do(generated):
    _day, plan = generated
    figures = plan_figures(plan)
    kpis = promise_shares(plan)["customer"]
    assert {s.kind: (s.within, s.planned, s.jobs) for s in figures.promises} == {
        kind: (s.within, s.planned, s.jobs) for kind, s in kpis.items()
    }
    assert figures.planned == sum(len(r.stops) for r in plan.routes)
    assert figures.crews_used == sum(1 for r in plan.routes if r.stops)


def test_the_comparison_line_names_km_jobs_promises_clock_and_crews(generated):
    day, plan = generated
    fewer = Plan(day, [r for r in plan.routes if r.crew_id != plan.routes[0].crew_id], [])
    comparison = compare(fewer, plan)
    line = comparison.line()
    assert line.startswith("compared with nearest-crew dispatch: ")
    assert f"{comparison.km_saved:,.1f} km less (" in line and " %)" in line
    assert f"{len(plan.routes[0].stops)} fewer jobs planned" in line
    assert "(customer's clock)" in line and "promises kept " in line
    assert f"crews {comparison.engine.crews_used} vs {comparison.greedy.crews_used}" in line
    counted = comparison.as_dict()["promises_kept_counts"]
    assert "deliveries within 12 h" in counted and "customer's clock" in counted
    with pytest.raises(ValueError):
        compare(plan, greedy_plan(demo_problem(jobs=10, seed=4, day=date(2026, 7, 1))))


def _plan_args(out) -> list[str]:
    args = ["plan", "--fixture", "shanghai", "--jobs", "20", "--seed", "2", "--workers", "1"]
    return [*args, "--time-limit", "5", "--solution-limit", "1", "--out", str(out)]


def test_dispatch_plan_prints_the_comparison_after_its_summary(tmp_path, capsys):
    from scripts.cli import main

    assert main(_plan_args(tmp_path / "a")) == 0
    lines = capsys.readouterr().out.splitlines()
    (k,) = [n for n, text in enumerate(lines) if text.startswith("compared with nearest-crew")]
    assert lines[k - 1].startswith("  planning clock:")  # the summary's last line
    assert lines[k + 1].startswith("written: ") and lines[k + 1].endswith("baseline.json")
    assert "(customer's clock), crews " in lines[k]
    saved = json.loads((tmp_path / "a" / "baseline.json").read_text(encoding="utf-8"))
    assert saved["line"] == lines[k]
    assert {"engine", "nearest_crew", "difference", "clock"} <= set(saved)
    # kpis.json is untouched: the KPI check still passes
    kpis = ["--kpis", str(tmp_path / "a" / "kpis.json")]
    assert main(["validate", str(tmp_path / "a" / "plan.json"), *kpis]) == 0

    assert main([*_plan_args(tmp_path / "b"), "--no-baseline"]) == 0
    assert "compared with nearest-crew" not in capsys.readouterr().out
    assert not (tmp_path / "b" / "baseline.json").exists()
