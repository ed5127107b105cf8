"""Assisted installations in the season (two crews at one visit, `Job.assists`): made by the
demand, offered, carried and cancelled as a pair, executed as one visit, counted once in
the promise, callback and follow-up figures, and a short season that plans some whole.

Hand-worked execution cases use the test street (`tests.factories`: 1 km = 100 s).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np
import pytest

from dispatch.models import CrewKind, JobKind
from dispatch.products import needs_assist
from dispatch.season import simulator as sim
from dispatch.season.demand import NewJob, carried_slot, orders_of_day
from dispatch.season.execution import (
    ABSENT,
    DONE,
    PARTNER_MISSING,
    TOO_LATE,
    DayExecution,
    Visit,
    execute_day,
)
from dispatch.season.figures import season_tables
from dispatch.season.offer import choose_offer
from dispatch.season.settings import (
    CrewSettings,
    DemandSettings,
    ExecutionSettings,
    PlannerSettings,
    SeasonSettings,
    settings_from_dict,
)
from dispatch.season.state import SeasonState
from fixtures.shanghai_season import season_city
from tests.factories import DAY, at, crew, job, planned, problem

INSTALL = CrewKind.INSTALLATION_CREW
CALM = ExecutionSettings(
    travel_cv=0, service_cv=0, overrun_probability=0, absent_probability=0, sick_probability=0
)
FAST = PlannerSettings(time_limit_s=5, solution_limit=30)
SHORT_PEAK = DemandSettings(peak_start_day=1, peak_days=2, ramp_days=1, decline_days=1)


@pytest.fixture(scope="module")
def small_city():
    return season_city(0.05)


# --- demand ---------------------------------------------------------------------------------


def _plateau_orders(assisted: bool) -> list[list[NewJob]]:
    """The default season's first three plateau days (10-12) at scale 0.3."""
    s = SeasonSettings(scale=0.3, demand=DemandSettings(assisted=assisted))
    city = season_city(0.3)
    return [
        order
        for day in (10, 11, 12)
        for order in orders_of_day(s, city, day, np.random.default_rng([s.seed, day + 1, 1]))
    ]


def test_installations_that_need_a_second_crew_get_their_assisting_job():
    with_pairs, without = _plateau_orders(True), _plateau_orders(False)
    installs = [n for o in with_pairs for n in o if n.job.kind is JobKind.INSTALLATION]
    leads = [n for n in installs if n.job.assists is None]
    helpers = {n.job.assists: n for n in installs if n.job.assists is not None}
    # the rule of the demo day (`needs_assist`) on every lead, each helper right after it
    assert set(helpers) == {n.job.id for n in leads if needs_assist(n.job)}
    for order in with_pairs:
        for k, new in enumerate(order):
            if new.job.assists is None:
                continue
            lead = order[k - 1]
            assert lead.job.id == new.job.assists and new.job.id == f"{lead.job.id}-A"
            assert (new.slot, new.release_day) == (lead.slot, lead.release_day)
            assert new.job.windows == lead.job.windows and new.job.order_id == lead.job.order_id
            assert new.job.people == 1 and lead.job.people <= 2
            assert new.job.deadline == lead.job.deadline
    # a few per cent of the plateau's installations (the default season: 4.3 %)
    share = len(helpers) / len(leads)
    assert len(helpers) >= 10 and 0.02 < share < 0.07, (len(helpers), len(leads))
    # no extra random draw: every other job is drawn exactly as without assisted jobs
    before = {n.job.id: n for o in without for n in o}
    after = {n.job.id: n for o in with_pairs for n in o if n.job.assists is None}
    assert before.keys() == after.keys()
    for job_id, new in after.items():
        old = before[job_id]
        if job_id in helpers:  # the lead of a pair: three people on the stairs in all
            old = dataclasses.replace(old, job=dataclasses.replace(old.job, people=new.job.people))
        assert new == old


def test_assisted_jobs_can_be_switched_off_by_scenario():
    s = settings_from_dict({"demand": {"assisted": False}})
    assert s.demand.assisted is False and SeasonSettings().demand.assisted is True
    with pytest.raises(Exception, match="not true or false"):
        settings_from_dict({"demand": {"assisted": 1}})


# --- offer, carry-over, outcomes --------------------------------------------------------------


