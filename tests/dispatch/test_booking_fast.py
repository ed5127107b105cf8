"""The fast slot quote (issue 20 §1) gives the answers of the straightforward one.

`dispatch.booking.prepared` extends a day translated once by the order's rows instead of
translating the whole day again, `dispatch.booking.gaps` runs the insertion check's bounds
on every gap at once and skips timing trials that surely fail, `day_quote.screened`
screens only the crews that fit the order (and once for days that read the same), and
`dispatch.booking.greedy` places the tentative day with the same arrays. Each is checked
against what it replaced on the demo city: the same routing problem, the same trials, a
bound that never rules out a trial that passes, the same screening, the same quotes
(options, slots, promises, added driving, crews, routes) and booking checks, and the same
tentative day."""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, time, timedelta

import numpy as np
import pytest

from dispatch.booking.day_quote import QuoteDay, alone_on, screened
from dispatch.booking.insertion import _trials, fixed_elsewhere, judge_route
from dispatch.booking.order import BookingOrder, OrderLine, in_slot
from dispatch.booking.prepared import PreparedDay
from dispatch.booking.quotes import check_option, quote_order
from dispatch.booking.slots import SlotGrid
from dispatch.booking.tentative import tentative_routes
from dispatch.models import GeoPoint, JobKind, ProductCategory
from dispatch.planning.feasibility import screen
from dispatch.planning.leftovers import link_floor
from dispatch.planning.routed_day import routed_day
from dispatch.translate import build_travel
from fixtures.shanghai import demo_problem

C = ProductCategory


def _urban(jobs: int, day_offset: int = 0):
    demo = demo_problem(jobs=jobs)
    day = demo.date + timedelta(days=day_offset)
    urban = [j for j in demo.jobs if j.region == "urban"]
    return dataclasses.replace(demo, date=day, jobs=urban if not day_offset else [])


@pytest.fixture(scope="module")
def busy_day():
    """The demo city's 600-job day (its town jobs) with its tentative routes."""
    problem = _urban(600)
    return problem, tentative_routes(problem)


def _orders(problem, count: int, seed: int = 7, prefix: str = "T") -> list[BookingOrder]:
    """Random orders near the day's jobs: a delivery, a delivery and its installation, a
    repair, in turn."""
    rng = random.Random(seed)
    confirmed = datetime.combine(problem.date, time(6))
    kinds = (
        (OrderLine(JobKind.DELIVERY, C.REFRIGERATOR),),
        (OrderLine(JobKind.DELIVERY, C.SPLIT_AC), OrderLine(JobKind.INSTALLATION, C.SPLIT_AC)),
        (OrderLine(JobKind.REPAIR, C.SPLIT_AC),),
    )
    out = []
    for n in range(count):
        near = rng.choice(problem.jobs).location
        where = GeoPoint(near.lon + rng.uniform(-0.01, 0.01), near.lat + rng.uniform(-0.01, 0.01))
        floor = rng.randint(1, 9)
        out.append(
            BookingOrder(f"{prefix}{n:03d}", "urban", where, confirmed, kinds[n % 3], floor=floor)
        )
    return out


def test_an_order_added_to_a_prepared_day_is_the_whole_translation():
    problem = _urban(150)
    prepared = PreparedDay(problem, tentative_routes(problem))
    order = _orders(problem, 2)[1]  # a delivery and its installation
    grid = SlotGrid(days=1)
    qd = prepared.quote_day(order.jobs(), grid.day_span(problem.date))
    whole = QuoteDay.rebuilt(
        prepared.problem, prepared.tentative, order.jobs(), grid.day_span(problem.date)
    )
    fast, slow = qd.routed.full, whole.routed.full
    assert fast.routing.visits == slow.routing.visits
    assert fast.routing.precedences == slow.routing.precedences
    assert fast.routing.vehicles == slow.routing.vehicles
    assert fast.job_ids == slow.job_ids and fast.crew_ids == slow.crew_ids
    assert (fast.location_map == slow.location_map).all()
    every = np.arange(slow.routing.travel.size)
    assert (
        fast.routing.travel.distances.block(every, every) == slow.routing.travel.distances
    ).all()
    for name, m in slow.routing.travel.durations.items():
        assert (fast.routing.travel.durations[name].block(every, every) == m).all()
        assert fast.routing.travel.durations[name][every[-1], 3] == m[every[-1], 3]
    assert qd.routed.deadlines == whole.routed.deadlines
    assert qd.day.links == whole.day.links
    assert qd.day.routes == whole.day.routes
    assert (qd.eligible, qd.refused) == (whole.eligible, whole.refused)


