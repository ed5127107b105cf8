"""The one home of a day in routing form (`dispatch.planning.routed_day`), on the hand-made street.

One kilometre takes 100 s on the street (`tests.factories`), so times are worked out here.
"""

from __future__ import annotations

from datetime import time

from dispatch.models import JobKind, LunchBreak
from dispatch.planning.routed_day import put_in, routed_day, take_out
from tests.factories import at, crew, job, planned, problem

LUNCH = LunchBreak(time(11, 30), time(13, 30), 30)


def _day():
    jobs = [job("A", 2), job("B", 4), job("C", 6, kind=JobKind.REPAIR)]
    crews = [crew("C1", lunch=LUNCH), crew("C2")]
    return problem(jobs, crews)


def test_positions_follow_the_problem_order():
    p = _day()
    routed = routed_day(p)
    assert routed.job_pos == {"A": 0, "B": 1, "C": 2}
    assert routed.crew_pos == {"C1": 0, "C2": 1}
    assert routed.full.job_ids == ["A", "B", "C"]
    assert set(routed.deadlines) == {"A", "B", "C"}


def test_a_planned_day_read_back_and_re_timed_is_the_same_plan():
    p = _day()
    plan = planned(p, {"C1": ["A", "B"], "C2": ["C"]})
    routed = routed_day(p)
    seqs, breaks = routed.sequences(plan)
    assert seqs == {0: [0, 1], 1: [2]}
    assert set(breaks) == {0}  # only C1 has a lunch
    timed = routed.time(seqs, breaks)
    assert routed.crew_routes(timed) == plan.routes
    as_planned = routed.planned_schedules(plan)
    assert [s.start for s in as_planned[0].stops] == [s.start for s in timed[0].stops]
    # C1 leaves at 08:00 and drives 2 km (200 s) to A, which opens at 08:00
    assert as_planned[0].stops[0].arrival == p.to_seconds(at(8, 3, 20))
    assert all(routed.check(r) == [] for r in timed)


def test_check_names_the_rule_a_route_breaks():
    p = problem([job("A", 2, window=(8, 9)), job("FAR", 300, window=(8, 9))], [crew("C1")])
    routed = routed_day(p)
    route = routed.time({0: [0, 1]}, {})[0]
    rules = {v.rule for v in routed.check(route)}
    assert "window" in rules


def test_take_out_and_put_in_keep_the_lunch_in_the_same_gap():
    seqs = {0: [10, 11, 12, 13]}
    breaks = {0: 1}  # lunch after the 2nd stop (11)
    assert take_out(seqs, breaks, 10) == 0
    assert seqs[0] == [11, 12, 13] and breaks[0] == 0  # still after 11
    assert take_out(seqs, breaks, 13) == 0
    assert breaks[0] == 0
    assert take_out(seqs, breaks, 99) is None
    put_in(seqs, breaks, 0, 0, 20)
    assert seqs[0] == [20, 11, 12] and breaks[0] == 1  # still after 11
    put_in(seqs, breaks, 0, 3, 21)
    assert seqs[0] == [20, 11, 12, 21] and breaks[0] == 1
    put_in(seqs, breaks, 1, 0, 30)  # a crew with no route yet and no lunch
    assert seqs[1] == [30] and 1 not in breaks


def test_links_and_parts():
    delivery = job("D1", 2, kind=JobKind.DELIVERY, order_id="O1")
    install = job("I1", 2, kind=JobKind.INSTALLATION, order_id="O1")
    p = problem([delivery, install, job("R", 5)], [crew("C1"), crew("C2")])
    routed = routed_day(p)
    assert routed.links() == {1: (0, p.link_gap_minutes * 60)}
    part = routed.part([1, 2], [1])
    assert part.job_ids == ["I1", "R"] and part.crew_ids == ["C2"]
    assert part.routing.precedences == []  # the delivery is not in this part
