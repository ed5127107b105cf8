"""The day's offer: which open jobs the simulated dispatcher hands the planner each morning.

A dispatcher does not hand the optimizer a three-day backlog: each morning the most urgent
open jobs are offered, up to about `pool_factor` x what the crews on duty can do. What the
crews can do is counted **per crew class** (kind, skills, people), not per trade:

- a job is charged to the class that can do it (`Crew.can_do`) with the largest share of its
  budget left, so a backlog of specialist jobs (cabinet units that need `electrical` and three
  people, plumbing, TV mounts) uses up the own specialists' budget only and cannot crowd out
  the air-conditioner installations the hired temporary crews could do. The first version
  kept one budget for all installers and repair technicians: at the peak it filled it with
  specialist jobs oldest-first, and the added crews sat idle (docs/benchmarks.md);
- a job no crew on duty can do is still offered, without a charge, so the planner reports it
  unassigned with its reason (`no_eligible_crew`) instead of it waiting unseen;
- an installation goes only with its open delivery (both are offered, or neither);
- an assisted installation and its assisting job (`Job.assists`: two crews at one visit) are
  offered together or not at all, each charged to a class that can do it; an assisting job
  whose installation is not open is not offered (the season keeps the two together, so it
  does not happen).

A class's budget is its working minutes (shift less lunch, times `WORK_SHARE` for the
driving) times its **fill rate**: the estimated on-site minutes its routes really held per
working minute on the last day the planner left jobs it could do for lack of capacity
(`learn_fill`). The rate is clamped to [`FILL_MIN`, `FILL_MAX`]: too small an offer starves
crews (a wrong capacity answer), too big a one only costs solver time, so the floor is high.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from dispatch.models import Crew, Job, JobKind
from dispatch.plan import CAPACITY_REASONS, Plan, UnassignedReason
from dispatch.service_time import estimate_minutes

#: share of a crew's working minutes spent on site (the rest drives), before any learning
WORK_SHARE = 0.7
FILL_MIN = 0.8
FILL_MAX = 1.5

ClassKey = tuple[str, frozenset[str], int]  # (crew kind, skills, people)


def class_key(crew: Crew) -> ClassKey:
    return (crew.kind.value, crew.skills, crew.people)


def working_minutes(crew: Crew) -> float:
    """Shift less lunch, times `WORK_SHARE`: the on-site minutes a crew's day can hold."""
    minutes = (crew.shift_end.hour - crew.shift_start.hour) * 60 + (
        crew.shift_end.minute - crew.shift_start.minute
    )
    return (minutes - (crew.lunch.minutes if crew.lunch else 0)) * WORK_SHARE


@dataclasses.dataclass
class CrewClasses:
    """The crews on duty grouped by class, with each class's working minutes."""

    crews: dict[ClassKey, Crew]  # one representative per class (for `can_do`)
    minutes: dict[ClassKey, float]
    members: dict[str, ClassKey]  # crew id -> its class

    @classmethod
    def of(cls, crews: Iterable[Crew]) -> CrewClasses:
        rep: dict[ClassKey, Crew] = {}
        minutes: dict[ClassKey, float] = defaultdict(float)
        members: dict[str, ClassKey] = {}
        for c in crews:
            key = class_key(c)
            rep.setdefault(key, c)
            minutes[key] += working_minutes(c)
            members[c.id] = key
        order = sorted(rep, key=_sort_key)
        return cls({k: rep[k] for k in order}, {k: minutes[k] for k in order}, members)

    def eligible(self, job: Job, cache: dict[tuple, tuple[ClassKey, ...]]) -> tuple[ClassKey, ...]:
        sig = (job.kind, job.skills, job.people)
        if sig not in cache:
            cache[sig] = tuple(k for k, c in self.crews.items() if c.can_do(job))
        return cache[sig]


def _sort_key(key: ClassKey) -> tuple[str, tuple[str, ...], int]:
    return (key[0], tuple(sorted(key[1])), key[2])


def choose_offer(
    open_jobs: list[tuple[Job, datetime]],
    crews: list[Crew],
    fill: dict[ClassKey, float],
    pool_factor: float,
) -> list[Job]:
    """The jobs to offer, in urgency order (module doc).

    `open_jobs` are (job, urgency) pairs: earlier urgency is offered first; ties go by
    priority, then id, so the offer is deterministic.
    """
    classes = CrewClasses.of(crews)
    budget = {k: m * fill.get(k, 1.0) * pool_factor for k, m in classes.minutes.items()}
    left = dict(budget)
    ordered = sorted(open_jobs, key=lambda p: (p[1], -p[0].priority.weight, p[0].id))
    open_delivery = {j.order_id for j, _ in ordered if j.kind is JobKind.DELIVERY}
    helpers = {j.assists: j for j, _ in ordered if j.assists is not None}
    chosen_delivery: set[str] = set()
    cache: dict[tuple, tuple[ClassKey, ...]] = {}
    offer: list[Job] = []
    for job, _ in ordered:
        if job.assists is not None:
            continue  # offered with the job it assists, if at all
        if (
            job.kind is JobKind.INSTALLATION
            and job.order_id in open_delivery
            and job.order_id not in chosen_delivery
        ):
            continue
        visit = [job, helpers[job.id]] if job.id in helpers else [job]
        charges = []
        for j in visit:
            eligible = classes.eligible(j, cache)
            if eligible:
                best = max(eligible, key=lambda k: left[k] / budget[k] if budget[k] > 0 else -1.0)
                charges.append((best, estimate_minutes(j)))
        if any(left[best] <= 0 for best, _ in charges):
            continue
        for best, minutes in charges:
            left[best] -= minutes
        if job.kind is JobKind.DELIVERY:
            chosen_delivery.add(job.order_id)
        offer.extend(visit)
    return offer


def learn_fill(plan: Plan, fill: dict[ClassKey, float]) -> None:
    """Update each full class's fill rate from today's plan (module doc).

    A class is full when the planner left a job it could do for lack of capacity. A day the
    search ran out of time says nothing about capacity and teaches nothing.
    """
    if any(u.reason is UnassignedReason.NOT_SOLVED_IN_TIME for u in plan.unassigned):
        return
    classes = CrewClasses.of(plan.problem.crews)
    jobs = plan.problem.jobs_by_id()
    cache: dict[tuple, tuple[ClassKey, ...]] = {}
    full: set[ClassKey] = set()
    for u in plan.unassigned:
        if u.reason in CAPACITY_REASONS:
            full.update(classes.eligible(jobs[u.job_id], cache))
    used: dict[ClassKey, float] = defaultdict(float)
    for r in plan.routes:
        key = classes.members[r.crew_id]
        for stop in r.stops:
            used[key] += estimate_minutes(jobs[stop.job_id])
    for key in full:
        if classes.minutes[key] > 0:
            fill[key] = min(FILL_MAX, max(FILL_MIN, used[key] / classes.minutes[key]))
