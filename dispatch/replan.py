"""Re-plan a published day from where it stands: change as little as possible, fast.

The morning plan never survives the day. `replan(plan, state)` takes the published plan and
the day as it stands at `state.at` (`DayState`: visits done and under way, overruns, crews
gone, new and cancelled jobs, the ETAs customers were told) and returns a new, validated plan
plus the diff a dispatcher approves (`dispatch.plan_diff`).

What stays where it is
  * **Pinned** (done + in progress) stops keep crew, order and their *actual* times: they
    are facts. The new plan must still pass `validate_plan`, so the re-plan problem states
    the facts in the model's terms: a pinned job's service minutes become its actual
    duration (an in-progress one ends at its expected end, never before `at`; whole minutes,
    rounded up), its windows are widened to contain its actual start, a crew's shift start
    is moved earlier when it began earlier than the travel model allows, its shift end and
    lunch window are moved later when the facts keep it past them, and the link gap between
    a delivery and its installation shrinks to what two pinned visits actually left. A fact
    the travel model cannot reproduce at all (a crew that drove faster than the model says)
    is moved to the earliest time the model allows and counted in `stats["facts_adjusted"]`:
    a re-plan is never refused because of what already happened.
  * **Frozen** stops: per available crew, the leading not-yet-started stops of its planned
    order planned to start by `at + freeze_minutes`, and always the stop the crew is
    already driving to (its last pinned stop is finished, or it has left the depot
    and started nothing yet). They keep crew and order; their times may shift (an overrun
    pushes them). A frozen stop is only released when keeping it would break a hard rule
    (its window can no longer be met); `stats["frozen_released"]` counts them.
  * Every other planned stop is **kept** in its crew's planned order as the starting point.

How the new plan is made
  1. *Re-time* every crew's day (pinned + frozen + kept) with the planner's own timing
     (`routing.schedule`); nothing not pinned starts before `at`, and a crew that has not
     left its depot leaves at `at` at the earliest. Overruns shift what follows. Kept stops
     that now break a rule (window, shift, lunch: the lunch is first tried at another
     position) become orphans, the latest first, as do the not-started stops of a crew
     unavailable from T (all of them if T <= `at`, else those that would start at or after
     T: "stops not started by then are handed over").
  2. *Insert* the orphans and the new jobs (urgent and awaited deliveries first) by a
     disruption-aware cheapest insertion after each available crew's pinned + frozen
     prefix: cost = added metres + `eta_weight_m` for each customer whose ETA moves beyond
     the tolerance + `late_weight_m_per_min` x priority weight for each minute of promise
     lateness added + `move_weight_m` when a job goes to another crew than it had. Bounded
     by a number of evaluations, not by the clock: deterministic.
  3. *Re-optimise* (only when jobs are still unplaced and time is left): one OR-Tools solve
     over the crews near them, each continuing from its prefix, **warm-started from the
     current sequences** (`SolveParams.initial_routes`); kept stops may be re-ordered
     within their ETA tolerance but not given to another crew. A crew's new route is taken
     where it serves an unplaced job and, re-timed for real, breaks no rule; a kept stop
     the solver left out for it must then fit another crew by phase-2 insertion (an
     urgent job can push a normal one to a neighbour, never off the plan).
  Anything still unplaced is unassigned with a reason (`crew_unavailable` for a sick crew's
  jobs, `window_unreachable` when its window closed before `at`, ...). Previously unassigned
  jobs stay unassigned unless `retry_unassigned` (a re-plan changes as little as possible).

Disruption weights (metres-equivalent, `ReplanOptions`): a customer who must be called
again with a new time costs as much as 5 km of extra driving (`eta_weight_m`), a job handed
to another crew (re-briefing, parts in another van, a new face at the door) 10 km
(`move_weight_m`); a minute of promise lateness 1 km per priority weight, about what the
planner's own objective charges (3 cents/s late against about 2-3 CNY/km). So the re-plan
drives a few km more rather than disturb a customer, but not 20 km more.

Model notes. Times follow the planner's model: a crew drives on as soon as a stop ends and
waits at the next door, so a stop's `arrival` can lie well before its start. The ETA a
customer is told is therefore the planned *start* (when the crew rings the bell), not the
arrival: that is what notified ETAs, the tolerance and the diff compare. Phase 3 treats the
ETA tolerance of kept stops as a hard bound (their windows are cut to the ETA told +
tolerance), phase 2 as a cost.

An unchanged state (nothing new, nobody sick, no overrun, facts as planned) re-times every
route to exactly the plan's times: the diff is empty (`state_as_planned` builds one).

Determinism: phases 1-2 are deterministic; phase 3 runs only when jobs are left unplaced and
then, like every OR-Tools solve cut by the clock, is reproducible only with `solution_limit`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time as clock
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from dispatch.assemble import crew_routes_of
from dispatch.feasibility import screen
from dispatch.models import Crew, Job, JobKind, LunchBreak, TimeWindow
from dispatch.plan import Plan, Unassigned, UnassignedReason
from dispatch.plan_diff import PlanDiff, diff_plans
from dispatch.problem import DispatchProblem
from dispatch.service_time import estimate_minutes
from dispatch.translate import (
    Continuation,
    Translation,
    build_travel,
    job_demand,
    job_location,
    translate,
)
from dispatch.validation import PlanInvalid, validate_plan
from routing.ortools_model import SolveParams, solve
from routing.problem import Break, RouteSchedule, RoutingProblem
from routing.schedule import build_schedules
from routing.travel import apply_factor
from routing.validate import Violation, check_route

#: rounds of "time, release what breaks a rule" before giving up (each releases >= 1 stop)
MAX_ROUNDS = 200
#: violations that name the stop at fault; any other is about the whole route
_STOP_RULES = {"window", "time", "allowed_vehicle", "precedence"}
#: when no eligible crew passes within reach of a job, try this many of the nearest
NEAREST_FALLBACK = 5
#: phase 3 looks at most at this many crews
MAX_SOLVE_CREWS = 40
#: seconds kept back from the time limit for the final timing and validation
FINAL_RESERVE_S = 1.0
#: the phase-3 search runs until its time is up (guided local search does not stop by
#: itself), so small sub-problems get less: 0.5 s + 30 ms per visit, within the budget
SOLVE_BASE_S = 0.5
SOLVE_PER_VISIT_S = 0.03


@dataclass(frozen=True)
class DayState:
    """The day as it stands at `at` (naive local datetimes of the plan day)."""

    at: datetime
    #: finished visits (completed or failed): job id -> (actual start, actual end)
    done: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    #: visits under way: job id -> actual start (arrived or started)
    in_progress: dict[str, datetime] = field(default_factory=dict)
    #: overruns: job id (in progress or not yet started) -> the new expected end
    expected_end: dict[str, datetime] = field(default_factory=dict)
    #: crew id -> from when the crew is gone; its stops not started by then are handed over
    unavailable: dict[str, datetime] = field(default_factory=dict)
    new_jobs: tuple[Job, ...] = ()
    cancelled: frozenset[str] = frozenset()
    #: the ETA each customer was told (default: the plan's planned start of work)
    notified_eta: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplanOptions:
    """How a re-plan trades change against driving (see the module docstring)."""

    #: a crew's stops planned to start within this many minutes after `at` stay in place
    freeze_minutes: int = 60
    #: an ETA moved by more than this (either way) means telling the customer again
    eta_tolerance_minutes: int = 30
    #: wall-clock budget; phase 3 uses what phases 1-2 leave of it
    time_limit_s: float = 5.0
    #: stop the phase-3 solve after this many improving solutions (reproducible runs)
    solution_limit: int | None = None
    move_weight_m: int = 10_000
    eta_weight_m: int = 5_000
    late_weight_m_per_min: int = 1_000
    #: crews whose route passes farther than this from a job are not tried for it
    reach_m: int = 15_000
    #: bound on insertion evaluations (keeps phase 2 deterministic and fast)
    max_evaluations: int = 60_000
    #: also offer the previously unassigned jobs to the crews
    retry_unassigned: bool = False
    #: allow phase 3 (OR-Tools, warm-started) for jobs insertion could not place
    reoptimise: bool = True

    def __post_init__(self) -> None:
        if self.time_limit_s <= 0:
            raise ValueError(f"time_limit_s must be > 0, got {self.time_limit_s}")
        for name in (
            "freeze_minutes",
            "eta_tolerance_minutes",
            "move_weight_m",
            "eta_weight_m",
            "late_weight_m_per_min",
            "reach_m",
            "max_evaluations",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


class ReplanRefused(Exception):
    """The state cannot be re-planned as given; `reasons` name each bad id or time."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        self.reason = "; ".join(reasons)
        super().__init__("re-plan refused: " + self.reason)