def _pair_state(small_city, **changes) -> tuple[SeasonState, list[NewJob]]:
    """A season state holding one sale with an assisted installation (found in the demand)."""
    s = SeasonSettings(scale=0.3, planner=FAST, **changes)
    for day in range(10, 20):
        rng = np.random.default_rng([s.seed, day + 1, 1])
        for order in orders_of_day(s, season_city(0.3), day, rng):
            if any(n.job.assists for n in order) and order[0].release_day == day:
                state = SeasonState(s, small_city)
                for new in order:  # as released on day 0
                    state.add(dataclasses.replace(new, release_day=0), "sale", 0)
                return state, order
    raise AssertionError("no assisted installation in ten plateau days")


def test_a_pair_is_offered_whole_or_not_at_all():
    """Two pairs, each a 60-minute lead only crew A's class can do and a helper only crew
    B's can; B's budget is 50 minutes: the first pair is offered, the second not at all,
    though A's class could take its lead. A helper alone (its lead not open) is not offered."""
    pairs = []
    for n in (1, 2):
        lead = job(f"I{n}", 3, (9, 18), JobKind.INSTALLATION, 60, skills=frozenset({"ac_install"}))
        helper = dataclasses.replace(
            lead, id=f"I{n}-A", assists=lead.id, people=1, skills=frozenset({"work_at_height"})
        )
        pairs += [(lead, at(9 + n)), (helper, at(9 + n))]
    a = crew("A", INSTALL, skills=frozenset({"ac_install"}))
    b = crew("B", INSTALL, skills=frozenset({"work_at_height"}), people=1)
    fill = {("installation_crew", b.skills, 1): 50 / 420}  # 600 min x 0.7 on site: 420
    offer = choose_offer(pairs, [a, b], fill, pool_factor=1.0)
    assert [j.id for j in offer] == ["I1", "I1-A"]
    assert [j.id for j in choose_offer(pairs, [a, b], {}, 1.0)] == ["I1", "I1-A", "I2", "I2-A"]
    assert choose_offer(pairs[1:2], [a, b], {}, 1.0) == []


def test_a_carried_pair_is_rebooked_on_one_window_the_same_day(small_city):
    state, _ = _pair_state(small_city)
    pool = sim._pool(state, 1, state.own_crews)  # released on day 0, still open on day 1
    pair = [j for j in pool if j.kind is JobKind.INSTALLATION]
    assert len(pair) == 2 and pair[1].assists == pair[0].id
    day1 = state.s.start + timedelta(days=1)
    assert pair[0].windows == pair[1].windows
    window = pair[0].windows[0]
    assert window.start.date() == day1
    slot = carried_slot(JobKind.INSTALLATION, state.s.demand.install_until_hour * 60)
    assert (window.start.hour * 60, window.end.hour * 60) == slot


def test_an_absent_customer_fails_the_pair_and_cancels_both_with_the_order(small_city):
    state, order = _pair_state(small_city)
    lead, helper = (n.job for n in order if n.job.kind is JobKind.INSTALLATION)
    for d in range(state.s.execution.max_attempts):
        visits = DayExecution()
        for j in (lead, helper):
            visits.visits[j.id] = Visit(j.id, "C", ABSENT, at(10))
        sim._outcomes(state, d, visits, set())
    assert {state.jobs[j].status for j in state.orders[lead.order_id]} == {"cancelled"}
    assert state.jobs[lead.id].attempts == state.jobs[helper.id].attempts == 3


def test_only_the_assisted_installation_draws_a_callback_and_gets_the_call(small_city):
    state, order = _pair_state(
        small_city, crews=CrewSettings(own_callback_probability=1.0, temp_callback_probability=1.0)
    )
    lead, helper = (n.job for n in order if n.job.kind is JobKind.INSTALLATION)
    visits = DayExecution()
    for j, c in ((lead, "C1"), (helper, "C2")):
        visits.visits[j.id] = Visit(j.id, c, DONE, at(10), at(11))
    sim._outcomes(state, 0, visits, set())
    assert state.jobs[lead.id].callback_drawn and not state.jobs[helper.id].callback_drawn
    assert [job_id for job_id, _ in state.followups] == [lead.id]
    assert [state.jobs[lead.id].status, state.jobs[helper.id].status] == ["done", "done"]


# --- execution: one visit by two crews -------------------------------------------------------


