"""A horizon of days, planned one after the other: each day's leftovers roll over into the
next, so the first day's plan is the one to publish and the later days say what becomes of
the work it could not take.

Day 1 is planned from its own jobs. Every job it leaves unassigned (with its reason) is
carried to day 2 (`dispatch.roll_over.carried_to`: same clock times, its age raising its
priority) and planned with day 2's own jobs, and so on. The planner already leaves out first
the jobs whose promise falls after the day (`dispatch.translate.urgency` 0), so at the peak
installations that can wait spread into the next day inside their promise; the horizon shows
whether they then keep it, on the customer's clock (calendar hours from the order).

An installation whose delivery an earlier day planned carries that delivery's end
(`Job.delivered_at`, `after_delivery`), so its order's maximum gap holds across days: its
windows are cut to end by the delivery's end + the gap, and one with none left is
unassigned `max_link_gap`.

This is a rolling horizon, not one model of all the days: day 1 does not see day 2's
orders, so it cannot hold capacity back for them. Each day's plan passes the validator like
any plan (`make_plan`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from dispatch.day_problem import DispatchProblem
from dispatch.models import Job, JobKind
from dispatch.plan import Plan
from dispatch.planning.planner import PlanOptions, make_plan
from dispatch.promise_clocks import CUSTOMER_CLOCK, PROMISED_KINDS
from dispatch.roll_over import carried_to, days_carried

#: the most days one horizon plans
MAX_HORIZON_DAYS = 7


@dataclass
class HorizonDay:
    """One day of the horizon: its plan and where its jobs came from and went."""

    plan: Plan
    new_jobs: int
    carried_in: int
    #: ids of the jobs this day left unassigned, carried into the next day (or, on the
    #: last day, left open at the horizon's end)
    carried_out: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        plan = self.plan
        day = plan.problem.date
        old = {j.id for j in plan.problem.jobs if days_carried(j, day)}
        return {
            "date": plan.problem.date.isoformat(),
            "jobs": len(plan.problem.jobs),
            "new_jobs": self.new_jobs,
            "carried_in": self.carried_in,
            "planned": sum(len(r.stops) for r in plan.routes),
            "carried_planned": sum(1 for r in plan.routes for s in r.stops if s.job_id in old),
            "carried_out": len(self.carried_out),
            "km": round(sum(r.distance_m for r in plan.routes) / 1000, 1),
            "crews_used": sum(1 for r in plan.routes if r.stops),
        }


@dataclass
class Horizon:
    days: list[HorizonDay]

    @property
    def first(self) -> Plan:
        """The plan to publish: the first day's."""
        return self.days[0].plan

    def promise_kept(self) -> dict[str, dict[str, int | float | None]]:
        """Per promised kind, over every job new on any day of the horizon: how many kept
        their promise on the customer's clock (calendar hours from the order) on whichever
        day they were planned; a job still open at the end counts as not kept."""
        stops = {s.job_id: s for d in self.days for r in d.plan.routes for s in r.stops}
        tally: dict[str, list[int]] = {}
        hours_of: dict[str, float] = {}
        seen: set[str] = set()
        for day in self.days:
            policies = day.plan.problem.promises.policies
            for job in day.plan.problem.jobs:
                if job.id in seen or job.kind not in PROMISED_KINDS or job.assists is not None:
                    # a carried job is counted once, on the first day it was offered; an
                    # assisting visit not at all (its lead job keeps the order's promise)
                    continue
                seen.add(job.id)
                policy = policies.get(job.region)
                hours = policy.hours_for(job.kind) if policy is not None else None
                if hours is None:
                    continue
                stop = stops.get(job.id)
                kept = stop is not None and CUSTOMER_CLOCK.within(job.confirmed_at, stop.end, hours)
                t = tally.setdefault(job.kind.value, [0, 0, 0])
                hours_of[job.kind.value] = hours
                t[0] += kept
                t[1] += stop is not None
                t[2] += 1
        return {
            kind: {
                "hours": hours_of[kind],
                "kept": t[0],
                "planned": t[1],
                "jobs": t[2],
                "share": round(t[0] / t[2], 4) if t[2] else None,
            }
            for kind, t in sorted(tally.items())
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "days": [d.as_dict() for d in self.days],
            "open_at_end": len(self.days[-1].carried_out),
            "promise_kept_customer_clock": self.promise_kept(),
        }


def plan_horizon(
    first: DispatchProblem,
    days: int,
    next_day: Callable[[date], DispatchProblem],
    options: PlanOptions | None = None,
    on_day: Callable[[int, HorizonDay], None] | None = None,
) -> Horizon:
    """Plan `days` days from `first` (day 1's problem). Day k's problem is `next_day(day k)`
    (its own crews and new jobs; not called for day 1) with the jobs day k-1 left unassigned
    carried over into it; a job of `first` whose windows lie on a later day is left unassigned
    until that day comes, and planned then. `on_day(k, day)` is called as each day is done
    (for progress). Raises `ValueError` for a horizon outside 1 to `MAX_HORIZON_DAYS` days."""
    if not 1 <= days <= MAX_HORIZON_DAYS:
        raise ValueError(f"a horizon is 1 to {MAX_HORIZON_DAYS} days, got {days}")
    out: list[HorizonDay] = []
    carried: list[Job] = []
    delivered: dict[str, datetime] = {}  # order -> its delivery's planned end
    problem = first
    for k in range(days):
        day = first.date + timedelta(days=k)
        if k:
            own = next_day(day)
            ids = {j.id for j in own.jobs}
            moved = [carried_to(j, day) for j in carried if j.id not in ids]
            jobs = [after_delivery(j, delivered) for j in [*moved, *own.jobs]]
            problem = replace(own, date=day, jobs=jobs)
        plan = make_plan(problem, options)
        jobs_by_id = problem.jobs_by_id()
        for r in plan.routes:
            for s in r.stops:
                if jobs_by_id[s.job_id].kind is JobKind.DELIVERY:
                    delivered[jobs_by_id[s.job_id].order_id] = s.end
        old = sum(1 for j in problem.jobs if days_carried(j, day))
        done = HorizonDay(
            plan,
            new_jobs=len(problem.jobs) - old,
            carried_in=old,
            carried_out=[u.job_id for u in plan.unassigned],
        )
        out.append(done)
        if on_day is not None:
            on_day(k, done)
        by_id = {j.id: j for j in problem.jobs}
        carried = [by_id[i] for i in done.carried_out]
    return Horizon(out)


def after_delivery(job: Job, delivered: dict[str, datetime]) -> Job:
    """An installation whose order's delivery an earlier day of the horizon planned, with
    that delivery's end as its `delivered_at` (so its maximum gap holds across days: its
    windows end by then + the gap, `dispatch.translate.delivered_bounds`); any other job,
    or one that states its own, as it is."""
    if (
        job.kind is not JobKind.INSTALLATION
        or job.delivered_at is not None
        or job.order_id not in delivered
    ):
        return job
    return replace(job, delivered_at=delivered[job.order_id])
