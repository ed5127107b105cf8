"""Roll-over (issue 20 §2): a job carried to a later day keeps its clock times and its
promise, remembers the day it was first due, and its age raises its drop penalty; the
horizon plans day after day, each day's leftovers carried into the next.

The horizon case, by hand: one crew works 08:00-12:00 (240 min) from a depot at km 0; six
90-minute installations wait 1 km out (100 s each way, 0 between them). 100 s + 90 min
+ 90 min = 3 h 1 min 40 s, a third job would end at 12:31: two a day. Day 1 plans two and
carries four, day 2 plans two of them and carries two, day 3 the last two: nothing open at
the end. Confirmed at 07:00 on day 1, each is promised by 07:00 on day 2 (24 h on the
customer's clock), so only day 1's two keep it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import time, timedelta

import pytest

from dispatch.errors import InputError
from dispatch.files.records import job_from_dict, job_to_dict
from dispatch.models import JobKind, TimeWindow
from dispatch.planning.horizon import plan_horizon
from dispatch.planning.planner import PlanOptions
from dispatch.roll_over import carried_to, carried_urgency, days_carried
from dispatch.translate import build_travel, translate
from tests.factories import DAY, at, crew, job, problem

NEXT = DAY + timedelta(days=1)


def test_a_carried_job_keeps_its_clock_times_and_its_promise():
    fresh = job("J1", 2, window=(10, 12), deadline=at(20))
    moved = carried_to(fresh, NEXT)
    assert moved.windows == (TimeWindow(at(10, day=NEXT), at(12, day=NEXT)),)
    assert (moved.confirmed_at, moved.deadline) == (fresh.confirmed_at, fresh.deadline)
    assert moved.first_due == DAY and days_carried(moved, NEXT) == 1
    again = carried_to(moved, NEXT + timedelta(days=1))
    assert again.first_due == DAY and days_carried(again, NEXT + timedelta(days=1)) == 2
    assert carried_to(moved, DAY) is moved  # never carried back


def test_age_raises_the_urgency_and_the_drop_penalty():
    # promised two days on: by its deadline neither job is urgent on NEXT, only by its age
    fresh = job("J1", 2, kind=JobKind.REPAIR, deadline=at(18, day=NEXT + timedelta(days=1)))
    assert carried_urgency(fresh, DAY) == 0
    later = carried_to(fresh, NEXT)
    assert [carried_urgency(later, NEXT + timedelta(days=k)) for k in range(4)] == [2, 3, 3, 3]
    twin = replace(fresh, id="J2", windows=later.windows)  # the same visit, due on NEXT fresh
    p = replace(problem([later, twin], [crew()]), date=NEXT)
    deadlines = {j.id: p.promises.deadline(j) for j in p.jobs}
    visits = translate(p, build_travel(p), deadlines, range(2), range(1)).routing.visits
    assert visits[0].drop_penalty > visits[1].drop_penalty


def test_first_due_round_trips_and_is_checked():
    moved = carried_to(job("J1", 2), NEXT)
    record = job_to_dict(moved)
    assert record["first_due"] == DAY.isoformat()
    assert job_from_dict(record) == moved
    assert "first_due" not in job_to_dict(job("J2", 2))  # written only for a carried job
    with pytest.raises(InputError, match="carried forward, never back"):
        replace(job("J3", 2), first_due=NEXT)


def test_the_horizon_carries_each_days_leftovers_until_done():
    jobs = [
        job(f"I{k}", 1, kind=JobKind.INSTALLATION, minutes=90, window=(8, 18)) for k in range(6)
    ]
    one = crew("C1", shift_start=time(8), shift_end=time(12))
    first = problem(jobs, [one])
    horizon = plan_horizon(
        first,
        3,
        lambda day: replace(first, date=day, jobs=[]),
        PlanOptions(time_limit_s=5, solution_limit=50),
    )
    rows = [d.as_dict() for d in horizon.days]
    assert [(r["new_jobs"], r["carried_in"], r["planned"], r["carried_out"]) for r in rows] == [
        (6, 0, 2, 4),
        (0, 4, 2, 2),
        (0, 2, 2, 0),
    ]
    assert [r["carried_planned"] for r in rows] == [0, 2, 2]
    assert [r["date"] for r in rows] == [(DAY + timedelta(days=k)).isoformat() for k in range(3)]
    kept = horizon.promise_kept()["installation"]
    assert (kept["kept"], kept["planned"], kept["jobs"], kept["hours"]) == (2, 6, 6, 24)
    assert horizon.first is horizon.days[0].plan
    with pytest.raises(ValueError, match="1 to 7 days"):
        plan_horizon(first, 8, lambda day: first)


def test_a_later_days_own_job_is_not_taken_twice():
    """A job given on day 1 but due on day 2 waits, and is not duplicated by day 2's list."""
    later = job("L1", 1, window=(9, 10))
    later = replace(later, windows=(TimeWindow(at(9, day=NEXT), at(10, day=NEXT)),))
    first = problem([later], [crew()])
    horizon = plan_horizon(
        first,
        2,
        lambda day: replace(first, date=day, jobs=[later]),
        PlanOptions(time_limit_s=5, solution_limit=20),
    )
    day1, day2 = (d.as_dict() for d in horizon.days)
    assert (day1["planned"], day1["carried_out"]) == (0, 1)
    assert (day2["jobs"], day2["planned"]) == (1, 1)
