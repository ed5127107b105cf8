"""How the planner spends its time on large days, and what stops a reproducible search.

A 4,000-job season day spent 21 of its 44 s in one-second neighbour-pass solves that each
placed a job or two, and half of its insertion repair rebuilding a link index; OR-Tools'
solution finalizer stalled on overdue jobs' lateness costs until a 0.1 s clock cut it,
which made solution-limited plans depend on the machine's load. These tests pin the fixes
(dispatch/planning/planner.py, routing/ortools_model.py, routing/schedule.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import dispatch.planning.planner as planner
import routing.ortools_model as ortools_model
from dispatch.plan_validator import validate_plan
from dispatch.planning.planner import MIN_PASS_S, PlanOptions, make_plan
from fixtures.shanghai import demo_problem
from routing.ortools_model import (
    MIN_CONSTRUCTION_S,
    SolveParams,
    search_parameters,
    solve_best_of,
)
from routing.problem import Precedence, RoutingProblem, RoutingSolution, Vehicle, Visit
from routing.schedule import build_schedules
from routing.travel import TravelModel

PAIR = ("parallel_cheapest_insertion", "local_cheapest_insertion")


def _recording(monkeypatch) -> list[SolveParams]:
    calls: list[SolveParams] = []

    def fake_solve(problem, params):
        calls.append(params)
        return RoutingSolution([], [], objective=1, stats={"solutions": 1})

    monkeypatch.setattr(ortools_model, "solve", fake_solve)
    return calls


def test_a_short_clock_tries_only_the_constructions_it_has_time_for(monkeypatch):
    calls = _recording(monkeypatch)
    solve_best_of(None, SolveParams(time_limit_s=1.5 * MIN_CONSTRUCTION_S), PAIR)
    assert [c.first_solution for c in calls] == [PAIR[0]]
    assert calls[0].time_limit_s == 1.5 * MIN_CONSTRUCTION_S  # the whole time, not half
    calls.clear()
    solve_best_of(None, SolveParams(time_limit_s=2 * MIN_CONSTRUCTION_S), PAIR)
    assert [c.first_solution for c in calls] == list(PAIR)


def test_a_solution_limited_search_always_tries_every_construction(monkeypatch):
    """Serial and cluster runs share the clock differently; with a solution limit the
    strategies tried must not depend on it, or the two would plan differently."""
    calls = _recording(monkeypatch)
    solve_best_of(None, SolveParams(time_limit_s=0.5, solution_limit=3), PAIR)
    assert [c.first_solution for c in calls] == list(PAIR)


def _linked(gap_s: int) -> RoutingProblem:
    """Visit 1 (vehicle 1) must start `gap_s` after visit 0 (vehicle 0) ends."""
    d = np.array([[0, 1000], [1000, 0]], dtype=np.int64)
    travel = TravelModel(distances=d, durations={"van": d // 10})
    visits = [Visit(f"v{i}", 1, 600, ((0, 86_400),)) for i in range(2)]
    vehicles = [Vehicle(f"k{k}", 0, 0, 8 * 3600, 18 * 3600, "van") for k in range(2)]
    return RoutingProblem(visits, vehicles, travel, [Precedence(0, 1, gap_s)])


def _start_of_second(problem: RoutingProblem) -> int:
    routes = build_schedules(problem, [(0, [0]), (1, [1])])
    return routes[1].stops[0].start


def test_route_timing_reads_each_problems_own_links():
    """The link index is kept between calls; it must never be another problem's."""
    short, long = _linked(600), _linked(3600)
    first_end = build_schedules(short, [(0, [0])])[0].stops[0].end
    assert _start_of_second(short) == first_end + 600
    assert _start_of_second(long) == first_end + 3600
    assert _start_of_second(short) == first_end + 600  # back to the first: not stale
    short.precedences.clear()  # the cached list changed in place: the index follows
    assert _start_of_second(short) < first_end


@pytest.mark.slow  # a 10 s clock-limited solve
def test_the_neighbour_pass_keeps_to_its_share_of_the_clock(monkeypatch):
    """A clock-limited day cut into many groups: the neighbour-pass solves share the pass's
    budget (each at least MIN_PASS_S), not one second each, and the plan stays valid."""
    limits: list[float] = []
    real = planner.solve

    def recording(problem, params):
        limits.append(params.time_limit_s)
        return real(problem, params)

    monkeypatch.setattr(planner, "solve", recording)
    day = demo_problem(jobs=300, seed=11)
    options = PlanOptions(time_limit_s=2.0, decompose_above=100, group_size=40, workers=1)
    plan = make_plan(day, options)
    assert validate_plan(plan) == []
    budget = planner.neighbour_pass_budget(options.time_limit_s)
    assert len(limits) >= 2, "several neighbour passes"
    assert all(limit <= max(MIN_PASS_S, budget) for limit in limits)
    assert sum(limits) <= budget + MIN_PASS_S * len(limits)


def test_a_reproducible_search_has_no_clock_inside_it():
    """OR-Tools cuts each move's solution finalizer at `lns_time_limit` (0.1 s by default):
    with a solution limit that clock is lifted to the search's own ceiling, so a loaded
    machine cannot turn a kept move into a lost one."""
    reproducible = search_parameters(SolveParams(time_limit_s=60, solution_limit=20), 100)
    assert reproducible.lns_time_limit.ToMilliseconds() == 60_000
    assert reproducible.solution_limit == 20
    clocked = search_parameters(SolveParams(time_limit_s=60), 100)
    assert clocked.lns_time_limit.ToMilliseconds() == 100  # OR-Tools' default, kept


class _Dimension:
    def __init__(self) -> None:
        self.bounds: dict[int, tuple[int, int]] = {}

    def SetCumulVarSoftUpperBound(self, index: int, bound: int, cost: int) -> None:
        self.bounds[index] = (bound, cost)


def test_only_deadlines_a_plan_can_meet_or_miss_become_lateness_costs():
    """A deadline past the visit's last window never binds; one before its first window is
    missed whatever the plan (an overdue job): neither goes into the model, where the
    second made OR-Tools' finalizer stall (see `_add_deadlines`)."""
    window = ((8 * 3600, 12 * 3600),)
    visits = [
        Visit("binds", 0, 600, window, deadline_s=10 * 3600, lateness_cost_per_s=3),
        Visit("never late", 0, 600, window, deadline_s=13 * 3600, lateness_cost_per_s=3),
        Visit("overdue", 0, 600, window, deadline_s=7 * 3600, lateness_cost_per_s=9),
        Visit("no cost", 0, 600, window, deadline_s=10 * 3600),
        Visit("no deadline", 0, 600, window, lateness_cost_per_s=3),
    ]
    still = np.zeros((1, 1), np.int64)
    problem = RoutingProblem(visits, [], TravelModel(still, {"van": still}))
    dim = _Dimension()
    ortools_model._add_deadlines(problem, dim, list(range(len(visits))))
    assert dim.bounds == {0: (10 * 3600 - 600, 3)}
