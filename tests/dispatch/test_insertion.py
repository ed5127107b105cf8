"""The repair pass inserts left-over jobs where they fit, and only there."""

from __future__ import annotations

import dataclasses

from dispatch.models import TimeWindow
from dispatch.planning.assemble import DaySequences
from dispatch.planning.insertion import insert_leftovers
from dispatch.translate import build_travel, translate
from routing.schedule import build_schedules
from routing.validate import check_route
from tests.factories import at, crew, job, problem


def _setup(b_window):
    # One crew: A at 5 km must start at 09:00 sharp (30 min), C at 6 km 14:00-15:00; B is left
    # over at 5.5 km (50 s from A).
    a = dataclasses.replace(job("A", 5), windows=(TimeWindow(at(9), at(9)),))
    b = dataclasses.replace(job("B", 5.5), windows=(TimeWindow(*b_window),))
    jobs = [a, b, job("C", 6, window=(14, 15))]
    p = problem(jobs, [crew()])
    travel = build_travel(p)
    full = translate(p, travel, {j.id: p.promises.deadline(j) for j in jobs}, range(3), range(1))
    day = DaySequences(jobs={0: [0, 2]})
    return full, day


def test_left_over_job_goes_between_two_stops():
    """B (window 10:00-11:00) fits after A and before C: inserted at position 1."""
    full, day = _setup((at(10), at(11)))
    assert insert_leftovers(full, day, [1], {1: [0]}) == [1]
    assert day.jobs[0] == [0, 1, 2]
    route = build_schedules(full.routing, [(0, day.jobs[0])])[0]
    assert check_route(full.routing, route) == []


def test_job_that_fits_nowhere_is_left_out():
    """B must start 09:10-09:20: before A it would end after 09:00, after A it starts at
    09:30:50 at the earliest. It fits nowhere and stays out; the route is unchanged."""
    full, day = _setup((at(9, 10), at(9, 20)))
    assert insert_leftovers(full, day, [1], {1: [0]}) == []
    assert day.jobs[0] == [0, 2]
