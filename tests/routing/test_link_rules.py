"""The other side of a delivery-installation link, worked by hand: a maximum gap
(`Precedence.max_gap_s`), one visit by one vehicle (`same_vehicle`), and the priced second
trip (`split_cost`).

Locations: 0 is the depot of the truck T and the installer N, 1 is the customer's door (the
delivery), 2 the same door (the installation: 0 m and 0 s from 1), 3 the depot of the
combined crew C, 30 km from the door. Depot 0 is 10 km (600 s) from the door, 40 km from 3.
Every vehicle costs 100 cents a km, so a 10 km leg costs 1,000 cents. Times in seconds from
the day's start.
"""

from __future__ import annotations

import numpy as np
import pytest

from routing.ortools_model import SolveParams, solve
from routing.problem import (
    Precedence,
    ProblemError,
    RouteSchedule,
    RoutingProblem,
    RoutingSolution,
    StopTime,
    Vehicle,
    Visit,
)
from routing.schedule import build_schedules
from routing.travel import TravelModel
from routing.validate import validate_solution

KM = np.array([[0, 10, 10, 40], [10, 0, 0, 30], [10, 0, 0, 30], [40, 30, 30, 0]], dtype=np.int32)
TRAVEL = TravelModel(KM * 1000, {"van": KM * 60})
FAST = SolveParams(time_limit_s=5, solution_limit=50)
T, N, C = 0, 1, 2  # vehicle indices


def _problem(
    link: Precedence,
    delivery_window: tuple[int, int] = (0, 36_000),
    install_window: tuple[int, int] = (14_400, 36_000),
    vehicles: tuple[int, ...] = (T, N),
) -> RoutingProblem:
    fleet = [
        Vehicle("T", 0, 0, 0, 36_000, "van"),
        Vehicle("N", 0, 0, 0, 36_000, "van"),
        Vehicle("C", 3, 3, 0, 36_000, "van"),
    ]
    d_allowed = tuple(k for k in vehicles if k in (T, C))
    i_allowed = tuple(k for k in vehicles if k in (N, C))
    visits = [
        Visit("D", 1, 1800, (delivery_window,), allowed_vehicles=d_allowed, drop_penalty=10**7),
        Visit("I", 2, 3600, (install_window,), allowed_vehicles=i_allowed, drop_penalty=10**7),
    ]
    return RoutingProblem(visits, fleet, TRAVEL, [link])


def _stops(solution: RoutingSolution) -> dict[str, tuple[int, int, int]]:
    """Visit id -> (vehicle, start, end)."""
    names = ["D", "I"]
    return {names[s.visit]: (r.vehicle, s.start, s.end) for r in solution.routes for s in r.stops}


def test_a_maximum_gap_times_the_delivery_late_enough():
    """The installation's window opens at 14,400 (04:00). Without a maximum gap the truck
    delivers at 600-2,400 (10 km out from 0) and the installer starts at 14,400: 12,000 s
    after the delivery ends. With a maximum gap of 3,600 the delivery must end by
    14,400 - 3,600 = 10,800 at the earliest, so it starts at 10,800 - 1,800 = 9,000; the
    installer still starts at 14,400, exactly 3,600 s after."""
    loose = solve(_problem(Precedence(0, 1, gap_s=1800)), FAST)
    assert _stops(loose) == {"D": (T, 600, 2400), "I": (N, 14_400, 18_000)}
    problem = _problem(Precedence(0, 1, gap_s=1800, max_gap_s=3600))
    tight = solve(problem, FAST)
    assert _stops(tight) == {"D": (T, 9000, 10_800), "I": (N, 14_400, 18_000)}
    assert validate_solution(problem, tight) == []


def test_a_maximum_gap_no_window_can_keep_leaves_the_installation_out():
    """The delivery must start by 3,600 (ends by 5,400); with a maximum gap of 3,600 the
    installation would have to start by 9,000, but its window opens at 14,400: both cannot
    be served, and the solver serves the delivery alone (an installation needs its
    delivery; a delivery may go out alone)."""
    problem = _problem(Precedence(0, 1, gap_s=1800, max_gap_s=3600), delivery_window=(0, 3600))
    solution = solve(problem, FAST)
    assert set(_stops(solution)) == {"D"}
    assert solution.unassigned == [1]
    assert validate_solution(problem, solution) == []


