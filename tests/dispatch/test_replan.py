"""Re-planning a published day on tiny hand-worked days (tests/factories.py: 1 km = 100 s).

Unless a test says otherwise: one depot at 0 km, crews 08:00-18:00 without lunch, jobs
confirmed at 07:00 (a repair is then due the same day at 20:00). A crew leaves the depot as
late as still reaches its first stop at the earliest start.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from dispatch.files.plan_io import plan_from_dict, plan_to_dict
from dispatch.models import JobKind, LunchBreak, Priority, TimeWindow
from dispatch.plan import UnassignedReason
from dispatch.plan_validator import validate_plan
from dispatch.running.replan import (
    DayState,
    ReplanOptions,
    ReplanRefused,
    replan,
    state_as_planned,
)
from routing.ortools_model import SolveParams, solve
from tests.factories import at, crew, job, planned, problem

DETERMINISTIC = ReplanOptions(solution_limit=5)


def _route(plan, crew_id):
    return next(r for r in plan.routes if r.crew_id == crew_id)


def _order(plan, crew_id):
    route = next((r for r in plan.routes if r.crew_id == crew_id), None)
    return [] if route is None else [s.job_id for s in route.stops]


def _stop(plan, job_id):
    return next(s for r in plan.routes for s in r.stops if s.job_id == job_id)


def _unassigned(plan):
    return {u.job_id: u for u in plan.unassigned}


def _valid(result):
    assert validate_plan(result.plan) == []
    back = plan_from_dict(plan_to_dict(result.plan))  # the re-plan problem round-trips
    assert validate_plan(back) == []


# ---- an unchanged day


def _busy_day():
    """Three crews, a lunch, a linked delivery and installation, an unplanned job F.

    C1 A(2 km) B(4 km) C(6 km), all 60 min, B's window 12:00-18:00; C2 delivers D (5 km)
    which C3 installs (I, 90 min, at least 30 min after the delivery); lunch 12:00-14:00.
    """
    lunch = LunchBreak(at(12).time(), at(14).time(), 45)
    jobs = [
        job("A", 2, minutes=60),
        job("B", 4, window=(12, 18), minutes=60),
        job("C", 6, minutes=60),
        job("D", 5, kind=JobKind.DELIVERY, order_id="O1", minutes=20),
        job("I", 5, kind=JobKind.INSTALLATION, order_id="O1", minutes=90),
        job("F", 3),
    ]
    crews = [crew("C1", lunch=lunch), crew("C2", lunch=lunch), crew("C3", lunch=lunch)]
    return planned(problem(jobs, crews), {"C1": ["A", "B", "C"], "C2": ["D"], "C3": ["I"]})


@pytest.mark.parametrize("hh", [6, 8, 9, 11, 12, 13, 15, 20])
def test_unchanged_state_changes_nothing(hh):
    """Everything went as planned until `at` (any time of the day): the re-plan re-times
    every route to exactly the plan's times, F stays unassigned, and the diff is empty."""
    plan = _busy_day()
    result = replan(plan, state_as_planned(plan, at(hh)), DETERMINISTIC)
    assert result.diff.is_empty, result.diff.summary()
    assert result.plan.routes == plan.routes
    assert result.plan.unassigned == plan.unassigned
    _valid(result)


# ---- a crew goes home sick


def _sick_day():
    """C1: A (2 km, 09:00-10:00 window), B (3 km, window 12:00-13:00), C (5 km, window
    14:00-15:00, needs skill "gas" that only C1 has), all 60 min; C2: E (4 km).

    C1 leaves 08:56:40: A 09:00-10:00; B arrives 10:01:40, starts 12:00, ends 13:00; C
    arrives 13:03:20, starts 14:00, ends 15:00. C2: E 08:06:40-09:06:40, home 09:13:20.
    """
    jobs = [
        job("A", 2, window=(9, 10), minutes=60),
        job("B", 3, window=(12, 13), minutes=60),
        job("C", 5, window=(14, 15), minutes=60, skills=frozenset({"gas"})),
        job("E", 4, minutes=60),
    ]
    crews = [crew("C1", skills=frozenset({"gas"})), crew("C2"), crew("C3")]
    return planned(problem(jobs, crews), {"C1": ["A", "B", "C"], "C2": ["E"]})


