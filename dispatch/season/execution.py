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

A **two-crew visit** (an assisted installation and its assisting job, `Job.assists`, planned
on two crews) is one visit: the crew that arrives first waits for the other, the work starts
when both are there and takes one duration for both (one service draw, one overrun draw, at
the slower crew's productivity), and the customer is absent for both or neither (one draw).
When one crew cannot come (too late, its day ended, the delivery failed) the other does not
do the visit either (`PARTNER_MISSING`): if it is already on site it leaves after
`failed_visit_minutes` (its drive counts), else it is told and skips the stop. Both halves
stay open together for a later day.

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
PARTNER_MISSING = "partner_missing"  # half of a two-crew visit whose other crew did not come


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


@dataclass(frozen=True)
class _Half:
    """Half of a two-crew visit: its crew (cursor `n`) is on site, waiting for the other."""

    n: int
    arrival: float
    earliest: float
    drive: float
    km: float


def _pairs(plan: Plan) -> dict[str, str]:
    """Each planned half of a two-crew visit -> the other half (both planned)."""
    planned = {s.job_id for r in plan.routes for s in r.stops}
    out: dict[str, str] = {}
    for job in plan.problem.jobs:
        if job.assists is not None and job.id in planned and job.assists in planned:
            out[job.id], out[job.assists] = job.assists, job.id
    return out


def execute_day(
    plan: Plan,
    productivity: dict[str, float],
    settings: ExecutionSettings,
    link_gap_minutes: int,
    rng: np.random.Generator,
) -> DayExecution:
    """Run the plan's routes (see module doc); every planned job gets one `Visit`."""
    day = _DayRun(plan, productivity, settings, link_gap_minutes * 60, rng)
    day.run()
    return day.out


class _DayRun:
    """One day's routes run interleaved in time order (module doc)."""

    def __init__(
        self,
        plan: Plan,
        productivity: dict[str, float],
        x: ExecutionSettings,
        gap_s: int,
        rng: np.random.Generator,
    ) -> None:
        problem = plan.problem
        self.x, self.gap_s, self.rng = x, gap_s, rng
        self.midnight = datetime.combine(problem.date, time(0))
        self.jobs = problem.jobs_by_id()
        crews = {c.id: c for c in problem.crews}
        self.out = DayExecution()
        for c in problem.crews:
            self.out.crews[c.id] = CrewDay(c.id, _shift_s(c))
        planned = {s.job_id for r in plan.routes for s in r.stops}
        self.delivery_of = {
            j.order_id: j.id for j in problem.jobs if j.kind is JobKind.DELIVERY and j.id in planned
        }
        self.cursors: list[_Cursor] = []
        for r in plan.routes:
            if not r.stops:
                continue
            legs, back = _legs(r, self.midnight)
            drive = sum(legs) + back
            self.cursors.append(
                _Cursor(
                    r,
                    crews[r.crew_id],
                    legs,
                    back,
                    r.distance_m / 1000 / drive if drive > 0 else 0.0,
                    productivity.get(r.crew_id, 1.0),
                    _sec(r.depart, self.midnight),
                )
            )
        self.heap = [(c.t, n) for n, c in enumerate(self.cursors)]
        heapq.heapify(self.heap)
        self.waiting: dict[str, list[int]] = {}  # delivery id -> installers waiting for it
        self.partner = _pairs(plan)
        self.arrived: dict[str, _Half] = {}  # halves of two-crew visits on site, waiting

    def push(self, n: int) -> None:
        heapq.heappush(self.heap, (self.cursors[n].t, n))

    def skip(self, n: int, outcome: str) -> None:
        """Crew `n` does not visit its next stop (no drive): the stop gets `outcome`."""
        cur = self.cursors[n]
        job_id = cur.route.stops[cur.k].job_id
        self.out.visits[job_id] = Visit(job_id, cur.crew.id, outcome)
        cur.k += 1
        self.push(n)

    def run(self) -> None:
        while self.heap or self.waiting or self.arrived:
            if not self.heap:  # only blocked crews left (a valid plan has no such cycle)
                for blocked_on in sorted(self.waiting):
                    for n in self.waiting.pop(blocked_on):
                        self.skip(n, DELIVERY_NOT_DONE)
                if not self.heap:
                    for job_id in sorted(self.arrived):
                        self.leave(job_id)
                continue
            _, n = heapq.heappop(self.heap)
            self.advance(n)
            for resolved in [d for d in self.waiting if d in self.out.visits]:
                for m in self.waiting.pop(resolved):
                    self.push(m)
            for job_id in [j for j in self.arrived if self.partner[j] in self.out.visits]:
                self.leave(job_id)  # the other half was not reached or came too late

    def advance(self, n: int) -> None:
        """Crew `n` goes on to its next stop (or home)."""
        cur = self.cursors[n]
        if cur.k >= len(cur.route.stops) or cur.ended:
            _finish(cur, self.out, self.x, self.rng, self.midnight)
            return
        job = self.jobs[cur.route.stops[cur.k].job_id]
        if job.id in self.partner and self.partner[job.id] in self.out.visits:
            self.skip(n, PARTNER_MISSING)  # the other crew cannot come: told, no drive
            return
        earliest = 0.0
        delivery_id = self.delivery_of.get(job.order_id)
        if job.kind is JobKind.INSTALLATION and delivery_id is not None:
            delivered = self.out.visits.get(delivery_id)
            if delivered is None:
                self.waiting.setdefault(delivery_id, []).append(n)
                return
            if delivered.outcome != DONE:
                self.skip(n, DELIVERY_NOT_DONE)
                return
            assert delivered.end is not None  # a done visit has its start and end
            earliest = _sec(delivered.end, self.midnight) + self.gap_s
        if job.id in self.partner:
            self.pair_step(n, job, earliest)
            return
        _step(cur, job, earliest, self.out, self.x, self.rng, self.midnight)
        self.push(n)

    def leave(self, job_id: str) -> None:
        """A half on site whose other crew will not come leaves (module doc)."""
        half = self.arrived.pop(job_id)
        cur = self.cursors[half.n]
        day = self.out.crews[cur.crew.id]
        day.worked_s += half.drive
        day.km += half.km
        self.out.visits[job_id] = Visit(
            job_id, cur.crew.id, PARTNER_MISSING, _at(self.midnight, half.arrival)
        )
        cur.t = half.arrival + self.x.failed_visit_minutes * 60
        cur.k += 1
        self.push(half.n)

    def pair_step(self, n: int, job: Job, earliest: float) -> None:
        """Crew `n` reaches its half of a two-crew visit (module doc): it waits on site for
        the other crew, or the two do the visit now."""
        cur, x, midnight = self.cursors[n], self.x, self.midnight
        window = job.windows[0]
        arrival, drive = _arrive(cur, x, self.rng)
        latest = _sec(window.end, midnight) + x.late_tolerance_minutes * 60
        if max(arrival, _sec(window.start, midnight), earliest) > latest:
            self.out.visits[job.id] = Visit(job.id, cur.crew.id, TOO_LATE)  # skipped, no drive
            cur.k += 1
            self.push(n)
            return
        other = self.partner[job.id]
        if other not in self.arrived:
            km = cur.legs[cur.k] * cur.km_per_s
            self.arrived[job.id] = _Half(n, arrival, earliest, drive, km)
            return
        half = self.arrived.pop(other)
        mate = self.cursors[half.n]
        lead = cur if job.assists is None else mate  # the assisted job's crew plans the work
        stop = lead.route.stops[lead.k]
        start = max(arrival, half.arrival, _sec(window.start, midnight), earliest, half.earliest)
        service = (_sec(stop.end, midnight) - _sec(stop.start, midnight)) * _noise(
            self.rng, x.service_cv
        )
        service /= min(cur.productivity, mate.productivity)
        if self.rng.random() < x.overrun_probability:
            service *= x.overrun_factor
        absent = self.rng.random() < x.absent_probability
        took = x.failed_visit_minutes * 60 if absent else service
        halves = [
            (n, job.id, arrival, drive, cur.legs[cur.k] * cur.km_per_s),
            (half.n, other, half.arrival, half.drive, half.km),
        ]
        cap = x.overtime_cap_minutes * 60
        over = {m for m, *_ in halves if start + took > _shift_end_s(self.cursors[m].crew) + cap}
        for m, job_id, came, leg_s, leg_km in halves:
            c = self.cursors[m]
            if m in over:  # its day ends before the visit: the rest of its route not reached
                c.ended = True
                for s in c.route.stops[c.k :]:
                    self.out.visits[s.job_id] = Visit(s.job_id, c.crew.id, NOT_REACHED)
                self.push(m)
                continue
            day = self.out.crews[c.crew.id]
            day.worked_s += leg_s
            day.km += leg_km
            c.k += 1
            if over:  # the other crew cannot stay: no visit
                c.t = came + x.failed_visit_minutes * 60
                visit = Visit(job_id, c.crew.id, PARTNER_MISSING, _at(midnight, came))
            elif absent:
                c.t = start + x.failed_visit_minutes * 60
                visit = Visit(job_id, c.crew.id, ABSENT, _at(midnight, start))
            else:
                c.t = start + service
                day.worked_s += service
                day.jobs_done += 1
                visit = Visit(job_id, c.crew.id, DONE, _at(midnight, start), _at(midnight, c.t))
            self.out.visits[job_id] = visit
            self.push(m)


def _arrive(cur: _Cursor, x: ExecutionSettings, rng: np.random.Generator) -> tuple[float, float]:
    """The crew's arrival at its next stop and the drive there (one travel draw), the lunch
    taken on the way; `cur.k` stays at the stop."""
    lunch, k = cur.route.lunch, cur.k
    if lunch is not None and lunch.after_stop == k - 1 and lunch.before_travel:
        cur.t += lunch.minutes * 60
    drive = cur.legs[k] * _noise(rng, x.travel_cv)
    arrival = cur.t + drive
    if lunch is not None and lunch.after_stop == k - 1 and not lunch.before_travel:
        arrival += lunch.minutes * 60
    return arrival, drive


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
    window = job.windows[0]
    arrival, drive = _arrive(cur, x, rng)
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
