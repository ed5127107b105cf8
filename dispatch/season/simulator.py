"""The season loop: demand in, the real planner each morning, a noisy day, the quality loop.

For each season day:

1. the day's orders arrive (`dispatch.season.demand`) and repeat faults reported today become
   callback jobs;
2. own crews (minus those off sick) and the temporary crews of the staffing plan are on duty,
   with the crew levers applied (`dispatch.season.shifts`: evening shifts, specialist teams);
3. the open jobs released by today are offered to the planner, most urgent first, up to
   `pool_factor` x what each class of crews on duty can do (`dispatch.season.offer`: a
   dispatcher does not hand the optimizer a three-day backlog); an installation goes only
   with its open delivery;
4. the real planner (`dispatch.planning.planner.make_plan`, validated) plans them;
5. the day is executed with noise (`dispatch.season.execution`); what is not done stays open
   (backlog), a customer absent `max_attempts` times cancels the order;
6. completed jobs join the follow-up queue, which the call centre works oldest first up to its
   daily capacity (`followup_calls_per_day` x `scale`); each completed installation or repair
   draws whether it will come back as a
   callback (own and temporary crews differ), reported some days later or at its follow-up
   call, whichever is first.

An assisted installation and its assisting job (`Job.assists`, `dispatch.season.demand`) are
one customer visit by two crews: offered together, carried over together (both keep the same
release day and slot, so a later day books both on the same window), executed as one visit
(`dispatch.season.execution`: one absence draw; a failed visit counts one attempt on each, so
the order is cancelled with both). The customer's follow-up call and the callback draw are
the order's, drawn on the assisted installation only (its crew did the installation; the
assisting crew carried the unit): an assisting job draws nothing and is not called.

Every job ends the season done, cancelled or open (in the backlog): `SeasonResult.ledger`
counts them and `check_conservation` proves nothing was lost. All randomness comes from
generators seeded by (seed, day, purpose), so the same settings give the same season; the
planner is reproducible with `planner.solution_limit` (a clock-limited search may differ on
a busier machine).
"""

from __future__ import annotations

import dataclasses
import time as clock
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import numpy as np

from dispatch.day_problem import DispatchProblem
from dispatch.models import Crew, Job, JobKind, Priority
from dispatch.plan import Plan
from dispatch.planning.planner import PlanOptions, make_plan
from dispatch.season.city import SeasonCity
from dispatch.season.demand import callback_job, carried_slot, orders_of_day, windows_on
from dispatch.season.execution import ABSENT, DONE, DayExecution, execute_day
from dispatch.season.figures import season_tables
from dispatch.season.offer import choose_offer, learn_fill
from dispatch.season.settings import SeasonSettings, settings_as_dict
from dispatch.season.shifts import temporary_crews
from dispatch.season.state import DayCrewStats, SeasonState


@dataclass
class SeasonResult:
    """Plain lists and dicts, so a result travels back from a Dask worker as it is."""

    settings: dict[str, Any]
    city: str
    days: list[dict[str, Any]]
    zones: list[dict[str, Any]]
    weeks: list[dict[str, Any]]
    install_waits_h: list[float]
    summary: dict[str, Any]
    ledger: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)


Progress = Callable[[int, int, str], None]  # (days done, days, message)


def simulate_season(
    settings: SeasonSettings, city: SeasonCity, progress: Progress | None = None
) -> SeasonResult:
    """Run the whole season (see module doc)."""
    state = SeasonState(settings, city)
    weights = city.zone_weights(settings.crews.temp_zone_weights)
    timings = {"plan_s": 0.0, "execute_s": 0.0, "other_s": 0.0}
    report = progress or (lambda _d, _n, _m: None)
    for d in range(settings.days):
        t0 = clock.monotonic()
        _arrivals(state, d)
        crews, temp_ids, premium = _crews_on_duty(state, d, weights)
        pool = _pool(state, d, crews)
        problem = DispatchProblem(
            date=settings.start + timedelta(days=d),
            jobs=pool,
            crews=crews,
            depots=list(city.depots),
            zones=list(city.zones),
            name=f"{city.name} season day {d}",
        )
        t1 = clock.monotonic()
        plan = _plan(problem, settings)
        t2 = clock.monotonic()
        learn_fill(plan, state.fill)
        productivity = {
            c.id: settings.crews.temp_productivity
            if c.id in temp_ids
            else settings.crews.own_productivity
            for c in crews
        }
        execution = execute_day(
            plan,
            productivity,
            settings.execution,
            problem.link_gap_minutes,
            np.random.default_rng([settings.seed, d, 2]),
        )
        t3 = clock.monotonic()
        state.jobs_lost += _lost(pool, plan, execution)
        state.assist_pairs.append(assist_pairs(pool, plan))
        _outcomes(state, d, execution, temp_ids)
        _quality(state, d)
        state.crew_days.append(
            DayCrewStats.of(d, len(pool), crews, temp_ids, execution, state, settings, premium)
        )
        state.backlog.append(_backlog(state, d))
        timings["plan_s"] += t2 - t1
        timings["execute_s"] += t3 - t2
        timings["other_s"] += (t1 - t0) + (clock.monotonic() - t3)
        done = sum(1 for v in execution.visits.values() if v.outcome == DONE)
        report(
            d + 1,
            settings.days,
            f"day {d}: {len(pool)} jobs offered, {done} done, "
            f"backlog {sum(state.backlog[-1].values())}",
        )
    tables = season_tables(state)
    return SeasonResult(
        settings=settings_as_dict(settings),
        city=city.name,
        timings={k: round(v, 2) for k, v in timings.items()},
        **tables,
    )