def test_sick_crew_hands_its_jobs_over_or_explains_them():
    """C1 goes home at 11:00 with A done. B goes to C2: after E (ended 09:06:40 at 4 km) the
    detour to B is 4 -> 3 -> 0 km instead of 4 -> 0: 0 extra metres, against 6 km out and
    back for C3 from the depot. B still starts 12:00. C needs gas: nobody else has it, so it
    is unassigned because its crew is gone, and its same-day promise is at risk."""
    plan = _sick_day()
    state = dataclasses.replace(state_as_planned(plan, at(11)), unavailable={"C1": at(11)})
    result = replan(plan, state, DETERMINISTIC)
    new = result.plan
    assert _order(new, "C1") == ["A"]
    assert _stop(new, "A") == _stop(plan, "A")  # pinned: crew, order and times
    assert _order(new, "C2") == ["E", "B"]
    assert _stop(new, "B").start == at(12)
    u = _unassigned(new)["C"]
    assert u.reason is UnassignedReason.CREW_UNAVAILABLE
    assert "C1" in u.detail and "11:00" in u.detail
    moves = {(m.job_id, m.from_crew, m.to_crew) for m in result.diff.moved}
    assert moves == {("B", "C1", "C2"), ("C", "C1", None)}
    assert [u.job_id for u in result.diff.newly_unassigned] == ["C"]
    assert [r.job_id for r in result.diff.at_risk] == ["C"]
    assert result.diff.crews_changed == ["C1", "C2"]
    assert result.pinned == frozenset({"A", "E"})
    _valid(result)


def test_crew_unavailable_later_keeps_what_it_starts_before():
    """C1 is gone from 13:30: B (starts 12:00) is still its own, C (would start 14:00) is
    handed over; nobody else has gas, so C is unassigned (crew_unavailable)."""
    plan = _sick_day()
    state = dataclasses.replace(state_as_planned(plan, at(11)), unavailable={"C1": at(13, 30)})
    result = replan(plan, state, DETERMINISTIC)
    assert _order(result.plan, "C1") == ["A", "B"]
    assert _unassigned(result.plan)["C"].reason is UnassignedReason.CREW_UNAVAILABLE
    _valid(result)


def test_replan_is_deterministic():
    plan = _sick_day()
    urgent = job("U", 1, window=(13, 16), priority=Priority.COMPLAINT)
    state = dataclasses.replace(
        state_as_planned(plan, at(11)), unavailable={"C1": at(11)}, new_jobs=(urgent,)
    )
    one = replan(plan, state, DETERMINISTIC)
    two = replan(plan, state, DETERMINISTIC)
    assert one.plan.routes == two.plan.routes
    assert one.plan.unassigned == two.plan.unassigned
    assert one.diff.summary() == two.diff.summary()


def test_sick_delivery_crew_hands_the_delivery_over_and_its_installation_waits():
    """C2 (to deliver D, which C3 installs) is off sick from 07:00, before the day starts. D
    goes to C1 (after B, before C: on its way, 0 extra metres); I stays with C3 (a move
    would cost more) and now starts 30 minutes after D ends on the other crew."""
    plan = _busy_day()
    state = dataclasses.replace(state_as_planned(plan, at(7)), unavailable={"C2": at(7)})
    result = replan(plan, state, DETERMINISTIC)
    new = result.plan
    assert _order(new, "C1") == ["A", "B", "D", "C"]
    assert _order(new, "C3") == ["I"]
    assert _stop(new, "I").start >= _stop(new, "D").end + timedelta(minutes=30)
    assert [(m.job_id, m.from_crew, m.to_crew) for m in result.diff.moved] == [("D", "C2", "C1")]
    _valid(result)