def _pair_plan(prelude_minutes: int = 0):
    """J1 and its helper at km 10, window 09:00-11:00, 60 min; C1 does J1, C2 does R1 (at
    the same place, `prelude_minutes`) before J1-A when asked. Both leave at 08:00 and
    arrive at 08:16:40."""
    lead = job("J1", 10, (9, 11), JobKind.INSTALLATION, 60, order_id="O1")
    helper = dataclasses.replace(lead, id="J1-A", assists="J1", people=1)
    jobs, second = [lead, helper], ["J1-A"]
    if prelude_minutes:
        jobs.append(job("R1", 10, (8, 18), JobKind.REPAIR, prelude_minutes))
        second = ["R1", "J1-A"]
    p = problem(jobs, [crew("C1", INSTALL), crew("C2", INSTALL)])
    return planned(p, {"C1": ["J1"], "C2": second})


def _run(plan, x: ExecutionSettings = CALM, productivity=None) -> DayExecution:
    return execute_day(plan, productivity or {}, x, 30, np.random.default_rng(0))


def test_the_first_crew_waits_and_both_work_at_the_slower_pace():
    """C2 does R1 (30 min planned, productivity 0.5: 08:16:40-09:16:40) before its half;
    C1 waits on site from 08:16:40. The visit starts at 09:16:40 when both are there and
    takes 60 min / 0.5 = 120 min: both halves done 09:16:40-11:16:40."""
    plan = _pair_plan(prelude_minutes=30)
    out = _run(plan, productivity={"C2": 0.5})
    lead, helper = out.visits["J1"], out.visits["J1-A"]
    assert (lead.outcome, helper.outcome) == (DONE, DONE)
    assert lead.start == helper.start == at(9, 16, 40)
    assert lead.end == helper.end == at(11, 16, 40)
    assert {lead.crew_id, helper.crew_id} == {"C1", "C2"}
    # C1's day: 1,000 s there, 120 min of work, 1,000 s back (waiting is not work)
    assert out.crews["C1"].worked_s == 1000 + 7200 + 1000
    assert out.crews["C1"].jobs_done == 1 and out.crews["C2"].jobs_done == 2


def test_an_absent_customer_is_drawn_once_for_both_crews():
    out = _run(_pair_plan(), dataclasses.replace(CALM, absent_probability=1.0))
    assert out.visits["J1"].outcome == out.visits["J1-A"].outcome == ABSENT
    assert out.visits["J1"].start == out.visits["J1-A"].start == at(9)


def test_a_crew_that_cannot_come_leaves_its_partner_without_a_visit():
    """C2's R1 takes 300 min (30 / 0.1) and ends at 13:16:40, past J1-A's window and the
    hour of tolerance: J1-A is too late, and C1, on site since 08:16:40, leaves after the
    failed visit's 10 minutes without doing J1."""
    out = _run(_pair_plan(prelude_minutes=30), productivity={"C2": 0.1})
    assert out.visits["J1-A"].outcome == TOO_LATE
    assert out.visits["J1"].outcome == PARTNER_MISSING
    assert out.crews["C1"].jobs_done == 0
    assert out.crews["C1"].worked_s == 1000 + 1000  # there and back, no work


def test_without_pairs_execution_draws_as_before():
    """A plan without pairs runs through the same draws: one travel, service, overrun and
    absence draw per stop (the default noise), as the season's reproducibility needs."""
    p = problem(
        [job("R1", 5, (8, 12)), job("R2", 8, (9, 14))],
        [crew("C1", INSTALL)],
    )
    plan = planned(p, {"C1": ["R1", "R2"]})
    x = ExecutionSettings()
    out = execute_day(plan, {}, x, 30, np.random.default_rng(7))
    rng = np.random.default_rng(7)  # the draws again, by hand, in the same order
    sigma_t = np.sqrt(np.log(1 + x.travel_cv**2))
    sigma_s = np.sqrt(np.log(1 + x.service_cv**2))
    t = 8 * 3600 + 0.0
    for stop_id, km_from in (("R1", 5), ("R2", 3)):
        t += km_from * 100 * rng.lognormal(-(sigma_t**2) / 2, sigma_t)
        start = max(t, {"R1": 8, "R2": 9}[stop_id] * 3600)
        service = 1800 * rng.lognormal(-(sigma_s**2) / 2, sigma_s)
        if rng.random() < x.overrun_probability:
            service *= x.overrun_factor
        absent = rng.random() < x.absent_probability
        t = start + (x.failed_visit_minutes * 60 if absent else service)
        visit = out.visits[stop_id]
        assert visit.outcome == (ABSENT if absent else DONE)
        assert visit.start == at(0) + timedelta(seconds=round(start))


# --- figures -------------------------------------------------------------------------------


