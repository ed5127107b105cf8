"""Soft vehicle preferences: a visit that should go to one vehicle costs `preference_cost`
(cents, like the arc costs) on any other.

OR-Tools has no per-(visit, vehicle) cost, so the wish is a dimension: each vehicle has its own
unary transit, the preference cost at every preferring visit except those that prefer this
very vehicle, and the dimension's value at the vehicle's end has a soft upper bound of 0 at
1 cent per unit, so the objective pays exactly the preference costs of the visits served by a
vehicle they did not prefer. The transits are vectors (`RegisterUnaryTransitVector`), read in
C++; vehicles that no visit prefers share one of them, so a day with a few callbacks adds a few
vectors, not one per vehicle. No dimension at all when no visit has a preference.

This module takes the routing model OR-Tools built and imports nothing of OR-Tools itself
(only `routing.ortools_model` may).
"""

from __future__ import annotations

from typing import Any

from routing.problem import RoutingProblem

DIMENSION = "preference"


def add_preferences(problem: RoutingProblem, n_nodes: int, routing: Any) -> bool:
    """Add the preference dimension to `routing` (visits are nodes 0..len(visits)-1, depots
    after them, up to `n_nodes`); whether there was anything to add."""
    wishes = [
        (i, v.preferred_vehicle, v.preference_cost)
        for i, v in enumerate(problem.visits)
        if v.preferred_vehicle is not None and v.preference_cost > 0
    ]
    if not wishes:
        return False
    elsewhere = [0] * n_nodes
    for i, _, cost in wishes:
        elsewhere[i] = cost
    shared = routing.RegisterUnaryTransitVector(elsewhere)
    evaluators = [shared] * len(problem.vehicles)
    for k in sorted({vehicle for _, vehicle, _ in wishes}):
        own = list(elsewhere)
        for i, vehicle, _ in wishes:
            if vehicle == k:
                own[i] = 0
        evaluators[k] = routing.RegisterUnaryTransitVector(own)
    total = sum(cost for *_, cost in wishes)
    routing.AddDimensionWithVehicleTransits(evaluators, 0, total, True, DIMENSION)
    dim = routing.GetDimensionOrDie(DIMENSION)
    for k in range(len(problem.vehicles)):
        dim.SetCumulVarSoftUpperBound(routing.End(k), 0, 1)
    return True
