"""Explanations of unplanned and late jobs: one hand-timed case per binding, fixes, shortages.

All problems lie on the factories' straight street: 1 km takes 100 s, crews start at 08:00
from depot D at km 0 unless stated, and no crew has a lunch break, so every time below can
be worked out by hand.
"""

from __future__ import annotations

import dataclasses
from datetime import time, timedelta

from dispatch.models import CrewKind, JobKind, TimeWindow
from dispatch.plan import Plan, Unassigned, UnassignedReason
from dispatch.running.explain import (
    Binding,
    Explanation,
    band_of,
    explain_plan,
    needed_crew_kind,
    zone_shortages,
)
from dispatch.running.overrides import Move, apply_move
from dispatch.translate import build_travel
from tests.factories import DAY, at, crew, depot, job, planned, problem


def _with_reasons(plan: Plan, reasons: dict[str, UnassignedReason]) -> Plan:
    """The plan with the given unassigned reasons, as the planner's screen would give them."""
    plan.unassigned = [
        Unassigned(u.job_id, reasons.get(u.job_id, u.reason), "") for u in plan.unassigned
    ]
    return plan


def _one(plan: Plan, job_id: str) -> Explanation:
    return next(e for e in explain_plan(plan) if e.job_id == job_id)


def _fix(e: Explanation, kind: str):
    return next(f for f in e.fixes if f.kind == kind)


def test_no_skilled_crew_names_the_missing_skill_and_asks_for_that_crew():
    p = problem([job("J", 5, skills={"work_at_height"}, zone="Z1")], [crew(skills={"ac_install"})])
    e = _one(_with_reasons(planned(p, {}), {"J": UnassignedReason.NO_ELIGIBLE_CREW}), "J")
    assert e.status == "unassigned"
    assert e.binding is Binding.NO_SKILLED_CREW
    assert e.message == "no crew that does repair jobs has work_at_height"
    fix = _fix(e, "add_crew")
    assert fix.details == {
        "crew_kind": "repair_technician",
        "skills": ["work_at_height"],
        "people": 1,
        "zone": "Z1",
        "band": "morning",
    }
    assert fix.message == "add a repair technician with work_at_height in zone Z1 this morning"
    assert (e.zone, e.kind) == ("Z1", "repair")


def test_window_closed_with_the_arrival_worked_out_by_hand():
    """J at 30 km must start by 08:30. C1 leaves D at 08:00 and needs 3,000 s: 08:50, 20 min
    late, so the window is widened by one 30-min step, to 09:00. C2 starts at 09:00 (09:50).
    A crew based at depot D2 (km 29) would arrive 08:01:40."""
    jobs = [job("J", 30, window=(8, 18), zone="Z1")]
    jobs[0] = dataclasses.replace(jobs[0], windows=(TimeWindow(at(8), at(8, 30)),))
    crews = [crew("C1"), crew("C2", shift_start=time(9), shift_end=time(18))]
    p = problem(jobs, crews, [depot("D", 0), depot("D2", 29)])
    e = _one(_with_reasons(planned(p, {}), {"J": UnassignedReason.WINDOW_UNREACHABLE}), "J")
    assert e.binding is Binding.WINDOW_CLOSED
    assert e.message == (
        "window closes 08:30; the nearest crew for repair jobs (C1) can arrive 08:50 at the "
        "earliest, leaving its depot at shift start 08:00"
    )
    widen = _fix(e, "widen_window")
    assert widen.details == {"minutes": 30, "new_end": "09:00", "crew_id": "C1"}
    nearer = _fix(e, "add_crew")
    assert nearer.details["depot"] == "D2"
    assert nearer.details["arrival"] == "08:01"
    assert nearer.details["zone"] == "Z1"


def test_widening_rounds_up_to_whole_half_hours():
    """Arrival 08:50 against a window closing 08:15: 35 min missing -> 60 min wider."""
    j = dataclasses.replace(job("J", 30), windows=(TimeWindow(at(8), at(8, 15)),))
    p = problem([j], [crew("C1")])
    e = _one(_with_reasons(planned(p, {}), {"J": UnassignedReason.WINDOW_UNREACHABLE}), "J")
    assert _fix(e, "widen_window").details == {"minutes": 60, "new_end": "09:15", "crew_id": "C1"}


