"""Levers beyond hiring: evening shifts, next-morning installation slots, specialist hires,
the call centre scaled with the season, and the recommendation that searches them.

Everything here is deterministic and small: settings and demand checks run no planner, one
tiny season (scale 0.03, 4 days, solution-limited planner) checks the levers run end to end,
and the lever search runs on stand-in seasons whose shares are given.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import numpy as np
import pytest

from dispatch.errors import InputError
from dispatch.models import CrewKind, JobKind
from dispatch.season.demand import (
    NEXT_MORNING_WORK,
    carried_slot,
    next_morning_window,
    orders_of_day,
)
from dispatch.season.figures import install_shares
from dispatch.season.settings import (
    CrewSettings,
    DemandSettings,
    PlannerSettings,
    SeasonSettings,
    settings_from_dict,
)
from dispatch.season.shifts import own_crews, spread, temporary_crews
from fixtures.shanghai_season import season_city

FAST = PlannerSettings(time_limit_s=5, solution_limit=30)
SHORT_PEAK = DemandSettings(peak_start_day=1, peak_days=2, ramp_days=1, decline_days=1)


@pytest.fixture(scope="module")
def city():
    return season_city(0.05)


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ({"crews": {"evening_share": 1.5}}, "crews.evening_share", "share"),
        ({"crews": {"evening_temp_share": -0.1}}, "crews.evening_temp_share", "share"),
        ({"crews": {"temp_specialist_share": 2}}, "crews.temp_specialist_share", "share"),
        (
            {"crews": {"evening_start_hour": 20, "evening_end_hour": 18}},
            "crews.evening_start_hour",
            "end after it starts",
        ),
        ({"crews": {"evening_end_hour": 14}}, "crews.evening_end_hour", "4 hours"),
        ({"crews": {"evening_cost_factor": 0.8}}, "crews.evening_cost_factor", "premium"),
        (
            {"crews": {"temp_specialist_cost_factor": 0.5}},
            "crews.temp_specialist_cost_factor",
            "premium",
        ),
        (
            {"demand": {"install_slot_policy": "tomorrow"}},
            "demand.install_slot_policy",
            "not one of",
        ),
        ({"demand": {"install_slot_policy": 3}}, "demand.install_slot_policy", "not one of"),
        ({"demand": {"install_until_hour": 25}}, "demand.install_until_hour", "12..23"),
        ({"target_clock": "wall"}, "target_clock", "not one of"),
        (
            {"demand": {"install_deadline_clock": "wall"}},
            "demand.install_deadline_clock",
            "not one of",
        ),
    ],
)
def test_bad_lever_settings_name_the_setting(raw, field, words):
    with pytest.raises(InputError) as err:
        settings_from_dict(raw)
    assert err.value.field == field
    assert words in err.value.message


def test_the_levers_are_off_by_default_and_read_from_a_scenario(city):
    s = SeasonSettings()
    assert s.crews.evening_share == s.crews.evening_temp_share == 0
    assert s.crews.temp_specialist_share == 0
    assert s.demand.install_slot_policy == "same_day" and s.demand.install_until_hour == 19
    assert s.target_clock == "planning"
    crews, evening = own_crews(city, s.crews)
    assert crews == city.own_crews and not evening
    on = settings_from_dict(
        {
            "target_clock": "customer",
            "crews": {"evening_share": 0.25},
            "demand": {"install_slot_policy": "next_morning", "install_until_hour": 20},
        }
    )
    assert on.target_clock == "customer" and on.crews.evening_share == 0.25
    assert on.demand.install_slot_policy == "next_morning" and on.demand.install_until_hour == 20


def test_the_call_centre_scales_with_the_season():
    from dispatch.season.simulator import call_capacity

    assert call_capacity(SeasonSettings()) == 1500
    assert call_capacity(SeasonSettings(scale=0.1)) == 150


# --- evening shifts and specialist hires ------------------------------------------------------


def test_spread_picks_the_share_evenly():
    picks = spread(10, 0.3)
    assert sum(picks) == 3 and picks == spread(10, 0.3)
    assert [k for k, p in enumerate(picks) if p] == [1, 4, 8]
    assert spread(5, 0) == [False] * 5 and all(spread(4, 1.0))


def test_evening_share_puts_own_installation_crews_on_the_late_shift(city):
    c = CrewSettings(evening_share=0.5)
    crews, evening = own_crews(city, c)
    installers = [x for x in city.own_crews if x.kind is CrewKind.INSTALLATION_CREW]
    assert len(evening) == round(len(installers) * 0.5)
    assert [x.id for x in crews] == [x.id for x in city.own_crews]  # same crews, same order
    for before, after in zip(city.own_crews, crews, strict=True):
        if after.id in evening:
            assert after.kind is CrewKind.INSTALLATION_CREW
            assert (after.shift_start.hour, after.shift_end.hour) == (12, 21)
            assert after.lunch is not None and after.lunch.window_start.hour == 16
            assert after.skills == before.skills and after.people == before.people
        else:
            assert after == before


def test_temporary_levers_give_late_shifts_specialists_and_their_premiums(city):
    weights = city.zone_weights()
    c = CrewSettings(evening_temp_share=0.5, temp_specialist_share=0.25)
    crews, factor = temporary_crews(city, 8, weights, c)
    plain, plain_factor = temporary_crews(city, 8, weights, CrewSettings())
    assert [x.id for x in crews] == [x.id for x in plain]
    assert set(plain_factor.values()) == {1.0}
    late = [x for x in crews if x.shift_start.hour == 12]
    special = [x for x in crews if x.people == 3]
    assert len(late) == 4 and len(special) == 2
    for x in special:
        assert {"electrical", "plumbing", "tv_mount", "ac_install"} <= x.skills
    for x in crews:
        expected = (1.2 if x in late else 1.0) * (1.5 if x in special else 1.0)
        assert factor[x.id] == pytest.approx(expected)


def test_specialist_hires_can_do_what_standard_hires_cannot(city):
    from dispatch.models import ProductCategory
    from dispatch.season.demand import _order_jobs  # a water heater's installation

    u = np.full(14, 0.5)
    u[9] = 0.0  # installs
    jobs = _order_jobs(
        city,
        "S000-00001",
        "delivery",
        ProductCategory.WATER_HEATER,
        datetime(2026, 6, 1, 10, 0),
        0,
        u,
        0,
        datetime(2026, 6, 1).date(),
        None,
    )
    install = next(j.job for j in jobs if j.job.kind is JobKind.INSTALLATION)
    assert not city.temp_can_do(install)
    assert city.temp_can_do(install, specialists=True)


# --- installation slots -----------------------------------------------------------------------


def test_next_morning_window_ends_inside_the_24_h_promise():
    order = datetime(2026, 6, 1, 15, 0)
    assert next_morning_window(order, "urban") == (9 * 60, 13 * 60)
    assert 13 * 60 + NEXT_MORNING_WORK <= 15 * 60  # started by 13:00, done by 15:00
    assert next_morning_window(datetime(2026, 6, 1, 11, 0), "urban") is None  # 09:00-09:00
    assert next_morning_window(datetime(2026, 6, 1, 12, 0), "urban") == (9 * 60, 10 * 60)
    # rural: a 48 h promise leaves the whole next day
    assert next_morning_window(datetime(2026, 6, 1, 10, 0), "rural") == (9 * 60, 19 * 60)


def _orders(policy: str, city, until: int = 19):
    demand = dataclasses.replace(SHORT_PEAK, install_slot_policy=policy, install_until_hour=until)
    s = SeasonSettings(days=4, scale=0.05, demand=demand)
    return orders_of_day(s, city, 2, np.random.default_rng([0, 3, 1]))


def test_next_morning_books_the_installation_next_day_and_the_delivery_today(city):
    same = _orders("same_day", city)
    nxt = _orders("next_morning", city)
    assert [[j.job.id for j in o] for o in same] == [[j.job.id for j in o] for o in nxt]
    moved = 0
    for before, after in zip(same, nxt, strict=True):
        for a, b in zip(before, after, strict=True):
            if a.job.kind is not JobKind.INSTALLATION:
                assert (a.job, a.slot, a.release_day) == (b.job, b.slot, b.release_day)
                continue
            if (a.slot, a.release_day) == (b.slot, b.release_day):
                continue
            moved += 1
            delivery = after[0]
            assert delivery.job.kind is JobKind.DELIVERY and delivery.release_day == 2
            assert b.release_day == 3  # the next morning
            window = b.job.windows[0]
            assert window.start.date() == delivery.job.windows[0].start.date() + timedelta(1)
            assert window.start.hour == 9
            hours = 48 if b.job.region == "rural" else 24
            promise_end = b.job.confirmed_at + timedelta(hours=hours)
            assert window.end + timedelta(minutes=NEXT_MORNING_WORK) <= promise_end
            assert 7 <= b.job.confirmed_at.hour < 17  # a same-day order
            if hours == 24:
                assert b.job.confirmed_at.hour >= 12  # late enough for a next-morning hour
    assert moved >= 3


def test_customer_deadlines_plan_an_evening_order_to_its_calendar_promise():
    from dispatch.season.demand import install_deadline

    evening = datetime(2026, 6, 1, 18, 30)
    # planning clock: from 08:00 next morning, so 08:00 the day after; the customer: 18:30
    assert install_deadline(evening, "urban", False) == datetime(2026, 6, 3, 8, 0)
    assert install_deadline(evening, "urban", True) == datetime(2026, 6, 2, 18, 30)
    noon = datetime(2026, 6, 1, 12, 0)  # inside service hours both clocks agree
    assert install_deadline(noon, "urban", True) == install_deadline(noon, "urban", False)


def test_customer_deadlines_reach_the_jobs_and_book_earlier_deliveries(city):
    demand = dataclasses.replace(SHORT_PEAK, install_deadline_clock="customer")
    s = SeasonSettings(days=4, scale=0.05, demand=demand)
    orders = orders_of_day(s, city, 2, np.random.default_rng([0, 3, 1]))
    plain = _orders("same_day", city)
    assert len(orders) == len(plain)
    tighter = 0
    for order, before in zip(orders, plain, strict=True):
        for new, old in zip(order, before, strict=True):
            if new.job.kind is not JobKind.INSTALLATION:
                assert new.job.deadline == old.job.deadline
                continue
            hours = 48 if new.job.region == "rural" else 24
            assert new.job.deadline <= new.job.confirmed_at + timedelta(hours=hours)
            assert new.job.deadline <= old.job.deadline
            tighter += new.job.deadline < old.job.deadline
    assert tighter >= 3  # the evening orders


def test_a_long_installation_keeps_the_same_day_slot_when_the_morning_is_too_short(city):
    from dispatch.models import ProductCategory
    from dispatch.season.demand import Booking, _fit_next_morning

    u = np.full(14, 0.5)
    u[9], u[4] = 0.0, 0.01  # installs; three split units (300 minutes and more)
    jobs = _order_jobs_at(city, ProductCategory.SPLIT_AC, datetime(2026, 6, 1, 14, 0), u)
    install = next(j.job for j in jobs if j.job.kind is JobKind.INSTALLATION)
    booking = Booking(next_morning=True)
    assert _fit_next_morning(install, (16 * 60, 19 * 60), booking) == ((16 * 60, 19 * 60), 0)
    one = u.copy()
    one[4] = 0.9  # one unit: 09:00 until 14:00 less its duration and half an hour
    single = next(
        j.job
        for j in _order_jobs_at(city, ProductCategory.SPLIT_AC, datetime(2026, 6, 1, 14, 0), one)
        if j.job.kind is JobKind.INSTALLATION
    )
    (start, end), later = _fit_next_morning(single, (16 * 60, 19 * 60), booking)
    assert later == 1 and start == 9 * 60 and end <= 14 * 60 - 120


def _order_jobs_at(city, category, confirmed_at, u):
    from dispatch.season.demand import _order_jobs

    urban = int(np.flatnonzero(~city.sites.rural.astype(bool))[0])
    return _order_jobs(
        city, "S000-00001", "delivery", category, confirmed_at, urban, u, 0,
        confirmed_at.date(), None,
    )  # fmt: skip


def test_later_installation_visits_with_install_until_hour(city):
    late = _orders("same_day", city, until=20)
    installs = [j for o in late for j in o if j.job.kind is JobKind.INSTALLATION]
    assert installs and all(j.slot[1] >= 20 * 60 for j in installs)
    assert carried_slot(JobKind.INSTALLATION, 20 * 60) == (9 * 60, 20 * 60)
    assert carried_slot(JobKind.DELIVERY, 20 * 60) == (9 * 60, 19 * 60)


def test_a_tiny_season_with_every_lever_loses_nothing_and_pays_the_premiums():
    from dispatch.season.simulator import check_conservation, simulate_season

    small = season_city(0.03)
    levers = settings_from_dict(
        {
            "crews": {
                "temp_per_week": [3],
                "temp_lead_days": 0,
                "evening_share": 0.5,
                "evening_temp_share": 0.5,
                "temp_specialist_share": 0.5,
            },
            "demand": {"install_slot_policy": "next_morning", "install_until_hour": 20},
        },
        SeasonSettings(days=4, scale=0.03, planner=FAST, demand=SHORT_PEAK),
    )
    result = simulate_season(levers, small)
    assert check_conservation(result) == [] and result.ledger["jobs_lost"] == 0
    assert result.summary["lever_cost_cny"] > 0
    week = result.weeks[0]
    assert week["share_install_24h_customer"] is not None
    assert week["share_install_24h_ceiling_customer"] is not None
    again = simulate_season(levers, small)
    assert again.days == result.days  # the same settings, the same season


# --- the recommendation with levers -----------------------------------------------------------


def _week(due: int, on_time: int, own_due: int = 0, own_on: int = 0) -> dict:
    """A week on both clocks with the same counts."""
    return {
        **install_shares(due, on_time, own_due, own_on),
        **install_shares(due, on_time, own_due, own_on, "_customer"),
    }


class _Fake:
    """A stand-in season: `share(settings, crews)` installations of 100 on time per week."""

    def __init__(self, settings, share):
        plan = list(settings.crews.temp_per_week) + [0] * (
            settings.weeks - len(settings.crews.temp_per_week)
        )
        premium = 1000.0 if settings.crews.evening_share else 0.0
        self.weeks = [_week(100, share(settings, c)) for c in plan]
        self.days = [
            {
                "temp_crews": plan[d // 7],
                "temp_jobs_done": 4 * plan[d // 7],
                "install_crews": 10,
                "install_crew_jobs": 40,
            }
            for d in range(settings.days)
        ]
        self.zones: list = []
        self.summary = {
            "cost_cny": 1500.0 * 7 * sum(plan) + premium,
            "temp_crew_days": 7 * sum(plan),
            "lever_cost_cny": premium,
        }


def _search(monkeypatch, share, target=0.95, options=None):
    from dispatch.season import levers, recommend

    def fake_runs(trial, city, n, cluster):
        return [_Fake(trial, share)]

    monkeypatch.setattr(recommend, "run_replications", fake_runs)
    s = SeasonSettings(
        days=14,
        scale=0.03,
        target_share=target,
        target_clock="customer",
        demand=DemandSettings(peak_start_day=8, peak_days=3, ramp_days=1, decline_days=1),
        crews=CrewSettings(temp_per_week=(0, 10), temp_lead_days=0),
        planner=FAST,
    )
    return levers.recommend_with_levers(
        s, season_city(0.03), 1, max_rounds=3, options=options or levers.OPTIONS
    )


def test_the_search_picks_a_lever_when_hiring_alone_saturates(monkeypatch):
    def share(settings, crews):  # hiring saturates at 85; next-morning slots reach 97
        ceiling = 97 if settings.demand.install_slot_policy == "next_morning" else 85
        return min(ceiling, 60 + 3 * crews)

    rec, _ = _search(monkeypatch, share)
    levers = rec["levers"]
    assert levers["verdict"] == "met"
    assert levers["chosen"] == "next-morning slots"
    assert levers["changes"] == {"demand": {"install_slot_policy": "next_morning"}}
    assert rec["met"] and rec["target_clock"] == "customer"
    by_name = {o["name"]: o for o in levers["options"]}
    assert not by_name["hiring only"]["met"]
    assert by_name["hiring only"]["worst_week_share"] == 0.85
    # combinations with evening shifts meet it too but cost their premium: not chosen
    evening = by_name["next-morning slots + evening shifts"]
    assert evening["met"] and evening["lever_cost_cny"] == 1000
    assert evening["cost_cny"] > by_name["next-morning slots"]["cost_cny"]
    assert levers["binding_constraint"].startswith("none")


def test_without_95_the_cheapest_90_is_answered_with_its_binding_constraint(monkeypatch):
    def share(settings, crews):  # evening shifts reach 92, nothing reaches 95
        ceiling = 92 if settings.crews.evening_share else 84
        return min(ceiling, 60 + 3 * crews)

    rec, _ = _search(monkeypatch, share)
    levers = rec["levers"]
    assert levers["verdict"] == "fallback"
    assert levers["chosen"] == "next-morning slots + evening shifts"
    assert not rec["met"]
    text = levers["binding_constraint"]
    assert "customer's clock" in text and "92.0%" in text
    assert "every installation is one some hire can do" in text
    assert "when installations can happen" in text
    assert "did not raise the week's share" in text  # more crews bought nothing


def test_choose_prefers_the_cheapest_met_then_the_cheapest_90_then_the_best():
    from dispatch.season.levers import choose

    def row(share, cost, met=False):
        return {"worst_week_share": share, "cost_cny": cost, "met": met}

    assert choose([row(0.96, 9, True), row(0.97, 5, True), row(0.8, 1)], 0.95) == (1, "met")
    assert choose([row(0.91, 9), row(0.93, 7), row(0.85, 1)], 0.95) == (1, "fallback")
    assert choose([row(0.81, 9), row(0.86, 7), row(0.85, 1)], 0.95) == (1, "not met")


def test_the_binding_constraint_names_own_specialists_when_they_lose_most():
    from dispatch.season.levers import binding_constraint
    from dispatch.season.recommend import Recommendation

    late = {"late_installs_same_day_customer": 12, "late_installs_booked_customer": 8}

    class Result:
        def __init__(self) -> None:
            self.weeks = [{**_week(100, 80, 15, 0), **late}, _week(100, 99)]

    s = SeasonSettings(
        days=14,
        target_clock="customer",
        demand=DemandSettings(peak_start_day=3, peak_days=3, ramp_days=1, decline_days=1),
    )
    rec = Recommendation(0.95, 1, [], [], False, 0, 0.0, 0.0)
    text = binding_constraint(s, rec, [Result()])  # type: ignore[list-item]
    assert text.startswith("week 0 (customer's clock) holds 80.0%")
    assert "15.0 points are lost on installations no hire can do" in text
    assert "own specialist capacity" in text
    assert text.endswith(
        "same-day installations after their delivery 12.0 points, installations of orders "
        "booked for a later day 8.0 points, next-morning installations 0.0 points"
    )


def test_the_reports_show_the_levers(monkeypatch):
    from dispatch.season.report_html import recommendation_html
    from dispatch.season.report_terminal import recommendation_lines

    def share(settings, crews):
        return min(97 if settings.crews.evening_share else 85, 60 + 3 * crews)

    rec, _ = _search(monkeypatch, share)
    lines = "\n".join(recommendation_lines(rec))
    assert "customer's clock" in lines
    assert "levers: next-morning slots + evening shifts" in lines
    assert "option hiring only" in lines and "lever premiums" in lines
    page = recommendation_html(rec)
    assert "Levers beyond hiring" in page and "evening_share" in page
    assert "Binding constraint" in page


def test_lever_options_are_chosen_by_name():
    from dispatch.season.levers import OPTIONS, options_named

    assert options_named(None) == OPTIONS
    chosen = options_named("next-morning slots, hiring only")
    assert [o.name for o in chosen] == ["hiring only", "next-morning slots"]
    with pytest.raises(InputError) as err:
        options_named("night shifts")
    assert err.value.field == "--lever-options" and "hiring only" in err.value.message


def test_levers_need_the_recommendation():
    import argparse

    from scripts.simulate_cli import add_simulate_command, cmd_simulate

    parser = argparse.ArgumentParser()
    add_simulate_command(parser.add_subparsers())
    args = parser.parse_args(["simulate", "--fixture", "shanghai", "--out", "x", "--levers"])
    with pytest.raises(InputError) as err:
        cmd_simulate(args)
    assert err.value.field == "--levers"
