"""Dispatcher overrides on tiny hand-worked days (tests/factories.py: 1 km = 100 s).

Unless a test says otherwise: one depot at 0 km, crews 08:00-18:00 without lunch, jobs of
30 minutes with window 08:00-18:00. A crew leaves the depot as late as still reaches its
first stop at the earliest start, so a first job at x km starts at 08:00 + x * 100 s.
"""

from __future__ import annotations

from datetime import time

import pytest

from dispatch.files.plan_io import plan_from_dict, plan_to_dict
from dispatch.models import CrewKind, JobKind, LunchBreak
from dispatch.plan import UnassignedReason
from dispatch.plan_validator import validate_plan
from dispatch.planning.planner import PlanOptions, make_plan
from dispatch.running.overrides import InvalidMove, Move, OverrideRefused, apply_move
from tests.factories import at, crew, job, planned, problem


def _route(plan, crew_id):
    return next(r for r in plan.routes if r.crew_id == crew_id)


def _order(plan, crew_id):
    return [s.job_id for s in _route(plan, crew_id).stops]


def _times(plan, crew_id):
    return [(s.start.time(), s.end.time()) for s in _route(plan, crew_id).stops]


def _street():
    """A, B, C at 2, 4, 6 km on C1; E at 10 km on C2; G at 1 km on C3; F (3 km) unplanned.

    C1 A,B,C: A 08:03:20-08:33:20, B 08:36:40-09:06:40, C 09:10-09:40, back 09:50 (12 km).
    C2 E: 08:16:40-08:46:40, back 09:03:20.
    """
    jobs = [job("A", 2), job("B", 4), job("C", 6), job("E", 10), job("F", 3), job("G", 1)]
    p = problem(jobs, [crew("C1"), crew("C2"), crew("C3")])
    return planned(p, {"C1": ["A", "B", "C"], "C2": ["E"], "C3": ["G"]})


def _round_trips(plan):
    back = plan_from_dict(plan_to_dict(plan))
    assert back.routes == plan.routes
    assert back.unassigned == plan.unassigned
    assert back.stats == plan.stats
    assert validate_plan(back) == []


def test_reorder_within_a_crew():
    """C to the front of C1: C,A,B. C 08:10-08:40, A 400 s on: 08:46:40-09:16:40, B 200 s on:
    09:20-09:50, back at 09:56:40; 6 + 4 + 2 + 4 = 16 km. C2 and C3 are untouched."""
    plan = _street()
    new = apply_move(plan, Move("C", "C1", 0))
    assert _order(new, "C1") == ["C", "A", "B"]
    assert _times(new, "C1") == [
        (time(8, 10), time(8, 40)),
        (time(8, 46, 40), time(9, 16, 40)),
        (time(9, 20), time(9, 50)),
    ]
    assert _route(new, "C1").return_at == at(9, 56, 40)
    assert _route(new, "C1").distance_m == 16_000
    assert _route(new, "C2") == _route(plan, "C2")
    assert _route(new, "C3") == _route(plan, "C3")
    assert validate_plan(new) == []
    assert _order(plan, "C1") == ["A", "B", "C"]  # the plan passed in is not modified
    _round_trips(new)


def test_move_to_another_crew():
    """B to the end of C2: E 08:16:40-08:46:40, B (6 km back) 08:56:40-09:26:40, home 09:33:20.
    C1 without B: A 08:03:20-08:33:20, C 08:40-09:10, home 09:20. C3 is untouched."""
    plan = _street()
    new = apply_move(plan, Move("B", "C2"))
    assert _order(new, "C2") == ["E", "B"]
    assert _times(new, "C2") == [
        (time(8, 16, 40), time(8, 46, 40)),
        (time(8, 56, 40), time(9, 26, 40)),
    ]
    assert _route(new, "C2").return_at == at(9, 33, 20)
    assert _order(new, "C1") == ["A", "C"]
    assert _times(new, "C1") == [(time(8, 3, 20), time(8, 33, 20)), (time(8, 40), time(9, 10))]
    assert _route(new, "C1").return_at == at(9, 20)
    assert _route(new, "C3") == _route(plan, "C3")
    assert validate_plan(new) == []
    _round_trips(new)


