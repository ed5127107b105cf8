"""Each planning rule on a tiny hand-worked case (see tests/factories.py: 1 km = 100 s).

Every plan below has already passed the validator inside `make_plan`; the tests check that
the rule shaped the plan the way the arithmetic in the comments says it must.
"""

from __future__ import annotations

from datetime import datetime, time

import pytest

from dispatch.models import CrewKind, Job, JobKind, LunchBreak, Priority, TimeWindow
from dispatch.plan import UnassignedReason
from dispatch.plan_validator import validate_plan
from dispatch.planning.planner import PlanOptions, make_plan
from dispatch.running.explain import Binding, explain_plan
from tests.factories import at, crew, job, point, problem

FAST = PlanOptions(time_limit_s=2, solution_limit=100, workers=1)


def _route(plan, crew_id):
    return next(r for r in plan.routes if r.crew_id == crew_id)


def _reasons(plan):
    return {u.job_id: u.reason for u in plan.unassigned}


def test_only_one_order_keeps_every_promise():
    """Three jobs, one crew from 08:00: only A, B, C keeps every deadline.

    A at 10 km due 09:00, B at 20 km due 10:00, C at 5 km due 18:00; 30 min each.
    A,B,C: A 08:16:40-08:46:40, B 09:03:20-09:33:20, C 09:58:20-10:28:20: all on time (40 km).
    C,A,B is also 40 km but A ends 09:16:40 (late); A,C,B makes B end 10:20 (late).
    """
    jobs = [
        job("A", 10, deadline=at(9, 0)),
        job("B", 20, deadline=at(10, 0)),
        job("C", 5, deadline=at(18, 0)),
    ]
    plan = make_plan(problem(jobs, [crew()]), FAST)
    route = _route(plan, "C1")
    assert [s.job_id for s in route.stops] == ["A", "B", "C"]
    assert [s.start.time() for s in route.stops] == [
        time(8, 16, 40),
        time(9, 3, 20),
        time(9, 58, 20),
    ]
    assert all(s.slack_minutes >= 0 for s in route.stops)
    assert route.distance_m == 40_000


def test_time_window_is_hard():
    """A job at 10 km with window 14:00-15:00 starts at 14:00 even though the crew could be
    there at 08:16:40; the crew leaves the depot late instead of waiting at the door."""
    plan = make_plan(problem([job("A", 10, window=(14, 15))], [crew()]), FAST)
    stop = _route(plan, "C1").stops[0]
    assert stop.start == at(14, 0)
    assert stop.arrival <= stop.start
    assert _route(plan, "C1").depart == at(13, 43, 20)  # 14:00 - 1000 s


def test_shift_end_makes_far_job_unreachable():
    """Shift 08:00-10:00; a job at 50 km needs 5000 s out + 30 min + 5000 s back = 3 h 17 min."""
    c = crew(shift_start=time(8), shift_end=time(10))
    plan = make_plan(problem([job("FAR", 50)], [c]), FAST)
    assert _reasons(plan) == {"FAR": UnassignedReason.WINDOW_UNREACHABLE}


def test_lunch_break_inside_its_window_and_between_jobs():
    """Lunch 45 min inside 11:30-13:30; jobs at 11:00-11:30 and 12:00-13:00 windows, 60 min
    each at 1 km apart: the first ends at 12:00 at the earliest (start 11:00), so lunch fits
    12:00-12:45 (or after), and the second starts by 13:00."""
    c = crew(lunch=LunchBreak(time(11, 30), time(13, 30), 45))
    jobs = [job("A", 5, window=(11, 11), minutes=60), job("B", 6, window=(12, 13), minutes=60)]
    jobs[0] = job("A", 5, window=(11, 12), minutes=60)
    plan = make_plan(problem(jobs, [c]), FAST)
    route = _route(plan, "C1")
    assert [s.job_id for s in route.stops] == ["A", "B"]
    lunch = route.lunch
    assert lunch is not None
    assert at(11, 30) <= lunch.start and lunch.start.replace() <= at(12, 45)
    for s in route.stops:  # the break never overlaps a job
        assert lunch.start >= s.end or lunch.start.timestamp() + 45 * 60 <= s.start.timestamp()


