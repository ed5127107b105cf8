"""The two promise clocks (`dispatch.promise_clocks`), on hand-worked orders.

Urban policy (`dispatch.promises.default_policies`): 12 h delivery, 24 h installation, service
hours from 08:00 with an 18:00 cut-off. Rural: 24 h delivery, 48 h installation.
"""

from __future__ import annotations

from datetime import datetime, time

import pytest

from dispatch.models import JobKind
from dispatch.promise_clocks import (
    CUSTOMER,
    CUSTOMER_CLOCK,
    PLANNING,
    CustomerClock,
    clock_labels,
    planning_clock_label,
    planning_deadline,
    promise_hours,
    share_count,
    share_title,
)
from dispatch.promises import PromiseClock, RegionPolicy, default_policies

EVENING = datetime(2026, 6, 17, 21, 0)  # ordered 21:00
NEXT_10AM = datetime(2026, 6, 18, 10, 0)  # delivered 10:00 the next morning


def test_evening_order_delivered_next_morning_is_13_h_for_the_customer_in_time_for_the_plan():
    hours = promise_hours(JobKind.DELIVERY, "urban")
    assert hours == 12
    # customer's clock: 21:00 -> 10:00 is 13 calendar hours, one more than promised
    assert (NEXT_10AM - EVENING).total_seconds() / 3600 == 13
    assert CUSTOMER_CLOCK.deadline(EVENING, hours) == datetime(2026, 6, 18, 9, 0)
    assert not CUSTOMER_CLOCK.within(EVENING, NEXT_10AM, hours)
    # planning clock: after the 18:00 cut-off the 12 h start at 08:00 -> due 20:00
    deadline = planning_deadline(JobKind.DELIVERY, "urban", EVENING)
    assert deadline == datetime(2026, 6, 18, 20, 0)
    assert deadline >= NEXT_10AM


def test_exactly_the_promise_hours_keep_it_one_second_more_does_not():
    ordered = datetime(2026, 6, 18, 9, 0)
    assert CUSTOMER_CLOCK.within(ordered, datetime(2026, 6, 18, 21, 0), 12)
    assert not CUSTOMER_CLOCK.within(ordered, datetime(2026, 6, 18, 21, 0, 1), 12)


def test_a_published_cut_off_is_the_customers_only_when_set_and_then_named():
    assert CUSTOMER_CLOCK.cutoff is None  # the business publishes none (docs/domain.md)
    assert CUSTOMER_CLOCK.label == "customer's clock: calendar hours from the order's confirmation"
    published = CustomerClock(cutoff=time(20, 0), opening=time(8, 0))
    assert published.start(EVENING) == datetime(2026, 6, 18, 8, 0)
    assert published.within(EVENING, NEXT_10AM, 12)  # 08:00 + 12 h = 20:00
    assert published.start(datetime(2026, 6, 18, 6, 30)) == datetime(2026, 6, 18, 8, 0)
    assert published.start(datetime(2026, 6, 18, 19, 59)) == datetime(2026, 6, 18, 19, 59)
    assert "published cut-off 20:00" in published.label
    assert "from 08:00 next morning" in published.label


def test_promise_hours_per_region_and_kind():
    assert promise_hours("delivery", "rural") == 24
    assert promise_hours(JobKind.INSTALLATION, "rural") == 48
    assert promise_hours(JobKind.INSTALLATION, None) == 24  # no region known: the default's
    assert promise_hours(JobKind.REPAIR, "urban") is None  # same day, not in hours
    assert promise_hours(JobKind.DELIVERY, "moon") is None
    assert planning_deadline(JobKind.DELIVERY, "moon", EVENING) is None


def test_labels_name_each_clock_and_the_hours_per_region():
    labels = clock_labels()
    assert set(labels) == {CUSTOMER, PLANNING}
    assert labels[CUSTOMER].startswith("customer's clock: calendar hours")
    assert labels[PLANNING] == (
        "planning clock: the plan's deadlines in service hours (orders confirmed after 18:00 "
        "or before 08:00 count from 08:00)"
    )
    assert share_title(JobKind.DELIVERY) == "deliveries within 12 h (rural: 24 h)"
    assert share_title("installation") == "installations within 24 h (rural: 48 h)"
    assert share_title("repair") == "repairs on promise (same day)"
    one = {"urban": RegionPolicy()}
    assert share_title(JobKind.DELIVERY, one) == "deliveries within 12 h"


def test_planning_label_per_region_where_the_regions_clocks_differ():
    policies = {
        "urban": RegionPolicy(),
        "rural": RegionPolicy(clock=PromiseClock.CALENDAR, delivery_hours=24),
    }
    label = planning_clock_label(policies)
    assert "rural: calendar hours from the order" in label
    assert "urban: service hours (orders confirmed after 18:00" in label


def test_share_count_carries_its_clock_label_and_title():
    share = share_count(JobKind.DELIVERY, CUSTOMER, (1, 2, 4))
    d = share.as_dict()
    assert (d["within"], d["planned"], d["jobs"]) == (1, 2, 4)
    assert (d["of_planned"], d["of_all"]) == (0.5, 0.25)
    assert d["clock"] == CUSTOMER and d["label"] == CUSTOMER_CLOCK.label
    assert d["title"] == "deliveries within 12 h (rural: 24 h)" and d["hours"] == 12
    planning = share_count("installation", PLANNING, (0, 0, 0), default_policies())
    assert planning.of_planned is None and planning.of_all is None
    assert planning.label.startswith("planning clock:")
    with pytest.raises(ValueError, match="clock"):
        share_count(JobKind.DELIVERY, "wall", (0, 0, 0))
