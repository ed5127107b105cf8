"""Issue 22 part 3: one combined crew for both visits, or a truck then installers, as an
explicit, priced choice (`DispatchProblem.crew_mode`, `second_visit_cny`), reported per
linked order (`dispatch.planning.linked_modes`) and in the KPIs. Worked by hand on the test
street (tests/factories.py: 1 km = 100 s; every crew 2 CNY/km and 60 CNY/h of driving, so a
10 km leg costs 2,000 + 1,666 = 3,666 cents in the objective, a 30 km leg 6,000 + 5,000).

The order: delivery D (15 min) and installation I (60 min) at the same door, 10 km east of
depot "D"; truck T and installer N start there.
"""

from __future__ import annotations

import dataclasses
from datetime import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.link_rules import CrewMode, VisitMode
from dispatch.metrics.kpis import format_kpis, plan_kpis
from dispatch.models import CrewKind, JobKind
from dispatch.plan import Plan, UnassignedReason
from dispatch.plan_validator import validate_plan
from dispatch.planning.linked_modes import linked_orders
from dispatch.planning.planner import PlanOptions, make_plan
from dispatch.running.overrides import Move, OverrideRefused, apply_move
from tests.factories import crew, depot, job, planned, problem

FAST = PlanOptions(time_limit_s=2, solution_limit=100, workers=1)


def _order(k: int = 1, km: float = 10):
    return [
        job(f"D{k}", km, kind=JobKind.DELIVERY, minutes=15, order_id=f"O{k}"),
        job(f"I{k}", km, kind=JobKind.INSTALLATION, minutes=60, order_id=f"O{k}"),
    ]


def _crews(combined_depot: str = "D"):
    return [
        crew("T", CrewKind.DELIVERY_TRUCK),
        crew("N", CrewKind.INSTALLATION_CREW),
        crew("CB", CrewKind.COMBINED, start_depot=combined_depot, end_depot=combined_depot),
    ]


DEPOTS = [depot("D", 0), depot("E", 40)]


def _crews_of(plan: Plan) -> dict[str, str]:
    return {s.job_id: r.crew_id for r in plan.routes for s in r.stops}


def test_each_linked_order_is_reported_with_how_it_was_served():
    """Three orders: O1 by CB, I1 right after D1 at the same door (combined); O2 by T and N
    (two visits); O3 by CB, which delivers D3, goes to do D1/I1, and comes back for I3 (two
    visits: the crew left the door). The second trips: N from its depot to O2's door, 12 km;
    CB from O1's door (10 km) back to O3's (14 km), 4 km."""
    jobs = [*_order(1, 10), *_order(2, 12), *_order(3, 14)]
    p = problem(jobs, _crews(), DEPOTS)
    plan = planned(p, {"CB": ["D3", "D1", "I1", "I3"], "T": ["D2"], "N": ["I2"]})
    orders = {o.order_id: o for o in linked_orders(plan)}
    assert {k: o.mode for k, o in orders.items()} == {
        "O1": VisitMode.COMBINED,
        "O2": VisitMode.TRUCK_THEN_INSTALLERS,
        "O3": VisitMode.TRUCK_THEN_INSTALLERS,
    }
    assert (orders["O2"].delivery_crew, orders["O2"].installation_crew) == ("T", "N")
    linked = plan_kpis(plan).linked_orders
    assert linked == {
        "orders": 3,
        "combined": 1,
        "truck_then_installers": 2,
        "combined_share": pytest.approx(1 / 3),
        "truck_then_installers_share": pytest.approx(2 / 3),
        "second_trip_km": 16.0,
    }
    summary = format_kpis(plan_kpis(plan))
    assert "linked orders (delivery + installation)  3" in summary.replace("   ", "  ")
    assert "combined (one visit, one crew)" in summary and "33.3%" in summary


def test_the_planner_writes_the_counts_into_the_stats():
    p = problem(_order(), _crews(), DEPOTS)
    plan = make_plan(p, FAST)
    assert plan.stats["linked_orders"] == 1
    assert plan.stats["linked_combined"] + plan.stats["linked_truck_then_installers"] == 1


@pytest.mark.parametrize(("cny", "served_by"), [(0, {"T", "N"}), (80, {"CB"})])
def test_a_priced_second_visit_chooses_one_crew_over_two(cny, served_by):
    """CB starts at depot E, 30 km from the door. Two visits: T and N each drive 10 km out
    and back: 4 x 3,666 = 14,664 cents. One visit: CB drives 30 km out and back: 2 x 11,000
    = 22,000. At 0 CNY the truck and the installer are cheaper; at 80 CNY a second visit
    costs 14,664 + 8,000 = 22,664 > 22,000, and CB does both in one visit."""
    p = problem(_order(), _crews(combined_depot="E"), DEPOTS, second_visit_cny=cny)
    plan = make_plan(p, FAST)
    assert set(_crews_of(plan).values()) == served_by
    (order,) = linked_orders(plan)
    assert order.mode is (VisitMode.COMBINED if cny else VisitMode.TRUCK_THEN_INSTALLERS)