def test_figures_count_an_assisted_order_once(small_city):
    """One sale on 2026-06-18: delivery D1 done 11:00, installation I1 and its helper I1-A
    done 14:00 by two crews (I1 ordered 09:00, due 09:00 next day: day 1), the lead's
    callback drawn, D1 and I1 called. One installation due and kept, one wait of 5 h, a
    callback rate of 1/1, follow-up coverage 2/2; three jobs done, one of them assisting."""
    shape = DemandSettings(peak_start_day=1, peak_days=1, ramp_days=1, decline_days=0)
    s = SeasonSettings(start=DAY, days=2, scale=0.05, planner=FAST, demand=shape)
    state = SeasonState(s, small_city)
    ordered = at(9)
    common = {"order_id": "O1", "confirmed_at": ordered, "region": "urban", "zone": "Z01"}
    d1 = job("D1", 3, (10, 12), JobKind.DELIVERY, 20, deadline=at(21), **common)
    i1 = job("I1", 3, (12, 18), JobKind.INSTALLATION, 60, deadline=at(9) + timedelta(1), **common)
    helper = dataclasses.replace(i1, id="I1-A", assists="I1", people=1)
    for j in (d1, i1, helper):
        state.add(NewJob(j, (600, 720), 0), "sale", 0)
    for j, end, c in ((d1, at(11), "T1"), (i1, at(14), "C1"), (helper, at(14), "C2")):
        r = state.jobs[j.id]
        r.status, r.done_day, r.done_at, r.crew_id = "done", 0, end, c
    state.jobs["I1"].callback_drawn = True
    state.jobs["D1"].called_day = state.jobs["I1"].called_day = 1
    state.backlog = [{}, {}]
    state.assist_pairs = [(1, 1), (0, 0)]
    tables = season_tables(state)
    day0, day1 = tables["days"]
    assert (day0["jobs_done"], day0["assists_done"]) == (3, 1)
    assert (day1["installs_due"], day1["installs_on_time"], day1["installs_within_customer"]) == (
        1,
        1,
        1,
    )
    assert (day0["completed_install_repair"], day0["callbacks_drawn"]) == (1, 1)
    assert day0["callback_rate"] == 1.0 and day0["followup_coverage"] == 1.0
    assert tables["install_waits_h"] == [5.0]
    summary = tables["summary"]
    assert summary["jobs_done"] == 3 and summary["share_install_24h_customer"] == 1.0
    assert summary["assisted_visits"] == 1 and summary["assisted_visits_done"] == 1
    assert (summary["assist_pairs_offered"], summary["assist_pairs_planned"]) == (1, 1)
    assert tables["ledger"]["orders_completed"] == 1


# --- a short season ----------------------------------------------------------------------------


def test_a_short_season_plans_and_does_pairs_whole(small_city, monkeypatch):
    """Four days at scale 0.05 (a short peak): some pairs are offered, planned on two crews
    starting together (validated plans) and done; each pair ends the season together."""
    plans: list = []
    states: list = []

    def tables_and_keep(state):
        states.append(state)
        return season_tables(state)

    monkeypatch.setattr(sim, "_plan", _keeping(sim._plan, plans))
    monkeypatch.setattr(sim, "season_tables", tables_and_keep)
    s = SeasonSettings(days=4, scale=0.05, planner=FAST, demand=SHORT_PEAK)
    result = sim.simulate_season(s, small_city)
    assert sim.check_conservation(result) == [] and result.ledger["jobs_lost"] == 0
    summary = result.summary
    assert summary["assisted_visits"] >= 5
    assert summary["assist_pairs_planned"] >= 3 and summary["assisted_visits_done"] >= 2
    tolerance = timedelta(minutes=15)
    for plan in plans:
        stops = plan.stop_of()
        for j in plan.problem.jobs:
            if j.assists is None or j.id not in stops:
                continue
            (r1, k1), (r2, k2) = stops[j.assists], stops[j.id]
            assert r1.crew_id != r2.crew_id
            assert timedelta(0) <= r2.stops[k2].start - r1.stops[k1].start <= tolerance
    (state,) = states
    for r in state.jobs.values():
        if r.job.assists is not None:
            lead = state.jobs[r.job.assists]
            assert (r.status, r.done_day, r.done_at) == (lead.status, lead.done_day, lead.done_at)
            assert r.crew_id != lead.crew_id or r.status != "done"
            assert not r.callback_drawn and r.called_day is None


def _keeping(plan_fn, plans):
    def keep(problem, s):
        plan = plan_fn(problem, s)
        plans.append(plan)
        return plan

    return keep
