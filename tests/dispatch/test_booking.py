"""Slot quotes (issue 20 §1), in the domain: the slot grid, an order's jobs, options checked
on the day's tentative routes (a delivery's installation after it, promises on the customer's
clock, the cheapest recommended), a slot refused once the day is full, and quotes that hold
when the booked day is planned."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta

import pytest

from dispatch.booking.order import BookingOrder, OrderLine, in_slot
from dispatch.booking.prepared import PreparedDay
from dispatch.booking.quotes import check_option, customer_deadline, quote_order
from dispatch.booking.slots import Slot, SlotGrid
from dispatch.booking.tentative import tentative_routes
from dispatch.errors import InputError
from dispatch.models import CrewKind, JobKind, ProductCategory
from tests.factories import DAY, at, crew, job, point, problem

AC = ProductCategory.SPLIT_AC


def test_the_grid_offers_two_hour_slots_from_an_hour_ahead():
    grid = SlotGrid()
    assert [s.label() for s in grid.on(DAY)][:2] == [
        "2026-06-18 08:00-10:00",
        "2026-06-18 10:00-12:00",
    ]
    assert len(grid.on(DAY)) == 5 and grid.day_span(DAY) == Slot(at(8), at(18))
    offered = list(grid.offered(DAY, at(9, 30)))
    assert offered[0].start == at(12)  # 10:00 is less than an hour ahead
    assert len(offered) == 3 + 5  # today's three left, tomorrow's five
    with pytest.raises(InputError, match="overlap"):
        SlotGrid(starts=(time(8), time(9)))
    with pytest.raises(InputError) as err:
        SlotGrid(days=0)
    assert err.value.field == "days"


def test_an_order_becomes_its_jobs_with_the_product_rules_needs():
    order = BookingOrder(
        "B1",
        "urban",
        point(3),
        at(7),
        (OrderLine(JobKind.INSTALLATION, AC), OrderLine(JobKind.DELIVERY, AC)),
        floor=5,
    )
    delivery, installation = order.jobs()
    assert (delivery.id, installation.id) == ("B1-D", "B1-I")  # delivery first
    assert installation.skills == {"ac_install", "work_at_height"} and installation.people == 2
    assert (delivery.volume_l, delivery.weight_kg) == (150, 45)
    booked = in_slot(delivery, at(8), at(10), customer_name="Li")
    assert booked.windows[0].start == at(8) and booked.customer_name == "Li"
    with pytest.raises(InputError) as err:
        BookingOrder("B2", "urban", point(1), at(7), (OrderLine(JobKind.DELIVERY),) * 2)
    assert err.value.field == "jobs"


def _world(jobs=(), crews=None):
    """One day on the test street: an installer and a truck unless `crews`."""
    crews = crews or [
        crew("IC1", CrewKind.INSTALLATION_CREW, skills=frozenset({"ac_install", "work_at_height"})),
        crew("DT1", CrewKind.DELIVERY_TRUCK),
    ]
    p = problem(list(jobs), crews)
    return {DAY: (p, tentative_routes(p))}


def _ac_order(order_id="B1", confirmed=None):
    lines = (OrderLine(JobKind.DELIVERY, AC), OrderLine(JobKind.INSTALLATION, AC))
    return BookingOrder(order_id, "urban", point(4), confirmed or at(6), lines, floor=5)


def test_a_delivery_and_its_installation_are_quoted_as_pairs_in_order():
    days = _world([job("X1", 2, window=(9, 11))])
    quote = quote_order(_ac_order().jobs(), days, SlotGrid(days=1), at(6))
    assert quote.options and not quote.notes
    for option in quote.options:
        delivery, installation = option.offers
        assert delivery.kind is JobKind.DELIVERY and installation.kind is JobKind.INSTALLATION
        assert installation.slot.start >= delivery.slot.end
        assert option.added_drive_s == delivery.added_drive_s + installation.added_drive_s
        assert delivery.crew_id == "DT1" and installation.crew_id == "IC1"
    # promises on the customer's clock, order confirmed 06:00: delivery by 18:00 (12 h),
    # installation by 06:00 tomorrow (24 h); the 16-18 delivery slot may end 18:15
    d_16 = [o for o in quote.options if o.slots[0].start == at(16)]
    assert not d_16  # no later slot for its installation on a one-day grid
    for option in quote.options:
        assert option.offers[0].promise_deadline == at(18)
        assert option.offers[1].promise_deadline == at(6) + timedelta(hours=24)
        assert option.keeps_promise is True
    # the cheapest three are recommended
    cheapest = sorted(quote.options, key=lambda o: (o.added_drive_s, o.slots))[:3]
    assert [o for o in quote.options if o.recommended] == sorted(
        [dataclasses.replace(o, recommended=True) for o in cheapest], key=lambda o: o.slots
    )


def test_an_evening_order_is_told_which_slots_break_the_promise():
    """Confirmed 19:00 the day before: the 12 h delivery is due 07:00, before any slot."""
    order = BookingOrder(
        "B1", "urban", point(4), at(19) - timedelta(days=1), (OrderLine(JobKind.DELIVERY, AC),)
    )
    quote = quote_order(order.jobs(), _world(), SlotGrid(days=1), at(6))
    assert quote.options and all(o.keeps_promise is False for o in quote.options)
    assert sum(o.recommended for o in quote.options) == 3  # still the cheapest, none keeps it
    repair = dataclasses.replace(order.jobs()[0], kind=JobKind.REPAIR, confirmed_at=at(7))
    policies = problem([], []).promises.policies
    assert customer_deadline(repair, policies) == at(20)  # same day, by closing time


def test_no_crew_for_a_job_is_a_note_not_an_error():
    order = BookingOrder("B1", "urban", point(4), at(6), (OrderLine(JobKind.INSTALLATION, AC),))
    days = _world(crews=[crew("DT1", CrewKind.DELIVERY_TRUCK)])
    quote = quote_order(order.jobs(), days, SlotGrid(days=1), at(6))
    assert quote.options == []
    assert quote.notes == ["installation on 2026-06-18: no crew kind does installation jobs"]


def test_a_slot_is_refused_once_the_day_is_full():
    """One technician with a morning shift: a 150-min repair fits 08-10 once, not twice."""
    tech = crew("RT1", CrewKind.REPAIR_TECHNICIAN, shift_end=time(12))
    lines = (OrderLine(JobKind.REPAIR, service_minutes=150),)
    first = BookingOrder("B1", "urban", point(2), at(6), lines)
    second = BookingOrder("B2", "urban", point(3), at(6), lines)
    days = _world(crews=[tech])
    quote = quote_order(first.jobs(), days, SlotGrid(days=1), at(6))
    assert [o.slots[0].label() for o in quote.options] == ["2026-06-18 08:00-10:00"]
    slot = quote.options[0].slots
    assert check_option(second.jobs(), days, slot) is not None  # the day is still empty
    booked = [in_slot(j, s.start, s.end) for j, s in zip(first.jobs(), slot, strict=True)]
    full = _world([*booked], crews=[tech])
    assert full[DAY][1].placed == 1
    assert check_option(second.jobs(), full, slot) is None
    assert quote_order(second.jobs(), full, SlotGrid(days=1), at(6)).options == []


def test_an_order_id_taken_on_the_day_is_refused():
    days = _world([job("B1-D", 2, kind=JobKind.DELIVERY)])
    with pytest.raises(InputError, match="exists already"):
        quote_order(_ac_order().jobs(), days, SlotGrid(days=1), at(6))


@pytest.mark.slow  # books 225 orders of the 300-job demo day, then plans the day (about 20 s)
def test_a_day_booked_through_quotes_plans_its_jobs_inside_their_slots():
    """Honest quotes: the demo day's town orders booked one by one, each in the cheapest
    recommended option of its quote, then the full planner: at least 98 % of the booked jobs
    are planned inside their booked slot, the rest are listed with their reason. The day as
    booked keeps every slot (valid as a plan), so those left out are the planner's search's."""
    from dispatch.plan import Plan
    from dispatch.plan_validator import validate_plan
    from dispatch.planning.planner import PlanOptions, make_plan
    from fixtures.shanghai import demo_problem

    demo = demo_problem(jobs=300)
    day = dataclasses.replace(demo, jobs=[])
    routes = tentative_routes(day)
    orders: dict[str, list] = {}
    for j in demo.jobs:
        if j.region == "urban":
            orders.setdefault(j.order_id, []).append(j)
    now = datetime.combine(demo.date, time(0))
    grid = SlotGrid(days=1)
    refused = 0
    for order_id, jobs in orders.items():
        kinds = sorted(j.kind for j in jobs)
        if len(jobs) == 2 and kinds != sorted([JobKind.DELIVERY, JobKind.INSTALLATION]):
            continue
        jobs.sort(key=lambda j: j.kind is not JobKind.DELIVERY)
        first = jobs[0]
        order = BookingOrder(
            f"B{order_id}",
            "urban",
            first.location,
            min(now, first.confirmed_at),
            tuple(OrderLine(j.kind, j.category, j.quantity) for j in jobs),
            floor=first.floor,
            has_lift=first.has_lift,
        )
        quote = quote_order(order.jobs(), {demo.date: (day, routes)}, grid, now)
        chosen = next((o for o in quote.options if o.recommended), None)
        if chosen is None:
            refused += 1
            continue
        for offer in chosen.offers:  # the day as the booking checked it
            routes = routes.with_route(offer.crew_id, offer.route, offer.lunch_after)
        booked = [
            in_slot(j, s.start, s.end) for j, s in zip(order.jobs(), chosen.slots, strict=True)
        ]
        day = dataclasses.replace(day, jobs=[*day.jobs, *booked])
    assert refused < 0.05 * len(orders)
    # the day as booked is itself a valid plan keeping every booked slot (the independent
    # validator says so): a job the planner leaves out of its slot below is one its search
    # did not find room for, not one a rule the quotes missed would have refused
    booked_day = PreparedDay(day, routes)
    as_booked = booked_day.routed.crew_routes(list(booked_day.day.routes.values()))
    assert sum(len(r.stops) for r in as_booked) == len(day.jobs)
    assert validate_plan(Plan(day, as_booked, [])) == []
    # 20 s, not 10: under a loaded CI machine 10 s once planned 97.7 % (260 of 266)
    plan = make_plan(day, PlanOptions(time_limit_s=20))
    window = {j.id: j.windows[0] for j in day.jobs}
    inside = [
        s.job_id
        for r in plan.routes
        for s in r.stops
        if window[s.job_id].start <= s.start <= window[s.job_id].end
    ]
    assert len(inside) >= 0.98 * len(day.jobs), plan.unassigned
    listed = {u.job_id: u for u in plan.unassigned}
    assert set(window) - set(inside) == set(listed)
    assert all(u.detail for u in listed.values())