def test_installation_waits_for_an_undeliverable_delivery():
    """Only C2 can carry D (it needs skill "crane"); C2 is sick, so D is unassigned with its
    crew gone, and I cannot be installed either (linked job unassigned)."""
    plan = _busy_day()
    p = plan.problem
    crane = frozenset({"crane"})
    jobs = [dataclasses.replace(j, skills=crane) if j.id == "D" else j for j in p.jobs]
    crews = [dataclasses.replace(c, skills=crane) if c.id == "C2" else c for c in p.crews]
    p2 = dataclasses.replace(p, jobs=jobs, crews=crews)
    plan = planned(p2, {"C1": ["A", "B", "C"], "C2": ["D"], "C3": ["I"]})
    state = dataclasses.replace(state_as_planned(plan, at(7)), unavailable={"C2": at(7)})
    result = replan(plan, state, DETERMINISTIC)
    reasons = {u.job_id: u.reason for u in result.diff.newly_unassigned}
    assert reasons == {
        "D": UnassignedReason.CREW_UNAVAILABLE,
        "I": UnassignedReason.LINKED_JOB_UNASSIGNED,
    }
    _valid(result)


def test_previously_unassigned_jobs_are_retried_only_when_asked():
    """F (3 km) was left out of the morning plan. By default a re-plan leaves it so; with
    retry_unassigned it joins C1 between A and B (B waits for 12:00 anyway), and B's ETA
    moves 30 min: within the tolerance."""
    plan = _busy_day()
    state = state_as_planned(plan, at(7))
    assert "F" in _unassigned(replan(plan, state, DETERMINISTIC).plan)
    options = ReplanOptions(retry_unassigned=True, solution_limit=5)
    result = replan(plan, state, options)
    assert _order(result.plan, "C1") == ["A", "F", "B", "C"]
    assert [(m.job_id, m.from_crew, m.to_crew) for m in result.diff.moved] == [("F", None, "C1")]
    assert result.diff.notices == []
    _valid(result)


# ---- an urgent job comes in


def _two_stops():
    """C1: A (2 km, window 12:00-13:00) and B (4 km, window 16:00-17:00), 30 min each.

    C1 leaves 11:56:40: A 12:00-12:30; B arrives 12:33:20, starts 16:00, ends 16:30.
    """
    jobs = [job("A", 2, window=(12, 13)), job("B", 4, window=(16, 17))]
    return planned(problem(jobs, [crew("C1")]), {"C1": ["A", "B"]})


def test_urgent_job_is_inserted_within_its_promise():
    """At 11:00 a complaint U (3 km, window 13:00-16:00, due 15:00) comes in. Before A it
    would make A miss its window (13:00 close), after B its window has closed; between A
    and B: A ends 12:30, U (1 km on) waits for 13:00, ends 13:30, due 15:00; B arrives
    13:31:40 instead of 12:33:20 but still starts at 16:00, the ETA its customer was told
    (the start of work), so nobody is told anything new. A is within the freeze horizon and
    stays first (12:00 <= 11:00 + 60 min)."""
    plan = _two_stops()
    urgent = job("U", 3, window=(13, 16), priority=Priority.COMPLAINT, deadline=at(15), minutes=30)
    state = dataclasses.replace(state_as_planned(plan, at(11)), new_jobs=(urgent,))
    result = replan(plan, state, DETERMINISTIC)
    new = result.plan
    assert _order(new, "C1") == ["A", "U", "B"]
    u = _stop(new, "U")
    assert (u.start, u.end) == (at(13), at(13, 30))
    assert u.end <= u.deadline == at(15)
    assert _stop(new, "B").start == at(16)
    assert result.diff.added == ["U"]
    assert result.diff.at_risk == []
    assert result.diff.eta_changes == []
    assert result.frozen == frozenset({"A"})
    assert result.stats["inserted"] == 1
    _valid(result)


def test_new_job_that_nobody_can_do_is_explained():
    """A job needing a skill no crew has is screened like the planner does it; a job whose
    window closed before the re-plan is unreachable."""
    plan = _two_stops()
    odd = job("X", 3, skills=frozenset({"piano_tuning"}))
    late = job("L", 3, window=(8, 10))
    state = dataclasses.replace(state_as_planned(plan, at(11)), new_jobs=(odd, late))
    result = replan(plan, state, DETERMINISTIC)
    reasons = {u.job_id: u.reason for u in result.diff.newly_unassigned}
    assert reasons == {
        "X": UnassignedReason.NO_ELIGIBLE_CREW,
        "L": UnassignedReason.WINDOW_UNREACHABLE,
    }
    assert _order(result.plan, "C1") == ["A", "B"]
    _valid(result)


# ---- overruns


