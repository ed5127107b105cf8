"""Soft vehicle preferences (`routing.preferences`): a visit that prefers a vehicle goes to it
when the wish costs more than the detour, and to the cheaper one when it does not.

By hand: a depot at location 0 and one visit at location 1, 10 km away. Vehicle A costs
100 cents/km, B 200: the round trip costs A 2,000 and B 4,000 cents. The visit prefers B.
With a preference cost of 3,000, A would cost 2,000 + 3,000 > 4,000: B serves it. With 1,000,
A costs 3,000 < 4,000: A serves it, and the objective holds the 1,000.
"""

from __future__ import annotations

import numpy as np

from routing.ortools_model import SolveParams, solve
from routing.problem import RoutingProblem, Vehicle, Visit
from routing.travel import TravelModel


def day(cost: int) -> RoutingProblem:
    metres = np.array([[0, 10_000], [10_000, 0]], dtype=np.int32)
    seconds = np.array([[0, 600], [600, 0]], dtype=np.int32)
    travel = TravelModel(metres, {"van": seconds})
    visit = Visit(
        "V1", 1, 600, ((0, 36_000),), drop_penalty=10**7, preferred_vehicle=1, preference_cost=cost
    )
    vehicles = [
        Vehicle("A", 0, 0, 0, 36_000, "van", cost_per_km=100),
        Vehicle("B", 0, 0, 0, 36_000, "van", cost_per_km=200),
    ]
    return RoutingProblem([visit], vehicles, travel)


def served_by(cost: int) -> tuple[str, int]:
    solution = solve(day(cost), SolveParams(time_limit_s=2, solution_limit=20))
    (route,) = [r for r in solution.routes if r.stops]
    return day(cost).vehicles[route.vehicle].id, solution.objective


def test_a_costly_wish_is_kept_and_a_cheap_one_gives_way():
    assert served_by(3_000) == ("B", 4_000)
    assert served_by(1_000) == ("A", 3_000)
    assert served_by(0)[0] == "A"  # no cost, no wish