def test_move_an_unassigned_job_into_a_route():
    """F (3 km) between A and B on C1: A 08:03:20-08:33:20, F 08:35-09:05, B 09:06:40-09:36:40,
    C 09:40-10:10, home 10:20. F leaves the unassigned list."""
    plan = _street()
    assert [u.job_id for u in plan.unassigned] == ["F"]
    new = apply_move(plan, Move("F", "C1", 1))
    assert _order(new, "C1") == ["A", "F", "B", "C"]
    assert _times(new, "C1") == [
        (time(8, 3, 20), time(8, 33, 20)),
        (time(8, 35), time(9, 5)),
        (time(9, 6, 40), time(9, 36, 40)),
        (time(9, 40), time(10, 10)),
    ]
    assert _route(new, "C1").return_at == at(10, 20)
    assert new.unassigned == []
    assert validate_plan(new) == []


def test_take_a_job_off():
    """B off C1: A, C as when B moves away; B is unassigned, removed by the dispatcher."""
    plan = _street()
    new = apply_move(plan, Move("B", None))
    assert _order(new, "C1") == ["A", "C"]
    assert _route(new, "C1").return_at == at(9, 20)
    removed = next(u for u in new.unassigned if u.job_id == "B")
    assert removed.reason is UnassignedReason.REMOVED_BY_DISPATCHER
    assert "C1" in removed.detail
    assert validate_plan(new) == []
    _round_trips(new)  # the new reason survives the file


def test_taking_off_the_last_stop_drops_the_route():
    plan = _street()
    new = apply_move(plan, Move("G", None))
    assert [r.crew_id for r in new.routes] == ["C1", "C2"]
    assert validate_plan(new) == []


def test_stats_count_the_overrides():
    plan = _street()
    plan.stats["timing_drops"] = 0
    once = apply_move(plan, Move("C", "C1", 0))
    twice = apply_move(once, Move("F", "C3"))
    assert twice.stats == {"timing_drops": 0, "overrides": 2}
    assert "overrides" not in plan.stats


def test_lunch_moves_when_its_old_spot_no_longer_fits():
    """Lunch 30 min in 11:30-12:30; P (2 km, 3 h) then Q (3 km, 1 h): lunch after P.

    N (1 km, 1 h) put first: N 08:01:40-09:01:40, and P would end 12:03:20, too late for a
    lunch that must start by 12:00. After N instead: the crew reaches P at 09:03:20 and takes
    the lunch there at 11:30, P 12:00-15:00, Q 15:01:40-16:01:40 (the earliest day's end)."""
    c = crew("L", lunch=LunchBreak(time(11, 30), time(12, 30), 30))
    jobs = [job("P", 2, minutes=180), job("Q", 3, minutes=60), job("N", 1, minutes=60)]
    plan = planned(problem(jobs, [c]), {"L": ["P", "Q"]})
    assert _route(plan, "L").lunch.after_stop == 0
    new = apply_move(plan, Move("N", "L", 0))
    route = _route(new, "L")
    assert [s.job_id for s in route.stops] == ["N", "P", "Q"]
    assert (route.lunch.after_stop, route.lunch.start) == (0, at(11, 30))
    assert _times(new, "L") == [
        (time(8, 1, 40), time(9, 1, 40)),
        (time(12, 0), time(15, 0)),
        (time(15, 1, 40), time(16, 1, 40)),
    ]
    assert validate_plan(new) == []


def test_works_on_a_planners_plan_read_back_from_its_file():
    """A move to the job's own place re-times the planner's plan to exactly the same routes."""
    jobs = [job("A", 2), job("B", 4), job("C", 6)]
    fast = PlanOptions(time_limit_s=2, solution_limit=100, workers=1)
    plan = plan_from_dict(plan_to_dict(make_plan(problem(jobs, [crew("C1")]), fast)))
    middle = _order(plan, "C1")[1]
    unchanged = apply_move(plan, Move(middle, "C1", 1))  # re-timing alone changes nothing
    assert unchanged.routes == plan.routes
    last = _order(plan, "C1")[-1]
    new = apply_move(plan, Move(last, "C1", 0))
    assert _order(new, "C1")[0] == last
    assert validate_plan(new) == []
    assert new.stats["overrides"] == 1


# ---- refusals


