"""Execution: how a planned day really goes, with noise, absent customers and overruns.

Each crew drives its planned route in order. Every drive takes its planned time times a
lognormal factor (mean 1, `travel_cv`); every job its planned duration times a lognormal
factor (`service_cv`), times `overrun_factor` with `overrun_probability`, divided by the
crew's productivity (a temporary crew at 0.85 takes 18 % longer than the plan assumed, as
the planner plans every crew alike). A crew waits for a window to open; it skips a customer
it cannot reach within `late_tolerance_minutes` of the window's end; it starts no job that
would end more than `overtime_cap_minutes` after its shift (the rest of its route is not
reached). An absent customer costs `failed_visit_minutes`. An installation waits for its
delivery (plus the link gap) when the delivery is on another route the same day, and is
not started when that delivery failed.

Routes run interleaved in time order (an event queue), so an installer waiting for a truck
sees the truck's real delivery time. All draws come from one seeded generator in a fixed
order, so a day's execution is reproducible.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import datetime, time

import numpy as np

from dispatch.models import Crew, Job, JobKind
from dispatch.plan import CrewRoute, Plan
from dispatch.season.settings import ExecutionSettings

DONE = "done"
ABSENT = "absent"  # customer not at home: a failed visit
TOO_LATE = "too_late"  # the crew could not come within the window (+ tolerance)
NOT_REACHED = "not_reached"  # the crew's day ended first
DELIVERY_NOT_DONE = "delivery_not_done"  # linked installation whose delivery failed


@dataclass(frozen=True)
class Visit:
    job_id: str
    crew_id: str
    outcome: str
    start: datetime | None = None
    end: datetime | None = None


@dataclass
class CrewDay:
    crew_id: str
    shift_s: int
    worked_s: float = 0.0  # driving and working
    overtime_s: float = 0.0
    km: float = 0.0
    jobs_done: int = 0


@dataclass
class DayExecution:
    visits: dict[str, Visit] = field(default_factory=dict)
    crews: dict[str, CrewDay] = field(default_factory=dict)


def _noise(rng: np.random.Generator, cv: float) -> float:
    if cv <= 0:
        return 1.0
    sigma = math.sqrt(math.log(1 + cv * cv))
    return float(rng.lognormal(-sigma * sigma / 2, sigma))


def _sec(moment: datetime, midnight: datetime) -> float:
    return (moment - midnight).total_seconds()


def _legs(route: CrewRoute, midnight: datetime) -> tuple[list[float], float]:
    """Planned drive seconds to each stop, and back to the depot (breaks taken out)."""
    lunch = route.lunch
    lunch_s = lunch.minutes * 60 if lunch else 0
    legs = []
    free = _sec(route.depart, midnight)
    for k, stop in enumerate(route.stops):
        gap = _sec(stop.arrival, midnight) - free
        if lunch is not None and lunch.after_stop == k - 1:
            gap -= lunch_s
        legs.append(max(0.0, gap))
        free = _sec(stop.end, midnight)
    back = _sec(route.return_at, midnight) - free
    if lunch is not None and lunch.after_stop == len(route.stops) - 1:
        back -= lunch_s
    return legs, max(0.0, back)


@dataclass
class _Cursor:
    route: CrewRoute
    crew: Crew
    legs: list[float]
    back: float
    km_per_s: float
    productivity: float
    t: float
    k: int = 0
    ended: bool = False


def execute_day(
    plan: Plan,
    productivity: dict[str, float],
    settings: ExecutionSettings,
    link_gap_minutes: int,
    rng: np.random.Generator,
) -> DayExecution:
    """Run the plan's routes (see module doc); every planned job gets one `Visit`."""
    problem = plan.problem
    midnight = datetime.combine(problem.date, time(0))
    jobs = problem.jobs_by_id()
    crews = {c.id: c for c in problem.crews}
    out = DayExecution()
    for c in problem.crews:
        out.crews[c.id] = CrewDay(c.id, _shift_s(c))
    planned = {s.job_id for r in plan.routes for s in r.stops}
    delivery_of = {
        j.order_id: j.id for j in problem.jobs if j.kind is JobKind.DELIVERY and j.id in planned
    }
    cursors: list[_Cursor] = []
    for r in plan.routes:
        if not r.stops:
            continue
        legs, back = _legs(r, midnight)
        drive = sum(legs) + back
        cursors.append(
            _Cursor(
                r,
                crews[r.crew_id],
                legs,
                back,
                r.distance_m / 1000 / drive if drive > 0 else 0.0,
                productivity.get(r.crew_id, 1.0),
                _sec(r.depart, midnight),
            )
        )
    heap = [(c.t, n) for n, c in enumerate(cursors)]
    heapq.heapify(heap)
    waiting: dict[str, list[int]] = {}
    gap = link_gap_minutes * 60
    while heap or waiting:
        if not heap:  # only blocked installers left (a valid plan has no such cycle)
            for blocked_on in sorted(waiting):
                for n in waiting.pop(blocked_on):
                    cur = cursors[n]
                    job_id = cur.route.stops[cur.k].job_id
                    out.visits[job_id] = Visit(job_id, cur.crew.id, DELIVERY_NOT_DONE)
                    cur.k += 1
                    heapq.heappush(heap, (cur.t, n))
            continue
        _, n = heapq.heappop(heap)
        cur = cursors[n]
        if cur.k >= len(cur.route.stops) or cur.ended:
            _finish(cur, out, settings, rng, midnight)
            continue
        job = jobs[cur.route.stops[cur.k].job_id]
        earliest = 0.0
        delivery_id = delivery_of.get(job.order_id)
        if job.kind is JobKind.INSTALLATION and delivery_id is not None:
            delivered = out.visits.get(delivery_id)
            if delivered is None:
                waiting.setdefault(delivery_id, []).append(n)
                continue
            if delivered.outcome != DONE:
                out.visits[job.id] = Visit(job.id, cur.crew.id, DELIVERY_NOT_DONE)
                cur.k += 1
                heapq.heappush(heap, (cur.t, n))
                continue
            assert delivered.end is not None  # a done visit has its start and end
            earliest = _sec(delivered.end, midnight) + gap
        _step(cur, job, earliest, out, settings, rng, midnight)
        for resolved in [d for d in waiting if d in out.visits]:
            for m in waiting.pop(resolved):
                heapq.heappush(heap, (cursors[m].t, m))
        heapq.heappush(heap, (cur.t, n))
    return out


