"""Issue 17 §2: an unassigned job's reason must be true.

Before a plan is returned every unassigned job is tried on every crew that may do it, idle
crews in far zones included (`dispatch.planning.leftovers`); one that fits is planned, one
that does not names what binds and the crew that came closest. The independent check
(`dispatch.planning.placeable_check`) finds nothing left that would fit.
"""

from __future__ import annotations

import dataclasses
from datetime import time

from shapely.geometry import box

from dispatch.models import CrewKind, JobKind, LunchBreak, TimeWindow
from dispatch.plan import Plan, UnassignedReason
from dispatch.plan_validator import validate_plan
from dispatch.planning.placeable_check import placeable
from dispatch.planning.planner import PlanOptions, make_plan
from dispatch.zones import Zone
from tests.factories import KM_DEG, LAT, LON0, at, crew, depot, job, planned, problem

FAST = PlanOptions(time_limit_s=2, solution_limit=100, workers=1)
#: zone groups even for a handful of jobs
SPLIT = PlanOptions(decompose_above=3, group_size=8, solution_limit=20, workers=1)
TECH = CrewKind.REPAIR_TECHNICIAN


def _zone(id: str, west_km: float, east_km: float) -> Zone:
    return Zone(id, id, box(LON0 + west_km * KM_DEG, LAT - 0.1, LON0 + east_km * KM_DEG, LAT + 0.1))


def _two_zones():
    """Zone W: one technician who may do 3 jobs, six jobs 1-6 km west of its depot. Zone E,
    20 km further east and not touching W: one technician with nothing to do, its depot 26 km
    or more from every W job (beyond the insertion repair's 15 km reach)."""
    crews = [
        crew("W1", TECH, people=1, start_depot="DW", end_depot="DW", home_zone="W", max_jobs=3),
        crew("E1", TECH, people=1, start_depot="DE", end_depot="DE", home_zone="E"),
    ]
    jobs = [job(f"W{k}", -float(k), zone="W") for k in range(1, 7)]
    return problem(
        jobs,
        crews,
        [depot("DW", 0.0), depot("DE", 25.0)],
        zones=[_zone("W", -20, 0.5), _zone("E", 20, 40)],
    )


def _plan_of(plan: Plan) -> tuple[object, ...]:
    routes = tuple((r.crew_id, tuple((s.job_id, s.start) for s in r.stops)) for r in plan.routes)
    return routes, tuple(plan.unassigned)


def test_an_idle_crew_in_a_far_zone_takes_the_leftovers():
    """W1 does three W jobs; the zone solve, the neighbour pass (E does not touch W) and the
    insertion repair (E1 is out of its reach) leave three; the last pass gives them to E1."""
    p = _two_zones()
    plan = make_plan(p, SPLIT)
    assert plan.stats["groups"] == 2
    assert validate_plan(plan) == []
    assert not plan.unassigned
    crew_of = {s.job_id: r.crew_id for r in plan.routes for s in r.stops}
    assert sorted(crew_of.values()).count("E1") == 3
    assert plan.stats["placed_by_last_pass"] == 3
    assert placeable(plan) == []


def test_the_same_day_gives_the_same_plan():
    p = _two_zones()
    assert _plan_of(make_plan(p, SPLIT)) == _plan_of(make_plan(p, SPLIT))


def test_a_job_the_lunch_window_rules_out_is_said_so():
    """270 min starting in 09:00-11:00 ends 13:30 at the earliest: the crew's 45-min lunch must
    start by 12:45, and lunch first (11:30) starts the job after its window. Without a lunch
    the same crew does it."""
    lunch = LunchBreak(time(11, 30), time(13, 30), 45)
    long = job("LONG", 5, window=(9, 11), kind=JobKind.INSTALLATION, minutes=270)
    fitter = crew("IC1", CrewKind.INSTALLATION_CREW, lunch=lunch)
    plan = make_plan(problem([long], [fitter]), FAST)
    (u,) = plan.unassigned
    assert u.reason is UnassignedReason.LUNCH_WINDOW
    assert "IC1" in u.detail and "lunch" in u.detail and "09:00-11:00" in u.detail
    assert placeable(plan) == []
    free = make_plan(problem([long], [dataclasses.replace(fitter, lunch=None)]), FAST)
    assert not free.unassigned


def test_an_installation_blocked_by_its_delivery_end_and_gap_names_the_delivery():
    """The truck delivers 09:00-09:15 (its window opens 09:00); another crew may install from
    09:15 + 30 min gap = 09:45, after the installation's window closes 09:40."""
    jobs = [
        job("O1-D", 10, window=(9, 10), kind=JobKind.DELIVERY, minutes=15, order_id="O1"),
        dataclasses.replace(
            job("O1-I", 10, kind=JobKind.INSTALLATION, minutes=60, order_id="O1"),
            windows=(TimeWindow(at(9), at(9, 40)),),
        ),
    ]
    crews = [crew("T1", CrewKind.DELIVERY_TRUCK), crew("I1", CrewKind.INSTALLATION_CREW)]
    plan = make_plan(problem(jobs, crews), FAST)
    assert [s.job_id for r in plan.routes for s in r.stops] == ["O1-D"]
    (u,) = plan.unassigned
    assert u.reason is UnassignedReason.DELIVERY_END_GAP
    assert "O1-D" in u.detail and "T1" in u.detail and "09:15" in u.detail
    assert placeable(plan) == []


def test_a_job_past_the_shift_names_the_closest_crew():
    """C1 works 08:00-09:00: one 40-min job 1 km away fits, a second would end after 09:00."""
    c = crew("C1", shift_start=time(8), shift_end=time(9))
    plan = make_plan(problem([job("A", 1, minutes=40), job("B", 1.2, minutes=40)], [c]), FAST)
    (u,) = plan.unassigned
    assert u.reason is UnassignedReason.SHIFT_END
    assert "C1" in u.detail and "09:00" in u.detail


def test_the_check_finds_a_job_left_out_that_fits():
    """A plan that leaves W4-W6 out though E1 is idle: the independent check lists them."""
    p = _two_zones()
    plan = planned(p, {"W1": ["W1", "W2", "W3"]})
    found = placeable(plan)
    assert sorted(f.job_id for f in found) == ["W4", "W5", "W6"]
    assert {f.crew_id for f in found} == {"E1"}
