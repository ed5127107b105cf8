"""Issue 22 part 2: a maximum gap from a delivery's end to its installation's start, per
product category and/or region (`DispatchProblem.max_link_gap_minutes`), worked by hand on
the test street (tests/factories.py: 1 km = 100 s, the depot at 0 km).

The order: delivery D at 10 km (1,000 s = 16 min 40 s from the depot), 15 min on site, by
the truck T; installation I at the same door, 60 min, by the installer N. Link gap 30 min.
"""

from __future__ import annotations

import dataclasses
from datetime import date, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.errors import InputError, InputErrors
from dispatch.files.plan_settings import apply_settings, effective_settings, parse_settings
from dispatch.files.problem_io import problem_from_dict, problem_to_dict
from dispatch.link_rules import CrewMode, rule_for
from dispatch.models import CrewKind, JobKind, LunchBreak, ProductCategory, TimeWindow
from dispatch.plan import Plan, UnassignedReason
from dispatch.plan_validator import validate_plan
from dispatch.planning.horizon import plan_horizon
from dispatch.planning.planner import PlanOptions, make_plan
from dispatch.running.explain import explain_plan
from dispatch.running.overrides import Move, OverrideRefused, apply_move
from dispatch.running.replan import DayState, ReplanOptions, replan
from tests.factories import DAY, at, crew, job, planned, problem

FAST = PlanOptions(time_limit_s=2, solution_limit=100, workers=1)
AC = ProductCategory.SPLIT_AC


def _order(delivery=(9, 13), install=(14, 18), **kw):
    return [
        job("D", 10, window=delivery, kind=JobKind.DELIVERY, minutes=15, order_id="O1", **kw),
        job("I", 10, window=install, kind=JobKind.INSTALLATION, minutes=60, order_id="O1", **kw),
    ]


def _crews():
    return [crew("T", CrewKind.DELIVERY_TRUCK), crew("N", CrewKind.INSTALLATION_CREW)]


def _stops(plan: Plan) -> dict[str, tuple[str, time, time]]:
    return {
        s.job_id: (r.crew_id, s.start.time(), s.end.time()) for r in plan.routes for s in r.stops
    }


def _reasons(plan: Plan):
    return {u.job_id: (u.reason, u.detail) for u in plan.unassigned}


def test_the_rule_key_most_specific_wins_and_category_beats_region():
    """Keys: category@region, then category, then @region, then "*"."""
    rule = {"*": 2880, "@rural": 1440, "split_ac": 600, "split_ac@rural": 300}
    ac_rural, ac_town = _order(category=AC, region="rural")[1], _order(category=AC)[1]
    tv_rural = _order(category=ProductCategory.TV, region="rural")[1]
    tv_town = _order(category=ProductCategory.TV)[1]
    assert [rule_for(rule, j) for j in (ac_rural, ac_town, tv_rural, tv_town)] == [
        300,
        600,
        1440,
        2880,
    ]
    assert rule_for({}, ac_town) is None


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"fridge": 600}, "not a product category"),
        ({"": 600}, "an empty key"),
        ({"@bad region": 600}, "is not an id"),
        ({"split_ac": 10}, "must be from the link gap (30 min)"),
    ],
)
def test_bad_rules_are_refused_naming_the_key(rule, message):
    with pytest.raises(InputError, match="max_link_gap_minutes") as err:
        problem(_order(), _crews(), max_link_gap_minutes=rule)
    assert message in str(err.value)


def test_the_gap_pulls_the_delivery_late_enough():
    """D's window 09:00-13:00, I's 14:00-18:00. Without a maximum gap the truck delivers
    09:00-09:15 and the installer starts 14:00: 4 h 45 min later. With 120 min for split
    ACs the delivery must end by 14:00 - 2 h = 12:00 at the earliest: it runs 11:45-12:00,
    and the installation still starts 14:00, exactly 120 min after."""
    loose = make_plan(problem(_order(category=AC), _crews()), FAST)
    assert _stops(loose) == {
        "D": ("T", time(9), time(9, 15)),
        "I": ("N", time(14), time(15)),
    }
    p = problem(_order(category=AC), _crews(), max_link_gap_minutes={"split_ac": 120})
    plan = make_plan(p, FAST)
    assert _stops(plan) == {
        "D": ("T", time(11, 45), time(12)),
        "I": ("N", time(14), time(15)),
    }
    assert validate_plan(plan) == []


