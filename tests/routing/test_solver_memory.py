"""The routing model of a solve is freed when the solve returns.

A solution callback that closed over the model made a reference cycle through C++ that
Python's collector cannot see: every solve's model stayed in memory (about 840 MB a 21-day
simulated season, and an OOM kill at 11.8 GB in a lever search)."""

from __future__ import annotations

import gc

from ortools.constraint_solver import pywrapcp

from dispatch.planning.planner import PlanOptions, make_plan
from tests.factories import crew, job, problem


def _alive() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, pywrapcp.RoutingModel))


def test_no_routing_model_outlives_its_solve() -> None:
    before = _alive()
    day = problem([job("A", 2), job("B", 5)], [crew("C1")])
    for _ in range(3):
        plan = make_plan(day, PlanOptions(time_limit_s=1, solution_limit=10, workers=1))
        assert len(plan.stop_of()) == 2
    assert _alive() == before
