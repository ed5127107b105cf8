"""The PyVRP start (`routing.pyvrp_start`) and OR-Tools' warm start from it.

The start may come from a relaxed model, so what matters is: it never puts a visit on a
crew the visit does not allow, it takes off a linked visit that starts too early, it is
reproducible with an iteration stop, and whatever it hands over, OR-Tools restores what
fits (`routing.ortools_model._initial_assignment`) and the final plan passes the
independent validator.
"""

from __future__ import annotations

import numpy as np
import pytest

from routing.ortools_model import SolveParams, solve
from routing.problem import Break, Precedence, RoutingProblem, Vehicle, Visit
from routing.pyvrp_start import MAX_PROFILES, _merged_classes, pyvrp_start
from routing.travel import TravelModel
from routing.validate import validate_solution

HOUR = 3600
PENALTY = 10_000_000


def line_problem(
    n: int = 12,
    vehicles: int = 3,
    allowed: dict[int, tuple[int, ...]] | None = None,
    precedences: list[Precedence] | None = None,
    lunch: bool = False,
) -> RoutingProblem:
    """Visits on a line 1 km apart (100 s each way per km), depot at 0, 08:00-18:00."""
    xs = np.arange(n + 1, dtype=np.int64)
    dist = np.abs(xs[:, None] - xs[None, :]) * 1000
    travel = TravelModel(dist, {"car": dist // 10})
    allowed = allowed or {}
    visits = [
        Visit(
            id=f"v{i}",
            location=i,
            service_s=1800,
            windows=((8 * HOUR, 17 * HOUR),),
            demand=(1,),
            allowed_vehicles=allowed.get(i - 1),
            drop_penalty=PENALTY,
        )
        for i in range(1, n + 1)
    ]
    brk = Break(12 * HOUR, 13 * HOUR, HOUR) if lunch else None
    fleet = [
        Vehicle(f"k{k}", 0, 0, 8 * HOUR, 18 * HOUR, "car", capacity=(10,), break_=brk)
        for k in range(vehicles)
    ]
    return RoutingProblem(visits, fleet, travel, precedences=precedences or [])


def test_start_serves_everything_and_ortools_keeps_it_valid():
    problem = line_problem()
    start = pyvrp_start(problem, 5.0, max_iterations=200)
    assert start is not None and start.served == 12
    sol = solve(problem, SolveParams(time_limit_s=1.0, initial_routes=start.routes))
    assert not sol.unassigned
    assert validate_solution(problem, sol) == []


def test_start_never_puts_a_visit_on_a_crew_it_does_not_allow():
    # visits 0-5 only on k2; visits 6-11 on k0 or k1
    allowed = {i: (2,) for i in range(6)} | {i: (0, 1) for i in range(6, 12)}
    problem = line_problem(allowed=allowed)
    start = pyvrp_start(problem, 5.0, max_iterations=300)
    assert start is not None
    for k, route in enumerate(start.routes):
        for i in route:
            assert k in allowed[i], f"visit {i} on vehicle {k}"
    assert start.served == 12  # k2 has room for its six, k0 and k1 for the other six


def test_linked_visit_that_would_start_too_early_is_taken_off():
    # v1 (index 0) must end 5 h before v2 (index 1) starts: v2 can still fit after 13:30
    problem = line_problem(n=4, vehicles=2, precedences=[Precedence(0, 1, gap_s=5 * HOUR)])
    start = pyvrp_start(problem, 5.0, max_iterations=200)
    assert start is not None
    # one crew does all four in line; v2 lands before v1's end + 5 h on PyVRP's schedule
    assert start.taken_off == 1
    assert all(1 not in r for r in start.routes)
    sol = solve(problem, SolveParams(time_limit_s=1.0, initial_routes=start.routes))
    assert validate_solution(problem, sol) == [] and not sol.unassigned


def test_lunch_is_restored_or_trimmed_not_lost():
    """A relaxed start with no lunch placed: OR-Tools restores it (trimming a stop where
    a route cannot hold the hour) and the search ends valid with every visit served."""
    problem = line_problem(n=10, vehicles=3, lunch=True)
    start = pyvrp_start(problem, 5.0, max_iterations=200)
    assert start is not None
    sol = solve(problem, SolveParams(time_limit_s=1.0, initial_routes=start.routes))
    assert validate_solution(problem, sol) == []
    assert not sol.unassigned


def test_iteration_stop_is_reproducible():
    problem = line_problem(n=14, vehicles=4)
    a = pyvrp_start(problem, 5.0, max_iterations=150, seed=3)
    b = pyvrp_start(problem, 5.0, max_iterations=150, seed=3)
    assert a is not None and b is not None and a.routes == b.routes


def test_no_start_without_vehicles_or_visits():
    problem = line_problem()
    assert pyvrp_start(RoutingProblem([], problem.vehicles, problem.travel), 0.1) is None
    assert pyvrp_start(RoutingProblem(problem.visits, [], problem.travel), 0.1) is None


@pytest.mark.parametrize("relax", [True, False])
def test_crew_classes_merge_within_the_profile_limit(relax):
    """Beyond MAX_PROFILES classes, merged crews keep the bars all of them share (relax) or
    take every bar any of them has (restriction), and no crew is lost."""
    keys = [("car", 100, 0)] * (MAX_PROFILES + 5)
    banned = [frozenset({k, 999}) for k in range(MAX_PROFILES + 5)]
    classes = _merged_classes(keys, banned, relax=relax)
    assert len(classes) == MAX_PROFILES
    assert sorted(k for members, _ in classes for k in members) == list(range(MAX_PROFILES + 5))
    for members, bar in classes:
        if relax:
            assert all(bar <= banned[k] for k in members) and 999 in bar
        else:
            assert all(banned[k] <= bar for k in members)


def test_relaxed_start_takes_a_barred_visit_off_a_merged_crew(monkeypatch):
    """With every crew merged into one class (a limit of 1), the relaxation lets PyVRP put
    a visit on a crew it does not allow; the repair takes it off, so no route breaks a bar."""
    import routing.pyvrp_start as mod

    monkeypatch.setattr(mod, "MAX_PROFILES", 1)
    allowed = {i: (i % 3,) for i in range(12)}
    problem = line_problem(allowed=allowed)
    start = pyvrp_start(problem, 5.0, max_iterations=200)
    assert start is not None
    for k, route in enumerate(start.routes):
        assert all(k in allowed[i] for i in route)
    sol = solve(problem, SolveParams(time_limit_s=1.0, initial_routes=start.routes))
    assert validate_solution(problem, sol) == [] and not sol.unassigned


@pytest.mark.parametrize("share", [0.5])
def test_planner_group_solve_from_the_start_is_valid(share):
    """The planner's `start="pyvrp"` option on a small generated day gives a valid plan."""
    from dispatch.plan_validator import validate_plan
    from dispatch.planning.planner import PlanOptions, make_plan
    from dispatch.translate import build_travel
    from fixtures.shanghai import demo_problem

    problem = demo_problem(jobs=60, seed=2)
    plan = make_plan(
        problem, PlanOptions(time_limit_s=3, start="pyvrp", start_share=share, workers=1)
    )
    assert validate_plan(plan, build_travel(problem)) == []
    assert len(plan.routes) > 0
