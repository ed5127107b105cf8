"""Promise deadlines: 12 h delivery, 24 h installation, same-day repair, per region.

The deadline of a job is derived from its kind, its region's policy and the order's
confirmation time, unless the job carries an explicit one. Two clocks are supported:

* `calendar`: the promise runs from the confirmation time, day and night;
* `service_hours`: an order confirmed after the evening cut-off (or before the morning
  opening) counts from the next opening; otherwise as the calendar clock.

A repair promised "same day" is due at the closing time of the day its clock starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum

from dispatch.errors import InputError
from dispatch.models import Job, JobKind


class PromiseClock(StrEnum):
    CALENDAR = "calendar"
    SERVICE_HOURS = "service_hours"


def start_after_cutoff(confirmed_at: datetime, opening: time, cutoff: time) -> datetime:
    """When a count with an evening cut-off starts: an order confirmed at or after `cutoff`
    counts from the next day's `opening`, one before `opening` from that day's, any other
    from its confirmation. The one definition the planning clock and a published customer
    cut-off (`dispatch.promise_clocks`) share."""
    tod = confirmed_at.time()
    if tod >= cutoff:
        return datetime.combine(confirmed_at.date() + timedelta(days=1), opening)
    if tod < opening:
        return datetime.combine(confirmed_at.date(), opening)
    return confirmed_at


@dataclass(frozen=True)
class RegionPolicy:
    """Promise hours per job kind and the clock they run on. `None` hours means same day."""

    delivery_hours: float | None = 12
    installation_hours: float | None = 24
    repair_hours: float | None = None
    pickup_hours: float | None = 48
    clock: PromiseClock = PromiseClock.SERVICE_HOURS
    opening: time = time(8, 0)
    cutoff: time = time(18, 0)
    closing: time = time(20, 0)

    def __post_init__(self) -> None:
        for name in ("delivery_hours", "installation_hours", "repair_hours", "pickup_hours"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InputError("region policy", name, f"must be > 0 hours, got {value}")
        if not self.opening < self.cutoff <= self.closing:
            raise InputError("region policy", "cutoff", "need opening < cutoff <= closing")
        object.__setattr__(self, "clock", PromiseClock(self.clock))

    def hours_for(self, kind: JobKind) -> float | None:
        return {
            JobKind.DELIVERY: self.delivery_hours,
            JobKind.INSTALLATION: self.installation_hours,
            JobKind.REPAIR: self.repair_hours,
            JobKind.PICKUP: self.pickup_hours,
        }[kind]

    def clock_start(self, confirmed_at: datetime) -> datetime:
        """When the promise clock starts for an order confirmed at `confirmed_at`."""
        if self.clock is PromiseClock.CALENDAR:
            return confirmed_at
        return start_after_cutoff(confirmed_at, self.opening, self.cutoff)

    def deadline(self, kind: JobKind, confirmed_at: datetime) -> datetime:
        start = self.clock_start(confirmed_at)
        hours = self.hours_for(kind)
        if hours is None:
            return datetime.combine(start.date(), self.closing)
        return start + timedelta(hours=hours)


def default_policies() -> dict[str, RegionPolicy]:
    """Urban: 12 h delivery / 24 h install. Rural (appliances to the countryside): 24 h delivery."""
    return {
        "urban": RegionPolicy(),
        "rural": RegionPolicy(delivery_hours=24, installation_hours=48),
    }


@dataclass(frozen=True)
class PromiseBook:
    """The policies of all regions; resolves each job's deadline."""

    policies: dict[str, RegionPolicy] = field(default_factory=default_policies)

    def deadline(self, job: Job) -> datetime:
        """The job's promise deadline. An order time so near the end of the calendar that
        the deadline cannot be written (only a job built in code, past the record rules,
        holds one; the planner screens it out) gives `datetime.max`, never an error."""
        if job.deadline is not None:
            return job.deadline
        policy = self.policies.get(job.region)
        if policy is None:
            known = ", ".join(sorted(self.policies))
            raise InputError(f"job {job.id!r}", "region", f"{job.region!r} is not one of: {known}")
        try:
            return policy.deadline(job.kind, job.confirmed_at)
        except OverflowError:
            return datetime.max