def test_fast_quotes_and_checks_are_the_straightforward_ones(busy_day):
    """Quotes on the busy day and an empty next day, and the booking check of options."""
    problem, routes = busy_day
    empty = _urban(600, day_offset=1)
    nothing = tentative_routes(empty)
    fast = {problem.date: PreparedDay(problem, routes), empty.date: PreparedDay(empty, nothing)}
    slow = {
        problem.date: PreparedDay(problem, routes, fast=False),
        empty.date: PreparedDay(empty, nothing, fast=False),
    }
    now = datetime.combine(problem.date, time(6))
    grid = SlotGrid(days=2)
    checked = 0
    for order in _orders(problem, 15):
        quick = quote_order(order.jobs(), fast, grid, now)
        assert quick == quote_order(order.jobs(), slow, grid, now)
        for option in quick.options[:: max(1, len(quick.options) // 3)]:
            slots = option.slots
            assert check_option(order.jobs(), fast, slots) == check_option(
                order.jobs(), slow, slots
            )
            checked += 1
    assert checked > 20


def test_the_gap_arrays_give_the_crew_by_crew_trials(busy_day):
    problem, routes = busy_day
    prepared = PreparedDay(problem, routes)
    grid = SlotGrid(days=1)
    compared = 0
    for order in _orders(problem, 9):
        qd = prepared.quote_day(order.jobs(), grid.day_span(problem.date))
        job = order.jobs()[0]
        for slot in grid.on(problem.date):
            ins = qd.place(job.id, slot)  # narrows the visit's window to the slot
            v, crews = qd.visit[job.id], qd.eligible.get(job.id, [])
            scalar = sorted(t for k in crews for t in _trials(qd.day, v, k))
            assert sorted(qd.index.gaps.trials(qd.day, v, crews)) == scalar
            compared += len(scalar)
            if ins is not None and len(order.jobs()) == 2:  # the installation, delivery placed
                placed = qd.with_placed(ins)
                inst = order.jobs()[1]
                qd.place(inst.id, grid.on(problem.date)[-1], placed)
                w, others = qd.visit[inst.id], qd.eligible.get(inst.id, [])
                fresh = [k for k in others if k != ins.vehicle]
                scalar = sorted(t for k in fresh for t in _trials(placed.day, w, k))
                floors = np.full(len(problem.crews), ins.end_s + problem.link_gap_minutes * 60)
                assert sorted(qd.index.gaps.trials(placed.day, w, fresh, floors)) == scalar
    assert compared > 500


def _ruled_out_trials_fail(qd, day, prefixes, v, crews) -> int:
    """Time every trial among the first 150 of v on `day` that the bound rules out: each
    must break a rule. How many were checked."""
    trials = sorted(t for k in crews for t in _trials(day, v, k))
    checked = 0
    for _, k, pos, _, gap in trials[:150]:
        if not prefixes.surely_fails(day, v, k, pos, gap, link_floor(day, v, k)[0]):
            continue
        checked += 1
        seq = day.seqs.get(k, [])
        new = [*seq[:pos], v, *seq[pos:]]
        hints = {k: gap} if gap is not None else {}
        route = qd.routed.time({k: new}, hints, fixed_elsewhere(day, new))[0]
        assert judge_route(day, v, route, qd.routed.check(route)) is not None
    return checked


def test_a_trial_the_bound_rules_out_never_passes(busy_day):
    """Every trial `surely_fails` skips would have broken a rule when timed: a job on the
    tentative day, and an installation on the day with its delivery placed."""
    problem, routes = busy_day
    prepared = PreparedDay(problem, routes)
    grid = SlotGrid(days=1)
    ruled_out = 0
    for order in _orders(problem, 6, seed=11):
        qd = prepared.quote_day(order.jobs(), grid.day_span(problem.date))
        first = order.jobs()[0]
        for slot in grid.on(problem.date):
            ins = qd.place(first.id, slot)
            crews = qd.eligible.get(first.id, [])
            v = qd.visit[first.id]
            ruled_out += _ruled_out_trials_fail(qd, qd.day, qd.index.prefixes, v, crews)
            if ins is None or len(order.jobs()) == 1:
                continue
            placed = qd.with_placed(ins)
            inst = order.jobs()[1]
            qd.place(inst.id, grid.on(problem.date)[-1], placed)
            w, others = qd.visit[inst.id], qd.eligible.get(inst.id, [])
            ruled_out += _ruled_out_trials_fail(qd, placed.day, placed.prefixes, w, others)
    assert ruled_out > 200


def test_screening_the_crews_that_fit_is_screening_them_all(busy_day):
    problem, _ = busy_day
    span = SlotGrid().day_span(problem.date)
    orders = _orders(problem, 6)
    far = dataclasses.replace(orders[0], location=GeoPoint(118.8, 32.0))  # Nanjing
    odd = BookingOrder(
        "ODD", "urban", orders[0].location, orders[0].confirmed_at,
        (OrderLine(JobKind.INSTALLATION, C.TV, skills=frozenset({"welding"})),),
    )  # fmt: skip
    for order in [*orders, far, odd]:
        added = [in_slot(j, span.start, span.end) for j in order.jobs()]
        alone = dataclasses.replace(problem, jobs=added, zones=[], syncs=[])
        every = screen(alone, build_travel(alone))
        refused = {u.job_id: u.detail or u.reason.value for u in every.unassigned}
        memo: dict = {}
        assert screened(alone_on(problem, added), memo) == (every.eligible, refused)
        assert screened(alone_on(problem, added), memo) == (every.eligible, refused)  # kept
    assert (
        "welding"
        in screened(alone_on(problem, [in_slot(odd.jobs()[0], span.start, span.end)]))[1]["ODD-I"]
    )


def test_a_day_on_road_travel_times_is_translated_whole():
    """No per-pair formula for a road network: the whole day, as before."""
    problem = _urban(150)
    road = dataclasses.replace(
        problem,
        travel=dataclasses.replace(problem.travel, provider="osrm", osrm_url="http://osrm.invalid"),
    )
    assert not PreparedDay(road, tentative_routes(problem), fast=True).fast
    assert PreparedDay(problem, tentative_routes(problem)).fast
    assert routed_day(problem, lazy=True).full.routing.travel.size > 150


def test_the_fast_last_pass_places_the_same_tentative_day(busy_day):
    """`dispatch.booking.greedy` against `settle_leftovers` itself: routes, lunches, and
    the jobs left over with their reasons."""
    problem, routes = busy_day
    assert routes == tentative_routes(problem, fast=False)
    assert routes.placed > 400 and routes.unplaced
    small = _urban(150)
    assert tentative_routes(small) == tentative_routes(small, fast=False)


def test_a_day_kept_after_bookings_quotes_as_one_prepared_afresh(busy_day):
    """`PreparedDay.after_booking` (the booked jobs added to the translated day) against the
    day prepared from scratch with them, after two bookings in a row."""
    problem, routes = busy_day
    now = datetime.combine(problem.date, time(6))
    grid = SlotGrid(days=1)
    kept, stored = PreparedDay(problem, routes), list(problem.jobs)
    for order in _orders(problem, 2, seed=3, prefix="BOOKED"):
        quote = quote_order(order.jobs(), {problem.date: kept}, grid, now)
        option = next(o for o in quote.options if o.recommended)
        checked = check_option(order.jobs(), {problem.date: kept}, option.slots)
        assert checked is not None
        routes = kept.tentative
        for offer in checked.offers:
            routes = routes.with_route(offer.crew_id, offer.route, offer.lunch_after)
        booked = [
            in_slot(j, s.start, s.end) for j, s in zip(order.jobs(), option.slots, strict=True)
        ]
        kept = PreparedDay.after_booking(kept, booked, routes)
        stored += booked
    afresh = PreparedDay(
        dataclasses.replace(problem, jobs=sorted(stored, key=lambda j: j.id)), routes
    )
    assert kept.routed.full.routing.travel.size == afresh.routed.full.routing.travel.size
    for order in _orders(problem, 9, seed=5):
        days_kept, days_afresh = {problem.date: kept}, {problem.date: afresh}
        assert quote_order(order.jobs(), days_kept, grid, now) == quote_order(
            order.jobs(), days_afresh, grid, now
        )
