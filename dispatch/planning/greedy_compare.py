"""The engine's plan beside nearest-crew dispatch: the figures a dispatcher compares (issue 19).

For two plans of the same day, the engine's and the greedy baseline's
(`dispatch.planning.greedy_baseline`), four figures each:

* **km**: the routes' driving distance (also per planned job, since the two plans may plan
  different numbers of jobs);
* **planned**: jobs on a route, and their share of the day's jobs;
* **promises kept on the customer's clock** (`dispatch.promise_clocks.CUSTOMER_CLOCK`:
  calendar hours from the order's confirmation, no cut-off): per promised kind, "deliveries
  within 12 h (rural: 24 h)" and "installations within 24 h (rural: 48 h)", counted of *all*
  jobs of the kind (an unplanned job never keeps its promise, so a plan cannot look good by
  leaving hard jobs out), and the two kinds together. The counts are those of the plan KPIs'
  customer-clock shares (`dispatch.metrics.customer_clock.promise_shares`; this module sits
  below `dispatch.metrics` and counts from the same definitions in `dispatch.promise_clocks`);
* **crews needed**: crews with at least one stop.

`Comparison.line()` is the sentence `dispatch plan` prints after its summary;
`Comparison.as_dict()` what it writes to `baseline.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dispatch.plan import Plan
from dispatch.promise_clocks import (
    CUSTOMER,
    CUSTOMER_CLOCK,
    PROMISED_KINDS,
    CustomerClock,
    ShareCount,
    share_count,
)

#: what the baseline is called wherever it is shown
BASELINE_NAME = "nearest-crew dispatch"


@dataclass(frozen=True)
class PlanFigures:
    """One plan's figures for the comparison (module doc)."""

    km: float
    jobs: int
    planned: int
    crews_used: int
    crews: int
    #: per promised kind with jobs, on the customer's clock
    promises: tuple[ShareCount, ...]
    wall_s: float | None = None

    @property
    def planned_share(self) -> float:
        return self.planned / self.jobs if self.jobs else 1.0

    @property
    def km_per_job(self) -> float | None:
        return self.km / self.planned if self.planned else None

    @property
    def promised(self) -> int:
        """Jobs with a promise in hours (deliveries and installations), planned or not."""
        return sum(s.jobs for s in self.promises)

    @property
    def kept(self) -> int:
        """Of those, the jobs planned to end within their promise on the customer's clock."""
        return sum(s.within for s in self.promises)

    @property
    def kept_share(self) -> float | None:
        return self.kept / self.promised if self.promised else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "km": round(self.km, 1),
            "km_per_planned_job": None if self.km_per_job is None else round(self.km_per_job, 2),
            "jobs": self.jobs,
            "planned": self.planned,
            "planned_share": round(self.planned_share, 4),
            "crews_needed": self.crews_used,
            "crews": self.crews,
            "promises_kept": {
                "within": self.kept,
                "jobs": self.promised,
                "of_all": None if self.kept_share is None else round(self.kept_share, 4),
            },
            "promises": [s.as_dict() for s in self.promises],
            "wall_s": self.wall_s,
        }


def plan_figures(plan: Plan, customer: CustomerClock = CUSTOMER_CLOCK) -> PlanFigures:
    """The figures of `plan`; promise shares on `customer` (the business's clock)."""
    problem = plan.problem
    policies = problem.promises.policies
    ends = {s.job_id: s.end for r in plan.routes for s in r.stops}
    counts = {kind: [0, 0, 0] for kind in PROMISED_KINDS}  # within, planned, jobs
    for job in problem.jobs:
        policy = policies.get(job.region)
        hours = policy.hours_for(job.kind) if policy is not None else None
        if job.kind not in counts or hours is None or job.assists is not None:
            # a kind without a promise in hours, a region without a policy, or an assisting
            # visit (its lead job keeps the order's promise: `promise_shares` does the same)
            continue
        end = ends.get(job.id)
        tally = counts[job.kind]
        tally[0] += end is not None and customer.within(job.confirmed_at, end, hours)
        tally[1] += end is not None
        tally[2] += 1
    shares = tuple(
        share_count(kind, CUSTOMER, (c[0], c[1], c[2]), policies, customer)
        for kind, c in counts.items()
        if c[2]
    )
    wall = plan.stats.get("wall_s")
    return PlanFigures(
        km=sum(r.distance_m for r in plan.routes) / 1000,
        jobs=len(problem.jobs),
        planned=len(ends),
        crews_used=sum(1 for r in plan.routes if r.stops),
        crews=len(problem.crews),
        promises=shares,
        wall_s=None if wall is None else float(wall),
    )


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f} %"


@dataclass(frozen=True)
class Comparison:
    """The engine's figures beside the baseline's, for the same day."""

    engine: PlanFigures
    greedy: PlanFigures
    customer: CustomerClock = CUSTOMER_CLOCK

    @property
    def km_saved(self) -> float:
        """Kilometres the engine drives less than the baseline (negative: more)."""
        return self.greedy.km - self.engine.km

    @property
    def km_change(self) -> float | None:
        """The engine's km against the baseline's, as a signed fraction (-0.1: 10 % less)."""
        return -self.km_saved / self.greedy.km if self.greedy.km else None

    @property
    def more_planned(self) -> int:
        return self.engine.planned - self.greedy.planned

    @property
    def promises_title(self) -> str:
        """What "promises kept" counts, with its clock."""
        titles = " and ".join(s.title for s in self.engine.promises) or "promised jobs"
        return f"{titles}, of all such jobs ({self.customer.label})"

    def line(self) -> str:
        """One sentence: km, jobs planned, promises kept (customer's clock), crews needed."""
        km = f"{abs(self.km_saved):,.1f} km {'less' if self.km_saved >= 0 else 'more'}"
        if self.km_change is not None:
            km += f" ({self.km_change * 100:+.1f} %)"
        more = self.more_planned
        jobs = f"{abs(more)} {'more' if more >= 0 else 'fewer'} jobs planned"
        kept = (
            f"promises kept {_percent(self.engine.kept_share)} vs "
            f"{_percent(self.greedy.kept_share)} (customer's clock)"
        )
        crews = f"crews {self.engine.crews_used} vs {self.greedy.crews_used}"
        return f"compared with {BASELINE_NAME}: {km}, {jobs}, {kept}, {crews}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "baseline": BASELINE_NAME,
            "line": self.line(),
            "promises_kept_counts": self.promises_title,
            "clock": self.customer.label,
            "engine": self.engine.as_dict(),
            "nearest_crew": self.greedy.as_dict(),
            "difference": {
                "km_less": round(self.km_saved, 1),
                "km_change": None if self.km_change is None else round(self.km_change, 4),
                "more_jobs_planned": self.more_planned,
                "crews_fewer": self.greedy.crews_used - self.engine.crews_used,
            },
        }


def compare(engine: Plan, greedy: Plan, customer: CustomerClock = CUSTOMER_CLOCK) -> Comparison:
    """The two plans' figures side by side (they must be plans of the same day)."""
    if engine.problem.date != greedy.problem.date or len(engine.problem.jobs) != len(
        greedy.problem.jobs
    ):
        raise ValueError("compare plans of the same day's problem")
    return Comparison(plan_figures(engine, customer), plan_figures(greedy, customer), customer)


__all__ = ["BASELINE_NAME", "Comparison", "PlanFigures", "compare", "plan_figures"]
