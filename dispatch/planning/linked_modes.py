"""How a plan served each linked order (a delivery and its installation in the day's
problem): in one visit by one crew, or in two (`dispatch.link_rules.VisitMode`).

An order is `combined` when one crew did both back to back: the installation is the very
next stop after its delivery on the same route, at the same place (the same coordinates),
so the crew never left the door. Every other way of serving both is
`truck_then_installers`: two crews, or one crew that left and came back. An order with
only one of its visits planned is in neither count.

The mode is read from the routes alone (the plan file needs no field of its own, so older
readers read it unchanged); the planner writes the counts into `Plan.stats`
(`linked_orders`, `linked_combined`, `linked_truck_then_installers`,
`linked_second_trip_km`), the KPIs (`dispatch.metrics.kpis`) report them with their shares.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.link_rules import VisitMode, linked_pairs
from dispatch.plan import Plan
from dispatch.translate import job_location
from routing.travel import TravelModel


@dataclass(frozen=True)
class LinkedOrder:
    """One linked order of the day with both its visits planned."""

    order_id: str
    delivery: str  # job id
    installation: str  # job id
    delivery_crew: str
    installation_crew: str
    mode: VisitMode
    #: for two visits: the metres driven to the installation's door (from the crew's stop
    #: before it, or its depot); 0 for one visit; None without a travel model
    second_trip_m: int | None = None


def linked_orders(plan: Plan, travel: TravelModel | None = None) -> list[LinkedOrder]:
    """Every linked order of `plan`'s problem whose delivery and installation are both
    planned, in the problem's order of installations, with its `VisitMode` (module doc);
    with `travel` (the problem's travel model, `dispatch.translate.build_travel`) each
    two-visit order's second trip in metres."""
    problem = plan.problem
    where = {s.job_id: (r, k) for r in plan.routes for k, s in enumerate(r.stops)}
    depot_index = {d.id: k for k, d in enumerate(problem.depots)}
    job_index = {j.id: k for k, j in enumerate(problem.jobs)}
    crews = {c.id: c for c in problem.crews}
    out = []
    for i, d in linked_pairs(problem.jobs).items():
        inst, delivery = problem.jobs[i], problem.jobs[d]
        if inst.id not in where or delivery.id not in where:
            continue
        (i_route, i_pos), (d_route, d_pos) = where[inst.id], where[delivery.id]
        one_visit = i_route is d_route and i_pos == d_pos + 1 and inst.location == delivery.location
        trip: int | None = 0 if one_visit else None
        if not one_visit and travel is not None:
            if i_pos:
                before = job_location(problem, job_index[i_route.stops[i_pos - 1].job_id])
            else:
                before = depot_index[crews[i_route.crew_id].start_depot]
            trip = int(travel.distances[before, job_location(problem, i)])
        out.append(
            LinkedOrder(
                inst.order_id,
                delivery.id,
                inst.id,
                d_route.crew_id,
                i_route.crew_id,
                VisitMode.COMBINED if one_visit else VisitMode.TRUCK_THEN_INSTALLERS,
                trip,
            )
        )
    return out


def mode_stats(plan: Plan, travel: TravelModel | None = None) -> dict[str, float]:
    """The counts the planner writes into `Plan.stats`: linked orders with both visits
    planned, how many in one visit and in two, and the km of the second trips (NaN
    without a travel model)."""
    orders = linked_orders(plan, travel)
    trips = [o.second_trip_m for o in orders if o.mode is VisitMode.TRUCK_THEN_INSTALLERS]
    km = float("nan") if any(t is None for t in trips) else sum(t or 0 for t in trips) / 1000
    return {
        "linked_orders": len(orders),
        "linked_combined": sum(1 for o in orders if o.mode is VisitMode.COMBINED),
        "linked_truck_then_installers": len(trips),
        "linked_second_trip_km": round(km, 1),
    }
