"""Demo-city regression: a decomposed day plans validly and accounts for every job."""

from __future__ import annotations

import pytest

from dispatch.plan_validator import validate_plan
from dispatch.planning.planner import PlanOptions, make_plan
from fixtures.shanghai import demo_problem


@pytest.mark.slow
def test_demo_day_of_500_jobs_is_valid_and_mostly_planned():
    """500 jobs (split into zone groups, then the cross-zone pass): valid, >= 95 % planned,
    every job planned once or unassigned with a reason, deliveries mostly on promise."""
    problem = demo_problem(jobs=500, seed=7)
    plan = make_plan(problem, PlanOptions(time_limit_s=25, decompose_above=200, group_size=200))
    assert plan.stats["groups"] > 1
    assert validate_plan(plan) == []
    planned = [s.job_id for r in plan.routes for s in r.stops]
    unassigned = [u.job_id for u in plan.unassigned]
    assert sorted(planned + unassigned) == sorted(j.id for j in problem.jobs)
    assert len(planned) >= 0.95 * len(problem.jobs)