def _refused(plan, move) -> list[str]:
    with pytest.raises(OverrideRefused) as caught:
        apply_move(plan, move)
    return caught.value.reasons


def test_refused_when_a_window_would_be_missed():
    """W (10 km, window 08:00-09:00) on C2. A 60-minute job at 6 km put first ends 09:10, so
    the crew would reach W at 09:16:40, after its window closed."""
    jobs = [job("W", 10, window=(8, 9)), job("LONG", 6, minutes=60), job("X", 1)]
    p = problem(jobs, [crew("C1"), crew("C2")])
    plan = planned(p, {"C1": ["LONG", "X"], "C2": ["W"]})
    reasons = _refused(plan, Move("LONG", "C2", 0))
    assert reasons == ["job W: crew C2 would arrive 09:16:40, after the window closes at 09:00"]


def test_refused_when_the_crew_lacks_the_skill():
    jobs = [job("AC", 3, kind=JobKind.INSTALLATION, skills=frozenset({"ac_install"}))]
    crews = [
        crew("IC1", CrewKind.INSTALLATION_CREW, skills=frozenset({"ac_install"})),
        crew("IC2", CrewKind.INSTALLATION_CREW),
    ]
    plan = planned(problem(jobs, crews), {"IC1": ["AC"]})
    assert _refused(plan, Move("AC", "IC2")) == [
        "job AC: crew IC2 lacks the skill ac_install the job needs"
    ]


def test_refused_when_the_crew_kind_cannot_do_the_job():
    jobs = [job("D1", 3, kind=JobKind.DELIVERY)]
    crews = [crew("T1", CrewKind.DELIVERY_TRUCK), crew("R1", CrewKind.REPAIR_TECHNICIAN)]
    plan = planned(problem(jobs, crews), {"T1": ["D1"]})
    assert _refused(plan, Move("D1", "R1")) == [
        "job D1: crew R1 is a repair technician and cannot do delivery jobs"
    ]


def test_refused_when_the_truck_is_full():
    """Two 400 l deliveries on a 1,000 l truck; a third would make 1,200 l."""
    jobs = [job(f"D{k}", 2 + k, kind=JobKind.DELIVERY, volume_l=400) for k in range(3)]
    trucks = [
        crew("T1", CrewKind.DELIVERY_TRUCK, capacity_volume_l=1000),
        crew("T2", CrewKind.DELIVERY_TRUCK, capacity_volume_l=1000),
    ]
    plan = planned(problem(jobs, trucks), {"T1": ["D0", "D1"], "T2": ["D2"]})
    assert _refused(plan, Move("D2", "T1")) == [
        "crew T1: the vehicle with job D2 would carry 1200 l, over its 1000 l"
    ]


def _linked(install_window=(9, 10), installer_home_by=time(18)):
    """Delivery O1-D (10 km, window 09:00-10:00, 15 min) on truck T1 before X (20 km);
    installation O1-I at the same door (window 09:00-10:00, 60 min) on installer I1.

    T1: O1-D 09:00-09:15, X 09:31:40-10:01:40. I1 starts O1-I at 09:15 + 30 min gap = 09:45,
    ends 10:45 and is back at 11:01:40.
    """
    jobs = [
        job("O1-D", 10, window=(9, 10), kind=JobKind.DELIVERY, minutes=15, order_id="O1"),
        job("O1-I", 10, window=install_window, kind=JobKind.INSTALLATION, minutes=60,
            order_id="O1"),
        job("X", 20, kind=JobKind.DELIVERY),
    ]  # fmt: skip
    crews = [
        crew("T1", CrewKind.DELIVERY_TRUCK),
        crew("I1", CrewKind.INSTALLATION_CREW, shift_end=installer_home_by),
    ]
    plan = planned(problem(jobs, crews), {"T1": ["O1-D", "X"], "I1": ["O1-I"]})
    assert _route(plan, "I1").stops[0].start == at(9, 45)
    return plan


def test_refused_when_a_later_delivery_pushes_its_installation_out_of_its_window():
    """O1-D after X: X 08:33:20-09:03:20, O1-D (1,000 s back) 09:20-09:35, so O1-I could not
    start before 09:35 + 30 min = 10:05, after its window closes at 10:00."""
    reasons = _refused(_linked(), Move("O1-D", "T1", 1))
    assert reasons == [
        "job O1-I: crew I1 could start the installation no earlier than 10:05, after its "
        "delivery O1-D (crew T1) ends at 09:35 plus the 30-minute gap, but the window closes "
        "at 10:00"
    ]


