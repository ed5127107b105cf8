"""Assisted jobs in the planner, the validator, overrides and re-planning: a second crew at
the same visit (`Job.assists`), planned whole or not at all.

Hand-worked cases on the test street (`tests.factories`: 1 km = 100 s, no rush hours).
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from dispatch.errors import InputError
from dispatch.models import CrewKind, JobKind
from dispatch.plan import Unassigned, UnassignedReason
from dispatch.plan_validator import validate_plan
from dispatch.planning.planner import PlanOptions, make_plan
from dispatch.running.overrides import Move, OverrideRefused, apply_move
from tests.factories import at, crew, job, planned, problem

INSTALL = CrewKind.INSTALLATION_CREW
OPTIONS = PlanOptions(time_limit_s=5, solution_limit=200, workers=1)


def _pair(lead_id: str = "J1", km: float = 10, window: tuple[int, int] = (9, 11), minutes=60):
    lead = job(lead_id, km, window, JobKind.INSTALLATION, minutes, order_id=f"O-{lead_id}")
    helper = dataclasses.replace(lead, id=f"{lead_id}-A", assists=lead_id, people=1)
    return lead, helper


def test_the_problem_derives_one_sync_per_assisting_job() -> None:
    lead, helper = _pair()
    p = problem([lead, helper], [crew("C1", INSTALL), crew("C2", INSTALL)])
    assert [(s.first, s.second, s.min_delay_minutes, s.max_delay_minutes) for s in p.syncs] == [
        ("J1", "J1-A", 0, 15)
    ]
    again = dataclasses.replace(p, syncs=list(p.syncs))  # read back from its file: no duplicate
    assert len(again.syncs) == 1
    with pytest.raises(InputError) as e:
        dataclasses.replace(helper, assists="J1-A")
    assert e.value.field == "assists"
    with pytest.raises(InputError) as e:
        problem([lead, helper], [crew("C1", INSTALL)], assist_tolerance_minutes=300)
    assert e.value.field == "assist_tolerance_minutes"


def test_a_pair_is_planned_on_two_crews_starting_together() -> None:
    """J1 and its helper at km 10, window 09:00-11:00, 60 min each; C1 and C2 leave the depot
    at 08:00 and arrive at 08:16:40 (1,000 s): both wait for 09:00 and start then, on two
    crews."""
    lead, helper = _pair()
    p = problem([lead, helper], [crew("C1", INSTALL), crew("C2", INSTALL)])
    plan = make_plan(p, OPTIONS)
    stops = plan.stop_of()
    assert set(stops) == {"J1", "J1-A"}
    (r1, k1), (r2, k2) = stops["J1"], stops["J1-A"]
    assert r1.crew_id != r2.crew_id
    assert r1.stops[k1].start == r2.stops[k2].start == at(9)
    assert validate_plan(plan) == []


def test_one_crew_cannot_serve_a_pair() -> None:
    lead, helper = _pair()
    plan = make_plan(problem([lead, helper], [crew("C1", INSTALL)]), OPTIONS)
    assert all(not r.stops for r in plan.routes)
    reasons = {u.job_id: u for u in plan.unassigned}
    assert {reasons["J1"].reason, reasons["J1-A"].reason} == {UnassignedReason.ASSIST_PAIR}
    assert "two different crews" in reasons["J1"].detail and "C1" in reasons["J1"].detail


def test_a_helper_whose_lead_cannot_be_planned_is_not_planned() -> None:
    """The lead needs a skill no crew has: it is unassigned for that, its helper (which any
    crew could do) with the pair's reason naming the lead; an unrelated job is planned."""
    lead, helper = _pair()
    lead = dataclasses.replace(lead, skills=frozenset({"crane"}))
    other = job("R1", 5)
    p = problem([lead, helper, other], [crew("C1", INSTALL), crew("C2", INSTALL)])
    plan = make_plan(p, OPTIONS)
    reasons = {u.job_id: u for u in plan.unassigned}
    assert reasons["J1"].reason is UnassignedReason.NO_ELIGIBLE_CREW
    assert reasons["J1-A"].reason is UnassignedReason.ASSIST_PAIR
    assert "J1" in reasons["J1-A"].detail and "no_eligible_crew" in reasons["J1-A"].detail
    assert "R1" in plan.stop_of()


def test_a_helper_of_a_job_not_in_the_day_is_unassigned_with_the_reason() -> None:
    _, helper = _pair()
    plan = make_plan(problem([helper], [crew("C1", INSTALL), crew("C2", INSTALL)]), OPTIONS)
    (u,) = plan.unassigned
    assert u.reason is UnassignedReason.ASSIST_PAIR and "not in this day's problem" in u.detail


