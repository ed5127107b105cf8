"""VRPLIB VRPTW reader, the DIMACS distance convention, and `dispatch bench vrptw` end to end.

The shared benchmark folder (../shared/benchmarks/vrptw) sits outside the repository; the
tests that need it are skipped when it is absent.
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from routing.validate import validate_solution
from routing.vrplib import (
    SCALE,
    VrplibError,
    dimacs_distances,
    format_distance,
    gap_pct,
    read_instance,
    read_solution,
    routes_to_solution,
    to_problem,
    total_distance,
)
from tests.shared_data import SHARED, needs_shared

REPO = Path(__file__).resolve().parents[2]
BENCH = SHARED / "benchmarks" / "vrptw"
needs_bench = needs_shared(BENCH, "the shared VRPTW benchmarks")

TINY = """NAME : TINY
TYPE : CVRPTW
DIMENSION : 4
VEHICLES : 2
CAPACITY : 10
SERVICE_TIME : 5
EDGE_WEIGHT_TYPE : EUC_2D
NODE_COORD_SECTION
1 0 0
2 3 4
3 1 1
4 0 7
DEMAND_SECTION
1 0
2 4
3 5
4 6
TIME_WINDOW_SECTION
1 0 100
2 0 50
3 10 20
4 0 60
DEPOT_SECTION
1
-1
EOF
"""


def test_dimacs_distances_are_exact_floor_of_ten_times_euclid():
    """floor(10 x euclid) in integers, also on perfect squares where floats can slip."""
    coords = np.array([[0, 0], [3, 4], [1, 1], [0, 7], [6, 8]])
    d = dimacs_distances(coords)
    assert d[0, 1] == 50 and d[0, 4] == 100  # 5.0 and 10.0 exactly
    assert d[0, 2] == 14  # sqrt(2) = 1.414...
    for i in range(len(coords)):
        for j in range(len(coords)):
            exact = math.isqrt(100 * int(((coords[i] - coords[j]) ** 2).sum()))
            assert d[i, j] == exact


def test_reader_scales_times_and_builds_problem(tmp_path):
    path = tmp_path / "tiny.vrp"
    path.write_text(TINY)
    inst = read_instance(path)
    assert inst.customers == 3 and inst.vehicles == 2 and inst.capacity == 10
    assert list(inst.service) == [0, 5, 5, 5]  # the depot has no service time
    problem = to_problem(inst)
    assert len(problem.visits) == 3 and len(problem.vehicles) == 2
    v = problem.visits[1]
    assert v.id == "2" and v.location == 2 and v.service_s == 5 * SCALE
    assert v.windows == ((10 * SCALE, 20 * SCALE),) and v.demand == (5,)
    assert problem.vehicles[0].shift_end == 100 * SCALE
    # travel time equals distance, both x10
    assert problem.travel.durations["euclid"][0, 1] == problem.travel.distances[0, 1] == 50


def test_reader_rejects_broken_files(tmp_path):
    bad = tmp_path / "bad.vrp"
    bad.write_text(TINY.replace("3 1 1\n", ""))
    with pytest.raises(VrplibError, match="NODE_COORD"):
        read_instance(bad)


def test_format_and_gap():
    assert format_distance(8273) == "827.3" and format_distance(50) == "5.0"
    assert gap_pct(8273, 827.3) == pytest.approx(0.0)
    assert gap_pct(8356, 827.3) == pytest.approx(1.0, abs=0.01)


@needs_bench
def test_every_bks_solution_validates_and_reproduces_its_cost():
    """The reader, timing and validator agree with the published BKS under DIMACS rules."""
    files = sorted(BENCH.glob("*/*.vrp"))
    assert files
    for f in files:
        inst = read_instance(f)
        problem = to_problem(inst)
        routes, cost = read_solution(f.with_suffix(".sol"), customers=inst.customers)
        sol = routes_to_solution(problem, routes)
        assert validate_solution(problem, sol) == [], inst.name
        assert not sol.unassigned
        assert format_distance(total_distance(problem, sol)) == f"{cost:.1f}", inst.name


@needs_bench
def test_bench_command_on_c101(tmp_path):
    """`dispatch bench vrptw` end to end: a valid C101 solution and the promised columns."""
    out = tmp_path / "bench"
    run = subprocess.run(
        [
            sys.executable, "-m", "scripts.cli", "bench", "vrptw",
            str(BENCH / "solomon" / "C101.vrp"), "--time-limit", "2",
            "--bks", str(BENCH / "bks.csv"), "--out", str(out),
        ],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    with (out / "results.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {"instance", "valid", "vehicles", "distance", "gap_pct", "seconds"} <= set(rows[0])
    row = rows[0]
    assert row["instance"] == "C101" and row["valid"] == "True"
    assert int(row["vehicles"]) <= 25 and float(row["gap_pct"]) >= -1e-9
    assert float(row["seconds"]) < 2.5
    assert "| C101 |" in (out / "results.md").read_text()
    # the written solution re-validates independently
    problem = to_problem(read_instance(BENCH / "solomon" / "C101.vrp"))
    routes, _ = read_solution(next((out / "solutions").glob("C101.*.sol")))
    sol = routes_to_solution(problem, routes)
    assert validate_solution(problem, sol) == [] and not sol.unassigned
