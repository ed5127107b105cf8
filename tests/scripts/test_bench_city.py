"""`dispatch bench city` on a tiny day of two zone groups: the report's rows, sums and routes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.bench_city import parse_case, target
from scripts.cli import main

#: 120 demo jobs (seed 0) split in two groups by these planner options (70 and 48 jobs)
ARGS = ["--cases", "normal-120", "--time-limit", "1.5", "--decompose-above", "50"]
ARGS += ["--group-size", "80", "--seed", "0", "--routes"]


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("city")
    assert main(["bench", "city", *ARGS, "--out", str(out)]) == 0
    return out, json.loads((out / "city.json").read_text())


def test_one_row_per_group_and_totals_are_their_sums(city):
    out, doc = city
    (case,) = doc["cases"]
    rows = case["groups"]
    assert len(rows) == 2
    md = (out / "city.md").read_text()
    for r in rows:
        assert f"| {r['group']} | {r['jobs']} |" in md
        assert r["engine_km"] > 0 and r["pyvrp_km"] > 0
        assert 0 < r["engine_planned"] <= r["jobs"] and 0 < r["pyvrp_planned"] <= r["jobs"]
        assert r["time_limit_s"] >= 1.0
    total = case["total"]
    for key in ("jobs", "crews", "engine_planned", "pyvrp_planned"):
        assert total[key] == sum(r[key] for r in rows)
    for key in ("engine_km", "pyvrp_km"):
        assert total[key] == pytest.approx(sum(r[key] for r in rows), abs=0.15)
    assert case["full_plan"]["planned"] > 0 and case["full_plan"]["km"] > 0
    assert case["target"]["line"] in md
    assert "lunch break" in md and doc["relaxed"]
    assert "one at a time in this process" in doc["execution"]


def test_pyvrp_serves_jobs_only_on_their_allowed_crews(city):
    """Checked against the planner's own screening, independently of the bench's count."""
    from dispatch.planning.feasibility import screen
    from dispatch.translate import build_travel
    from fixtures.shanghai import demo_problem

    out, doc = city
    problem = demo_problem(jobs=120, seed=0)
    eligible = screen(problem, build_travel(problem, lazy=True)).eligible
    crew_ids = [c.id for c in problem.crews]
    routes = json.loads((out / "city-routes.json").read_text())["normal-120"]
    served = 0
    for group in routes.values():
        for crew, jobs in group["pyvrp"].items():
            for job in jobs:
                assert crew in {crew_ids[k] for k in eligible[job]}, (job, crew)
                served += 1
    assert served == doc["cases"][0]["total"]["pyvrp_planned"]
    assert all(r["pyvrp_barred"] == 0 for r in doc["cases"][0]["groups"])


def test_case_names_and_target_line():
    assert parse_case("peak-4000", None).time_limit == 210.0
    assert parse_case("normal-1500", 9.0).time_limit == 9.0
    with pytest.raises(ValueError):
        parse_case("normal-80", None)  # no known time limit
    with pytest.raises(ValueError):
        parse_case("busy-80", 5.0)
    groups = {"pyvrp_km": 100.0, "pyvrp_planned": 50}
    assert target({"km": 100.5, "planned": 50}, groups)["met"]
    missed = target({"km": 103.0, "planned": 48}, groups)
    assert not missed["met"]
    assert missed["line"].endswith("not met (3.0 % more km, 2 jobs fewer)")
    assert "1.0 % less km, 1 job more" in target({"km": 99.0, "planned": 51}, groups)["line"]