def test_skills_choose_the_crew_and_missing_skill_is_explained():
    """An AC install needs ac_install: only IC2 has it. A TV mount needs tv_mount: nobody."""
    crews = [
        crew("IC1", CrewKind.INSTALLATION_CREW, skills=frozenset({"electrical"})),
        crew("IC2", CrewKind.INSTALLATION_CREW, skills=frozenset({"ac_install"})),
    ]
    jobs = [
        job("AC", 3, kind=JobKind.INSTALLATION, skills=frozenset({"ac_install"})),
        job("TV", 4, kind=JobKind.INSTALLATION, skills=frozenset({"tv_mount"})),
    ]
    plan = make_plan(problem(jobs, crews), FAST)
    assert [s.job_id for s in _route(plan, "IC2").stops] == ["AC"]
    reason = next(u for u in plan.unassigned if u.job_id == "TV")
    assert reason.reason is UnassignedReason.NO_ELIGIBLE_CREW
    assert "tv_mount" in reason.detail


def test_people_needed_choose_the_bigger_crew():
    """A cabinet AC on a high floor needs 3 people: the 2-person crew may not take it."""
    crews = [crew("TWO", people=2), crew("THREE", people=3)]
    plan = make_plan(problem([job("BIG", 2, people=3)], crews), FAST)
    assert [r.crew_id for r in plan.routes if r.stops] == ["THREE"]


def test_truck_capacity_limits_deliveries():
    """A 1,000 l truck takes two 400 l deliveries, not three: the third is unassigned."""
    truck = crew("T1", CrewKind.DELIVERY_TRUCK, capacity_volume_l=1000)
    jobs = [job(f"D{k}", 2 + k, kind=JobKind.DELIVERY, volume_l=400) for k in range(3)]
    plan = make_plan(problem(jobs, [truck]), FAST)
    assert len(_route(plan, "T1").stops) == 2
    assert [u.reason for u in plan.unassigned] == [UnassignedReason.VEHICLE_FULL]
    assert "T1" in plan.unassigned[0].detail


def test_oversized_delivery_is_explained():
    """A 2,000 l order cannot fit the only (1,000 l) truck: unassigned, reason capacity."""
    truck = crew("T1", CrewKind.DELIVERY_TRUCK, capacity_volume_l=1000)
    plan = make_plan(problem([job("HUGE", 2, kind=JobKind.DELIVERY, volume_l=2000)], [truck]), FAST)
    assert _reasons(plan) == {"HUGE": UnassignedReason.EXCEEDS_CAPACITY}


def _linked_jobs():
    # Delivery at 10 km, window 09:00-10:00, 15 min; installation at the same door, 60 min.
    return [
        job("O1-D", 10, window=(9, 10), kind=JobKind.DELIVERY, minutes=15, order_id="O1"),
        job("O1-I", 10, window=(9, 18), kind=JobKind.INSTALLATION, minutes=60, order_id="O1"),
    ]


def test_installation_by_another_crew_waits_for_delivery_plus_gap():
    """Truck delivers 09:00-09:15; the installer may start at 09:15 + 30 min gap = 09:45."""
    crews = [crew("T1", CrewKind.DELIVERY_TRUCK), crew("I1", CrewKind.INSTALLATION_CREW)]
    plan = make_plan(problem(_linked_jobs(), crews), FAST)
    delivery = _route(plan, "T1").stops[0]
    install = _route(plan, "I1").stops[0]
    assert (delivery.start, delivery.end) == (at(9, 0), at(9, 15))
    assert install.start == at(9, 45)


def test_combined_crew_installs_right_after_delivering():
    """One combined crew does both in sequence: no gap, installation 09:15-10:15."""
    plan = make_plan(problem(_linked_jobs(), [crew("CB1", CrewKind.COMBINED)]), FAST)
    stops = _route(plan, "CB1").stops
    assert [s.job_id for s in stops] == ["O1-D", "O1-I"]
    assert (stops[1].start, stops[1].end) == (at(9, 15), at(10, 15))


def test_installation_without_its_delivery_is_unassigned():
    """No truck: the delivery cannot be planned, so neither can its installation."""
    plan = make_plan(problem(_linked_jobs(), [crew("I1", CrewKind.INSTALLATION_CREW)]), FAST)
    reasons = _reasons(plan)
    assert reasons["O1-D"] is UnassignedReason.NO_ELIGIBLE_CREW
    assert reasons["O1-I"] is UnassignedReason.LINKED_JOB_UNASSIGNED