def test_shift_end_when_the_only_crew_cannot_get_back_in_time():
    """C1 works 08:00-10:00: J at 30 km starts 08:50, ends 09:20, back at D 10:10."""
    p = problem([job("J", 30)], [crew("C1", shift_end=time(10))])
    e = _one(_with_reasons(planned(p, {}), {"J": UnassignedReason.WINDOW_UNREACHABLE}), "J")
    assert e.binding is Binding.SHIFT_END
    assert "back at its depot 10:10, 10 min after its shift ends 10:00" in e.message
    assert _fix(e, "extend_shift").details == {"crew_id": "C1", "minutes": 30, "new_end": "10:30"}


def test_capacity_against_the_largest_eligible_vehicle():
    j = job("J", 5, kind=JobKind.DELIVERY, volume_l=12_000, weight_kg=100)
    p = problem([j], [crew("C1"), crew("C2", capacity_volume_l=11_000)])
    e = _one(_with_reasons(planned(p, {}), {"J": UnassignedReason.EXCEEDS_CAPACITY}), "J")
    assert e.binding is Binding.CAPACITY
    assert "largest: C2, 11,000 l / 2,000 kg" in e.message
    fix = _fix(e, "bigger_vehicle")
    assert fix.details["largest_volume_l"] == 11_000
    assert fix.details["volume_l"] == 12_000


def _busy_day():
    """C1 does A (km 5) from 08:30 sharp for 120 min: 08:08:20 arrival, ends 10:30.
    B (km 5, 30 min) must start 09:00-10:00: alone it fits, but before A it pushes A to
    09:30 (60 min past A's window) and after A it starts 10:30 (30 min past its own)."""
    a = dataclasses.replace(job("A", 5, minutes=120), windows=(TimeWindow(at(8, 30), at(8, 30)),))
    b = dataclasses.replace(job("B", 5, zone="Z2"), windows=(TimeWindow(at(9), at(10)),))
    return problem([a, b], [crew("C1")])


def test_crews_full_when_the_day_is_taken_in_its_window():
    p = _busy_day()
    e = _one(_with_reasons(planned(p, {"C1": ["A"]}), {}), "B")
    assert e.binding is Binding.CREWS_FULL
    assert e.message == (
        "feasible alone, but the nearest crew for repair jobs is busy in its window "
        "09:00-10:00: at best C1 after A could start it 10:30, 30 min after it closes"
    )
    assert _fix(e, "widen_window").details == {
        "minutes": 30,
        "new_end": "10:30",
        "crew_id": "C1",
        "position": 1,
    }
    tomorrow = _fix(e, "move_to_day")
    assert tomorrow.details == {"date": (DAY + timedelta(days=1)).isoformat(), "time": "09:00"}
    assert _fix(e, "add_crew").details["zone"] == "Z2"


def test_crews_full_at_the_job_limit():
    p = problem([job("A", 5), job("B", 6)], [crew("C1", max_jobs=1)])
    e = _one(planned(p, {"C1": ["A"]}), "B")
    assert e.binding is Binding.CREWS_FULL
    assert e.message.endswith("C1 already has its maximum of 1 job")
    assert [f.kind for f in e.fixes] == ["add_crew", "move_to_day"]


def test_shift_end_when_every_slot_returns_too_late():
    """C1 works 08:00-12:00 and has A (km 10, 180 min): 08:16:40-11:16:40, back 11:33:20.
    B (km 10, 30 min) fits alone, but before or after A the crew is back at 12:03:20."""
    a = job("A", 10, window=(8, 12), minutes=180)
    b = job("B", 10, window=(8, 12))
    p = problem([a, b], [crew("C1", shift_end=time(12))])
    e = _one(planned(p, {"C1": ["A"]}), "B")
    assert e.binding is Binding.SHIFT_END
    assert "C1 as its first stop would be back at its depot 12:03, 4 min after" in e.message
    fix = _fix(e, "extend_shift")
    assert fix.details == {"crew_id": "C1", "minutes": 30, "new_end": "12:30", "position": 0}


def test_room_on_route_when_a_crew_has_space():
    """The planner's search left B out, but C1 can take it with every rule kept. On a
    straight street both orders drive the same 12 km, so the first position wins the tie:
    B (km 6) 08:10-08:40, then A."""
    p = problem([job("A", 5), job("B", 6)], [crew("C1")])
    e = _one(planned(p, {"C1": ["A"]}), "B")
    assert e.binding is Binding.ROOM_ON_ROUTE
    assert e.message.startswith("C1 as its first stop has room for it at 08:10")
    move = _fix(e, "move_to_crew")
    assert move.details == {"crew_id": "C1", "position": 0, "start": "08:10", "end": "08:40"}


