"""Home-healthcare (HHCRSP) instances: reading, two-person syncs, scoring, the bench command.

The tiny instances below are worked by hand (minutes): two departing points d0 and d1, one
patient p0 10 min from d0 and 30 min from d1. Caregiver c0 (ability s0) starts at d0,
c1 (ability s1) at d1. Without a sync, c0 would start p0's s0 at 10 and c1 its s1 at 30.

The instance files are in ../shared/benchmarks/hhcrsp (outside the repository); the tests
that read them are skipped when the folder is absent.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from dispatch.benchmarks.hhcrsp import instance_from_dict, minute_of, read_instance, solve_instance
from dispatch.benchmarks.hhcrsp_score import check_plan, score_plan, tardiness_lower_bound
from dispatch.day_problem import TravelSettings
from dispatch.errors import InputError
from dispatch.files.plan_io import load_plan_json, save_plan_json
from dispatch.plan import CrewRoute, Plan, PlannedStop, Unassigned, UnassignedReason
from dispatch.plan_validator import validate_plan
from dispatch.translate import build_travel
from scripts.cli import main
from tests.shared_data import SHARED, needs_shared

BENCH = SHARED / "benchmarks" / "hhcrsp"
needs_bench = needs_shared(BENCH, "the shared HHCRSP instances")
CESENA = "000-cesena-p20-d4-i0.25-pt0.74-0.07-0.19-c5-6-4-5"

#: rows/columns: d0, d1, p0
MATRIX = [[0, 20, 10], [20, 0, 30], [10, 30, 0]]


def tiny(sync: dict | None, caregivers: list[dict] | None = None) -> dict:
    """One patient needing s0 and s1 (20 min each), window 0-100, linked by `sync`."""
    patient = {
        "id": "p0",
        "location": [12.2, 44.1],
        "time_window": [0, 100],
        "required_caregivers": [
            {"service": "s0", "duration": 20},
            {"service": "s1", "duration": 20},
        ],
        "distance_matrix_index": 2,
    }
    if sync is not None:
        patient["synchronization"] = sync
    return {
        "name": "tiny",
        "distances": MATRIX,
        "departing_points": [
            {"id": "d0", "location": [12.3, 44.2]},
            {"id": "d1", "location": [12.4, 44.3]},
        ],
        "patients": [patient],
        "caregivers": caregivers
        or [
            {"id": "c0", "abilities": ["s0"], "starting_point_id": "d0", "working_shift": [0, 600]},
            {"id": "c1", "abilities": ["s1"], "starting_point_id": "d1", "working_shift": [0, 600]},
        ],
        "services": [
            {"id": "s0", "default_duration": 30, "type": "t0"},
            {"id": "s1", "default_duration": 30, "type": "t1"},
        ],
    }


def _starts(plan: Plan) -> dict[str, tuple[float, str]]:
    return {s.job_id: (minute_of(s.start), r.crew_id) for r in plan.routes for s in r.stops}


def _shift_route(plan: Plan, crew_id: str, minutes: int) -> Plan:
    """The plan with one crew's whole day moved by `minutes`: still a consistent route."""
    d = timedelta(minutes=minutes)
    routes = [
        dataclasses.replace(
            r,
            depart=r.depart + d,
            return_at=r.return_at + d,
            stops=[
                dataclasses.replace(s, arrival=s.arrival + d, start=s.start + d, end=s.end + d)
                for s in r.stops
            ],
        )
        if r.crew_id == crew_id
        else r
        for r in plan.routes
    ]
    return Plan(plan.problem, routes, list(plan.unassigned))


# ---- reading