@dataclass
class ReplanResult:
    plan: Plan  # validated; its problem is the re-plan problem (see the module docstring)
    diff: PlanDiff
    pinned: frozenset[str]  # done + in progress
    frozen: frozenset[str]  # frozen stops that stayed in place
    stats: dict[str, float]


def state_as_planned(plan: Plan, at: datetime) -> DayState:
    """The state in which everything went exactly as `plan` said until `at`.

    Stops that end by `at` are done, stops started by then are in progress; nothing else.
    A re-plan of it changes nothing (the diff is empty).
    """
    done: dict[str, tuple[datetime, datetime]] = {}
    in_progress: dict[str, datetime] = {}
    for r in plan.routes:
        for s in r.stops:
            if s.end <= at:
                done[s.job_id] = (s.start, s.end)
            elif s.start <= at:
                in_progress[s.job_id] = s.start
    return DayState(at=at, done=done, in_progress=in_progress)


def replan(plan: Plan, state: DayState, options: ReplanOptions | None = None) -> ReplanResult:
    """Re-plan `plan` from `state` (see the module docstring); raises `ReplanRefused`."""
    options = options or ReplanOptions()
    started = clock.monotonic()
    refuse_bad_state(plan, state)
    return _Replanner(plan, state, options, started).run()


# ---- refusals


def refuse_bad_state(plan: Plan, state: DayState) -> None:  # noqa: C901, PLR0915 - a flat list of independent checks, one reason line each; replan.py is split in the architecture issue
    """Raise `ReplanRefused` naming every id or time in `state` that cannot be right."""
    problem = plan.problem
    reasons: list[str] = []
    at = state.at
    if at.date() != problem.date:
        reasons.append(f"at {at.isoformat()} is not on the plan's day {problem.date.isoformat()}")
    jobs = problem.jobs_by_id()
    crews = {c.id for c in problem.crews}
    on_route = plan.stop_of()
    new_ids = [j.id for j in state.new_jobs]

    def unknown(what: str, ids) -> None:
        bad = sorted(i for i in ids if i not in jobs)
        if bad:
            reasons.append(f"unknown job(s) in {what}: {', '.join(bad)}")

    unknown("done", state.done)
    unknown("in_progress", state.in_progress)
    unknown("expected_end", state.expected_end)
    unknown("cancelled", state.cancelled)
    unknown("notified_eta", {j for j in state.notified_eta if j not in new_ids})
    bad_crews = sorted(c for c in state.unavailable if c not in crews)
    if bad_crews:
        reasons.append(f"unknown crew(s) in unavailable: {', '.join(bad_crews)}")
    both = sorted(set(state.done) & set(state.in_progress))
    if both:
        reasons.append(f"job(s) both done and in progress: {', '.join(both)}")
    started = (set(state.done) | set(state.in_progress)) & jobs.keys()
    deliveries = {j.order_id: j.id for j in problem.jobs if j.kind is JobKind.DELIVERY}
    off_route = sorted(j for j in started if j not in on_route)
    if off_route:
        reasons.append(f"job(s) reported started but on no crew's route: {', '.join(off_route)}")
    cancelled_started = sorted(state.cancelled & started)
    if cancelled_started:
        reasons.append(
            f"job(s) already started cannot be cancelled (report them done or failed): "
            f"{', '.join(cancelled_started)}"
        )
    for job_id, (start, end) in sorted(state.done.items()):
        if end < start:
            reasons.append(f"job {job_id}: done at {end.isoformat()}, before its start")
        if end > at:
            reasons.append(f"job {job_id}: done at {end.isoformat()}, after the re-plan time")
    for job_id, start in sorted(state.in_progress.items()):
        if start > at:
            reasons.append(f"job {job_id}: started at {start.isoformat()}, after the re-plan time")
    for job_id, end in sorted(state.expected_end.items()):
        if job_id in state.done:
            reasons.append(f"job {job_id}: done, it cannot overrun")
        elif job_id in state.in_progress:
            if end < state.in_progress[job_id]:
                reasons.append(f"job {job_id}: expected end {end.isoformat()} before its start")
        elif job_id in jobs and job_id not in on_route:
            reasons.append(f"job {job_id}: an expected end for a job on no crew's route")
        elif job_id in on_route and end <= on_route[job_id][0].stops[on_route[job_id][1]].start:
            reasons.append(f"job {job_id}: expected end {end.isoformat()} before its planned start")
    clash = sorted({i for i in new_ids if i in jobs or new_ids.count(i) > 1})
    if clash:
        reasons.append(f"new job id(s) already in the plan or repeated: {', '.join(clash)}")
    gone = sorted(i for i in state.cancelled if i in set(new_ids))
    if gone:
        reasons.append(f"new job(s) also cancelled: {', '.join(gone)}")
    for job_id in sorted(started):
        job = jobs[job_id]
        if job.kind is not JobKind.INSTALLATION:
            continue
        delivery = deliveries.get(job.order_id)
        if delivery is not None and delivery not in started:
            reasons.append(
                f"job {job_id}: the installation is reported started but its delivery "
                f"{delivery} is not"
            )
    if reasons:
        raise ReplanRefused(reasons)