def test_a_gap_no_window_keeps_leaves_the_installation_out_naming_the_rule():
    """D must start by 10:00 (window 09:00-10:00), so it ends by 10:15; 120 min later is
    12:15, but I's window opens 14:00. The truck delivers 09:00-09:15 (nothing pulls it
    now), and the installation is unassigned `max_link_gap`: 09:15 + 120 min = 11:15,
    165 min before 14:00."""
    p = problem(_order(delivery=(9, 10)), _crews(), max_link_gap_minutes={"*": 120})
    plan = make_plan(p, FAST)
    assert _stops(plan) == {"D": ("T", time(9), time(9, 15))}
    reason, detail = _reasons(plan)["I"]
    assert reason is UnassignedReason.MAX_LINK_GAP
    assert "its delivery D ends 09:15 on T" in detail
    assert "165 min past the maximum gap of 120 min" in detail
    # and "why is it not planned?" does not offer the idle installer's day as a fit
    (why,) = [e for e in explain_plan(plan) if e.job_id == "I"]
    assert "maximum gap" in why.message


def test_the_validator_refuses_a_plan_breaking_the_gap():
    """The loose plan (D 09:00-09:15, I 14:00) read under a 120-min gap for split ACs: I
    starts 285 min after D ends; the validator names both jobs and the gap."""
    p = problem(_order(category=AC), _crews())
    plan = planned(p, {"T": ["D"], "N": ["I"]})
    ruled = dataclasses.replace(p, max_link_gap_minutes={"split_ac": 120})
    violations = validate_plan(Plan(ruled, plan.routes, plan.unassigned))
    assert [(v.rule, v.job_id, v.crew_id) for v in violations] == [("max_link_gap", "I", "N")]
    assert "285 min after its delivery D ends" in violations[0].message
    assert "maximum gap of 120 min" in violations[0].message


def test_an_installation_delivered_yesterday_keeps_the_gap_across_days():
    """I alone today, its delivery ended yesterday 17:00 (`delivered_at`); 24 h for every
    order: it must start by today 17:00. Window 14:00-18:00: cut to 14:00-17:00, planned
    14:00. Window 17:30-19:00: nothing left, unassigned `max_link_gap` naming the delivery's
    end and the deadline."""
    yesterday = at(17) - timedelta(days=1)
    rule = {"*": 24 * 60}
    (inst,) = _order()[1:]
    fits = dataclasses.replace(inst, delivered_at=yesterday)
    plan = make_plan(problem([fits], _crews(), max_link_gap_minutes=rule), FAST)
    assert _stops(plan) == {"I": ("N", time(14), time(15))}
    late = dataclasses.replace(fits, windows=(TimeWindow(at(17, 30), at(19)),))
    plan = make_plan(problem([late], _crews(), max_link_gap_minutes=rule), FAST)
    reason, detail = _reasons(plan)["I"]
    assert reason is UnassignedReason.MAX_LINK_GAP
    assert f"its delivery ended {yesterday:%Y-%m-%d} 17:00" in detail
    assert f"must start by {DAY:%Y-%m-%d} 17:00" in detail


def test_the_validator_refuses_an_installation_past_its_earlier_delivery():
    """I at 14:00 today, its delivery ended yesterday 12:00, 24 h allowed: 26 h after."""
    (inst,) = _order()[1:]
    p = problem([inst], _crews())
    plan = planned(p, {"N": ["I"]})
    done = dataclasses.replace(inst, delivered_at=at(12) - timedelta(days=1))
    ruled = dataclasses.replace(p, jobs=[done], max_link_gap_minutes={"*": 24 * 60})
    rules = {v.rule for v in validate_plan(Plan(ruled, plan.routes, plan.unassigned))}
    assert "max_link_gap" in rules


def test_an_override_that_breaks_the_gap_is_refused_with_the_rule_named():
    """Planned: D 11:45-12:00 (pulled by the gap), I 14:00. The dispatcher moves I behind a
    repair R on N whose window is 16:00-17:00 (60 min): I would start 17:00, so D would have
    to end by 15:00, starting 14:45, but its window closes 13:00: refused, naming the gap."""
    repair = job("R", 10, window=(16, 17), minutes=60)
    p = problem([*_order(), repair], _crews(), max_link_gap_minutes={"*": 120})
    plan = planned(p, {"T": ["D"], "N": ["I", "R"]})
    assert _stops(plan)["D"] == ("T", time(11, 45), time(12))
    with pytest.raises(OverrideRefused) as refused:
        apply_move(plan, Move("I", "N", 1))
    text = " ".join(refused.value.reasons)
    assert "job D: its installation I (crew N) would start at 17:00" in text
    assert "120-minute maximum gap" in text
    assert "14:45" in text and "13:00" in text