def test_the_validator_refuses_half_a_pair_and_both_on_one_crew() -> None:
    lead, helper = _pair()
    p = problem([lead, helper], [crew("C1", INSTALL), crew("C2", INSTALL)])
    good = planned(p, {"C1": ["J1"], "C2": ["J1-A"]})
    half = dataclasses.replace(
        good,
        routes=[r for r in good.routes if r.crew_id == "C1"],
        unassigned=[Unassigned("J1-A", UnassignedReason.NO_CAPACITY_LEFT)],
    )
    assert [v.rule for v in validate_plan(half)] == ["sync"]
    c1 = next(r for r in good.routes if r.crew_id == "C1")
    c2 = next(r for r in good.routes if r.crew_id == "C2")
    stacked = dataclasses.replace(good, routes=[dataclasses.replace(c1, stops=c1.stops + c2.stops)])
    assert "sync" in {v.rule for v in validate_plan(stacked)}


def test_the_helper_may_start_up_to_the_tolerance_after_the_lead() -> None:
    """C2 does R1 at km 20 first: it arrives at 08:33:20 (2,000 s), works 30 min to 09:03:20
    and is back at km 10 at 09:20 (1,000 s). With a 15-minute tolerance the lead on C1 is
    held until 09:05, exactly 15 min before the helper's 09:20 start; with 0 minutes both
    start at 09:20."""
    lead, helper = _pair(window=(9, 12))
    early = job("R1", 20, (8, 9))
    crews = [crew("C1", INSTALL), crew("C2", INSTALL)]
    for tolerance, lead_start in ((15, at(9, 5)), (0, at(9, 20))):
        p = problem([lead, helper, early], crews, assist_tolerance_minutes=tolerance)
        plan = planned(p, {"C1": ["J1"], "C2": ["R1", "J1-A"]})
        stops = plan.stop_of()
        assert stops["J1-A"][0].stops[stops["J1-A"][1]].start == at(9, 20)
        assert stops["J1"][0].stops[stops["J1"][1]].start == lead_start


def test_taking_one_half_off_takes_the_pair_off() -> None:
    lead, helper = _pair()
    p = problem([lead, helper], [crew("C1", INSTALL), crew("C2", INSTALL)])
    plan = planned(p, {"C1": ["J1"], "C2": ["J1-A"]})
    after = apply_move(plan, Move("J1-A", None))
    assert not after.stop_of()
    reasons = {u.job_id: u for u in after.unassigned}
    assert reasons["J1"].reason is UnassignedReason.REMOVED_BY_DISPATCHER
    assert "J1-A" in reasons["J1"].detail


def test_moving_a_half_onto_its_partners_crew_is_refused_with_the_pair_named() -> None:
    lead, helper = _pair()
    p = problem([lead, helper], [crew("C1", INSTALL), crew("C2", INSTALL)])
    plan = planned(p, {"C1": ["J1"], "C2": ["J1-A"]})
    with pytest.raises(OverrideRefused) as e:
        apply_move(plan, Move("J1-A", "C1"))
    assert any("two-crew visit" in r and "J1" in r for r in e.value.reasons)


def test_placing_a_half_by_hand_places_its_partner_on_another_crew() -> None:
    lead, helper = _pair()
    p = problem([lead, helper], [crew("C1", INSTALL), crew("C2", INSTALL)])
    after = apply_move(planned(p, {}), Move("J1", "C2"))
    stops = after.stop_of()
    assert stops["J1"][0].crew_id == "C2" and stops["J1-A"][0].crew_id == "C1"
    assert not after.unassigned
    alone = problem([lead, helper], [crew("C1", INSTALL)])
    with pytest.raises(OverrideRefused) as e:
        apply_move(planned(alone, {}), Move("J1", "C1"))
    assert "two-crew visit" in e.value.reasons[0]


def _sick_half(spare: bool):
    from dispatch.running.replan import ReplanOptions, replan
    from dispatch.running.replan.state import state_as_planned

    lead, helper = _pair(window=(13, 15))
    crews = [crew("C1", INSTALL), crew("C2", INSTALL)] + ([crew("C3", INSTALL)] if spare else [])
    plan = planned(problem([lead, helper], crews), {"C1": ["J1"], "C2": ["J1-A"]})
    state = dataclasses.replace(state_as_planned(plan, at(10)), unavailable={"C2": at(10)})
    return replan(plan, state, ReplanOptions(time_limit_s=5, solution_limit=100)).plan


