"""The validator catches every kind of broken plan, naming the job or crew at fault."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from dispatch.models import CrewKind, JobKind
from dispatch.plan import Unassigned, UnassignedReason
from dispatch.plan_validator import validate_plan
from dispatch.planning.planner import PlanOptions, make_plan
from tests.factories import crew, job, problem

FAST = PlanOptions(time_limit_s=5, solution_limit=100, workers=1)


def _plan():
    jobs = [job("A", 5, window=(9, 11)), job("B", 8, window=(10, 12))]
    return make_plan(problem(jobs, [crew("C1"), crew("C2")]), FAST)


def _rules(plan):
    return {v.rule for v in validate_plan(plan)}


def test_planner_output_is_valid():
    """What the planner returns validates clean."""
    assert validate_plan(_plan()) == []


def test_stop_moved_outside_its_window_is_caught():
    """Starting a job an hour after its window closes is a window violation naming the job."""
    plan = _plan()
    route = next(r for r in plan.routes if r.stops)
    s = route.stops[-1]
    late = s.start + timedelta(hours=3)
    route.stops[-1] = dataclasses.replace(s, start=late, end=late + (s.end - s.start))
    violations = validate_plan(plan)
    assert any(v.rule == "window" and v.job_id == s.job_id for v in violations)


def test_job_planned_twice_is_caught():
    """The same job on a route and in the unassigned list is an accounting violation."""
    plan = _plan()
    first = next(s for r in plan.routes for s in r.stops)
    plan.unassigned.append(Unassigned(first.job_id, UnassignedReason.NO_CAPACITY_LEFT))
    assert "accounting" in _rules(plan)


def test_silently_dropped_job_is_caught():
    """A job that is neither planned nor unassigned is reported: nothing is lost silently."""
    plan = _plan()
    route = next(r for r in plan.routes if r.stops)
    route.stops.pop()
    assert "accounting" in _rules(plan)


def test_arrival_that_ignores_travel_time_is_caught():
    """An arrival earlier than the matrix allows is recomputed and flagged."""
    plan = _plan()
    route = next(r for r in plan.routes if r.stops)
    s = route.stops[0]
    route.stops[0] = dataclasses.replace(s, arrival=s.arrival - timedelta(minutes=5))
    assert "time" in _rules(plan)


def test_crew_without_the_skill_is_caught():
    """Handing a job to a crew that lacks its skill is a skills violation."""
    jobs = [job("AC", 5, kind=JobKind.INSTALLATION, skills=frozenset({"ac_install"}))]
    crews = [
        crew("GOOD", CrewKind.INSTALLATION_CREW, skills=frozenset({"ac_install"})),
        crew("BAD", CrewKind.INSTALLATION_CREW),
    ]
    plan = make_plan(problem(jobs, crews), FAST)
    good = next(r for r in plan.routes if r.crew_id == "GOOD")
    good.crew_id = "BAD"
    violations = validate_plan(plan)
    assert any(v.rule == "skills" and v.crew_id == "BAD" for v in violations)


def test_return_after_shift_end_is_caught():
    """A route whose recorded return is past the shift end is a shift violation."""
    plan = _plan()
    route = next(r for r in plan.routes if r.stops)
    route.return_at = route.return_at.replace(hour=23)
    assert "time" in _rules(plan) or "shift" in _rules(plan)


def test_installation_before_its_delivery_is_caught():
    """Moving the installation to start before the delivery ends breaks the link."""
    jobs = [
        job("O1-D", 10, window=(9, 10), kind=JobKind.DELIVERY, minutes=15, order_id="O1"),
        job("O1-I", 10, window=(8, 18), kind=JobKind.INSTALLATION, minutes=60, order_id="O1"),
    ]
    crews = [crew("T1", CrewKind.DELIVERY_TRUCK), crew("I1", CrewKind.INSTALLATION_CREW)]
    plan = make_plan(problem(jobs, crews), FAST)
    route = next(r for r in plan.routes if r.crew_id == "I1")
    s = route.stops[0]
    early = s.start - timedelta(minutes=50)
    route.stops[0] = dataclasses.replace(s, start=early, end=early + timedelta(minutes=60))
    assert "precedence" in _rules(plan)