def test_an_override_past_an_earlier_delivery_names_the_gap():
    """I alone, delivered yesterday 15:00, 24 h: by 15:00 today. Moved behind R (16:00):"""
    (inst,) = _order(install=(9, 18))[1:]
    inst = dataclasses.replace(inst, delivered_at=at(15) - timedelta(days=1))
    repair = job("R", 10, window=(16, 17), minutes=60)
    p = problem([inst, repair], _crews(), max_link_gap_minutes={"*": 24 * 60})
    plan = planned(p, {"N": ["I", "R"]})
    with pytest.raises(OverrideRefused) as refused:
        apply_move(plan, Move("I", "N", 1))
    text = " ".join(refused.value.reasons)
    assert "more than the 1440-minute maximum gap" in text


def _day_two(order_windows):
    """Day 1: the order's delivery (09:00-10:00) and, on day 2, its installation."""
    day2 = DAY + timedelta(days=1)
    d, i = _order(delivery=(9, 10))
    a, b = (at(h, day=day2) for h in order_windows)
    i = dataclasses.replace(i, windows=(TimeWindow(a, b),))
    first = problem([d, i], _crews(), max_link_gap_minutes={"*": 24 * 60})

    def next_day(day: date):
        assert day == day2
        return dataclasses.replace(first, date=day, jobs=[])

    return plan_horizon(first, 2, next_day, FAST)


def test_the_horizon_holds_the_gap_on_the_next_day():
    """Day 1 delivers 09:00-09:15. Its installation, on day 2, may start by day 2 09:15
    (24 h): a day-2 window 08:00-12:00 is cut to 08:00-09:15 and the installer, 16 min
    40 s away, starts 08:16:40; a window 14:00-18:00 leaves nothing: `max_link_gap`."""
    horizon = _day_two((8, 12))
    (stop,) = [s for r in horizon.days[1].plan.routes for s in r.stops]
    assert (stop.job_id, stop.start.time()) == ("I", time(8, 16, 40))
    horizon = _day_two((14, 18))
    (u,) = horizon.days[1].plan.unassigned
    assert (u.job_id, u.reason) == ("I", UnassignedReason.MAX_LINK_GAP)


@st.composite
def linked_day(draw):
    """A few orders of a delivery and its installation (sometimes a lone installation
    delivered the evening before), some repairs, 1-3 crews, a maximum gap per category."""
    jobs = []
    cats = [AC, ProductCategory.TV, ProductCategory.WATER_HEATER]
    for k in range(draw(st.integers(1, 4))):
        cat = draw(st.sampled_from(cats))
        km = draw(st.floats(0.5, 20))
        start = draw(st.integers(8, 15))
        d = job(f"D{k}", km, window=(start, start + draw(st.integers(1, 3))),
                kind=JobKind.DELIVERY, minutes=draw(st.integers(10, 40)), order_id=f"O{k}",
                category=cat, volume_l=draw(st.floats(0, 400)))  # fmt: skip
        s2 = draw(st.integers(start, 17))
        i = job(f"I{k}", km, window=(s2, min(20, s2 + draw(st.integers(1, 5)))),
                kind=JobKind.INSTALLATION, minutes=draw(st.integers(20, 150)), order_id=f"O{k}",
                category=cat)  # fmt: skip
        if draw(st.booleans()):
            jobs += [d, i]
        else:  # delivered yesterday evening
            jobs.append(dataclasses.replace(i, delivered_at=at(18) - timedelta(days=1)))
    jobs += [
        job(f"R{k}", draw(st.floats(0.5, 20)), window=(9, 17))
        for k in range(draw(st.integers(0, 3)))
    ]
    crews = [
        crew(
            f"C{k}",
            draw(st.sampled_from(list(CrewKind))),
            lunch=LunchBreak(time(11, 30), time(13, 30), 45) if draw(st.booleans()) else None,
        )
        for k in range(draw(st.integers(1, 3)))
    ]
    rule = {
        str(c): draw(st.sampled_from([30, 60, 120, 240, 24 * 60]))
        for c in cats
        if draw(st.booleans())
    }
    return problem(jobs, crews, max_link_gap_minutes=rule)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linked_day())
