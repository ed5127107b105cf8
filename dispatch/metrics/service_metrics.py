"""Service managers' metrics: completion, promise keeping, follow-up, callbacks, lateness, use.

The exact definitions are in docs/service-metrics.md, which is the source of truth; this
module implements them and the tests check them on hand-computed cases. Every ratio comes
back with its numerator and denominator, so a manager can audit it, and with `value` None
when there is nothing to divide by (an empty cohort is "no data", not 0 % or 100 %).

The module is pure: the API layer reads the rows (`JobFact`, `RouteFact`) from the database
and passes them in. Filtering by zone, crew or crew kind is the caller's: pass only the
matching `jobs` and `routes` (`filter_rows` does it the same way everywhere). Callback jobs
are passed separately and *unfiltered* in `callbacks`, because a callback counts against the
original job (its zone, its crew), wherever and by whomever the repeat visit was made, and
usually after the period. Passing more rows than a metric needs is safe: each metric selects
its own cohort by its own dates.

Promise shares are counted on the two clocks of `dispatch.promise_clocks`, each named in the
answer's `promise_clocks`: `deliveries_within_12h` and `installations_within_24h` on the
customer's clock (calendar hours from `received_at` to `completed_at`, the promise hours of the
job's region: rural deliveries 24 h, rural installations 48 h), and
`deliveries_by_planning_deadline` and `installations_by_planning_deadline` on the planning
clock (the job's explicit deadline, else its region's policy deadline from `received_at`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import Any, TypeVar

from dispatch.errors import InputError
from dispatch.models import JobKind
from dispatch.promise_clocks import (
    CUSTOMER,
    CUSTOMER_CLOCK,
    PLANNING,
    clock_labels,
    planning_deadline,
    promise_hours,
)
from dispatch.running.lifecycle import JobStatus

#: The business's targets (docs/domain.md): follow-up calls 100 %, same-day completion 95 %,
#: callback (repeat-repair) rate under 4 %.
TARGETS: dict[str, float] = {
    "follow_up_coverage": 1.0,
    "same_day_completion": 0.95,
    "callback_rate_max": 0.04,
}

#: the promise shares and the clock each is counted on (`dispatch.promise_clocks`)
PROMISE_SHARES: dict[str, tuple[JobKind, str]] = {
    "deliveries_within_12h": (JobKind.DELIVERY, CUSTOMER),
    "installations_within_24h": (JobKind.INSTALLATION, CUSTOMER),
    "deliveries_by_planning_deadline": (JobKind.DELIVERY, PLANNING),
    "installations_by_planning_deadline": (JobKind.INSTALLATION, PLANNING),
}


@dataclass(frozen=True)
class JobFact:
    """One job as the metrics see it (a row the API builds from the database).

    `status` is a `JobStatus` value; a completed job must carry `completed_at` (the device
    time of its `completed` event). `callback_of` is set on a repeat visit for the same
    problem and names the earlier job. `region` picks the promise hours and the planning
    deadline (None: the default region's); `deadline` is the job's explicit promise deadline,
    when it has one (the planning clock then uses it).
    """

    job_id: str
    kind: str
    zone: str | None
    crew_id: str | None
    crew_kind: str | None
    received_at: datetime  # order confirmed / fault reported
    due_date: date  # the day the job is planned for
    status: str
    arrived_at: datetime | None = None
    completed_at: datetime | None = None
    window_end: datetime | None = None  # end of the booked window the visit was planned in
    callback_of: str | None = None
    followed_up: bool = False  # a follow-up call reached the customer
    region: str | None = None
    deadline: datetime | None = None
    #: an assisting visit (`Job.assists`: a second crew at another job's visit): it keeps no
    #: promise of its own and gets no follow-up call or callback, so the customer-facing
    #: figures (promise shares, same-day completion, follow-up coverage, callback rate)
    #: count its lead job only; the crews' figures (completion, lateness) count it
    assisting: bool = False

    def __post_init__(self) -> None:
        rec = f"job {self.job_id!r}"
        for name, enum in (("kind", JobKind), ("status", JobStatus)):
            try:
                object.__setattr__(self, name, enum(getattr(self, name)))
            except ValueError:
                allowed = ", ".join(e.value for e in enum)
                raise InputError(
                    rec, name, f"{getattr(self, name)!r} is not one of: {allowed}"
                ) from None
        if self.status == JobStatus.COMPLETED and self.completed_at is None:
            raise InputError(rec, "completed_at", "a completed job needs its completion time")

    @property
    def completed(self) -> bool:
        return self.status == JobStatus.COMPLETED

    @property
    def cancelled(self) -> bool:
        return self.status == JobStatus.CANCELLED


@dataclass(frozen=True)
class RouteFact:
    """One crew's published route of one day: its shift and its busy (service + driving) time."""

    crew_id: str
    crew_kind: str
    zone: str | None
    day: date
    shift_minutes: float
    busy_minutes: float


@dataclass(frozen=True)
class Ratio:
    """numerator / denominator, with the parts kept for audit; value None when 0 / 0."""

    numerator: float
    denominator: float

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    def as_dict(self) -> dict[str, Any]:
        return {"numerator": self.numerator, "denominator": self.denominator, "value": self.value}


_Row = TypeVar("_Row", JobFact, RouteFact)


def filter_rows(
    rows: Sequence[_Row],
    *,
    zone: str | None = None,
    crew_id: str | None = None,
    crew_kind: str | None = None,
) -> list[_Row]:
    """The rows matching every filter given (None: no filter on that field).

    Use it on `jobs` and `routes`, never on `callbacks`: a callback counts for the original
    job, whatever zone or crew the repeat visit had.
    """
    return [
        r
        for r in rows
        if (zone is None or r.zone == zone)
        and (crew_id is None or r.crew_id == crew_id)
        and (crew_kind is None or r.crew_kind == crew_kind)
    ]


def p90(values: Sequence[float]) -> float | None:
    """The 90th percentile by nearest rank: the smallest value with at least 90 % at or below it.

    With n values sorted ascending it is the ceil(0.9 n)-th one (1-based), so it is always one
    of the observed values; None for no values.
    """
    if not values:
        return None
    ranked = sorted(values)
    k = (9 * len(ranked) + 9) // 10  # ceil(0.9 n) in integers, no float rounding
    return ranked[k - 1]


def promise_kept(job: JobFact, clock: str) -> bool:
    """Was the job completed within its promise on `clock` (`dispatch.promise_clocks`)?
    Exactly the promise hours (or the deadline itself) still keeps it."""
    if not job.completed or job.completed_at is None:
        return False
    if clock == CUSTOMER:
        hours = promise_hours(job.kind, job.region)
        return hours is not None and CUSTOMER_CLOCK.within(job.received_at, job.completed_at, hours)
    deadline = job.deadline or planning_deadline(job.kind, job.region, job.received_at)
    return deadline is not None and job.completed_at <= deadline


def with_unfinished(cohort: list[JobFact], hit: Callable[[JobFact], bool]) -> dict[str, Any]:
    """hits / cohort, plus `unfinished`: cohort jobs neither completed nor failed yet."""
    out = Ratio(sum(1 for j in cohort if hit(j)), len(cohort)).as_dict()
    out["unfinished"] = sum(
        1 for j in cohort if j.status not in (JobStatus.COMPLETED, JobStatus.FAILED)
    )
    return out


def promise_figures(received: Sequence[JobFact]) -> dict[str, dict[str, Any]]:
    """The four promise shares (`PROMISE_SHARES`) of `received`: the jobs received in a
    period, not cancelled. Each share's cohort is the jobs of its kind; unfinished ones count
    as misses (`with_unfinished`). The crew scorecards (`dispatch.metrics.scorecard`) count
    their on-time shares with this same function."""
    return {
        key: with_unfinished(
            [j for j in received if j.kind == kind], functools.partial(promise_kept, clock=clock)
        )
        for key, (kind, clock) in PROMISE_SHARES.items()
    }


def called_back(jobs: Sequence[JobFact], callbacks: Sequence[JobFact]) -> set[str]:
    """The ids of the jobs that have at least one non-cancelled callback: a job of `callbacks`
    or `jobs` whose `callback_of` names them (a job is never its own callback). The callback
    rate and the crew scorecards count a job as called back by this one rule."""
    return {
        c.callback_of
        for c in (*callbacks, *jobs)
        if c.callback_of is not None and not c.cancelled and c.callback_of != c.job_id
    }


def service_metrics(
    jobs: Sequence[JobFact],
    routes: Sequence[RouteFact],
    period: tuple[date, date],
    *,
    callbacks: Sequence[JobFact],
) -> dict[str, Any]:
    """The service metrics of `period` (both days included), as defined in docs/service-metrics.md.

    `jobs`: the (filtered) jobs; any job due, received or completed in the period must be
    there, more is harmless. `routes`: the (filtered) published routes. `callbacks`: every
    callback job whose `callback_of` is one of the jobs completed in the period, unfiltered
    and regardless of when it was opened (all callback jobs is fine). Callbacks found in `jobs`
    count as well.
    """
    start, end = period
    if end < start:
        raise ValueError(f"period ends ({end}) before it starts ({start})")
    seen: set[str] = set()
    for j in jobs:
        if j.job_id in seen:
            raise ValueError(f"job {j.job_id!r} appears twice in the rows")
        seen.add(j.job_id)

    def in_period(d: date) -> bool:
        return start <= d <= end

    live = [j for j in jobs if not j.cancelled]
    due = [j for j in live if in_period(j.due_date)]
    received = [j for j in live if in_period(j.received_at.date()) and not j.assisting]
    completed = [
        j for j in jobs if j.completed and j.completed_at and in_period(j.completed_at.date())
    ]
    customers_completed = [j for j in completed if not j.assisting]

    repeated = called_back(jobs, callbacks)

    # minutes between the end of the booked window and the arrival, negative when in time
    margins = [
        (j.arrived_at - j.window_end).total_seconds() / 60
        for j in completed
        if j.arrived_at is not None and j.window_end is not None
    ]
    minutes_late = [m for m in margins if m > 0]
    lateness = Ratio(len(minutes_late), len(margins)).as_dict()
    lateness["mean_minutes_late"] = sum(minutes_late) / len(minutes_late) if minutes_late else None
    lateness["p90_minutes_late"] = p90(minutes_late)

    in_routes = [r for r in routes if in_period(r.day)]
    metrics: dict[str, Any] = {
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "completion_rate": with_unfinished(due, lambda j: j.completed),
        "same_day_completion": with_unfinished(
            received,
            lambda j: (
                j.completed
                and j.completed_at is not None
                and j.completed_at.date() == j.received_at.date()
            ),
        ),
        **promise_figures(received),
        "promise_clocks": {
            **clock_labels(),
            "shares": {key: clock for key, (_, clock) in PROMISE_SHARES.items()},
        },
        "follow_up_coverage": Ratio(
            sum(1 for j in customers_completed if j.followed_up), len(customers_completed)
        ).as_dict(),
        "callback_rate": Ratio(
            sum(1 for j in customers_completed if j.job_id in repeated), len(customers_completed)
        ).as_dict(),
        "lateness": lateness,
        "utilisation": Ratio(
            sum(r.busy_minutes for r in in_routes), sum(r.shift_minutes for r in in_routes)
        ).as_dict(),
        "targets": dict(TARGETS),
    }
    metrics["meets_targets"] = {
        "follow_up_coverage": meets_target(metrics["follow_up_coverage"], "follow_up_coverage", 1),
        "same_day_completion": meets_target(
            metrics["same_day_completion"], "same_day_completion", 1
        ),
        "callback_rate": meets_target(metrics["callback_rate"], "callback_rate_max", -1),
    }
    return metrics


def meets_target(ratio: dict[str, Any], target: str, sign: int) -> bool | None:
    """Does the ratio meet the target: at least it (sign 1) or strictly under it (sign -1)?

    Compared as exact fractions, so 19 of 20 meets 95 % whatever the float rounding.
    """
    if not ratio["denominator"]:
        return None
    share = Fraction(ratio["numerator"]) / Fraction(ratio["denominator"])
    goal = Fraction(str(TARGETS[target]))
    return share >= goal if sign > 0 else share < goal