@needs_bench
def test_reads_an_instance_into_the_engines_model():
    inst = read_instance(BENCH / f"{CESENA}.json")
    raw = json.loads((BENCH / f"{CESENA}.json").read_text())
    p = inst.problem
    n_services = sum(len(q["required_caregivers"]) for q in raw["patients"])
    assert len(p.jobs) == n_services == len(inst.visits)
    assert len(p.crews) == len(raw["caregivers"]) and len(p.depots) == len(raw["departing_points"])
    assert len(p.syncs) == sum(1 for q in raw["patients"] if "synchronization" in q)
    # a patient and its job: skill, duration, window start (hard), window end (soft deadline)
    p0 = raw["patients"][0]
    job = p.jobs_by_id()[f"p0:{p0['required_caregivers'][0]['service']}"]
    assert job.skills == {p0["required_caregivers"][0]["service"]}
    assert job.service_minutes == p0["required_caregivers"][0]["duration"]
    assert minute_of(job.windows[0].start) == p0["time_window"][0]
    assert minute_of(job.deadline) == p0["time_window"][1] + job.service_minutes
    # a caregiver and its crew: abilities, shift start, depot
    c0 = raw["caregivers"][0]
    crew = p.crews[0]
    assert crew.skills == set(c0["abilities"]) and crew.start_depot == c0["starting_point_id"]
    assert crew.shift_start == time(c0["working_shift"][0] // 60, c0["working_shift"][0] % 60)
    # the travel model is the instance's matrix, in seconds, depots then jobs
    travel = build_travel(p)
    depot = c0["distance_matrix_index"]
    m = raw["distances"]
    assert (
        travel.durations[crew.kind.value][
            [d.id for d in p.depots].index(crew.start_depot), len(p.depots)
        ]
        == m[depot][p0["distance_matrix_index"]] * 60
    )
    # incompatible caregivers are not eligible
    p1 = next(q for q in raw["patients"] if q.get("incompatible_caregivers"))
    bad = p1["incompatible_caregivers"][0]
    crew_index = [c.id for c in p.crews].index(bad)
    for v in inst.visits:
        if v.patient == p1["id"]:
            assert crew_index not in inst.eligible[v.job_id]


def test_sync_kinds_are_read():
    simultaneous = instance_from_dict(tiny({"type": "simultaneous"}))
    assert [(s.min_delay_minutes, s.max_delay_minutes) for s in simultaneous.problem.syncs] == [
        (0, 0)
    ]
    sequential = instance_from_dict(tiny({"type": "sequential", "distance": [15, 45]}))
    sync = sequential.problem.syncs[0]
    assert (sync.first, sync.second, sync.min_delay_minutes, sync.max_delay_minutes) == (
        "p0:s0",
        "p0:s1",
        15,
        45,
    )


def test_shift_end_is_soft_unless_asked():
    loose = instance_from_dict(tiny({"type": "simultaneous"}))
    strict = instance_from_dict(tiny({"type": "simultaneous"}), overtime=False)
    assert loose.problem.crews[0].shift_end == time(23, 59)
    assert strict.problem.crews[0].shift_end == time(10, 0)


@pytest.mark.parametrize(
    "edit, record, field",
    [
        (lambda d: d["patients"][0]["required_caregivers"][0].update(service="s9"),
         "patient 'p0'", "required_caregivers[0].service"),
        (lambda d: d["patients"][0].pop("time_window"), "patient 'p0'", "time_window"),
        (lambda d: d["caregivers"][0]["abilities"].append("s7"), "caregiver 'c0'", "abilities"),
        (lambda d: d["caregivers"][1].update(starting_point_id="d9"),
         "caregiver 'c1'", "starting_point_id"),
        (lambda d: d["patients"][0].pop("synchronization"), "patient 'p0'", "synchronization"),
        (lambda d: d["patients"][0].update(synchronization={"type": "sometimes"}),
         "patient 'p0'", "synchronization.type"),
        (lambda d: d["patients"][0]["incompatible_caregivers"].append("c5"),
         "patient 'p0'", "incompatible_caregivers"),
        (lambda d: d["distances"].pop(), "instance 'tiny'", "distances[0]"),
        (lambda d: d.pop("caregivers"), "instance 'tiny'", "caregivers"),
    ],
)  # fmt: skip
def test_bad_input_names_record_and_field(edit, record, field):
    data = tiny({"type": "simultaneous"})
    data["patients"][0]["incompatible_caregivers"] = []
    data = copy.deepcopy(data)
    edit(data)
    with pytest.raises(InputError) as err:
        instance_from_dict(data, "tiny")
    assert (err.value.record, err.value.field) == (record, field)


def test_matrix_provider_checks_its_matrix():
    with pytest.raises(InputError, match="matrix_s"):
        TravelSettings(provider="matrix", matrix_s=((0, 1), (1,)))
    inst = instance_from_dict(tiny({"type": "simultaneous"}))
    short = dataclasses.replace(inst.problem.travel, matrix_s=((0, 1), (1, 0)))
    with pytest.raises(InputError, match="need 4x4"):
        build_travel(dataclasses.replace(inst.problem, travel=short))


# ---- synchronisation: enforced by the solver, checked by both validators


def test_simultaneous_services_start_together():
    """c1 cannot be at p0 before 30, so c0 waits: both start at 30 (not 10 and 30)."""
    inst = instance_from_dict(tiny({"type": "simultaneous"}))
    plan = solve_instance(inst, 0.5, solution_limit=5)
    assert _starts(plan) == {"p0:s0": (30, "c0"), "p0:s1": (30, "c1")}
    assert validate_plan(plan) == [] and check_plan(inst, plan) == []


def test_sequential_delay_bounds_both_ways():
    """s1 must start 0-5 min after s0. c1 arrives at 30, so s0 waits until 25 (the maximum
    delay pulls the first service later); with a 40-60 min delay s1 waits until 50."""
    inst = instance_from_dict(tiny({"type": "sequential", "distance": [0, 5]}))
    plan = solve_instance(inst, 0.5, solution_limit=5)
    assert _starts(plan) == {"p0:s0": (25, "c0"), "p0:s1": (30, "c1")}
    assert validate_plan(plan) == [] and check_plan(inst, plan) == []
    inst = instance_from_dict(tiny({"type": "sequential", "distance": [40, 60]}))
    plan = solve_instance(inst, 0.5, solution_limit=5)
    assert _starts(plan) == {"p0:s0": (10, "c0"), "p0:s1": (50, "c1")}


def test_solver_plans_around_the_wait_for_a_partner():
    """c0 also serves p1 (s2, 10 min, window 0-40), 10 min from d0, 5 from p0 and 5 back.
    Going p0 then p1 is 5 min shorter (20 vs 25) and, were c0 to start p0 on arrival at 10,
    p1 would start at 35, on time. But c0 must wait for c1 at p0 until 30, which makes p1
    15 min late: the solver, knowing the sync, does p1 first (10-20) and p0 at 30."""
    data = tiny({"type": "simultaneous"})
    data["distances"] = [
        [0, 20, 10, 10],
        [20, 0, 30, 40],
        [10, 30, 0, 5],
        [5, 40, 5, 0],
    ]
    data["patients"].append(
        {
            "id": "p1",
            "location": [12.25, 44.15],
            "time_window": [0, 40],
            "required_caregivers": [{"service": "s2", "duration": 10}],
            "distance_matrix_index": 3,
        }
    )
    data["caregivers"][0]["abilities"].append("s2")
    data["services"].append({"id": "s2", "default_duration": 10, "type": "t2"})
    inst = instance_from_dict(data)
    plan = solve_instance(inst, 0.5, solution_limit=5)
    c0 = next(r for r in plan.routes if r.crew_id == "c0")
    assert [(s.job_id, minute_of(s.start)) for s in c0.stops] == [("p1:s2", 10), ("p0:s0", 30)]
    assert score_plan(inst, plan).total_tardiness == 0
    assert validate_plan(plan) == [] and check_plan(inst, plan) == []


def test_broken_sync_is_rejected_by_both_validators():
    inst = instance_from_dict(tiny({"type": "simultaneous"}))
    plan = solve_instance(inst, 0.5, solution_limit=5)
    # c0 leaves at 0 and starts on arrival (10), as if there were no sync: a valid route alone
    early = _shift_route(plan, "c0", -20)
    rules = [v.rule for v in validate_plan(early)]
    assert rules == ["sync"]
    assert any("outside [0, 0]" in line for line in check_plan(inst, early))
    # half a two-person visit: s1 taken off its route
    routes = [
        dataclasses.replace(r, stops=[s for s in r.stops if s.job_id != "p0:s1"])
        for r in plan.routes
    ]
    half = Plan(plan.problem, routes, [Unassigned("p0:s1", UnassignedReason.NO_CAPACITY_LEFT)])
    assert "sync" in [v.rule for v in validate_plan(half)]
    assert any("only one of" in line for line in check_plan(inst, half))


def test_saved_plan_keeps_its_syncs_and_matrix(tmp_path: Path):
    """A plan file carries the syncs and the matrix, so `dispatch validate` still sees them."""
    inst = instance_from_dict(tiny({"type": "simultaneous"}))
    plan = solve_instance(inst, 0.5, solution_limit=5)
    save_plan_json(plan, tmp_path / "ok.json")
    assert validate_plan(load_plan_json(tmp_path / "ok.json")) == []
    save_plan_json(_shift_route(plan, "c0", -20), tmp_path / "bad.json")
    loaded = load_plan_json(tmp_path / "bad.json")
    assert loaded.problem.syncs == inst.problem.syncs
    assert [v.rule for v in validate_plan(loaded)] == ["sync"]


def test_two_person_visit_needs_two_caregivers():
    """One caregiver with both abilities could do s0 at 10-30 and s1 at 30-50 (a delay of 20
    fits 15-60), but a two-person visit needs two people: nothing is planned, not half."""
    both = [
        {
            "id": "c2",
            "abilities": ["s0", "s1"],
            "starting_point_id": "d0",
            "working_shift": [0, 600],
        }
    ]
    inst = instance_from_dict(tiny({"type": "sequential", "distance": [15, 60]}, both))
    plan = solve_instance(inst, 0.5, solution_limit=5)
    assert _starts(plan) == {}
    assert sorted(u.job_id for u in plan.unassigned) == ["p0:s0", "p0:s1"]
    assert validate_plan(plan) == []
    # the same two stops on one route, timed correctly, are caught by both validators
    served = Plan(plan.problem, _one_route(plan), [])
    assert [v.rule for v in validate_plan(served)] == ["sync"]
    assert any("both served by c2" in line for line in check_plan(inst, served))


def _one_route(plan: Plan) -> list[CrewRoute]:
    def at(m: int) -> datetime:
        return plan.problem.at(time(0)) + timedelta(minutes=m)

    jobs = plan.problem.jobs_by_id()
    stops = [
        PlannedStop("p0:s0", at(10), at(10), at(30), jobs["p0:s0"].deadline),
        PlannedStop("p0:s1", at(30), at(30), at(50), jobs["p0:s1"].deadline),
    ]
    return [CrewRoute("c2", at(0), at(60), stops, drive_s=20 * 60)]  # 10 min out, 10 back


# ---- scoring and solving real instances


def test_score_is_the_published_objective():
    """Simultaneous at 30 with window end 100: no tardiness; travel 10 + 10 (c0) + 30 + 30 (c1).
    With the window closing at 20 each service is 10 min late: T = 20, Tmax = 10."""
    inst = instance_from_dict(tiny({"type": "simultaneous"}))
    plan = solve_instance(inst, 0.5, solution_limit=5)
    score = score_plan(inst, plan)
    assert (score.travel, score.total_tardiness, score.max_tardiness) == (80, 0, 0)
    assert score.objective == pytest.approx(80 / 3)
    data = tiny({"type": "simultaneous"})
    data["patients"][0]["time_window"] = [0, 20]
    late = instance_from_dict(data)
    score = score_plan(late, solve_instance(late, 0.5, solution_limit=5))
    assert (score.travel, score.total_tardiness, score.max_tardiness) == (80, 20, 10)
    assert score.objective == pytest.approx((80 + 20 + 10) / 3)


def test_tardiness_lower_bound_counts_shifts_that_open_after_the_window():
    """c1's shift opens at 50, 30 min after p0's window closes (20): s1 is at least 30 late.
    The solved plan (both at 80, when c1 arrives) is 60 + 60 late, above the bound."""
    data = tiny({"type": "simultaneous"})
    data["patients"][0]["time_window"] = [0, 20]
    data["caregivers"][1]["working_shift"] = [50, 600]
    inst = instance_from_dict(data)
    assert tardiness_lower_bound(inst) == 30
    score = score_plan(inst, solve_instance(inst, 0.5, solution_limit=5))
    assert score.total_tardiness == 120 >= tardiness_lower_bound(inst)


@needs_bench
def test_solved_instance_is_valid_and_complete():
    inst = read_instance(BENCH / f"{CESENA}.json")
    plan = solve_instance(inst, 10, solution_limit=30, metaheuristic="ruin_and_recreate")
    assert plan.unassigned == []
    assert validate_plan(plan) == []
    assert check_plan(inst, plan) == []
    starts = _starts(plan)
    for sync in inst.syncs:
        (a, ca), (b, cb) = starts[sync.first], starts[sync.second]
        assert ca != cb and sync.min_delay <= b - a <= sync.max_delay
    score = score_plan(inst, plan)
    assert score.served == len(inst.visits) and score.travel > 0


@needs_bench
def test_bench_command_writes_results(tmp_path: Path):
    ref = tmp_path / "ref.csv"
    ref.write_text(f"instance,objective\n{CESENA},1000\n", encoding="utf-8")
    out = tmp_path / "out"
    code = main(
        ["bench", "hhcrsp", str(BENCH / f"{CESENA}.json"), "--time-limit", "10",
         "--solution-limit", "20", "--reference", str(ref), "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader((out / "results.csv").open(encoding="utf-8")))
    assert len(rows) == 1 and rows[0]["valid"] == "True" and rows[0]["unassigned"] == "0"
    objective = float(rows[0]["objective"])
    assert float(rows[0]["gap_pct"]) == pytest.approx(100 * (objective - 1000) / 1000, abs=0.01)
    doc = json.loads((out / "solutions" / f"{CESENA}.json").read_text(encoding="utf-8"))
    served = sum(len(r["locations"]) for r in doc["routes"])
    assert served == int(rows[0]["services"]) and doc["violations"] == []
    assert CESENA in (out / "results.md").read_text(encoding="utf-8")


def test_bench_command_reports_bad_input(tmp_path: Path, capsys):
    bad = tiny({"type": "simultaneous"})
    bad["patients"][0]["required_caregivers"][0]["service"] = "s9"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    code = main(["bench", "hhcrsp", str(path), "--time-limit", "1", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "required_caregivers[0].service" in capsys.readouterr().err
