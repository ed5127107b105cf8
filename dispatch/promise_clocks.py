"""The two clocks a promise share is counted on, defined once for every figure that shows one.

The business promises delivery within 12 hours and installation within 24 hours of the order
(rural orders: 24 h and 48 h; `dispatch.promises.default_policies`). Two clocks answer "was
it kept?", and they differ for an evening order, so a share is never shown without its clock
(docs/service-metrics.md, "The two clocks"; ../shared/docs/domain.md, "Which clock"):

* **The customer's clock**: calendar hours, day and night, from the moment the order was
  confirmed to the end of the job (planned or actual), within the promise hours of the job's
  kind in its region. A retailer may publish an evening cut-off (orders confirmed after it
  count from the next morning's opening); such a rule is part of the promise only when it is
  stated to the customer, and then every label names it. The business publishes none
  (domain.md states the promise in hours from confirmation), so `CUSTOMER_CLOCK` has no
  cut-off and counts strictly calendar hours.
* **The planning clock**: the planner's deadline (`dispatch.promises.PromiseBook.deadline`):
  the job's explicit deadline when it has one, else the region's policy, by default on
  service hours, where an order confirmed after the 18:00 cut-off or before the 08:00 opening
  starts counting at 08:00. It is an internal clock: the plan is built against it, and it is
  shown beside the customer's, never instead of it.

This module holds the definitions and the labels; the figures are counted where their rows
are: the plan KPIs (`dispatch.metrics.kpis`, `dispatch.metrics.customer_clock`), the service
metrics from the drivers' reports (`dispatch.metrics.service_metrics`) and the season report
(`dispatch.season.figures`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from dispatch.models import JobKind
from dispatch.promises import PromiseClock, RegionPolicy, default_policies, start_after_cutoff

#: the kinds with a promise in hours that the shares report (repairs are promised "same day",
#: judged by same-day completion; pick-ups have no customer-facing share)
PROMISED_KINDS = (JobKind.DELIVERY, JobKind.INSTALLATION)
#: the keys of the two clocks in every answer that reports shares on both
CUSTOMER = "customer"
PLANNING = "planning"
#: the region whose promise hours hold when a row does not know its region
DEFAULT_REGION = "urban"

_PLURAL = {
    JobKind.DELIVERY: "deliveries",
    JobKind.INSTALLATION: "installations",
    JobKind.REPAIR: "repairs",
    JobKind.PICKUP: "pick-ups",
}


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M")


def _hours_text(hours: float) -> str:
    return f"{hours:g} h"


@dataclass(frozen=True)
class CustomerClock:
    """Calendar hours from the order's confirmation; with `cutoff`, a *published* evening
    cut-off: an order confirmed at or after it (or before `opening`) counts from `opening`
    (the next morning's, after the cut-off). Leave `cutoff` None unless the customer is told
    the rule: an unpublished cut-off is the planning clock's, not the customer's."""

    cutoff: time | None = None
    opening: time = time(8, 0)

    def start(self, confirmed_at: datetime) -> datetime:
        """When the customer's count starts for an order confirmed at `confirmed_at`."""
        if self.cutoff is None:
            return confirmed_at
        return start_after_cutoff(confirmed_at, self.opening, self.cutoff)

    def deadline(self, confirmed_at: datetime, hours: float) -> datetime:
        """The latest end that keeps a promise of `hours` (exactly `hours` still keeps it)."""
        return self.start(confirmed_at) + timedelta(hours=hours)

    def within(self, confirmed_at: datetime, end: datetime, hours: float) -> bool:
        """Did a job ending at `end` keep a promise of `hours` for this order?"""
        return end <= self.deadline(confirmed_at, hours)

    @property
    def label(self) -> str:
        """The clock as every figure on it names it."""
        text = "customer's clock: calendar hours from the order's confirmation"
        if self.cutoff is None:
            return text
        return (
            f"{text}, published cut-off {_hhmm(self.cutoff)} (orders confirmed later count "
            f"from {_hhmm(self.opening)} next morning)"
        )


#: the customer's clock as the business publishes it: no cut-off (docs/domain.md)
CUSTOMER_CLOCK = CustomerClock()


def promise_hours(
    kind: JobKind | str, region: str | None, policies: Mapping[str, RegionPolicy] | None = None
) -> float | None:
    """The promise hours of `kind` in `region` (None: same day, no such region, or no region
    known and no `DEFAULT_REGION` policy). A row without a region is held to the default
    region's promise (12 h delivery, 24 h installation)."""
    table = default_policies() if policies is None else policies
    policy = table.get(region or DEFAULT_REGION)
    return policy.hours_for(JobKind(kind)) if policy is not None else None


def planning_deadline(
    kind: JobKind | str,
    region: str | None,
    confirmed_at: datetime,
    policies: Mapping[str, RegionPolicy] | None = None,
) -> datetime | None:
    """The planning clock's deadline from the region's policy (None: no such region). A job's
    explicit deadline, where the caller knows it, replaces this (`PromiseBook.deadline`)."""
    table = default_policies() if policies is None else policies
    policy = table.get(region or DEFAULT_REGION)
    if policy is None:
        return None
    try:
        return policy.deadline(JobKind(kind), confirmed_at)
    except OverflowError:
        return datetime.max


def _policy_clock_text(policy: RegionPolicy) -> str:
    if policy.clock is PromiseClock.CALENDAR:
        return "calendar hours from the order"
    return (
        f"service hours (orders confirmed after {_hhmm(policy.cutoff)} or before "
        f"{_hhmm(policy.opening)} count from {_hhmm(policy.opening)})"
    )


def planning_clock_label(policies: Mapping[str, RegionPolicy] | None = None) -> str:
    """The planning clock as every figure on it names it, per region where regions differ.
    (A job's explicit deadline replaces its region's; the label gives the regions' rule.)"""
    table = default_policies() if policies is None else policies
    texts = {region: _policy_clock_text(p) for region, p in sorted(table.items())}
    distinct = sorted(set(texts.values()))
    if len(distinct) == 1:
        return f"planning clock: the plan's deadlines in {distinct[0]}"
    return "planning clock: the plan's deadlines; " + "; ".join(
        f"{r}: {t}" for r, t in texts.items()
    )


def _hours_by_region(
    kind: JobKind, policies: Mapping[str, RegionPolicy] | None
) -> tuple[float | None, dict[str, float]]:
    """The promise hours most regions give `kind` (ties: the shorter) and the regions that
    differ from it; (None, {}) when no region promises it in hours."""
    table = default_policies() if policies is None else policies
    hours = {r: p.hours_for(kind) for r, p in sorted(table.items())}
    known = [h for h in hours.values() if h is not None]
    if not known:
        return None, {}
    common = min(Counter(known).most_common(), key=lambda hc: (-hc[1], hc[0]))[0]
    return common, {r: h for r, h in hours.items() if h is not None and h != common}


def share_title(kind: JobKind | str, policies: Mapping[str, RegionPolicy] | None = None) -> str:
    """What a share of `kind` counts, with the promise hours per region where they differ:
    "deliveries within 12 h (rural: 24 h)"."""
    kind = JobKind(kind)
    common, others = _hours_by_region(kind, policies)
    if common is None:
        return f"{_PLURAL[kind]} on promise (same day)"
    title = f"{_PLURAL[kind]} within {_hours_text(common)}"
    if not others:
        return title
    return f"{title} ({', '.join(f'{r}: {_hours_text(h)}' for r, h in others.items())})"


def share_hours(kind: JobKind | str, policies: Mapping[str, RegionPolicy] | None = None) -> float:
    """The promise hours most regions give `kind` (the figure in its title; 0: none)."""
    return _hours_by_region(JobKind(kind), policies)[0] or 0.0


def clock_labels(
    policies: Mapping[str, RegionPolicy] | None = None,
    customer: CustomerClock = CUSTOMER_CLOCK,
) -> dict[str, str]:
    """`{"customer": ..., "planning": ...}`: each clock's label, for answers and summaries."""
    return {CUSTOMER: customer.label, PLANNING: planning_clock_label(policies)}


@dataclass(frozen=True)
class ShareCount:
    """Jobs of one kind that kept their promise on one clock.

    `within` of `planned` (jobs with an end: planned, or completed) of `jobs` (every job of
    the kind in the cohort; one without an end never counts as within, so a plan cannot look
    good by leaving hard jobs out)."""

    kind: str
    clock: str  # CUSTOMER or PLANNING
    label: str  # the clock's label
    title: str  # what is counted: "deliveries within 12 h (rural: 24 h)"
    hours: float  # the promise hours of the title (most regions')
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
            "clock": self.clock,
            "label": self.label,
            "title": self.title,
            "hours": self.hours,
            "within": self.within,
            "planned": self.planned,
            "jobs": self.jobs,
            "of_planned": self.of_planned,
            "of_all": self.of_all,
        }


def share_count(
    kind: JobKind | str,
    clock: str,
    counts: tuple[int, int, int],
    policies: Mapping[str, RegionPolicy] | None = None,
    customer: CustomerClock = CUSTOMER_CLOCK,
) -> ShareCount:
    """A `ShareCount` of `kind` on `clock` from `(within, planned, jobs)`, labelled."""
    if clock not in (CUSTOMER, PLANNING):
        raise ValueError(f"clock must be {CUSTOMER!r} or {PLANNING!r}, got {clock!r}")
    within, planned, jobs = counts
    return ShareCount(
        kind=JobKind(kind).value,
        clock=clock,
        label=clock_labels(policies, customer)[clock],
        title=share_title(kind, policies),
        hours=share_hours(kind, policies),
        within=within,
        planned=planned,
        jobs=jobs,
    )
