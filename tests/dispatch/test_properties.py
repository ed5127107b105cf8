"""Property tests: random small days always give valid plans that account for every job."""

from __future__ import annotations

from datetime import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.day_problem import TravelSettings
from dispatch.models import CrewKind, JobKind, LunchBreak, Priority
from dispatch.plan_validator import validate_plan
from dispatch.planning.planner import PlanOptions, make_plan
from tests.factories import at, crew, depot, job, problem

SKILLS = ["ac_install", "work_at_height", "electrical", "tv_mount"]
RUSH = TravelSettings(rush_hours=(("07:00", "09:30", 1.4), ("17:00", "19:30", 1.5)))


@st.composite
def small_day(draw):
    n_jobs = draw(st.integers(1, 9))
    jobs = []
    for k in range(n_jobs):
        kind = draw(st.sampled_from(list(JobKind)))
        start = draw(st.integers(8, 17))
        length = draw(st.integers(1, 4))
        jobs.append(
            job(
                f"J{k}",
                draw(st.floats(0.5, 25)),
                window=(start, min(start + length, 20)),
                kind=kind,
                minutes=draw(st.integers(10, 120)),
                skills=frozenset(draw(st.lists(st.sampled_from(SKILLS), max_size=2))),
                people=draw(st.integers(1, 3)),
                priority=draw(st.sampled_from(list(Priority))),
                volume_l=draw(st.floats(0, 900)),
                order_id=f"O{k // 2}" if draw(st.booleans()) else f"O-{k}",
            )
        )
    crews = []
    for k in range(draw(st.integers(1, 3))):
        lunch = LunchBreak(time(11, 30), time(13, 30), 45) if draw(st.booleans()) else None
        crews.append(
            crew(
                f"C{k}",
                draw(st.sampled_from(list(CrewKind))),
                people=draw(st.integers(1, 3)),
                skills=frozenset(draw(st.lists(st.sampled_from(SKILLS), max_size=4))),
                capacity_volume_l=draw(st.sampled_from([500, 1500, 5000])),
                lunch=lunch,
                shift_start=time(draw(st.integers(7, 10))),
                shift_end=time(draw(st.integers(15, 20))),
                start_depot=draw(st.sampled_from(["D", "E"])),
            )
        )
    travel = RUSH if draw(st.booleans()) else None
    kw = {"travel": travel} if travel else {}
    return problem(jobs, crews, [depot("D", 0), depot("E", 12)], **kw)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_day())
def test_random_days_give_valid_plans_with_every_job_accounted(p):
    """Valid plan; each job planned exactly once or unassigned with a reason."""
    plan = make_plan(p, PlanOptions(time_limit_s=2, solution_limit=30, workers=1))
    assert validate_plan(plan) == []
    planned = [s.job_id for r in plan.routes for s in r.stops]
    unassigned = [u.job_id for u in plan.unassigned]
    assert sorted(planned + unassigned) == sorted(j.id for j in p.jobs)
    assert all(u.reason and u.detail for u in plan.unassigned)
    for r in plan.routes:
        for s in r.stops:
            assert s.start >= s.arrival
    assert at(0) <= min((r.depart for r in plan.routes), default=at(0))


def test_same_input_and_limits_give_the_same_plan():
    """Determinism: two runs with the same input and solution limit give identical routes."""
    jobs = [job(f"J{k}", 1 + (k * 7) % 23, window=(8 + k % 8, 10 + k % 8)) for k in range(14)]
    p = problem(jobs, [crew("C1"), crew("C2"), crew("C3")])
    opts = PlanOptions(time_limit_s=30, solution_limit=150, workers=1)

    def routes(plan):
        return [(r.crew_id, [(s.job_id, s.start) for s in r.stops]) for r in plan.routes]

    assert routes(make_plan(p, opts)) == routes(make_plan(p, opts))