def test_a_sick_crews_half_goes_to_a_spare_crew_at_the_same_time() -> None:
    """C2 (the helper's crew) is gone from 10:00; C3 is free: the helper moves to C3 and
    both still start together at 13:00."""
    new = _sick_half(spare=True)
    stops = new.stop_of()
    assert stops["J1-A"][0].crew_id == "C3"
    assert stops["J1"][0].stops[stops["J1"][1]].start == at(13)
    assert stops["J1-A"][0].stops[stops["J1-A"][1]].start == at(13)
    assert validate_plan(new) == []


def test_a_sick_crews_half_with_no_spare_crew_takes_the_pair_off() -> None:
    """No other crew: the lead cannot be done alone, so both are unassigned with the pair's
    reason and the plan stays valid."""
    new = _sick_half(spare=False)
    assert not new.stop_of()
    reasons = {u.job_id: u.reason for u in new.unassigned}
    assert reasons == {"J1": UnassignedReason.ASSIST_PAIR, "J1-A": UnassignedReason.ASSIST_PAIR}
    assert validate_plan(new) == []


@pytest.mark.parametrize("seed", range(4))
def test_random_days_with_pairs_give_valid_plans_and_reasons(seed: int) -> None:
    """Random small days (jobs along the street, three pairs, windows of 2-4 h, 2-4 crews,
    split into areas of five jobs): the planner returns a plan (it raises rather than return
    an invalid one), every job is planned or unassigned with a reason, and each pair is
    planned whole or not at all."""
    rng = random.Random(seed)
    jobs = []
    for n in range(rng.randint(6, 14)):
        start = rng.randint(8, 14)
        jobs.append(job(f"J{n}", rng.uniform(1, 25), (start, start + rng.randint(2, 4)),
                        JobKind.INSTALLATION, rng.choice((30, 60, 90))))  # fmt: skip
    for lead in rng.sample(jobs, 3):
        jobs.append(dataclasses.replace(lead, id=f"{lead.id}-A", assists=lead.id, people=1))
    crews = [crew(f"C{k}", INSTALL) for k in range(rng.randint(2, 4))]
    p = problem(jobs, crews)
    plan = make_plan(p, dataclasses.replace(OPTIONS, decompose_above=4, group_size=5))
    planned_ids = set(plan.stop_of())
    assert planned_ids | {u.job_id for u in plan.unassigned} == {j.id for j in jobs}
    assert not planned_ids & {u.job_id for u in plan.unassigned}
    for s in p.syncs:
        assert (s.first in planned_ids) == (s.second in planned_ids)


def test_an_unmatched_pair_is_explained_with_a_crew_to_add() -> None:
    from dispatch.running.explain import Binding, explain_plan

    lead, helper = _pair()
    plan = make_plan(problem([lead, helper], [crew("C1", INSTALL)]), OPTIONS)
    explained = {e.job_id: e for e in explain_plan(plan)}
    e = explained["J1-A"]
    assert e.binding is Binding.ASSIST_PAIR
    assert "two-crew visit (with J1)" in e.message and "C1" in e.message
    assert [f.kind for f in e.fixes] == ["add_crew"]


def test_the_last_pass_places_a_pair_whole() -> None:
    """An empty day offered to the last pass (`settle_leftovers`): the lead is tried first
    with its helper pending, then the helper on the other crew; both start at 09:00 (the
    crews arrive at 08:16:40 and wait). With one crew it places neither."""
    from dispatch.planning.feasibility import screen
    from dispatch.planning.leftovers import settle_leftovers
    from dispatch.planning.routed_day import routed_day
    from dispatch.translate import build_travel

    lead, helper = _pair()
    for crews, placed in (
        ([crew("C1", INSTALL), crew("C2", INSTALL)], 2),
        ([crew("C1", INSTALL)], 0),
    ):
        p = problem([lead, helper], crews)
        routed = routed_day(p)
        eligible = {j.id: list(range(len(crews))) for j in p.jobs}
        settled = settle_leftovers(routed, [], [], eligible)
        assert len(settled.placed) == placed
        starts = {s.visit: (s.start, r.vehicle) for r in settled.routes for s in r.stops}
        if placed:
            assert starts[0][0] == starts[1][0] == 9 * 3600
            assert starts[0][1] != starts[1][1]
    assert screen(p, build_travel(p)).eligible == {}