def test_the_validator_names_both_visits_and_the_gap():
    """A plan with the delivery at 600-2,400 and the installation at 14,400 breaks a
    3,600 s maximum gap by 12,000 - 3,600 = 8,400 s: refused, naming both and the gap."""
    problem = _problem(Precedence(0, 1, gap_s=1800, max_gap_s=3600))
    installer = RouteSchedule(N, 13_800, [StopTime(1, 14_400, 14_400, 18_000)], 18_600)
    routes = [*build_schedules(problem, [(T, [0])]), installer]
    (violation,) = validate_solution(problem, RoutingSolution(routes, []))
    assert violation.rule == "max_gap" and violation.visit == "I"
    assert "12000 s after D ends at 2400" in violation.message
    assert "maximum gap of 3600 s" in violation.message


def test_the_schedule_pulls_a_delivery_on_the_same_route():
    """One combined crew C does both, D then I (30 km from its depot: 1,800 s). Alone D
    would start at 1,800; the installation's window opens at 14,400 and the maximum gap is
    0, so D is pulled to 14,400 - 1,800 = 12,600 and I follows it at once."""
    problem = _problem(Precedence(0, 1, gap_s=0, max_gap_s=0, same_vehicle=True), vehicles=(C,))
    (route,) = build_schedules(problem, [(C, [0, 1])])
    assert [(s.start, s.end) for s in route.stops] == [(12_600, 14_400), (14_400, 18_000)]
    assert validate_solution(problem, RoutingSolution([route], [])) == []


def test_one_visit_keeps_both_on_one_vehicle_back_to_back():
    """`same_vehicle` with a maximum gap of 0: the truck and the installer could each do
    one half, but the link wants one visit, so the combined crew does both, I right after D
    (the installation's window opens at 14,400, so D runs 12,600-14,400)."""
    problem = _problem(
        Precedence(0, 1, gap_s=0, max_gap_s=0, same_vehicle=True), vehicles=(T, N, C)
    )
    solution = solve(problem, FAST)
    assert _stops(solution) == {"D": (C, 12_600, 14_400), "I": (C, 14_400, 18_000)}
    assert validate_solution(problem, solution) == []


def test_the_validator_refuses_one_visit_split_over_two_vehicles():
    problem = _problem(Precedence(0, 1, gap_s=0, same_vehicle=True), vehicles=(T, N, C))
    routes = build_schedules(problem, [(T, [0]), (N, [1])])
    rules = {v.rule for v in validate_solution(problem, RoutingSolution(routes, []))}
    assert rules == {"same_vehicle"}


@pytest.mark.parametrize(("split_cost", "mode"), [(0, "split"), (3000, "combined")])
def test_a_priced_second_trip_decides_the_crew_mode(split_cost, mode):
    """Both windows open all day. Two crews: T 0->door->0 (20 km) and N the same: 4,000
    cents. One visit by C from its depot 30 km away: 3->door->door->3, 60 km: 6,000 cents.
    Without a price on the second trip the truck and the installer are cheaper (4,000 <
    6,000); at 3,000 cents the split costs 7,000 > 6,000, and C does both in one visit."""
    link = Precedence(0, 1, gap_s=0, split_cost=split_cost)
    problem = _problem(link, install_window=(0, 36_000), vehicles=(T, N, C))
    solution = solve(problem, FAST)
    vehicles = {v for v, _, _ in _stops(solution).values()}
    assert vehicles == ({T, N} if mode == "split" else {C})
    assert solution.objective == (4000 if mode == "split" else 6000)
    assert validate_solution(problem, solution) == []


def test_a_negative_maximum_gap_is_malformed():
    with pytest.raises(ProblemError, match="max_gap_s"):
        _problem(Precedence(0, 1, max_gap_s=-1))
