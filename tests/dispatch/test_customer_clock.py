"""Promise shares on the customer's clock (calendar hours from the order), hand-worked.

tests/factories.py: crews 08:00-18:00 from a depot at 0 km, 1 km = 100 s, 30-minute jobs
with window 08:00-18:00; a first job at 2 km starts 08:03:20 and ends 08:33:20.
"""

from __future__ import annotations

from datetime import time, timedelta

from dispatch.metrics.customer_clock import customer_clock_shares, promise_shares
from dispatch.models import JobKind
from dispatch.promise_clocks import CustomerClock
from dispatch.promises import default_policies
from tests.factories import at, crew, job, planned, problem


def test_an_evening_order_counts_from_the_order_not_from_the_next_opening():
    # ordered 07:00: due 19:00 on both clocks; D1 ends 08:33:20
    morning = job("D1", 2, kind=JobKind.DELIVERY, confirmed_at=at(7, 0))
    # ordered 21:00 the evening before: the customer expects it by 09:00; the plan's clock
    # (service hours: after the 18:00 cut-off it starts at 08:00) makes it due 20:00.
    # D2 starts 200 s after D1 ends (2 km): 08:36:40-09:06:40, late for the customer only
    evening = job("D2", 4, kind=JobKind.DELIVERY, confirmed_at=at(21, 0) - timedelta(days=1))
    left_out = job("D3", 8, kind=JobKind.DELIVERY, confirmed_at=at(7, 0))
    plan = planned(problem([morning, evening, left_out], [crew("C1")]), {"C1": ["D1", "D2"]})
    ends = {s.job_id: s.end for s in plan.routes[0].stops}
    assert ends == {"D1": at(8, 33, 20), "D2": at(9, 6, 40)}
    assert default_policies()["urban"].deadline(JobKind.DELIVERY, evening.confirmed_at) == at(20)

    share = customer_clock_shares(plan)["delivery"]
    assert (share.within, share.planned, share.jobs) == (1, 2, 3)
    assert share.of_planned == 1 / 2 and share.of_all == 1 / 3
    assert "installation" not in customer_clock_shares(plan)  # no such jobs: no figure

    both = promise_shares(plan)
    assert both["customer"]["delivery"] == share
    planning = both["planning"]["delivery"]  # D2 ends well before its 20:00 deadline
    assert (planning.within, planning.planned, planning.jobs) == (2, 2, 3)
    assert share.clock == "customer" and planning.clock == "planning"
    assert share.label.startswith("customer's clock") and planning.label.startswith("planning")
    assert share.title == planning.title == "deliveries within 12 h (rural: 24 h)"


def test_a_published_cut_off_counts_an_evening_order_from_the_morning_and_is_named():
    # ordered 19:00 the evening before: calendar 12 h end 07:00, before any crew starts;
    # D4 alone: 08:06:40-08:36:40
    evening = job("D4", 4, kind=JobKind.DELIVERY, confirmed_at=at(19, 0) - timedelta(days=1))
    plan = planned(problem([evening], [crew("C1")]), {"C1": ["D4"]})
    assert promise_shares(plan)["customer"]["delivery"].within == 0
    published = CustomerClock(cutoff=time(18, 0))  # only if the retailer tells the customer
    share = promise_shares(plan, published)["customer"]["delivery"]
    assert share.within == 1  # counts from 08:00: due 20:00
    assert "published cut-off 18:00" in share.label