def test_combined_mode_keeps_both_visits_on_one_combined_crew_back_to_back():
    """Crew mode combined: CB (from depot D) delivers 08:16:40-08:31:40 and installs at
    once, 08:31:40-09:31:40, although T and N are idle."""
    p = problem(_order(), _crews(), DEPOTS, crew_mode={"*": CrewMode.COMBINED})
    plan = make_plan(p, FAST)
    route = next(r for r in plan.routes if r.crew_id == "CB")
    assert [(s.job_id, s.start.time(), s.end.time()) for s in route.stops] == [
        ("D1", time(8, 16, 40), time(8, 31, 40)),
        ("I1", time(8, 31, 40), time(9, 31, 40)),
    ]


@pytest.mark.parametrize(
    ("mode", "crews"), [(CrewMode.COMBINED, ["T", "N"]), (CrewMode.SPLIT, ["CB"])]
)
def test_a_crew_mode_no_crew_can_keep_leaves_the_order_out_with_the_reason(mode, crews):
    fleet = [c for c in _crews() if c.id in crews]
    plan = make_plan(problem(_order(), fleet, DEPOTS, crew_mode={"*": mode}), FAST)
    assert {u.job_id: u.reason for u in plan.unassigned} == {
        "D1": UnassignedReason.CREW_MODE,
        "I1": UnassignedReason.CREW_MODE,
    }
    assert f"crew mode {mode.value}" in plan.unassigned[0].detail


def test_the_validator_refuses_a_plan_against_its_crew_mode():
    """Planned by T and N, read under `combined`: the installation is not in the same visit
    (and neither crew is a combined one); planned by CB, read under `split`: CB, a combined
    crew, delivers (it may install in that mode, after a truck delivered)."""
    p = problem(_order(), _crews(), DEPOTS)
    two = planned(p, {"T": ["D1"], "N": ["I1"]})
    one = planned(p, {"CB": ["D1", "I1"]})
    as_combined = dataclasses.replace(p, crew_mode={"*": CrewMode.COMBINED})
    as_split = dataclasses.replace(p, crew_mode={"*": CrewMode.SPLIT})
    rules = {v.rule for v in validate_plan(Plan(as_combined, two.routes, []))}
    assert {"same_vehicle", "crew_mode"} <= rules
    found = validate_plan(Plan(as_split, one.routes, []))
    assert {(v.rule, v.job_id, v.crew_id) for v in found if v.rule == "crew_mode"} == {
        ("crew_mode", "D1", "CB")
    }


def test_an_override_splitting_a_one_visit_order_is_refused():
    p = problem(_order(), _crews(), DEPOTS, crew_mode={"*": CrewMode.COMBINED})
    plan = planned(p, {"CB": ["D1", "I1"]})
    with pytest.raises(OverrideRefused) as refused:
        apply_move(plan, Move("I1", "N"))
    text = " ".join(refused.value.reasons)
    assert "order O1 is to be served in one visit" in text


@st.composite
def moded_day(draw):
    """A few linked orders and repairs, 1-4 crews, a crew mode and a second-visit price."""
    jobs = []
    for k in range(draw(st.integers(1, 4))):
        km = draw(st.floats(0.5, 20))
        start = draw(st.integers(8, 15))
        d, i = _order(k, km)
        d = dataclasses.replace(d, windows=job("x", km, window=(start, start + 2)).windows)
        i = dataclasses.replace(i, windows=job("x", km, window=(start, min(20, start + 5))).windows)
        jobs += [d, i]
    jobs += [job(f"R{k}", draw(st.floats(0.5, 20))) for k in range(draw(st.integers(0, 2)))]
    kinds = [draw(st.sampled_from(list(CrewKind))) for _ in range(draw(st.integers(1, 4)))]
    crews = [crew(f"C{k}", kind) for k, kind in enumerate(kinds)]
    mode = draw(st.sampled_from(list(CrewMode)))
    gap = draw(st.sampled_from([None, 60, 240]))
    return problem(
        jobs,
        crews,
        DEPOTS,
        crew_mode={"*": mode},
        max_link_gap_minutes={} if gap is None else {"*": gap},
        second_visit_cny=draw(st.sampled_from([0, 30, 200])),
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(moded_day())
def test_random_days_with_crew_modes_give_valid_plans_or_reasons(p):
    """Valid plan, every job once or unassigned with a reason, and every linked order with
    both visits planned served as its crew mode says."""
    plan = make_plan(p, PlanOptions(time_limit_s=2, solution_limit=30, workers=1))
    assert validate_plan(plan) == []
    placed = [s.job_id for r in plan.routes for s in r.stops]
    assert sorted(placed + [u.job_id for u in plan.unassigned]) == sorted(j.id for j in p.jobs)
    assert all(u.reason and u.detail for u in plan.unassigned)
    kinds = {c.id: c.kind for c in p.crews}
    for order in linked_orders(plan):
        mode = p.crew_mode[EVERY_KEY]
        if mode is CrewMode.COMBINED:
            assert order.mode is VisitMode.COMBINED
            assert kinds[order.delivery_crew] is CrewKind.COMBINED
        elif mode is CrewMode.SPLIT:
            assert order.mode is VisitMode.TRUCK_THEN_INSTALLERS
            assert kinds[order.delivery_crew] is not CrewKind.COMBINED


EVERY_KEY = "*"
