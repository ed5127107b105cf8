"""Promise shares on the customer's clock: calendar hours from the order, day and night.

The planner's deadlines run on the region's promise clock (`dispatch.promises`): by default
the service-hours clock, on which an order confirmed at 21:00 starts counting at 08:00 the
next morning. A customer counts calendar hours from the moment he ordered. Both figures are
true; they answer different questions, so every screen that shows one labels it and shows
the other beside it. This module gives the customer's one for a plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from dispatch.models import JobKind
from dispatch.plan import Plan

#: the kinds with a promise in hours (repairs are promised "same day", pick-ups are not shown)
PROMISED_KINDS = (JobKind.DELIVERY, JobKind.INSTALLATION)


@dataclass(frozen=True)
class ClockShare:
    """Jobs of one kind done within their promise hours of the order, calendar time."""

    kind: str
    hours: float
    within: int
    planned: int
    jobs: int

    @property
    def of_planned(self) -> float | None:
        return self.within / self.planned if self.planned else None

    @property
    def of_all(self) -> float | None:
        return self.within / self.jobs if self.jobs else None

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "hours": self.hours,
            "within": self.within,
            "planned": self.planned,
            "jobs": self.jobs,
            "of_planned": self.of_planned,
            "of_all": self.of_all,
        }


def customer_clock_shares(plan: Plan) -> dict[str, ClockShare]:
    """Per promised kind: planned jobs whose service ends within the region's promise hours
    of `confirmed_at` in calendar time; unassigned jobs count in `jobs` but never as within."""
    policies = plan.problem.promises.policies
    jobs = plan.problem.jobs_by_id()
    ends = {s.job_id: s.end for r in plan.routes for s in r.stops}
    counts: dict[JobKind, list[int]] = {k: [0, 0, 0] for k in PROMISED_KINDS}
    hours_of: dict[JobKind, float] = {}
    for job in jobs.values():
        if job.kind not in counts:
            continue
        policy = policies.get(job.region)
        hours = policy.hours_for(job.kind) if policy is not None else None
        if hours is None:
            continue
        hours_of.setdefault(job.kind, hours)
        tally = counts[job.kind]
        tally[2] += 1
        end = ends.get(job.id)
        if end is None:
            continue
        tally[1] += 1
        if end <= job.confirmed_at + timedelta(hours=hours):
            tally[0] += 1
    return {
        kind.value: ClockShare(kind.value, hours_of.get(kind, 0.0), *tally)
        for kind, tally in counts.items()
        if tally[2]
    }