def _three_stops():
    """C1: A (1 km, 60 min), B (2 km, window 09:30-18:00, 30 min), C (3 km, 30 min).

    A 08:01:40-09:01:40; B arrives 09:03:20, starts 09:30, ends 10:00; C arrives 10:01:40,
    ends 10:31:40; home 10:36:40.
    """
    b = dataclasses.replace(job("B", 2), windows=(TimeWindow(at(9, 30), at(18)),))
    jobs = [job("A", 1, minutes=60), b, job("C", 3)]
    return planned(problem(jobs, [crew("C1")]), {"C1": ["A", "B", "C"]})


def test_overrun_pushes_later_stops_and_notices_only_beyond_tolerance():
    """At 09:00 A (started 08:01:40) will end 09:46:40, 45 min late. B arrives 09:48:20 and
    starts at once, 18:20 after its planned 09:30 start (its wait absorbed the rest); C
    starts 10:20 instead of 10:01:40 (+18:20). ETAs are starts of work: both moved 18 min,
    within the 30-minute tolerance, so nobody is told again. Had A run until 10:16:40
    (75 min late), B would start 10:18:20 (+48) and C 10:50 (+48): both beyond, both told."""
    plan = _three_stops()
    assert _stop(plan, "B").start == at(9, 30)
    state = DayState(
        at=at(9),
        in_progress={"A": at(8, 1, 40)},
        expected_end={"A": at(9, 46, 40)},
    )
    result = replan(plan, state, DETERMINISTIC)
    new = result.plan
    assert _order(new, "C1") == ["A", "B", "C"]
    assert (_stop(new, "A").start, _stop(new, "A").end) == (at(8, 1, 40), at(9, 46, 40))
    assert _stop(new, "B").start == at(9, 48, 20)
    assert _stop(new, "C").start == at(10, 20)
    changes = {e.job_id: (e.minutes, e.beyond_tolerance) for e in result.diff.eta_changes}
    assert changes == {"B": (18, False), "C": (18, False)}
    assert result.diff.notices == []
    assert result.diff.moved == []
    _valid(result)

    longer = dataclasses.replace(state, expected_end={"A": at(10, 16, 40)})
    result = replan(plan, longer, DETERMINISTIC)
    changes = {e.job_id: (e.minutes, e.beyond_tolerance) for e in result.diff.eta_changes}
    assert changes == {"B": (48, True), "C": (48, True)}
    assert [e.job_id for e in result.diff.notices] == ["B", "C"]
    _valid(result)


def test_notified_eta_is_what_the_customer_was_told():
    """C's customer was told 10:10 (not the planned start 10:01:40): the new start 10:20 is
    10 min off."""
    plan = _three_stops()
    state = DayState(
        at=at(9),
        in_progress={"A": at(8, 1, 40)},
        expected_end={"A": at(9, 46, 40)},
        notified_eta={"C": at(10, 10)},
    )
    result = replan(plan, state, DETERMINISTIC)
    change = next(e for e in result.diff.eta_changes if e.job_id == "C")
    assert (change.old_eta, change.minutes, change.beyond_tolerance) == (at(10, 10), 10, False)


def test_overrun_of_a_job_not_yet_started_lengthens_it():
    """B (not started at 09:00) will take until 10:30 instead of 10:00: C moves 30 min."""
    plan = _three_stops()
    state = dataclasses.replace(state_as_planned(plan, at(9)), expected_end={"B": at(10, 30)})
    result = replan(plan, state, DETERMINISTIC)
    assert _stop(result.plan, "B").end == at(10, 30)
    assert _stop(result.plan, "C").arrival == at(10, 31, 40)
    _valid(result)


def test_facts_that_broke_the_plan_are_taken_as_they_are():
    """A started at 07:40, before the 08:00 shift and before its 08:00 window, and took
    until 08:50 (70 min, planned 60): the re-plan problem widens A's window and C1's shift
    so the facts validate; B and C follow from A's real end."""
    plan = _three_stops()
    state = DayState(at=at(9), done={"A": (at(7, 40), at(8, 50))})
    result = replan(plan, state, DETERMINISTIC)
    a = _stop(result.plan, "A")
    assert (a.start, a.end) == (at(7, 40), at(8, 50))
    assert _stop(result.plan, "B").start == at(9, 30)
    crew_c1 = next(c for c in result.plan.problem.crews if c.id == "C1")
    assert crew_c1.shift_start < at(7, 40).time()
    assert result.stats["facts_adjusted"] == 0
    _valid(result)


