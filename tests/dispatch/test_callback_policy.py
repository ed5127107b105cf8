"""Callback policy (issue 21 §1): per region, a callback (a repeat visit for the same fault)
either prefers its original crew at a soft cost, or must go to a different crew, certified
above the original one for the job's kind when that is known.

By hand: one repair 5 km east of the depot, a callback whose original crew is B. Crews A and B
are alike but A costs 2 CNY/km and B 3: the 10 km round trip costs A 20 CNY and B 30, so
without a wish A serves it. Preferring B costs 30 CNY elsewhere (`PREFER_ORIGINAL_CENTS`), more
than the 10 CNY B costs extra: B serves it. Under `different_crew` B may not, A does.
"""

from __future__ import annotations

from dataclasses import replace

from dispatch.files.problem_io import problem_from_dict, problem_to_dict
from dispatch.files.records import job_from_dict, job_to_dict
from dispatch.models import CallbackPolicy, Certification, CrewKind, JobKind
from dispatch.plan_validator import validate_plan
from dispatch.planning.planner import PlanOptions, make_plan
from tests.factories import crew, job, problem

FAST = PlanOptions(time_limit_s=5, solution_limit=30)
REPAIR = JobKind.REPAIR
PREFER, DIFFERENT = CallbackPolicy.PREFER_ORIGINAL, CallbackPolicy.DIFFERENT_CREW


def tech(name: str, per_km: float, score: int | None = None):
    held = (Certification(REPAIR, score),) if score is not None else ()
    return crew(name, CrewKind.REPAIR_TECHNICIAN, cost_per_km=per_km, certifications=held)


def callback(**kw):
    return job("CB1", 5, kind=REPAIR, original_crew="B", **kw)


def served_by(p) -> tuple[str, ...]:
    plan = make_plan(p, FAST)
    assert validate_plan(plan) == []
    return tuple(r.crew_id for r in plan.routes if r.stops)


def test_the_original_crew_is_preferred_by_default_and_barred_when_the_region_says():
    crews = [tech("A", 2.0), tech("B", 3.0)]
    assert served_by(problem([replace(callback(), original_crew=None)], crews)) == ("A",)
    preferred = problem([callback()], crews)
    assert preferred.jobs[0].callback_policy is PREFER  # the default, written in
    assert served_by(preferred) == ("B",)
    barred = problem([callback()], crews, callback_policy={"urban": DIFFERENT})
    assert served_by(barred) == ("A",)


def test_a_different_crew_must_be_certified_above_the_original():
    crews = [tech("A", 2.0, 80), tech("B", 3.0, 85), tech("C", 4.0, 90)]
    p = problem([callback()], crews, callback_policy={"urban": DIFFERENT})
    assert p.jobs[0].min_certification == 86
    assert served_by(p) == ("C",)


def test_no_other_crew_is_the_reason_and_the_validator_catches_the_original():
    alone = problem([callback()], [tech("B", 3.0)], callback_policy={"urban": DIFFERENT})
    plan = make_plan(alone, FAST)
    (left,) = plan.unassigned
    assert left.reason.value == "no_eligible_crew"
    assert "other than its original one (B" in left.detail
    allowed = make_plan(problem([callback()], [tech("B", 3.0)]), FAST)
    allowed.problem.jobs[0] = replace(allowed.problem.jobs[0], callback_policy=DIFFERENT)
    assert "callback_policy" in {v.rule for v in validate_plan(allowed)}


def test_the_policy_travels_with_jobs_and_problems():
    p = problem([callback()], [tech("B", 3.0)], callback_policy={"urban": DIFFERENT})
    record = job_to_dict(p.jobs[0])
    assert (record["original_crew"], record["callback_policy"]) == ("B", "different_crew")
    assert job_from_dict(record) == p.jobs[0]
    again = problem_from_dict(problem_to_dict(p))
    assert again.callback_policy == {"urban": DIFFERENT} and again.jobs == p.jobs