@pytest.mark.parametrize("priority", [Priority.VIP, Priority.COMPLAINT])
def test_higher_priority_is_served_when_only_one_fits(priority):
    """Shift 08:00-09:00 fits one 40-min job 1 km away (100 s each way), not two."""
    c = crew(shift_start=time(8), shift_end=time(9))
    jobs = [job("NORMAL", 1, minutes=40), job("URGENT", 1.2, minutes=40, priority=priority)]
    plan = make_plan(problem(jobs, [c]), FAST)
    assert [s.job_id for s in _route(plan, "C1").stops] == ["URGENT"]
    assert _reasons(plan) == {"NORMAL": UnassignedReason.SHIFT_END}  # C1 would end after 09:00


def test_overdue_job_goes_first():
    """Two jobs fit only one slot; the one whose promise already expired yesterday wins."""
    c = crew(shift_start=time(8), shift_end=time(9))
    jobs = [
        job("FRESH", 1, minutes=40, deadline=at(20, 0)),
        job(
            "OVERDUE",
            1.2,
            minutes=40,
            confirmed_at=at(7, 0).replace(day=16),
            deadline=at(7, 0).replace(day=17),
        ),
    ]
    plan = make_plan(problem(jobs, [c]), FAST)
    assert [s.job_id for s in _route(plan, "C1").stops] == ["OVERDUE"]


def test_older_backlog_goes_first():
    """Both overdue, one slot: the job waiting three days wins over the one due yesterday.

    Without aging both had the same drop penalty and the nearer one won, so a job only a few
    crews can do could wait for ever behind easier ones.
    """
    c = crew(shift_start=time(8), shift_end=time(9))
    yesterday = at(7, 0).replace(day=17)
    jobs = [
        job("RECENT", 1, minutes=40, confirmed_at=yesterday.replace(hour=6), deadline=yesterday),
        job(
            "OLD",
            1.2,
            minutes=40,
            confirmed_at=at(7, 0).replace(day=14),
            deadline=at(7, 0).replace(day=15),
        ),
    ]
    plan = make_plan(problem(jobs, [c]), FAST)
    assert [s.job_id for s in _route(plan, "C1").stops] == ["OLD"]


def test_max_jobs_per_day():
    """A crew capped at 2 jobs a day plans two of three easy jobs."""
    c = crew(max_jobs=2)
    plan = make_plan(problem([job(f"J{k}", k + 1) for k in range(3)], [c]), FAST)
    assert len(_route(plan, "C1").stops) == 2
    assert len(plan.unassigned) == 1
    assert validate_plan(plan) == []


def test_a_job_the_solver_cannot_take_is_unassigned_and_the_rest_planned():
    """Jobs built in code past the record rules (a quantity of 10^30, whose estimated service
    overflowed int64 in the screening; a load of 1e300; an order time in the year 9999,
    whose promise deadline overflowed the calendar; one in the year 1) are listed
    `out_of_range` naming the value, with no error, and the other jobs are planned. A crew
    with an absurd capacity and price still plans (the solver gets capped numbers)."""
    bad = [
        job("QTY", 2, minutes=None, quantity=10**30),
        job("LOAD", 2.5, kind=JobKind.DELIVERY, volume_l=1e300),
        Job(
            id="Y9999",
            kind=JobKind.REPAIR,
            order_id="O9",
            confirmed_at=datetime(9999, 12, 31, 20),
            location=point(2),
            windows=(TimeWindow(datetime(9999, 12, 31, 21), datetime(9999, 12, 31, 22)),),
        ),
        job("Y0001", 1.5, confirmed_at=datetime(1, 1, 1)),
    ]
    big = crew("C1", capacity_volume_l=1e300, cost_per_km=1e300)
    plan = make_plan(problem([job("A", 1), *bad, job("B", 3)], [big]), FAST)
    assert {s.job_id for r in plan.routes for s in r.stops} == {"A", "B"}
    assert _reasons(plan) == dict.fromkeys(
        ["QTY", "LOAD", "Y9999", "Y0001"], UnassignedReason.OUT_OF_RANGE
    )
    details = {u.job_id: u.detail for u in plan.unassigned}
    assert "quantity 1.00e+30" in details["QTY"] and "volume_l 1e+300" in details["LOAD"]
    assert details["Y9999"].startswith("confirmed_at 9999-12-31T20:00 is outside")
    explained = {e.job_id: e for e in explain_plan(plan)}
    assert explained["QTY"].binding is Binding.OUT_OF_RANGE
    assert explained["QTY"].message == details["QTY"]