def test_overrun_through_lunch_moves_the_lunch():
    """C1's 45-min lunch must start 12:00-13:15. A, in progress since 11:00, will run until
    13:30: the lunch window is widened so the lunch starts when A ends; B follows."""
    lunch = LunchBreak(at(12).time(), at(14).time(), 45)
    jobs = [job("A", 1, window=(11, 12), minutes=60), job("B", 2, window=(8, 18))]
    plan = planned(problem(jobs, [crew("C1", lunch=lunch)]), {"C1": ["A", "B"]})
    state = DayState(at=at(12), in_progress={"A": at(11)}, expected_end={"A": at(13, 30)})
    result = replan(plan, state, DETERMINISTIC)
    route = _route(result.plan, "C1")
    assert route.lunch is not None and route.lunch.start >= at(13, 30)
    assert _order(result.plan, "C1") == ["A", "B"]
    _valid(result)


# ---- what stays in place


@pytest.mark.parametrize(
    ("freeze", "frozen", "expected"),
    [
        (0, {"H"}, {"C1": ["P", "H", "U", "K", "Z"], "C2": []}),
        (60, {"H", "K"}, {"C1": ["P", "H", "K", "Z"], "C2": ["U"]}),
    ],
)
def test_pinned_and_frozen_stops_never_move(freeze, frozen, expected):
    """C1: P (1 km, done 08:01:40-08:31:40), H (5 km, the crew is driving to it, starts
    08:38:20), K (9 km, starts 09:15), Z (10 km, window 14:00-18:00). At 08:32:40 an urgent
    U (3 km, window 08:00-11:00) comes in; ETAs cost nothing here, so only metres count.
    Cheapest would be on the way from P to H (1 -> 3 -> 5 km: +0 km), but H is frozen.
    Freeze 0 min: after H (5 -> 3 -> 9 instead of 5 -> 9: +4 km) beats C2 from the depot
    (+6 km). Freeze 60 min: K (09:15) is frozen too; after K costs +12 km (after Z U's
    window has closed), so C2 takes U."""
    jobs = [job("P", 1), job("H", 5), job("K", 9), job("Z", 10, window=(14, 18))]
    plan = planned(problem(jobs, [crew("C1"), crew("C2")]), {"C1": ["P", "H", "K", "Z"]})
    at_ = _stop(plan, "P").end + timedelta(minutes=1)
    assert at_ == at(8, 32, 40)
    urgent = job("U", 3, window=(8, 11), priority=Priority.COMPLAINT)
    state = dataclasses.replace(state_as_planned(plan, at_), new_jobs=(urgent,))
    options = ReplanOptions(freeze_minutes=freeze, eta_weight_m=0, solution_limit=5)
    result = replan(plan, state, options)
    assert result.pinned == frozenset({"P"})
    assert result.frozen == frozenset(frozen)
    for crew_id, order in expected.items():
        assert _order(result.plan, crew_id) == order
    assert _stop(result.plan, "P") == _stop(plan, "P")
    _valid(result)


def test_stops_done_in_another_order_are_pinned_in_that_order():
    """The crew did B before A: the new plan has them as done, in the real order."""
    plan = _three_stops()
    state = DayState(
        at=at(11), done={"B": (at(8, 3, 20), at(8, 33, 20)), "A": (at(8, 35), at(9, 35))}
    )
    result = replan(plan, state, DETERMINISTIC)
    assert _order(result.plan, "C1") == ["B", "A", "C"]
    assert _stop(result.plan, "A").start == at(8, 35)
    _valid(result)


def test_cancelled_job_is_removed():
    """B is cancelled at 08:30: it leaves the problem and C1's route; C comes earlier."""
    plan = _three_stops()
    state = dataclasses.replace(state_as_planned(plan, at(8, 30)), cancelled=frozenset({"B"}))
    result = replan(plan, state, DETERMINISTIC)
    assert _order(result.plan, "C1") == ["A", "C"]
    assert "B" not in {j.id for j in result.plan.problem.jobs}
    assert result.diff.removed == ["B"]
    assert _stop(result.plan, "C").arrival == at(9, 5)
    _valid(result)