def test_random_days_with_the_gap_give_valid_plans_or_reasons(p):
    """Valid plan (make_plan validates it), every job planned once or unassigned with a
    reason and a detail, and every planned installation within its gap."""
    plan = make_plan(p, PlanOptions(time_limit_s=2, solution_limit=30, workers=1))
    assert validate_plan(plan) == []
    planned_ids = [s.job_id for r in plan.routes for s in r.stops]
    assert sorted(planned_ids + [u.job_id for u in plan.unassigned]) == sorted(j.id for j in p.jobs)
    assert all(u.reason and u.detail for u in plan.unassigned)
    stops = {s.job_id: s for r in plan.routes for s in r.stops}
    for j in p.jobs:
        most = p.max_link_gap_for(j)
        if j.kind is not JobKind.INSTALLATION or j.id not in stops or most is None:
            continue
        ended = stops[f"D{j.id[1:]}"].end if j.delivered_at is None else j.delivered_at
        assert stops[j.id].start <= ended + timedelta(minutes=most)


def _pulled_plan():
    """D 11:45-12:00 on T (pulled by the 120-min gap), I 14:00-15:00 on N."""
    p = problem(_order(), _crews(), max_link_gap_minutes={"*": 120})
    plan = planned(p, {"T": ["D"], "N": ["I"]})
    assert _stops(plan) == {"D": ("T", time(11, 45), time(12)), "I": ("N", time(14), time(15))}
    return plan


def test_a_replan_takes_facts_that_broke_the_gap_as_they_are():
    """The truck in fact delivered 09:00-09:15 and the installer installed 14:00-15:00:
    285 min apart, more than the 120 allowed. At 15:30 both are facts: the re-plan widens
    the rule to them (as it shrinks the link gap) and its plan validates."""
    state = DayState(at=at(15, 30), done={"D": (at(9), at(9, 15)), "I": (at(14), at(15))})
    result = replan(_pulled_plan(), state, ReplanOptions(solution_limit=5))
    assert validate_plan(result.plan) == []
    assert result.plan.problem.max_link_gap_minutes == {"*": 285}


def test_a_replan_leaves_out_an_installation_the_gap_no_longer_reaches():
    """The delivery was done 09:00-09:15 (planned 11:45); at 10:00 the installation
    (window 14:00-18:00) could start by 09:15 + 120 min = 11:15 at the latest: it comes off
    the plan, `max_link_gap`, and the delivery stays at its fact (the timing's pull towards
    the installation does not move a fact)."""
    state = DayState(at=at(10), done={"D": (at(9), at(9, 15))})
    result = replan(_pulled_plan(), state, ReplanOptions(solution_limit=5))
    assert validate_plan(result.plan) == []
    assert _stops(result.plan) == {"D": ("T", time(9), time(9, 15))}  # the fact, not pulled
    (u,) = result.plan.unassigned
    assert (u.job_id, u.reason) == ("I", UnassignedReason.MAX_LINK_GAP)
    assert "had to start by 11:15" in u.detail


def test_the_rules_travel_in_the_problem_file_and_the_settings():
    """Written only when set; read back equal; a settings file sets them, bad keys named."""
    base = problem(_order(category=AC), _crews())
    assert not {"max_link_gap_minutes", "crew_mode", "second_visit_cny"} & set(
        problem_to_dict(base)
    )
    settings = parse_settings(
        {
            "max_link_gap_minutes": {"split_ac": 1440, "@rural": 2880},
            "crew_mode": {"*": "combined"},
            "second_visit_cny": 30,
        },
        "settings file 'city.json'",
    )
    ruled = apply_settings(base, settings)
    assert ruled.max_link_gap_minutes == {"split_ac": 1440, "@rural": 2880}
    assert ruled.crew_mode == {"*": CrewMode.COMBINED} and ruled.second_visit_cny == 30
    done = dataclasses.replace(base.jobs[1], delivered_at=at(8))
    ruled = dataclasses.replace(ruled, jobs=[base.jobs[0], done])
    back = problem_from_dict(problem_to_dict(ruled))
    assert back.max_link_gap_minutes == ruled.max_link_gap_minutes
    assert back.crew_mode == ruled.crew_mode and back.second_visit_cny == 30
    assert back.jobs[1].delivered_at == at(8)
    assert effective_settings(ruled)["crew_mode"] == {"*": "combined"}
    assert "max_link_gap_minutes" not in effective_settings(base)
    with pytest.raises(InputErrors) as bad:
        parse_settings({"max_link_gap_minutes": {"fridge": 60}, "crew_mode": {"*": "x"}}, "f")
    fields = {e.field for e in bad.value.errors}
    assert fields == {"max_link_gap_minutes.fridge", "crew_mode.*"}
