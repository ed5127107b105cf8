"""Certification (issue 21 §1): a crew holds a score per job kind on the domain's 100-point
scale, valid to an expiry day; a rule per job kind (plan settings `certification`, the
service's `FIELDROUTE_CERTIFICATION`) sets the least score a job of that kind needs. A crew
below it, or whose score has lapsed, is not eligible; the reason says so; the validator
refuses a plan that breaks it.

The hand-worked day: one installation 5 km east, rule 80. Crew HIGH holds 85 valid to the
plan day (inclusive: still valid), LOW holds 75, OLD held 90 until the day before. Only HIGH
may do it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from dispatch.errors import InputError, InputErrors
from dispatch.files.plan_settings import apply_settings
from dispatch.files.problem_io import problem_from_dict, problem_to_dict
from dispatch.files.records import crew_from_dict, crew_to_dict
from dispatch.files.settings_schema import parse_settings
from dispatch.models import Certification, CrewKind, JobKind
from dispatch.plan_validator import validate_plan
from dispatch.planning.planner import PlanOptions, make_plan
from tests.factories import DAY, crew, job, problem

FAST = PlanOptions(time_limit_s=5, solution_limit=30)
INSTALL = JobKind.INSTALLATION


def crews():
    def certified(name: str, score: int, days: int):
        held = (Certification(INSTALL, score, DAY + timedelta(days=days)),)
        return crew(name, CrewKind.INSTALLATION_CREW, certifications=held)

    return [certified("HIGH", 85, 0), certified("LOW", 75, 30), certified("OLD", 90, -1)]


def test_only_a_crew_certified_on_the_day_gets_the_job():
    p = problem([job("I1", 5, kind=INSTALL)], crews(), certification={INSTALL: 80})
    assert p.jobs[0].min_certification == 80  # the rule is written into the job
    plan = make_plan(p, FAST)
    assert [(r.crew_id, [s.job_id for s in r.stops]) for r in plan.routes if r.stops] == [
        ("HIGH", ["I1"])
    ]
    route = next(r for r in plan.routes if r.stops)
    route.crew_id = "LOW"  # a hand move onto the crew below the rule
    found = [v for v in validate_plan(plan) if v.rule == "certification"]
    assert [v.crew_id for v in found] == ["LOW"]
    assert "needs certification of 80 or more for installation jobs" in found[0].message
    route.crew_id = "OLD"  # lapsed the day before
    assert [v.crew_id for v in validate_plan(plan) if v.rule == "certification"] == ["OLD"]


def test_no_certified_crew_is_the_unassigned_reason():
    p = problem([job("I1", 5, kind=INSTALL)], crews(), certification={INSTALL: 86})
    plan = make_plan(p, FAST)
    (left,) = plan.unassigned
    assert left.reason.value == "no_eligible_crew"
    assert left.detail == (
        "needs certification of 86 or more for installation jobs; "
        f"the best valid one on {DAY} is 85"
    )


def test_a_jobs_own_level_stands_and_no_rule_means_no_need():
    own = job("I1", 5, kind=INSTALL, min_certification=70)
    p = problem([own, job("I2", 6, kind=INSTALL)], crews(), certification={INSTALL: 80})
    assert [j.min_certification for j in p.jobs] == [70, 80]
    assert problem([job("I3", 5, kind=INSTALL)], crews()).jobs[0].min_certification is None
    assert crews()[2].can_do(job("I4", 5, kind=INSTALL))  # lapsed, but nothing is asked


def test_records_settings_and_problems_carry_certifications():
    raw = {
        "id": "C1", "kind": "installation_crew", "start_depot": "D",
        "certifications": "installation:85:2027-03-31|repair:90",
    }  # fmt: skip
    c = crew_from_dict(raw)
    assert crew_to_dict(c)["certifications"] == [
        {"kind": "installation", "score": 85, "expires": "2027-03-31"},
        {"kind": "repair", "score": 90, "expires": None},
    ]
    assert crew_from_dict(crew_to_dict(c)) == c
    for bad, says in [
        ("installation:101", "score must be 0 to 100"),
        ("install:85", "is no job kind"),
        ("installation:80|installation:90", "at most one certification per job kind"),
    ]:
        with pytest.raises(InputErrors, match=says):
            crew_from_dict({**raw, "certifications": bad})
    settings = parse_settings({"certification": {"installation": 80}}, "settings")
    p = apply_settings(problem([job("I1", 5, kind=INSTALL)], crews()), settings)
    assert p.certification == {INSTALL: 80} and p.jobs[0].min_certification == 80
    again = problem_from_dict(problem_to_dict(p))
    assert again.certification == p.certification and again.jobs == p.jobs
    with pytest.raises(InputErrors, match=r"certification\.installation"):
        parse_settings({"certification": {"installation": 101}}, "settings")
    with pytest.raises(InputError, match="min_certification"):
        replace(job("I1", 5), min_certification=120)


def test_the_explanation_names_the_certification():
    from dispatch.running.explain import explain_plan

    p = problem([job("I1", 5, kind=INSTALL)], crews(), certification={INSTALL: 86})
    (why,) = [e for e in explain_plan(make_plan(p, FAST)) if e.job_id == "I1"]
    assert "certification of 86 or more for installation jobs" in why.message
    assert f"the best valid on {DAY} is 85 (HIGH)" in why.message