def _step(
    cur: _Cursor,
    job: Job,
    earliest: float,
    out: DayExecution,
    x: ExecutionSettings,
    rng: np.random.Generator,
    midnight: datetime,
) -> None:
    route, k = cur.route, cur.k
    stop = route.stops[k]
    day = out.crews[cur.crew.id]
    lunch = route.lunch
    if lunch is not None and lunch.after_stop == k - 1 and lunch.before_travel:
        cur.t += lunch.minutes * 60
    window = job.windows[0]
    drive = cur.legs[k] * _noise(rng, x.travel_cv)
    arrival = cur.t + drive
    if lunch is not None and lunch.after_stop == k - 1 and not lunch.before_travel:
        arrival += lunch.minutes * 60
    start = max(arrival, _sec(window.start, midnight), earliest)
    planned_service = _sec(stop.end, midnight) - _sec(stop.start, midnight)
    service = planned_service * _noise(rng, x.service_cv) / cur.productivity
    if rng.random() < x.overrun_probability:
        service *= x.overrun_factor
    absent = rng.random() < x.absent_probability
    cur.k += 1
    if start > _sec(window.end, midnight) + x.late_tolerance_minutes * 60:
        out.visits[job.id] = Visit(job.id, cur.crew.id, TOO_LATE)  # skipped, no drive
        return
    limit = _shift_end_s(cur.crew) + x.overtime_cap_minutes * 60
    if start + (x.failed_visit_minutes * 60 if absent else service) > limit:
        cur.k -= 1
        cur.ended = True
        for s in route.stops[cur.k :]:
            out.visits[s.job_id] = Visit(s.job_id, cur.crew.id, NOT_REACHED)
        return
    day.worked_s += drive
    day.km += cur.legs[k] * cur.km_per_s
    if absent:
        cur.t = start + x.failed_visit_minutes * 60
        out.visits[job.id] = Visit(job.id, cur.crew.id, ABSENT, _at(midnight, start))
        return
    cur.t = start + service
    day.worked_s += service
    day.jobs_done += 1
    out.visits[job.id] = Visit(
        job.id, cur.crew.id, DONE, _at(midnight, start), _at(midnight, cur.t)
    )


def _finish(
    cur: _Cursor, out: DayExecution, x: ExecutionSettings, rng: np.random.Generator, midnight
) -> None:
    day = out.crews[cur.crew.id]
    drive = cur.back * _noise(rng, x.travel_cv)
    day.worked_s += drive
    day.km += cur.back * cur.km_per_s
    day.overtime_s = max(0.0, cur.t + drive - _shift_end_s(cur.crew))
    cur.k = len(cur.route.stops)
    cur.ended = True
    cur.back = 0.0


def _at(midnight: datetime, seconds: float) -> datetime:
    from datetime import timedelta

    return midnight + timedelta(seconds=round(seconds))


def _shift_end_s(crew: Crew) -> float:
    return crew.shift_end.hour * 3600 + crew.shift_end.minute * 60


def _shift_s(crew: Crew) -> int:
    start = crew.shift_start.hour * 3600 + crew.shift_start.minute * 60
    return int(_shift_end_s(crew) - start)
