"""The diff between two plans of a day (tests/factories.py: 1 km = 100 s).

The street of tests/dispatch/test_overrides.py: C1 A, B, C at 2, 4, 6 km (A 08:03:20, B 08:36:40,
C 09:10 arrivals, 30 min each), C2 E at 10 km (08:16:40), C3 G at 1 km; F (3 km) unplanned.
"""

from __future__ import annotations

import dataclasses
import json

from dispatch.models import TimeWindow
from dispatch.plan import UnassignedReason
from dispatch.running.overrides import Move, apply_move
from dispatch.running.plan_diff import diff_plans
from tests.factories import at, crew, job, planned, problem


def _street(**b_kw):
    jobs = [
        job("A", 2),
        job("B", 4, **b_kw),
        job("C", 6),
        job("E", 10),
        job("F", 3),
        job("G", 1),
    ]
    p = problem(jobs, [crew("C1"), crew("C2"), crew("C3")])
    return planned(p, {"C1": ["A", "B", "C"], "C2": ["E"], "C3": ["G"]})


def test_same_plan_is_an_empty_diff():
    plan = _street()
    diff = diff_plans(plan, plan)
    assert diff.is_empty
    assert diff.summary()["counts"] == dict.fromkeys(diff.summary()["counts"], 0)


def test_a_move_to_another_crew():
    """B to the end of C2: arrives 08:56:40 (6 km back from E) instead of 08:36:40, +20 min:
    within 30 min, beyond 15. C on C1 arrives 08:40 instead of 09:10: -30 min, which is not
    beyond a 30-minute tolerance (beyond means more than)."""
    plan = _street()
    new = apply_move(plan, Move("B", "C2"))
    diff = diff_plans(plan, new)
    assert [(m.job_id, m.from_crew, m.to_crew) for m in diff.moved] == [("B", "C1", "C2")]
    assert diff.crews_changed == ["C1", "C2"]
    eta = {e.job_id: (e.crew_id, e.minutes, e.beyond_tolerance) for e in diff.eta_changes}
    assert eta == {"B": ("C2", 20, False), "C": ("C1", -30, False)}
    strict = diff_plans(plan, new, tolerance_minutes=15)
    assert {e.job_id for e in strict.notices} == {"B", "C"}
    assert not diff.is_empty


def test_notified_eta_overrides_the_old_arrival_and_started_jobs_are_history():
    """The customer of C was told 08:30: the new 08:40 is +10 min. A started: no change."""
    plan = _street()
    new = apply_move(plan, Move("B", "C2"))
    diff = diff_plans(plan, new, notified_eta={"C": at(8, 30)}, started={"B"})
    eta = {e.job_id: (e.old_eta, e.minutes) for e in diff.eta_changes}
    assert eta == {"C": (at(8, 30), 10)}


def test_taken_off_and_put_on():
    """C off its route (unassigned by the dispatcher); F onto C3's route."""
    plan = _street()
    new = apply_move(apply_move(plan, Move("C", None)), Move("F", "C3"))
    diff = diff_plans(plan, new)
    moves = {(m.job_id, m.from_crew, m.to_crew) for m in diff.moved}
    assert moves == {("C", "C1", None), ("F", None, "C3")}
    assert [u.job_id for u in diff.newly_unassigned] == ["C"]
    assert diff.newly_unassigned[0].reason is UnassignedReason.REMOVED_BY_DISPATCHER
    risk = {r.job_id: (r.planned_end, r.reason) for r in diff.at_risk}
    assert risk == {"C": (None, "unassigned: removed_by_dispatcher")}


def test_newly_late_is_at_risk():
    """B planned 08:36:40-09:06:40; moved to the end of C2 it ends 09:26:40. Due 09:00
    (explicit deadline) it is late in both plans: not newly at risk. Due 09:10: on time
    before, 16:40 late after the move (rounded 17 min)."""
    plan = _street(deadline=at(9))
    assert diff_plans(plan, apply_move(plan, Move("B", "C2"))).at_risk == []
    plan = _street(deadline=at(9, 10))
    new = apply_move(plan, Move("B", "C2"))
    (risk,) = diff_plans(plan, new).at_risk
    assert (risk.job_id, risk.deadline, risk.planned_end) == ("B", at(9, 10), at(9, 26, 40))
    assert risk.reason == "would end 17 min after its deadline"


def test_added_and_removed_jobs_and_the_summary_is_json():
    """A plan of a problem without G and with a new job N: G removed, N added."""
    plan = _street()
    p = plan.problem
    n = job("N", 5)
    jobs = [j for j in p.jobs if j.id != "G"] + [n]
    other = planned(dataclasses.replace(p, jobs=jobs), {"C1": ["A", "B", "C"], "C2": ["E", "N"]})
    diff = diff_plans(plan, other)
    assert diff.added == ["N"] and diff.removed == ["G"]
    assert diff.crews_changed == ["C2", "C3"]
    assert diff.moved == []
    text = json.dumps(diff.summary())
    assert json.loads(text)["counts"]["added"] == 1


def test_minutes_round_half_away_from_zero():
    """An arrival 100 s later is +2 min (1:40 rounds up; 0:30 would too, half away)."""
    plan = _street()
    p = plan.problem
    late_a = [
        dataclasses.replace(j, windows=(TimeWindow(at(8, 5), at(18)),)) if j.id == "A" else j
        for j in p.jobs
    ]
    later = planned(dataclasses.replace(p, jobs=late_a), {"C1": ["A", "B", "C"], "C2": ["E"]})
    eta = {e.job_id: e.minutes for e in diff_plans(plan, later).eta_changes}
    assert eta["B"] == 2  # A starts 08:05 instead of 08:03:20: +100 s, B arrives 100 s later