def _arrivals(state: SeasonState, d: int) -> None:
    s = state.s
    days = [-1, 0] if d == 0 else [d]  # day 0 starts with the evening orders of the day before
    for day in days:
        rng = np.random.default_rng([s.seed, day + 1, 1])  # day -1 seeds with 0
        for order in orders_of_day(s, state.city, day, rng):
            if order[0].release_day < 0:
                continue
            kind = {"D": "sale", "R": "repair", "P": "pickup"}[order[0].job.id[-1]]
            for new in order:
                state.add(new, kind, max(0, day))
    release_date = s.start + timedelta(days=d)
    rng_cb = np.random.default_rng([s.seed, d, 5])
    for original_id in state.callbacks_due.pop(d, []):
        original = state.jobs[original_id].job
        state.callback_count[original.order_id] += 1
        reported = datetime.combine(release_date, time(0)) + timedelta(
            minutes=int(rng_cb.integers(0, 7 * 60))
        )  # reported overnight or early morning: planned today
        new = callback_job(
            original,
            state.callback_count[original.order_id],
            reported,
            d,
            release_date,
            float(rng_cb.random()),
        )
        state.add(new, "callback", d, callback_of=original_id)


def _crews_on_duty(
    state: SeasonState, d: int, weights: dict[str, float]
) -> tuple[list[Crew], set[str], dict[str, float]]:
    """The crews on duty, the temporary ones' ids, and each crew's cost factor over its day
    rate where a lever adds a premium (`dispatch.season.shifts`)."""
    s = state.s
    rng = np.random.default_rng([s.seed, d, 3])
    sick = rng.random(len(state.own_crews)) < s.execution.sick_probability
    own = [c for c, off in zip(state.own_crews, sick, strict=True) if not off]
    temp, premium = temporary_crews(state.city, s.temp_on_day(d), weights, s.crews)
    premium.update(state.own_premium)
    new_hires = max(0, len(temp) - state.hired)
    state.hired = max(state.hired, len(temp))
    state.temp_hires.append(new_hires)
    return own + temp, {c.id for c in temp}, premium


def _pool(state: SeasonState, d: int, crews: list[Crew]) -> list[Job]:
    """Open jobs for today's plan, most urgent first, sized per crew class (module doc, 3)."""
    s = state.s
    records = {
        r.job.id: r for r in state.jobs.values() if r.status == "open" and r.release_day <= d
    }
    offer = choose_offer(
        [(r.job, r.deadline) for r in records.values()],
        crews,
        state.fill,
        s.planner.pool_factor,
    )
    day = s.start + timedelta(days=d)
    until = s.demand.install_until_hour * 60
    pool = []
    for job in offer:
        r = records[job.id]
        slot = r.slot if d == r.release_day else carried_slot(job.kind, until)
        pool.append(dataclasses.replace(job, windows=windows_on(slot, day)))
    return pool


def _plan(problem: DispatchProblem, s: SeasonSettings) -> Plan:
    if not problem.jobs:
        return Plan(problem, [], [])
    extra: dict[str, Any] = {}
    if s.planner.constructions:
        extra["constructions"] = tuple(s.planner.constructions)
    if s.planner.group_size:
        extra["group_size"] = s.planner.group_size
    options = PlanOptions(
        time_limit_s=s.planner.time_limit_s,
        solution_limit=s.planner.solution_limit,
        workers=s.planner.workers,
        **extra,
    )
    return make_plan(problem, options)