def test_removed_by_dispatcher_keeps_its_binding_and_offers_the_slot():
    p = problem([job("A", 5), job("B", 6)], [crew("C1")])
    plan = _with_reasons(planned(p, {"C1": ["A"]}), {"B": UnassignedReason.REMOVED_BY_DISPATCHER})
    e = _one(plan, "B")
    assert e.binding is Binding.REMOVED_BY_DISPATCHER
    assert _fix(e, "move_to_crew").details["crew_id"] == "C1"


def test_linked_delivery_not_planned():
    d = job("D", 5, kind=JobKind.DELIVERY, order_id="O1", volume_l=20_000)
    i = job("I", 5, kind=JobKind.INSTALLATION, order_id="O1")
    p = problem([d, i], [crew("C1")])
    plan = _with_reasons(
        planned(p, {}),
        {"D": UnassignedReason.EXCEEDS_CAPACITY, "I": UnassignedReason.LINKED_JOB_UNASSIGNED},
    )
    e = _one(plan, "I")
    assert e.binding is Binding.LINKED_DELIVERY
    assert e.message.startswith("its delivery D (order O1) is not planned: 20,000 l")
    fix = _fix(e, "plan_delivery_first")
    assert fix.details == {"delivery_job_id": "D", "delivery_fix": "bigger_vehicle"}


def test_linked_delivery_that_ends_too_late():
    """Truck T delivers D at 14:30 sharp (30 min): ends 15:00; with the 30-min gap the
    installer could start at 15:30, after I's window closes at 15:15."""
    d = dataclasses.replace(
        job("D", 5, kind=JobKind.DELIVERY, order_id="O1"),
        windows=(TimeWindow(at(14, 30), at(14, 30)),),
    )
    i = dataclasses.replace(
        job("I", 5, kind=JobKind.INSTALLATION, order_id="O1"),
        windows=(TimeWindow(at(8), at(15, 15)),),
    )
    crews = [crew("T", kind=CrewKind.DELIVERY_TRUCK), crew("IC", kind=CrewKind.INSTALLATION_CREW)]
    p = problem([d, i], crews)
    e = _one(planned(p, {"T": ["D"]}), "I")
    assert e.binding is Binding.LINKED_DELIVERY
    assert e.message == (
        "its delivery D ends 15:00 on T; with the 30 min gap no installer can start before "
        "its window closes 15:15"
    )
    assert _fix(e, "plan_delivery_first").details == {
        "delivery_job_id": "D",
        "deliver_by": "14:45",
        "crew_id": "T",
    }


def test_late_stop_behind_earlier_stops_with_both_fixes():
    """C1 does A (km 10, 60 min) 08:16:40-09:16:40, then B (same place) to 09:46:40, 17 min
    after B's 09:30 promise. C2 is idle and could do B 08:16:40-08:46:40; C1 starting at
    07:30 would end B at 09:16:40."""
    a = job("A", 10, minutes=60)
    b = job("B", 10, deadline=at(9, 30))
    p = problem([a, b], [crew("C1"), crew("C2")])
    plan = planned(p, {"C1": ["A", "B"]})
    e = _one(plan, "B")
    assert e.status == "late"
    assert e.binding is Binding.LATE_ROUTE
    assert e.message == (
        "C1 ends it 09:46, 17 min after its promise deadline 09:30: the crew's 1 earlier stop "
        "since it left at 08:00 brings it there only at 09:16"
    )
    assert _fix(e, "move_to_crew").details == {
        "crew_id": "C2",
        "position": 0,
        "start": "08:16",
        "end": "08:46",
    }
    assert _fix(e, "extend_shift").details == {
        "crew_id": "C1",
        "minutes": 30,
        "new_start": "07:30",
    }