# ---- the re-planner


def _whole_minutes(delta: timedelta) -> int:
    """Service minutes for a visit that took `delta`: rounded up, 1..720."""
    return min(720, max(1, math.ceil(delta.total_seconds() / 60)))


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def _time_of(seconds: int) -> time:
    seconds = max(0, min(int(seconds), 86_399))
    return time(seconds // 3600, seconds % 3600 // 60, seconds % 60)


def _widen(windows: tuple[TimeWindow, ...], moment: datetime) -> tuple[TimeWindow, ...]:
    """The windows, one of them stretched to contain `moment` (unchanged if one does)."""
    if any(w.start <= moment <= w.end for w in windows):
        return windows
    out = list(windows)
    if moment < out[0].start:
        out[0] = TimeWindow(moment, out[0].end)
    else:
        k = max(i for i, w in enumerate(out) if w.start <= moment)
        out[k] = TimeWindow(out[k].start, moment)
    return tuple(out)


@dataclass
class _Day:
    """Per crew index: the visit sequence, lunch position, and the part that stays put."""

    seqs: dict[int, list[int]]
    hints: dict[int, int]
    pinned: dict[int, int]  # number of pinned stops at the head of the sequence
    prefix: dict[int, int]  # pinned + frozen stops at the head of the sequence

    def remove(self, k: int, v: int) -> None:
        seq = self.seqs[k]
        i = seq.index(v)
        del seq[i]
        if i < self.prefix[k]:
            self.prefix[k] -= 1
        if k in self.hints and i <= self.hints[k]:
            self.hints[k] -= 1  # the lunch stays in the same gap between stops

    def insert(self, k: int, pos: int, v: int, hint: int | None) -> None:
        self.seqs.setdefault(k, []).insert(pos, v)
        self.pinned.setdefault(k, 0)
        self.prefix.setdefault(k, 0)
        if hint is not None:
            self.hints[k] = hint

    def copy(self) -> _Day:
        return _Day(
            {k: list(s) for k, s in self.seqs.items()},
            dict(self.hints),
            dict(self.pinned),
            dict(self.prefix),
        )

    def restore(self, other: _Day) -> None:
        self.seqs, self.hints, self.pinned, self.prefix = (
            other.seqs,
            other.hints,
            other.pinned,
            other.prefix,
        )

    def crew_of(self) -> dict[int, int]:
        return {v: k for k, seq in self.seqs.items() for v in seq}


class _Replanner:
    """One re-plan: the problem it builds, its working day and its bookkeeping."""

    def __init__(self, plan: Plan, state: DayState, options: ReplanOptions, started: float):
        self.plan, self.state, self.opt, self.started = plan, state, options, started
        self.stats: dict[str, float] = {}
        self.old_stops = {s.job_id: (r, s) for r in plan.routes for s in r.stops}
        self.facts = self._facts()
        self.base = self._base_problem()
        self.travel = build_travel(self.base)
        self.deadlines = {j.id: self.base.promises.deadline(j) for j in self.base.jobs}
        self.full = translate(
            self.base,
            self.travel,
            self.deadlines,
            range(len(self.base.jobs)),
            range(len(self.base.crews)),
        )
        self.job_pos = {j: i for i, j in enumerate(self.full.job_ids)}
        self.crew_pos = {c: k for k, c in enumerate(self.full.crew_ids)}
        self.at_s = self.base.to_seconds(state.at)
        self.tolerance_s = options.eta_tolerance_minutes * 60
        self.pinned_v = {self.job_pos[j] for j in self.facts}
        self.expired: set[int] = set()
        self.unavailable = {
            self.crew_pos[c]: self.base.to_seconds(t) for c, t in state.unavailable.items()
        }
        self.sched = self._sched_problem()
        notified = {j: s.start for j, (_, s) in self.old_stops.items() if j in self.job_pos} | {
            j: t for j, t in state.notified_eta.items() if j in self.job_pos
        }
        self.notified_dt = notified
        self.notified = {self.job_pos[j]: self.base.to_seconds(t) for j, t in notified.items()}
        self.weight = [j.priority.weight for j in self.base.jobs]
        self.origin: dict[int, int] = {}  # a released stop -> the crew it was on
        self.released_frozen: set[int] = set()
        self.break_taken: dict[int, bool] = {}
        self.crew_patch: dict[int, dict[str, int]] = {}  # crew -> relaxed shift/lunch seconds
        self.day_over: set[int] = set()  # crews whose shift is over by `at`

    # -- the re-plan problem

    def _facts(self) -> dict[str, tuple[datetime, datetime]]:
        """Pinned job id -> (start, end) as the model states them (whole minutes)."""
        state, jobs = self.state, self.plan.problem.jobs_by_id()
        facts = {}
        for job_id, (start, end) in state.done.items():
            facts[job_id] = (start, start + timedelta(minutes=_whole_minutes(end - start)))
        for job_id, start in state.in_progress.items():
            planned = timedelta(minutes=estimate_minutes(jobs[job_id]))
            end = max(state.expected_end.get(job_id, start + planned), state.at)
            facts[job_id] = (start, start + timedelta(minutes=_whole_minutes(end - start)))
        return facts

    def _base_problem(self) -> DispatchProblem:
        """Old jobs - cancelled + new, with the facts' durations and overruns' new ones."""
        old, state = self.plan.problem, self.state
        jobs = []
        for job in old.jobs:
            if job.id in state.cancelled:
                continue
            if job.id in self.facts:
                start, end = self.facts[job.id]
                job = dataclasses.replace(job, service_minutes=_whole_minutes(end - start))
            elif job.id in state.expected_end:
                planned_start = self.old_stops[job.id][1].start
                minutes = _whole_minutes(state.expected_end[job.id] - planned_start)
                job = dataclasses.replace(job, service_minutes=minutes)
            jobs.append(job)
        jobs += list(state.new_jobs)
        return dataclasses.replace(old, jobs=jobs, link_gap_minutes=self._link_gap(old))

    def _link_gap(self, old: DispatchProblem) -> int:
        """The problem's link gap, shrunk to what two pinned linked visits actually left."""
        gap = old.link_gap_minutes
        crew_of = {j: r.crew_id for j, (r, _) in self.old_stops.items()}
        deliveries = {j.order_id: j.id for j in old.jobs if j.kind is JobKind.DELIVERY}
        for job in old.jobs:
            delivery = deliveries.get(job.order_id)
            if (
                job.kind is JobKind.INSTALLATION
                and job.id in self.facts
                and delivery in self.facts
                and crew_of.get(delivery) != crew_of.get(job.id)
            ):
                left = self.facts[job.id][0] - self.facts[delivery][1]
                gap = min(gap, max(0, int(left.total_seconds() // 60)))
        return gap

    def _sched_problem(self) -> RoutingProblem:
        """The routing problem the re-plan times against: pinned stops at their actual start,
        nothing else before `at`. Crews are adjusted later (`_settle_pinned`)."""
        p = self.full.routing
        visits = list(p.visits)
        for v, visit in enumerate(visits):
            job_id = self.full.job_ids[v]
            if job_id in self.facts:
                s = self.base.to_seconds(self.facts[job_id][0])
                visits[v] = dataclasses.replace(visit, windows=((s, s),))
                continue
            clipped = tuple((max(a, self.at_s), b) for a, b in visit.windows if b >= self.at_s)
            if clipped:
                visits[v] = dataclasses.replace(visit, windows=clipped)
            else:
                self.expired.add(v)
        return RoutingProblem(visits, list(p.vehicles), p.travel, list(p.precedences))

    # -- the run

    def run(self) -> ReplanResult:
        day = self._initial_day()
        self._settle_pinned(day)
        self._settle(day)
        t1 = clock.monotonic()
        self.stats["retime_s"] = round(t1 - self.started, 2)
        self.screened = self._screen_new()
        orphans = sorted(self.origin)
        orphans += [self.job_pos[j.id] for j in self.state.new_jobs if j.id not in self.screened]
        if self.opt.retry_unassigned:
            orphans += sorted(
                self.job_pos[u.job_id] for u in self.plan.unassigned if u.job_id in self.job_pos
            )
        inserted = self._insert(day, orphans)
        left = [v for v in orphans if v not in set(inserted)]
        t2 = clock.monotonic()
        self.stats["insertion_s"] = round(t2 - t1, 2)
        placed_by_solver: list[int] = []
        budget = self.opt.time_limit_s - (t2 - self.started) - FINAL_RESERVE_S
        if left and self.opt.reoptimise and budget > 0.2:
            placed_by_solver = self._reoptimise(day, left, budget)
            left = [v for v in left if v not in set(placed_by_solver)]
        self.stats["reoptimise_s"] = round(clock.monotonic() - t2, 2)
        return self._result(day, orphans, inserted, placed_by_solver)

    def _initial_day(self) -> _Day:
        """Sequences from the plan: pinned by actual start, then the rest in planned order."""
        state, at = self.state, self.state.at
        day = _Day({}, {}, {}, {})
        routes = {r.crew_id: r for r in self.plan.routes}
        for crew_id, r in sorted(routes.items()):
            k = self.crew_pos[crew_id]
            ids = [s.job_id for s in r.stops if s.job_id in self.job_pos]
            old_pos = {s.job_id: i for i, s in enumerate(r.stops)}
            pinned = sorted((j for j in ids if j in self.facts), key=lambda j: self.facts[j][0])
            rest = [j for j in ids if j not in self.facts]
            gone_at = state.unavailable.get(crew_id)
            frozen: list[str] = []
            if gone_at is not None and gone_at <= at:
                for j in rest:
                    self.origin[self.job_pos[j]] = k
                rest = []
            elif gone_at is None:
                left_depot = (pinned and pinned[-1] in state.done) or (
                    not pinned and r.depart <= at
                )
                horizon = at + timedelta(minutes=self.opt.freeze_minutes)
                for i, j in enumerate(rest):
                    if (i == 0 and left_depot) or self.old_stops[j][1].start <= horizon:
                        frozen.append(j)
                    else:
                        break
            seq = [self.job_pos[j] for j in pinned + rest]
            day.seqs[k] = seq
            day.pinned[k] = len(pinned)
            day.prefix[k] = len(pinned) + len(frozen)
            if r.lunch is not None:
                a = r.lunch.after_stop
                hint = sum(1 for j in pinned + rest if old_pos[j] <= a) - 1
                taken = r.lunch.start < at
                self.break_taken[k] = taken
                day.hints[k] = hint if taken else max(hint, len(pinned) - 1)
        self.frozen_v = {
            v for k, seq in day.seqs.items() for v in seq[day.pinned[k] : day.prefix[k]]
        }
        # a crew that has not left its depot leaves at `at` at the earliest
        vehicles = self.sched.vehicles
        for k, veh in enumerate(vehicles):
            r = routes.get(self.full.crew_ids[k])
            if day.pinned.get(k):
                continue
            if r is not None and r.depart <= at:
                continue
            if self.at_s >= veh.shift_end:
                self.day_over.add(k)
            elif self.at_s > veh.shift_start:
                vehicles[k] = dataclasses.replace(veh, shift_start=self.at_s)
        return day

    def _settle_pinned(self, day: _Day) -> None:
        """Relax what the facts force (see the module docstring), from the pinned stops only."""
        p = self.sched
        worst = max([1000] + [f for _, _, f in p.travel.congestion.slices])
        for k, n in day.pinned.items():
            if not n:
                continue
            veh = p.vehicles[k]
            first = p.visits[day.seqs[k][0]]
            s0 = first.windows[0][0]
            base = int(p.travel.durations[veh.profile][veh.start_location, first.location])
            t = veh.shift_start
            if t + p.travel.travel_time(veh.profile, veh.start_location, first.location, t) > s0:
                start = max(0, s0 - int(apply_factor(base, worst)))
                p.vehicles[k] = dataclasses.replace(veh, shift_start=start)
                self.crew_patch.setdefault(k, {})["shift_start"] = start
        adjusted = 0
        for _ in range(4):
            seqs = {k: day.seqs[k][:n] for k, n in day.pinned.items() if n}
            hints = {
                k: min(h, day.pinned[k] - 1) for k, h in day.hints.items() if day.pinned.get(k)
            }
            routes = build_schedules(p, sorted(seqs.items()), hints)
            changed = False
            for r in routes:
                for s in r.stops:
                    window = p.visits[s.visit].windows[0]
                    if s.start != window[0]:  # the model cannot reproduce this fact
                        p.visits[s.visit] = dataclasses.replace(
                            p.visits[s.visit], windows=((s.start, s.start),)
                        )
                        adjusted += 1
                        changed = True
                changed |= self._relax_crew(r, check_route(p, r))
            if not changed:
                break
        self.stats["facts_adjusted"] = adjusted

    def _relax_crew(self, route: RouteSchedule, violations: list[Violation]) -> bool:
        """Move a crew's shift end or lunch window as far as its pinned stops need."""
        p, k = self.sched, route.vehicle
        veh = p.vehicles[k]
        rules = {v.rule for v in violations}
        changed = False
        if "shift" in rules and route.return_arrival > veh.shift_end:
            veh = dataclasses.replace(veh, shift_end=route.return_arrival)
            self.crew_patch.setdefault(k, {})["shift_end"] = route.return_arrival
            changed = True
        b = veh.break_
        if "break" in rules and b is not None and route.break_ is not None:
            end = route.break_.start + b.duration_s
            if end > b.window_end:
                veh = dataclasses.replace(veh, break_=Break(b.window_start, end, b.duration_s))
                self.crew_patch.setdefault(k, {})["lunch_end"] = end
                changed = True
        p.vehicles[k] = veh
        return changed

    # -- phase 1: re-time, release what breaks a rule

    def _time(self, day: _Day, only: list[int] | None = None) -> list[RouteSchedule]:
        keys = sorted(k for k, s in day.seqs.items() if s) if only is None else only
        return build_schedules(self.sched, [(k, day.seqs[k]) for k in keys], day.hints)

    def _issues(self, routes: list[RouteSchedule]) -> dict[int, list[Violation]]:
        """Per vehicle: the rules its route breaks, links to other routes included."""
        p = self.sched
        out = {r.vehicle: check_route(p, r) for r in routes}
        ends = {s.visit: (s.end, r.vehicle) for r in routes for s in r.stops}
        starts = {s.visit: (s.start, r.vehicle) for r in routes for s in r.stops}
        for pr in p.precedences:
            if pr.after not in starts:
                continue
            start, k = starts[pr.after]
            before = ends.get(pr.before)
            gap = pr.gap_s if before is not None and before[1] != k else 0
            if before is None or start < before[0] + gap:
                out[k].append(Violation("precedence", "link", p.visits[pr.after].id))
        return out

    def _settle(self, day: _Day) -> list[RouteSchedule]:
        """Time the day; release non-pinned stops that break a rule until none does."""
        refitted_once: set[int] = set()  # a lunch is moved once; then stops go
        for _ in range(MAX_ROUNDS):
            routes = self._time(day)
            issues = self._issues(routes)
            bad: set[int] = set()
            refitted = False
            for r in routes:
                k = r.vehicle
                gone = self.unavailable.get(k)
                if gone is not None:
                    bad |= {s.visit for s in r.stops[day.pinned[k] :] if s.start >= gone}
                found = issues[k]
                if not found:
                    continue
                if (
                    k not in refitted_once
                    and any(v.rule == "break" for v in found)
                    and self._refit_break(day, k, routes)
                ):
                    refitted_once.add(k)
                    refitted = True
                    continue
                movable = day.seqs[k][day.pinned[k] :]
                for v in found:
                    idx = self.job_pos.get(v.visit) if v.visit is not None else None
                    if v.rule in _STOP_RULES and idx is not None:
                        if idx not in self.pinned_v:
                            bad.add(idx)
                    elif movable:
                        bad.add(movable[-1])
            if not bad and not refitted:
                return routes
            crew_of = day.crew_of()
            for v in sorted(bad):
                k = crew_of[v]
                if v in self.frozen_v and day.seqs[k].index(v) < day.prefix[k]:
                    self.released_frozen.add(v)
                day.remove(k, v)
                self.origin.setdefault(v, k)
        raise RuntimeError("could not settle the re-planned day")  # pragma: no cover

    def _refit_break(self, day: _Day, k: int, routes: list[RouteSchedule]) -> bool:
        """Try crew k's lunch after another stop not yet started; True if one works."""
        if self.break_taken.get(k, True) or self.sched.vehicles[k].break_ is None:
            return False
        fixed = {s.visit: (s.end, r.vehicle) for r in routes if r.vehicle != k for s in r.stops}
        seq = day.seqs[k]
        old = day.hints.get(k, len(seq) - 1)
        best = None
        for pos in range(max(-1, day.pinned[k] - 1), len(seq)):
            if pos == old:
                continue
            route = build_schedules(self.sched, [(k, seq)], {k: pos}, fixed)[0]
            if not check_route(self.sched, route):
                key = (route.return_arrival, abs(pos - old), pos)
                best = key if best is None else min(best, key)
        if best is None:
            return False
        day.hints[k] = best[2]
        return True

    # -- phase 2: disruption-aware insertion

    def _route_cost(self, k: int, seq: list[int], route: RouteSchedule | None) -> float:
        """Metres plus the disruption (ETAs beyond tolerance, lateness) of one timed route."""
        if route is None:
            return 0.0
        p = self.sched
        veh = p.vehicles[k]
        locs = [veh.start_location, *(p.visits[v].location for v in seq), veh.end_location]
        metres = float(sum(int(p.travel.distances[a, b]) for a, b in itertools.pairwise(locs)))
        eta_bad = 0
        late = 0.0
        for s in route.stops:
            if s.visit in self.pinned_v:
                continue
            told = self.notified.get(s.visit)
            if told is not None and abs(s.start - told) > self.tolerance_s:
                eta_bad += 1
            deadline = p.visits[s.visit].deadline_s
            if deadline is not None and s.end > deadline:
                late += self.weight[s.visit] * (s.end - deadline) / 60
        return metres + self.opt.eta_weight_m * eta_bad + self.opt.late_weight_m_per_min * late

    def _targets(self) -> list[int]:
        return [
            k
            for k in range(len(self.sched.vehicles))
            if k not in self.unavailable and k not in self.day_over
        ]

    def _candidates(self, day: _Day, v: int, targets: list[int]) -> list[int]:
        """Eligible crews whose day passes within reach of v (else the nearest few)."""
        p = self.sched
        allowed = p.visits[v].allowed_vehicles
        ks = targets if allowed is None else [k for k in targets if k in set(allowed)]
        loc = p.visits[v].location
        dist = []
        for k in ks:
            veh = p.vehicles[k]
            near = [veh.start_location, *(p.visits[x].location for x in day.seqs.get(k, []))]
            dist.append((int(p.travel.distances[loc, near].min()), k))
        within = sorted(k for d, k in dist if d <= self.opt.reach_m)
        return within or sorted(k for _, k in sorted(dist)[:NEAREST_FALLBACK])

    def _insert(self, day: _Day, orphans: list[int]) -> list[int]:  # noqa: C901 - cheapest insertion with precedence gaps; replan.py's _Replanner is split in the architecture issue
        """Insert orphans where they cost least (see the module docstring); return them."""
        p = self.sched
        routes = {r.vehicle: r for r in self._time(day)}
        ends = {s.visit: (s.end, r.vehicle) for r in routes.values() for s in r.stops}
        awaited = {pr.before for pr in p.precedences}
        before_of = {pr.after: (pr.before, pr.gap_s) for pr in p.precedences}
        order = sorted(
            (v for v in orphans if v not in self.expired),
            key=lambda v: (
                v not in awaited,
                -self.weight[v],
                p.visits[v].deadline_s or 0,
                self.full.job_ids[v],
            ),
        )
        targets = self._targets()
        inserted: list[int] = []
        evaluations = 0
        for v in order:
            if evaluations >= self.opt.max_evaluations:
                break
            if v in before_of and before_of[v][0] not in ends:
                continue  # its delivery is not planned: it cannot be done
            best = None
            for k in self._candidates(day, v, targets):
                seq = day.seqs.get(k, [])
                old = routes.get(k)
                base = self._route_cost(k, seq, old)
                old_ends = {s.visit: s.end for s in old.stops} if old else {}
                old_starts = [s.start for s in old.stops] if old else []
                for pos in range(day.prefix.get(k, 0), len(seq) + 1):
                    if pos and old_starts[pos - 1] > p.visits[v].latest_start:
                        break  # later positions start even later
                    evaluations += 1
                    new_seq = [*seq[:pos], v, *seq[pos:]]
                    hint = day.hints.get(k)
                    if hint is not None and pos <= hint:
                        hint += 1
                    hints = {k: hint} if hint is not None else {}
                    route = build_schedules(p, [(k, new_seq)], hints, ends)[0]
                    if check_route(p, route):
                        continue
                    if any(
                        s.visit in awaited and s.end > old_ends.get(s.visit, s.end)
                        for s in route.stops
                    ):
                        continue
                    if v in before_of and not self._after_delivery(route, v, before_of[v], ends):
                        continue
                    cost = self._route_cost(k, new_seq, route) - base
                    moved = self.origin.get(v) is not None and self.origin[v] != k
                    if moved:
                        cost += self.opt.move_weight_m
                    key = (cost, moved, k, pos)  # on a tie, the crew it had
                    if best is None or key < best[0]:
                        best = (key, hint, route)
                if evaluations >= self.opt.max_evaluations:
                    break
            if best is None:
                continue
            (_, _, k, pos), hint, route = best
            day.insert(k, pos, v, hint)
            routes[k] = route
            for s in route.stops:
                ends[s.visit] = (s.end, k)
            inserted.append(v)
        self.stats["evaluations"] = self.stats.get("evaluations", 0) + evaluations
        return inserted

    @staticmethod
    def _after_delivery(route: RouteSchedule, v: int, link: tuple[int, int], ends) -> bool:
        before, gap = link
        start = next(s.start for s in route.stops if s.visit == v)
        own = next((s.end for s in route.stops if s.visit == before), None)
        if own is not None:
            return start >= own
        if before not in ends:
            return False  # its delivery is on no route
        end, _ = ends[before]
        return start >= end + gap

    # -- phase 3: a warm-started solve for what insertion could not place

    def _reoptimise(self, day: _Day, left: list[int], budget_s: float) -> list[int]:
        """One OR-Tools solve over the crews near the unplaced jobs, from today's routes."""
        p = self.sched
        left = [v for v in left if v not in self.expired]
        targets = self._targets()
        crews = sorted({k for v in left for k in self._candidates(day, v, targets)})
        routes = {r.vehicle: r for r in self._time(day)}
        crews = [
            k for k in crews if self._free_from(day, k, routes) < p.vehicles[k].shift_end - 1800
        ]
        if not crews or not left:
            return []
        if len(crews) > MAX_SOLVE_CREWS:
            crews = crews[:MAX_SOLVE_CREWS]
        kept = [v for k in crews for v in day.seqs.get(k, [])[day.prefix.get(k, 0) :]]
        visits = left + kept
        own = {v: k for k in crews for v in day.seqs.get(k, [])[day.prefix.get(k, 0) :]}
        eligible = {}
        for v in visits:
            job_id = self.full.job_ids[v]
            if v in own:
                eligible[job_id] = [own[v]]
            else:
                allowed = p.visits[v].allowed_vehicles
                eligible[job_id] = [k for k in crews if allowed is None or k in set(allowed)]
        ends = {s.visit: (s.end, r.vehicle) for r in routes.values() for s in r.stops}
        not_before = {}
        for pr in p.precedences:
            if pr.after in set(visits) and pr.before not in set(visits) and pr.before in ends:
                end, k = ends[pr.before]
                not_before[self.full.job_ids[pr.after]] = end + pr.gap_s
        conts = {k: self._continuation(day, k, routes) for k in crews if day.prefix.get(k, 0)}
        tr = translate(
            self.base, self.travel, self.deadlines, visits, crews, eligible, not_before, conts
        )
        sub = tr.routing
        current = {s.visit: s for r in routes.values() for s in r.stops}
        for i, v in enumerate(visits):
            # kept stops start no later than the ETA told + tolerance (or than now planned)
            upper = math.inf
            if v in own and v in self.notified:
                upper = max(current[v].start, self.notified[v] + self.tolerance_s)
            floor = max(self.at_s, not_before.get(tr.job_ids[i], 0))
            windows = [
                (max(a, floor), min(b, upper))
                for a, b in p.visits[v].windows
                if max(a, floor) <= min(b, upper)
            ]
            keep = sub.visits[i]
            penalty = keep.drop_penalty * (100 if v in own else 1)
            sub.visits[i] = dataclasses.replace(
                keep, windows=tuple(windows) or keep.windows, drop_penalty=penalty
            )
        for pos, k in enumerate(crews):
            if not day.prefix.get(k, 0):
                veh = sub.vehicles[pos]
                start = max(veh.shift_start, p.vehicles[k].shift_start)
                sub.vehicles[pos] = dataclasses.replace(veh, shift_start=start)
        local = {v: i for i, v in enumerate(visits)}
        initial = [[local[v] for v in day.seqs.get(k, [])[day.prefix.get(k, 0) :]] for k in crews]
        params = SolveParams(
            time_limit_s=min(budget_s, SOLVE_BASE_S + SOLVE_PER_VISIT_S * len(visits)),
            solution_limit=self.opt.solution_limit,
            initial_routes=initial,
        )
        sol = solve(sub, params)
        self.stats["solver_solutions"] = sol.stats.get("solutions", 0)
        self.stats["reoptimised_crews"] = len(crews)
        return self._take_solution(day, crews, visits, own, sol, routes)

    def _take_solution(self, day, crews, visits, own, sol, routes) -> list[int]:
        """Take the solver's route of each crew where it serves more and, timed for real,
        breaks no rule; a kept stop it leaves out must fit another crew (phase-2
        insertion), else that crew keeps today's sequence."""
        p = self.sched
        tails: dict[int, list[int]] = {k: [] for k in crews}
        breaks: dict[int, int] = {}
        for r in sol.routes:
            k = crews[r.vehicle]
            tails[k] = [visits[s.visit] for s in r.stops]
            if r.break_ is not None:
                breaks[k] = r.break_.after_stop
        awaited = {pr.before for pr in p.precedences}
        before_of = {pr.after: (pr.before, pr.gap_s) for pr in p.precedences}
        placed: list[int] = []
        taken = 0
        for k in crews:
            gained = [v for v in tails[k] if v not in own and v not in placed]
            if not gained:
                continue
            n = day.prefix.get(k, 0)
            head, old_tail = day.seqs.get(k, [])[:n], day.seqs.get(k, [])[n:]
            lost = [v for v in old_tail if v not in tails[k]]
            seq = head + [v for v in tails[k] if v in own or v in gained]
            hint = day.hints.get(k)
            if hint is not None and not self.break_taken.get(k, True):
                hint = n + breaks[k] if k in breaks else hint
                hint = max(min(hint, len(seq) - 1), day.pinned.get(k, 0) - 1)
            current = {r.vehicle: r for r in self._time(day)}
            ends = {s.visit: (s.end, r.vehicle) for r in current.values() for s in r.stops}
            route = build_schedules(p, [(k, seq)], {k: hint} if hint is not None else {}, ends)[0]
            old_ends = {s.visit: s.end for s in current[k].stops} if k in current else {}
            if (
                check_route(p, route)
                or any(
                    s.visit in awaited and s.end > old_ends.get(s.visit, s.end) for s in route.stops
                )
                or any(
                    v in before_of and not self._after_delivery(route, v, before_of[v], ends)
                    for v in gained
                )
                or any(v in awaited for v in lost)
            ):
                continue
            snapshot = day.copy()
            day.seqs[k] = seq
            day.pinned.setdefault(k, 0)
            day.prefix.setdefault(k, 0)
            if hint is not None:
                day.hints[k] = hint
            if lost:
                for v in lost:
                    self.origin.setdefault(v, k)
                if len(self._insert(day, lost)) < len(lost):
                    day.restore(snapshot)
                    for v in lost:
                        if self.origin.get(v) == k:
                            del self.origin[v]
                    continue
            placed += gained
            taken += 1
        self.stats["solver_crews_taken"] = taken
        return placed

    def _free_from(self, day: _Day, k: int, routes: dict[int, RouteSchedule]) -> int:
        n = day.prefix.get(k, 0)
        if not n or k not in routes:
            return self.sched.vehicles[k].shift_start
        return routes[k].stops[n - 1].end

    def _continuation(self, day: _Day, k: int, routes: dict[int, RouteSchedule]) -> Continuation:
        """Crew k's day after its pinned + frozen stops, for the phase-3 solve."""
        n = day.prefix[k]
        r = routes[k]
        last = r.stops[n - 1]
        free_at = last.end
        hint = day.hints.get(k)
        taken = hint is not None and hint <= n - 1
        veh = self.sched.vehicles[k]
        brk = r.break_
        if taken and brk is not None and brk.after_stop == n - 1 and brk.before_travel:
            assert veh.break_ is not None
            free_at = max(free_at, r.break_.start + veh.break_.duration_s)
        load = [0, 0]
        for v in day.seqs[k][:n]:
            d = job_demand(self.base.jobs[v])
            load[0] += d[0]
            load[1] += d[1]
        return Continuation(
            location=job_location(self.base, day.seqs[k][n - 1]),
            free_at=free_at,
            visits_used=n,
            load_used=(load[0], load[1]),
            break_done=taken or veh.break_ is None,
        )

    # -- the result

    def _result(
        self, day: _Day, orphans: list[int], inserted: list[int], by_solver: list[int]
    ) -> ReplanResult:
        routes = self._settle(day)  # a no-op unless a phase left something to release
        problem = self._final_problem(routes)
        tr = Translation(self.sched, self.full.job_ids, self.full.crew_ids, self.full.location_map)
        crew_routes = crew_routes_of(problem, self.deadlines, tr, routes)
        planned = {s.job_id for r in crew_routes for s in r.stops}
        unassigned = self._unassigned(day, planned)
        stats = dict(self.stats)
        new = Plan(problem, crew_routes, unassigned, stats)
        violations = validate_plan(new, self.travel)
        if violations:
            raise PlanInvalid(violations)
        diff = diff_plans(
            self.plan,
            new,
            notified_eta=self.notified_dt,
            tolerance_minutes=self.opt.eta_tolerance_minutes,
            started=frozenset(self.facts),
        )
        placed = set(inserted) | set(by_solver)
        stats.update(
            wall_s=round(clock.monotonic() - self.started, 2),
            orphans=len(orphans),
            inserted=len(inserted),
            inserted_by_solver=len(by_solver),
            unplaced=sum(1 for v in orphans if v not in placed),
            reoptimised_crews=stats.get("reoptimised_crews", 0),
            frozen_released=len(self.released_frozen),
            moved=len(diff.moved),
            eta_notices=len(diff.notices),
            crews_changed=len(diff.crews_changed),
        )
        new.stats = dict(stats)
        frozen = {
            self.full.job_ids[v]
            for k, seq in day.seqs.items()
            for v in seq[day.pinned[k] : day.prefix[k]]
            if v in self.frozen_v
        }
        return ReplanResult(new, diff, frozenset(self.facts), frozenset(frozen), stats)

    def _final_problem(self, routes: list[RouteSchedule]) -> DispatchProblem:
        """The base problem with the facts' windows and the crews' relaxations written in."""
        starts = {self.full.job_ids[s.visit]: s.start for r in routes for s in r.stops}
        jobs = []
        for job in self.base.jobs:
            if job.id in self.facts and job.id in starts:
                moment = self.base.from_seconds(starts[job.id])
                job = dataclasses.replace(job, windows=_widen(job.windows, moment))
            jobs.append(job)
        crews: list[Crew] = []
        for k, crew in enumerate(self.base.crews):
            patch = self.crew_patch.get(k)
            if patch:
                changes: dict = {}
                if "shift_start" in patch:
                    changes["shift_start"] = _time_of(patch["shift_start"])
                if "shift_end" in patch:
                    changes["shift_end"] = _time_of(math.ceil(patch["shift_end"]))
                if "lunch_end" in patch and crew.lunch is not None:
                    changes["lunch"] = LunchBreak(
                        crew.lunch.window_start, _time_of(patch["lunch_end"]), crew.lunch.minutes
                    )
                crew = dataclasses.replace(crew, **changes)
            crews.append(crew)
        return dataclasses.replace(self.base, jobs=jobs, crews=crews)

    def _unassigned(self, day: _Day, planned: set[str]) -> list[Unassigned]:
        """Old unassigned entries that still hold, and a reason for every job left out now."""
        state = self.state
        out = [
            u
            for u in self.plan.unassigned
            if u.job_id not in state.cancelled and u.job_id not in planned
        ]
        listed = {u.job_id for u in out}
        screened = self.screened
        deliveries = {j.order_id: j.id for j in self.base.jobs if j.kind is JobKind.DELIVERY}
        at = _clock(state.at)
        for v, job in enumerate(self.base.jobs):
            if job.id in planned or job.id in listed:
                continue
            k = self.origin.get(v)
            delivery = deliveries.get(job.order_id)
            if job.id in screened:
                out.append(screened[job.id])
                continue
            if job.kind is JobKind.INSTALLATION and delivery and delivery not in planned:
                reason = UnassignedReason.LINKED_JOB_UNASSIGNED
                detail = f"the delivery of order {job.order_id} is not planned"
            elif v in self.expired:
                reason = UnassignedReason.WINDOW_UNREACHABLE
                detail = f"its window(s) closed before the re-plan at {at}"
            elif k is not None and k in self.unavailable:
                crew = self.full.crew_ids[k]
                since = _clock(self.base.from_seconds(self.unavailable[k]))
                reason = UnassignedReason.CREW_UNAVAILABLE
                detail = (
                    f"crew {crew} is unavailable from {since} and no other eligible crew "
                    "can fit it in"
                )
            elif k is not None:
                reason = UnassignedReason.NO_CAPACITY_LEFT
                detail = (
                    f"no longer fits crew {self.full.crew_ids[k]}'s day after the re-plan at "
                    f"{at}, and no other eligible crew has room"
                )
            else:
                reason = UnassignedReason.NO_CAPACITY_LEFT
                detail = f"no eligible crew has room at its windows after the re-plan at {at}"
            out.append(Unassigned(job.id, reason, detail))
        return out

    def _screen_new(self) -> dict[str, Unassigned]:
        """Reasons for new jobs no crew could ever do (kind, skills, capacity, region...)."""
        if not self.state.new_jobs:
            return {}
        small = dataclasses.replace(self.base, jobs=list(self.state.new_jobs))
        return {u.job_id: u for u in screen(small, build_travel(small)).unassigned}


__all__ = [
    "DayState",
    "ReplanOptions",
    "ReplanRefused",
    "ReplanResult",
    "refuse_bad_state",
    "replan",
    "state_as_planned",
]
