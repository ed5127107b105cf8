"""Plan KPIs: promise shares on both clocks, each labelled, and utilisation's denominator.

tests/factories.py: crews 08:00-18:00 (10 h, no lunch) from a depot at 0 km, 1 km = 100 s,
30-minute jobs. C1 drives 0 -> 2 -> 4 -> 0 km (800 s) and serves D1 08:03:20-08:33:20 and
D2 08:36:40-09:06:40.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from dispatch.metrics.kpis import format_kpis, plan_kpis
from dispatch.models import JobKind
from dispatch.plan import CrewRoute, Plan
from tests.factories import at, crew, job, planned, problem


def _plan() -> Plan:
    # D1 ordered 07:00: the customer's 12 h end 19:00; planning clock (before the 08:00
    # opening) 20:00. D2 ordered 21:00 the evening before: the customer's 12 h end 09:00
    # (D2 ends 09:06:40: missed); planning clock (after the 18:00 cut-off) 20:00: kept.
    jobs = [
        job("D1", 2, kind=JobKind.DELIVERY, confirmed_at=at(7, 0)),
        job("D2", 4, kind=JobKind.DELIVERY, confirmed_at=at(21, 0) - timedelta(days=1)),
        job("D3", 8, kind=JobKind.DELIVERY, confirmed_at=at(7, 0)),  # left unassigned
    ]
    return planned(problem(jobs, [crew("C1"), crew("C2")]), {"C1": ["D1", "D2"]})


def test_promise_shares_on_both_clocks_each_labelled():
    k = plan_kpis(_plan())
    customer = k.promise_shares["customer"]["delivery"]
    planning = k.promise_shares["planning"]["delivery"]
    assert (customer["within"], customer["planned"], customer["jobs"]) == (1, 2, 3)
    assert (planning["within"], planning["planned"], planning["jobs"]) == (2, 2, 3)
    assert customer["of_planned"] == 0.5 and planning["of_planned"] == 1.0
    assert customer["label"] == k.promise_clocks["customer"]
    assert k.promise_clocks["customer"].startswith("customer's clock: calendar hours")
    assert k.promise_clocks["planning"].startswith("planning clock: the plan's deadlines")
    assert "installation" not in k.promise_shares["customer"]  # no such jobs: no figure
    # the older keys stay, and are the planning clock's
    assert k.on_time_share_by_kind["delivery"] == planning["of_planned"]
    assert k.on_time_of_all_by_kind["delivery"] == planning["of_all"]
    assert k.as_dict()["promise_shares"]["customer"]["delivery"]["within"] == 1


def test_summary_prints_both_clocks_labelled_customer_first():
    text = format_kpis(plan_kpis(_plan()))
    lines = text.splitlines()
    title = lines.index("deliveries within 12 h (rural: 24 h)")
    assert lines[title + 1].split() == ["on", "the", "customer's", "clock", "50.0%", "of",
                                        "planned,", "33.3%", "of", "all"]  # fmt: skip
    assert lines[title + 2].split()[:4] == ["on", "the", "planning", "clock"]
    assert "100.0% of planned, 66.7% of all" in lines[title + 2]
    assert "  customer's clock: calendar hours from the order's confirmation" in lines
    assert any(line.startswith("  planning clock: the plan's deadlines") for line in lines)


def test_utilisation_is_busy_over_the_shift_time_of_the_crews_used():
    """busy = 800 s driving + 2 x 1,800 s service = 4,400 s; C1's shift 36,000 s. An empty
    route (C2's, as an override that moved its last stop away leaves) is not a crew used:
    it adds no shift time to the denominator."""
    plan = _plan()
    assert plan_kpis(plan).utilisation == 4_400 / 36_000
    empty = CrewRoute("C2", at(8), at(8), [])
    with_empty = dataclasses.replace(plan, routes=[*plan.routes, empty])
    k = plan_kpis(with_empty)
    assert k.crews_used == 1
    assert k.utilisation == 4_400 / 36_000