def _outcomes(state: SeasonState, d: int, execution, temp_ids: set[str]) -> None:
    s = state.s
    rng = np.random.default_rng([s.seed, d, 4])
    lo, hi = s.quality.callback_delay_days
    for visit in sorted(execution.visits.values(), key=lambda v: v.job_id):
        r = state.jobs[visit.job_id]
        if visit.outcome == DONE:
            r.status, r.done_day, r.done_at = "done", d, visit.end
            r.crew_id, r.temp = visit.crew_id, visit.crew_id in temp_ids
            if r.job.assists is not None:
                continue  # an assisting half: the follow-up call and callback are the lead's
            state.followups.append((r.job.id, d))
            if r.job.kind in (JobKind.INSTALLATION, JobKind.REPAIR):
                c = s.crews
                p = c.temp_callback_probability if r.temp else c.own_callback_probability
                if rng.random() < p:
                    r.callback_drawn = True
                    report_day = d + int(rng.integers(lo, hi + 1))
                    state.callbacks_due[report_day].append(r.job.id)
        elif visit.outcome == ABSENT:
            r.attempts += 1
            for job_id in state.orders[r.job.order_id]:  # the whole order waits for them
                state.jobs[job_id].excused = True
            if r.attempts >= s.execution.max_attempts:
                _cancel_order(state, r.job.order_id)
    overdue = datetime.combine(s.start + timedelta(days=d), time(0)) - timedelta(hours=24)
    for r in state.jobs.values():
        late = r.status == "open" and r.deadline < overdue
        if late and r.job.priority in (Priority.NORMAL, Priority.VIP):
            r.job = dataclasses.replace(r.job, priority=Priority.COMPLAINT)


def _lost(pool: list[Job], plan: Plan, execution: DayExecution) -> int:
    """Jobs offered but neither planned nor reported unassigned, or planned but not executed."""
    planned = [s.job_id for r in plan.routes for s in r.stops]
    unassigned = [u.job_id for u in plan.unassigned]
    accounted = planned + unassigned
    lost = len(pool) - len(set(accounted) & {j.id for j in pool})
    lost += len(accounted) - len(set(accounted))  # a job twice
    lost += sum(1 for j in planned if j not in execution.visits)
    return lost


def assist_pairs(pool: list[Job], plan: Plan) -> tuple[int, int]:
    """Two-crew visits (an assisting job and the job it assists) offered whole today, and
    of those the ones the plan put on its routes whole (the planner plans both or neither)."""
    ids = {j.id for j in pool}
    planned = {s.job_id for r in plan.routes for s in r.stops}
    pairs = [(j.assists, j.id) for j in pool if j.assists is not None and j.assists in ids]
    return len(pairs), sum(1 for lead, helper in pairs if lead in planned and helper in planned)


def _cancel_order(state: SeasonState, order_id: str) -> None:
    for job_id in state.orders[order_id]:
        if state.jobs[job_id].status == "open":
            state.jobs[job_id].status = "cancelled"


def _quality(state: SeasonState, d: int) -> None:
    """Follow-up calls, oldest first, up to capacity; a call may surface a latent callback."""
    q = state.s.quality
    rng = np.random.default_rng([state.s.seed, d, 6])
    capacity = call_capacity(state.s)
    calls = 0
    while state.followups and calls < capacity:
        job_id, done_day = state.followups.popleft()
        if d - done_day > q.followup_max_age_days:
            continue  # too old: never called
        calls += 1
        state.jobs[job_id].called_day = d
        if state.jobs[job_id].callback_drawn and rng.random() < q.followup_detects:
            for day, ids in state.callbacks_due.items():
                if day > d + 1 and job_id in ids:
                    ids.remove(job_id)
                    state.callbacks_due[d + 1].append(job_id)
                    break


def call_capacity(s: SeasonSettings) -> int:
    """Follow-up calls a day: the call centre's capacity at scale 1 times `scale` (rounded),
    so a tenth-scale season does not call ten times as generously as the full city."""
    return round(s.quality.followup_calls_per_day * s.scale)


def _backlog(state: SeasonState, d: int) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in state.jobs.values():
        if r.status == "open" and r.release_day <= d:
            out[r.job.zone or "-"] += 1
    return dict(out)


def check_conservation(result: SeasonResult) -> list[str]:
    """Problems with the job and order ledger (empty when nothing was lost or double-counted)."""
    led = result.ledger
    problems = []
    if led["jobs_created"] != led["jobs_done"] + led["jobs_cancelled"] + led["jobs_open"]:
        problems.append(f"jobs: {led}")
    if led["orders_created"] != (
        led["orders_completed"] + led["orders_cancelled"] + led["orders_open"]
    ):
        problems.append(f"orders: {led}")
    return problems