# ---- refusals


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"at": at(11) + timedelta(days=1)}, "not on the plan's day"),
        ({"unavailable": {"NOPE": at(11)}}, "unknown crew(s) in unavailable: NOPE"),
        ({"done": {"GHOST": (at(9), at(10))}}, "unknown job(s) in done: GHOST"),
        ({"cancelled": frozenset({"A"})}, "cannot be cancelled"),
        ({"done": {"B": (at(9), at(12))}}, "after the re-plan time"),
        ({"in_progress": {"A": at(9)}}, "both done and in progress"),
    ],
)
def test_refusals_name_what_is_wrong(change, words):
    plan = _three_stops()
    state = dataclasses.replace(state_as_planned(plan, at(11)), **change)
    with pytest.raises(ReplanRefused) as err:
        replan(plan, state)
    assert words in err.value.reason


def test_new_job_id_clash_is_refused():
    plan = _three_stops()
    state = DayState(at=at(9), new_jobs=(job("A", 5),))
    with pytest.raises(ReplanRefused, match="already in the plan"):
        replan(plan, state)


# ---- the warm start


def test_solver_warm_start_returns_the_given_routes():
    """With one solution allowed, the solve returns the routes it was started from."""
    from dispatch.translate import build_travel, translate

    plan = _busy_day()
    p = plan.problem
    deadlines = {j.id: p.promises.deadline(j) for j in p.jobs}
    tr = translate(p, build_travel(p), deadlines, range(len(p.jobs)), range(len(p.crews)))
    initial = [[2, 1, 0], [3], [4]]  # C, B, A on C1: a poor order
    sol = solve(tr.routing, SolveParams(time_limit_s=5, solution_limit=1, initial_routes=initial))
    assert sorted((r.vehicle, [s.visit for s in r.stops]) for r in sol.routes) == [
        (0, [2, 1, 0]),
        (1, [3]),
        (2, [4]),
    ]


# ---- a small demo-city day: lunches, rush hours, linked jobs, real streets


@pytest.fixture(scope="module")
def demo_day():
    from dispatch.planning.planner import PlanOptions, make_plan
    from fixtures.shanghai import demo_problem

    return make_plan(demo_problem(jobs=60), PlanOptions(time_limit_s=5, solution_limit=5))


@pytest.mark.parametrize("hh", [10, 12, 15])
def test_demo_day_unchanged_state_changes_nothing(demo_day, hh):
    result = replan(demo_day, state_as_planned(demo_day, at(hh)), DETERMINISTIC)
    assert result.diff.is_empty, result.diff.summary()
    assert result.plan.routes == demo_day.routes


def test_demo_day_sick_crew_and_urgent_jobs(demo_day):
    """The crew with most stops after 12:00 leaves at 12:00; three complaint repairs come
    in. Its unstarted stops go to others or are unassigned because it is gone; nothing
    started moves; the result validates."""
    noon = at(12)
    sick = max(demo_day.routes, key=lambda r: (sum(s.start > noon for s in r.stops), r.crew_id))
    handed = {s.job_id for s in sick.stops if s.start > noon}
    sites = [j for j in demo_day.problem.jobs if j.kind is JobKind.REPAIR][:3]
    urgent = tuple(
        dataclasses.replace(
            j, id=f"U{n}", order_id=f"UO{n}", priority=Priority.COMPLAINT, confirmed_at=noon
        )
        for n, j in enumerate(sites)
    )
    state = dataclasses.replace(
        state_as_planned(demo_day, noon), unavailable={sick.crew_id: noon}, new_jobs=urgent
    )
    result = replan(demo_day, state, DETERMINISTIC)
    new = result.plan
    stops = {s.job_id: (r.crew_id, s) for r in new.routes for s in r.stops}
    for job_id in handed:
        if job_id in stops:
            assert stops[job_id][0] != sick.crew_id
        else:
            assert _unassigned(new)[job_id].reason in {
                UnassignedReason.CREW_UNAVAILABLE,
                UnassignedReason.LINKED_JOB_UNASSIGNED,
            }
    old = {s.job_id: (r.crew_id, s) for r in demo_day.routes for s in r.stops}
    for job_id in result.pinned:
        assert stops[job_id] == old[job_id]
    assert result.diff.added == ["U0", "U1", "U2"]
    _valid(result)
