"""The simulator's daily offer to the planner: sized per crew class (dispatch.season.offer)."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, time, timedelta

from dispatch.models import Crew, CrewKind, GeoPoint, Job, JobKind, ProductCategory, TimeWindow
from dispatch.season.offer import CrewClasses, choose_offer, working_minutes

T0 = datetime(2026, 6, 10, 8, 0)
WINDOW = (TimeWindow(T0, T0 + timedelta(hours=10)),)
HERE = GeoPoint(121.47, 31.23)


def crew(cid: str, kind: CrewKind, skills: set[str], people: int = 2) -> Crew:
    return Crew(
        id=cid,
        kind=kind,
        people=people,
        skills=frozenset(skills),
        start_depot="D",
        end_depot="D",
        shift_start=time(8),
        shift_end=time(18),
    )


def install(n: int, skills: set[str], people: int = 2, minutes: int = 60) -> Job:
    return Job(
        id=f"I{n:03d}",
        kind=JobKind.INSTALLATION,
        order_id=f"O{n:03d}",
        confirmed_at=T0 - timedelta(days=1),
        location=HERE,
        windows=WINDOW,
        category=ProductCategory.SPLIT_AC,
        skills=frozenset(skills),
        people=people,
        service_minutes=minutes,
    )


def urgency(job: Job, n: int) -> tuple[Job, datetime]:
    return job, T0 + timedelta(minutes=n)


SPECIALIST = crew("OWN", CrewKind.INSTALLATION_CREW, {"ac_install", "electrical"}, people=3)
TEMPS = [crew(f"TMP{k}", CrewKind.COMBINED, {"ac_install"}) for k in range(3)]


def test_a_specialist_backlog_does_not_crowd_out_what_hired_crews_can_do():
    # 30 old cabinet installations only the own 3-person electrician crew can do, then 30
    # newer split units anyone can do. One budget for all installers would offer the 30
    # old ones first and leave the hired crews nothing; per class, both are offered.
    special = [urgency(install(n, {"ac_install", "electrical"}, people=3), n) for n in range(30)]
    plain = [urgency(install(100 + n, {"ac_install"}), 100 + n) for n in range(30)]
    offer = choose_offer(special + plain, [SPECIALIST, *TEMPS], {}, pool_factor=1.0)
    ids = {j.id for j in offer}
    own_minutes = working_minutes(SPECIALIST)
    temp_minutes = 3 * working_minutes(TEMPS[0])
    n_special = sum(1 for j in ids if int(j[1:]) < 100)
    n_plain = len(ids) - n_special
    # each class gets its own minutes' worth: a job is offered while budget is left
    assert n_special == math.ceil(own_minutes / 60)
    assert n_plain == math.ceil(temp_minutes / 60) < 30


def test_the_most_urgent_jobs_go_first_within_a_class():
    jobs = [urgency(install(n, {"ac_install"}), 50 - n) for n in range(50)]
    offer = choose_offer(jobs, TEMPS[:1], {}, pool_factor=1.0)
    assert [j.id for j in offer] == [f"I{n:03d}" for n in range(49, 49 - len(offer), -1)]


def test_a_learnt_fill_rate_scales_the_class_budget():
    jobs = [urgency(install(n, {"ac_install"}), n) for n in range(60)]
    key = next(iter(CrewClasses.of(TEMPS).minutes))
    normal = choose_offer(jobs, TEMPS, {}, pool_factor=1.0)
    low = choose_offer(jobs, TEMPS, {key: 0.8}, pool_factor=1.0)
    assert len(low) < len(normal)


def test_a_job_no_crew_can_do_is_still_offered_so_its_reason_is_reported():
    odd = install(1, {"crane"})
    offer = choose_offer([urgency(odd, 0)], TEMPS, {}, pool_factor=1.0)
    assert [j.id for j in offer] == ["I001"]


def test_an_installation_goes_only_with_its_delivery():
    delivery = dataclasses.replace(
        install(7, set()), id="D007", kind=JobKind.DELIVERY, service_minutes=20
    )
    inst = install(7, {"ac_install"})
    truck = crew("TRK", CrewKind.DELIVERY_TRUCK, set())
    installer = crew("INS", CrewKind.INSTALLATION_CREW, {"ac_install"})
    # no truck on duty: the delivery has no eligible crew but is offered (reported), and the
    # installation goes with it
    both = choose_offer([urgency(delivery, 0), urgency(inst, 1)], [installer], {}, 1.0)
    assert {j.id for j in both} == {"D007", "I007"}
    # trucks full (a more urgent delivery took their budget): neither is offered
    filler = dataclasses.replace(delivery, id="D000", order_id="O000", service_minutes=720)
    jobs = [urgency(filler, -1), urgency(delivery, 0), urgency(inst, 1)]
    offer = choose_offer(jobs, [truck, installer], {}, pool_factor=1.0)
    assert {j.id for j in offer} == {"D000"}


# --- the recommendation's judgement when own-only installations cap a week ------------------


class _Result:
    def __init__(self, weeks):
        self.weeks = weeks


def _week(due, on_time, own_due, own_on):
    from dispatch.season.figures import install_shares

    return install_shares(due, on_time, own_due, own_on)


def test_a_week_temporary_crews_cannot_lift_is_judged_on_what_they_can_do():
    from dispatch.season.recommend import _beyond_notes, _judged

    # week 0: 10 of 100 installations are own-only and all late: at most 90 % whatever is
    # hired; the 90 others were 87 on time. Week 1: own-only ones on time, 96 % overall.
    results = [_Result([_week(100, 87, 10, 0), _week(100, 96, 10, 10)])]
    judged, due, beyond = _judged(results, [0, 1], 0.95)
    assert beyond == {0}
    assert judged[0] == round(87 / 90, 4) and due[0] == 90
    assert judged[1] == 0.96 and due[1] == 100
    (note,) = _beyond_notes(results, [0], 0.95)
    assert "week 0" in note and "10%" in note and "at most 90%" in note


def test_the_secant_step_aims_at_the_target_and_is_capped():
    from dispatch.season.recommend import _secant_step
    from dispatch.season.settings import SeasonSettings

    s = SeasonSettings()
    assert _secant_step([(10, 0.5)], s) == 0  # one plan: no line yet
    # 10 -> 20 crews moved 50 % -> 70 %: 2 points a crew, 25 points to go: 13 more
    assert _secant_step([(10, 0.5), (20, 0.7)], s) == 13
    assert _secant_step([(10, 0.5), (20, 0.5)], s) == 0  # flat: no extrapolation
    # 1 point a crew from 40 crews at 20 %: 75 to go, capped at doubling (40)
    assert _secant_step([(30, 0.1), (40, 0.2)], s) == 40


def test_a_search_that_never_passes_reports_the_plan_it_last_ran(monkeypatch):
    """The last round's plan, not the next step the search would have tried."""
    from dispatch.season import recommend
    from dispatch.season.settings import CrewSettings, DemandSettings, SeasonSettings
    from fixtures.shanghai_season import season_city

    peak = DemandSettings(peak_start_day=8, peak_days=5, decline_days=2)
    s = SeasonSettings(
        days=21, demand=peak, crews=CrewSettings(temp_per_week=(0, 0, 0)), scale=0.03
    )

    class Fake:
        def __init__(self, plan):
            self.weeks = [_week(100, 50, 0, 0) for _ in plan]
            self.days = [
                {
                    "temp_crews": plan[d // 7],
                    "temp_jobs_done": 4 * plan[d // 7],
                    "install_crews": 10,
                    "install_crew_jobs": 40,
                }
                for d in range(21)
            ]
            self.zones = []
            self.summary = {"cost_cny": 1.0, "temp_crew_days": 7 * sum(plan)}

    def fake_runs(trial, city, n, cluster):
        return [Fake(list(trial.crews.temp_per_week))]

    monkeypatch.setattr(recommend, "run_replications", fake_runs)
    rec, _ = recommend.recommend_capacity(s, season_city(0.03), 1, max_rounds=2)
    assert not rec.met and not rec.met_for_temp_capable
    assert [w["temp_crews"] for w in rec.per_week] == rec.rounds[-1]["per_week"]


def test_the_search_limits_the_planner_by_work_not_by_the_clock():
    """Replications share the cores: a clock-limited planner would be judged by the load."""
    from dispatch.season.recommend import (
        SEARCH_SOLUTION_LIMIT,
        SEARCH_TIME_CEILING_S,
        work_limited,
    )
    from dispatch.season.settings import PlannerSettings, SeasonSettings

    clocked = SeasonSettings(planner=PlannerSettings(time_limit_s=3))
    s, note = work_limited(clocked)
    assert s.planner.solution_limit == SEARCH_SOLUTION_LIMIT
    assert s.planner.time_limit_s == SEARCH_TIME_CEILING_S
    assert "solutions per solve" in note
    chosen = SeasonSettings(planner=PlannerSettings(time_limit_s=3, solution_limit=12))
    assert work_limited(chosen) == (chosen, "")


def test_a_week_with_room_to_spare_tries_a_smaller_plan(monkeypatch):
    """Near saturation half the surplus is under one crew: the search still tries fewer
    crews, keeps the cheaper plan if it passes, and goes back up if it does not."""
    from dispatch.season import recommend
    from dispatch.season.settings import CrewSettings, DemandSettings, SeasonSettings
    from fixtures.shanghai_season import season_city

    peak = DemandSettings(peak_start_day=8, peak_days=5, ramp_days=1, decline_days=2)
    s = SeasonSettings(
        days=14,
        demand=peak,
        crews=CrewSettings(temp_per_week=(0, 40), temp_lead_days=0),
        scale=0.03,
        target_share=0.8,
    )

    def share(crews: int) -> int:  # on time of 100: flat above 25 crews, as at saturation
        return 84 if crews >= 25 else 60

    class Fake:
        def __init__(self, plan):
            self.weeks = [_week(100, share(c), 0, 0) for c in plan]
            self.days = [
                {
                    "temp_crews": plan[d // 7],
                    "temp_jobs_done": 40 * plan[d // 7],  # 280 a crew-week: a tiny step
                    "install_crews": 10,
                    "install_crew_jobs": 40,
                }
                for d in range(14)
            ]
            self.zones = []
            self.summary = {"cost_cny": 1.0, "temp_crew_days": 7 * sum(plan)}

    tried = []

    def fake_runs(trial, city, n, cluster):
        tried.append(list(trial.crews.temp_per_week))
        return [Fake(tried[-1])]

    monkeypatch.setattr(recommend, "run_replications", fake_runs)
    rec, _ = recommend.recommend_capacity(s, season_city(0.03), 1, max_rounds=3)
    assert tried[0] == [0, 40] and tried[1] == [0, 30]  # a quarter given back
    assert rec.met and [w["temp_crews"] for w in rec.per_week] == [0, 30]