def test_refusal_on_an_untouched_crew_names_the_link():
    """Installer I1 must be home by 11:10. O1-D after X ends 09:35 (as above), so O1-I runs
    10:05-11:05 and I1 would be back at 11:21:40: the reason names I1 and the delivery."""
    reasons = _refused(_linked((9, 18), time(11, 10)), Move("O1-D", "T1", 1))
    assert reasons == [
        "crew I1: would be back at the depot at 11:21:40, after the shift ends at 11:10 (its "
        "installation O1-I waits for delivery O1-D of crew T1, which would end at 09:35)"
    ]


def test_refused_when_a_delivery_is_taken_off_under_its_installation():
    reasons = _refused(_linked(), Move("O1-D", None))
    assert reasons == [
        "job O1-I: the installation would stay planned but its delivery O1-D would not; "
        "take the installation off first"
    ]


def test_refused_when_an_installation_comes_before_its_delivery_on_one_route():
    jobs = [
        job("O1-D", 10, kind=JobKind.DELIVERY, minutes=15, order_id="O1"),
        job("O1-I", 10, kind=JobKind.INSTALLATION, minutes=60, order_id="O1"),
    ]
    plan = planned(problem(jobs, [crew("CB1")]), {"CB1": ["O1-D", "O1-I"]})
    assert _refused(plan, Move("O1-I", "CB1", 0)) == [
        "job O1-I: the installation would come before its delivery O1-D on crew CB1's route"
    ]


@pytest.mark.parametrize(
    ("move", "words"),
    [
        (Move("NOPE", "C1"), "job NOPE: no such job"),
        (Move("A", "NOPE"), "crew NOPE: no such crew"),
        (Move("F", None), "job F: is on no route"),
        (Move("A", "C2", 2), "position 2 is out of range for crew C2 (0 to 1)"),
        (Move("A", "C2", -1), "position -1 is out of range"),
        (Move("A", "C1", 3), "position 3 is out of range for crew C1 (0 to 2)"),
    ],
)
def test_malformed_moves_are_refused(move, words):
    plan = _street()
    with pytest.raises(InvalidMove) as caught:
        apply_move(plan, move)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, OverrideRefused)
    assert len(caught.value.reasons) == 1
    assert words in caught.value.reasons[0]


def test_a_prepared_day_gives_the_same_plans_and_refusals_as_a_fresh_check():
    """The service prepares a plan's day once (`prepare_day`) and checks every move against
    it; the answers must be exactly those of checking each move from scratch, also for a
    plan read back with the cached problem (`plan_from_dict(..., problem=...)`)."""
    from dispatch.running.overrides import prepare_day

    plan = _street()
    prepared = prepare_day(plan.problem)
    again = plan_from_dict(plan_to_dict(plan), problem=plan.problem)
    assert again.routes == plan.routes and again.problem is plan.problem
    for move in (Move("C", "C1", 0), Move("A", "C2", 1), Move("F", "C3", 0), Move("A", None)):
        assert plan_to_dict(apply_move(again, move, prepared=prepared)) == plan_to_dict(
            apply_move(plan, move)
        )
    # a refusal by a hard rule: the same reasons either way
    jobs = [job("W", 10, window=(8, 9)), job("LONG", 6, minutes=60), job("X", 1)]
    tight = planned(problem(jobs, [crew("C1"), crew("C2")]), {"C1": ["LONG", "X"], "C2": ["W"]})
    tight_prepared = prepare_day(tight.problem)
    fresh = _refused(tight, Move("LONG", "C2", 0))
    with pytest.raises(OverrideRefused) as cached:
        apply_move(tight, Move("LONG", "C2", 0), prepared=tight_prepared)
    assert cached.value.reasons == fresh and fresh
    # a day prepared for another problem object is not used (it would time the wrong jobs)
    other = prepare_day(_street().problem)
    move = Move("E", "C1", 0)
    assert plan_to_dict(apply_move(plan, move, prepared=other)) == plan_to_dict(
        apply_move(plan, move)
    )