def test_exact_fixes_pass_the_override_validator():
    """The slot a fix names is accepted by a dispatcher's manual move."""
    a, b = job("A", 10, minutes=60), job("B", 10, deadline=at(9, 30))
    plan = planned(problem([a, b], [crew("C1"), crew("C2")]), {"C1": ["A", "B"]})
    d = _fix(_one(plan, "B"), "move_to_crew").details
    moved = apply_move(plan, Move("B", d["crew_id"], d["position"]))
    assert next(s for r in moved.routes for s in r.stops if s.job_id == "B").slack_minutes >= 0

    a, b = job("A", 10, window=(8, 12), minutes=180), job("B", 10, window=(8, 12))
    p = problem([a, b], [crew("C1", shift_end=time(12))])
    d = _fix(_one(planned(p, {"C1": ["A"]}), "B"), "extend_shift").details
    p.crews[0] = dataclasses.replace(p.crews[0], shift_end=time.fromisoformat(d["new_end"]))
    apply_move(planned(p, {"C1": ["A"]}), Move("B", d["crew_id"], d["position"]))


def test_late_stop_whose_window_opens_too_late():
    """B may start 15:00 at the earliest; 30 min of work cannot end by 15:10."""
    b = job("B", 5, window=(15, 16), deadline=at(15, 10))
    p = problem([b], [crew("C1")])
    e = _one(planned(p, {"C1": ["B"]}), "B")
    assert e.binding is Binding.LATE_ROUTE
    assert "its window opens 15:00" in e.message
    assert _fix(e, "widen_window").details == {
        "minutes": 30,
        "new_start": "14:30",
        "direction": "earlier",
    }


def test_late_stop_waiting_for_its_delivery():
    """T delivers D at 12:00 sharp (to 12:30); the installer may start I at 13:00 (30-min
    gap), ends 13:30, 45 min after 12:45. Delivered by 11:45, I would end by 12:45."""
    d = dataclasses.replace(
        job("D", 5, kind=JobKind.DELIVERY, order_id="O1"),
        windows=(TimeWindow(at(12), at(12)),),
    )
    i = job("I", 5, kind=JobKind.INSTALLATION, order_id="O1", deadline=at(12, 45))
    crews = [crew("T", kind=CrewKind.DELIVERY_TRUCK), crew("IC", kind=CrewKind.INSTALLATION_CREW)]
    plan = planned(problem([d, i], crews), {"T": ["D"], "IC": ["I"]})
    e = _one(plan, "I")
    assert e.binding is Binding.LATE_ROUTE
    assert e.message.endswith("it waits for its delivery D, which T ends 12:30")
    assert _fix(e, "plan_delivery_first").details == {
        "delivery_job_id": "D",
        "deliver_by": "11:45",
    }


def test_late_stop_no_crew_can_reach_in_time():
    """J at 30 km is due 08:40: the crew arrives 08:50 at the earliest and ends 09:20."""
    p = problem([job("J", 30, deadline=at(8, 40))], [crew("C1")])
    e = _one(planned(p, {"C1": ["J"]}), "J")
    assert e.message.endswith(
        "even the nearest crew (C1), straight from its depot, could finish it 09:20 at the earliest"
    )
    assert [f.kind for f in e.fixes] == ["add_crew"]


def test_late_stop_already_overdue_has_no_fix():
    b = job(
        "B",
        5,
        confirmed_at=at(7, day=DAY - timedelta(days=2)),
        deadline=at(20, day=DAY - timedelta(days=1)),
    )
    p = problem([b], [crew("C1")])
    e = _one(planned(p, {"C1": ["B"]}), "B")
    assert "the promise had passed before the plan day began" in e.message
    assert e.fixes == ()


def test_outside_region_and_not_on_plan_day():
    far = job("F", 100)
    tomorrow = dataclasses.replace(
        job("T", 5), windows=(TimeWindow(at(9) + timedelta(days=1), at(11) + timedelta(days=1)),)
    )
    p = problem([far, tomorrow], [crew("C1")])
    plan = _with_reasons(
        planned(p, {}),
        {
            "F": UnassignedReason.OUTSIDE_REGION,
            "T": UnassignedReason.WINDOW_NOT_ON_PLAN_DAY,
        },
    )
    by_id = {e.job_id: e for e in explain_plan(plan)}
    assert by_id["F"].binding is Binding.OUTSIDE_REGION
    assert by_id["F"].message.startswith("100 km from the nearest depot (D)")
    assert by_id["T"].binding is Binding.NOT_ON_PLAN_DAY
    assert _fix(by_id["T"], "move_to_day").details == {
        "date": (DAY + timedelta(days=1)).isoformat(),
        "time": "09:00",
    }


def _shortage_plan():
    """Installations with ac_install in zone Z1, 130 min each (+20 travel = 2.5 h)."""
    jobs = [
        job(f"A{k}", 5, window=(13, 15), kind=JobKind.INSTALLATION, minutes=130, zone="Z1",
            skills={"ac_install"})
        for k in range(4)
    ]  # fmt: skip
    jobs.append(job("M", 5, window=(9, 11), kind=JobKind.INSTALLATION, minutes=130, zone="Z1"))
    jobs.append(job("R", 5, window=(17, 19), minutes=40, zone="Z2"))
    return planned(problem(jobs, [crew("C1")]), {})


def _explained(job_id: str, binding: Binding, zone: str, status: str = "unassigned"):
    return Explanation(job_id, status, binding, "", (), zone, "installation")


def test_zone_shortages_group_and_count_crews():
    plan = _shortage_plan()
    explanations = [
        _explained("A0", Binding.CREWS_FULL, "Z1"),
        _explained("A1", Binding.SHIFT_END, "Z1"),
        _explained("A2", Binding.CREWS_FULL, "Z1"),
        _explained("M", Binding.CREWS_FULL, "Z1"),
        _explained("R", Binding.NO_SKILLED_CREW, "Z2"),
        _explained("A3", Binding.WINDOW_CLOSED, "Z1"),  # not a crew shortage
    ]
    shortages = zone_shortages(plan, explanations)
    assert [(s.zone, s.crew_kind, s.skills, s.band, s.jobs) for s in shortages] == [
        ("Z1", "installation_crew", ("ac_install",), "afternoon", 3),
        ("Z1", "installation_crew", (), "morning", 1),
        ("Z2", "repair_technician", (), "evening", 1),
    ]
    first = shortages[0]
    assert first.work_hours == 7.5  # 3 x (130 + 20) min: exactly one crew's 7.5 h
    assert first.crews_short == 1
    assert first.message == (
        "zone Z1 is short 1 installation crew (ac_install) this afternoon: 3 jobs, 7.5 h of work"
    )
    assert shortages[2].work_hours == 1.0 and shortages[2].crews_short == 1


def test_one_job_more_than_a_crew_day_needs_two_crews():
    plan = _shortage_plan()
    explanations = [_explained(f"A{k}", Binding.CREWS_FULL, "Z1") for k in range(4)]
    (s,) = zone_shortages(plan, explanations)
    assert (s.work_hours, s.crews_short) == (10.0, 2)
    assert s.message.startswith("zone Z1 is short 2 installation crews (ac_install) this afternoon")


def test_late_stops_are_not_shortages():
    plan = _shortage_plan()
    assert zone_shortages(plan, [_explained("A0", Binding.CREWS_FULL, "Z1", "late")]) == []


def test_needed_crew_kind_and_band():
    assert needed_crew_kind(job("r", 1)) is CrewKind.REPAIR_TECHNICIAN
    assert needed_crew_kind(job("i", 1, kind=JobKind.INSTALLATION)) is CrewKind.INSTALLATION_CREW
    assert needed_crew_kind(job("d", 1, kind=JobKind.DELIVERY)) is CrewKind.DELIVERY_TRUCK
    assert needed_crew_kind(job("p", 1, kind=JobKind.PICKUP)) is CrewKind.DELIVERY_TRUCK
    p = problem([job("x", 1)], [crew()])
    assert [band_of(p, job("x", 1, window=(h, h + 1))) for h in (11, 12, 16, 17)] == [
        "morning",
        "afternoon",
        "afternoon",
        "evening",
    ]


def test_deterministic_and_capped():
    """Same plan, same explanations, with or without a travel model passed; max_jobs caps."""
    a = job("A", 10, minutes=60)
    b = job("B", 10, deadline=at(9, 30))
    p = _busy_day()
    plan = planned(p, {"C1": ["A"]})
    p2 = problem([a, b, job("X", 30, window=(8, 9))], [crew("C1"), crew("C2")])
    plan2 = _with_reasons(
        planned(p2, {"C1": ["A", "B"]}), {"X": UnassignedReason.WINDOW_UNREACHABLE}
    )
    for pl in (plan, plan2):
        first = explain_plan(pl)
        assert first == explain_plan(pl)
        assert first == explain_plan(pl, build_travel(pl.problem))
    assert [e.job_id for e in explain_plan(plan2)] == ["X", "B"]
    assert [e.job_id for e in explain_plan(plan2, max_jobs=1)] == ["X"]
    assert explain_plan(plan2, max_jobs=0) == []
