"""A plan's promise shares on both clocks: the customer's first, the planning clock beside it.

The clocks are defined once, in `dispatch.promise_clocks`: the customer counts calendar
hours from the moment he ordered (no cut-off: the business publishes none); the planner's
deadlines run on the region's promise clock, by default service hours, on which an order
confirmed at 21:00 starts counting at 08:00 the next morning. Both figures are true; they
answer different questions, so every screen that shows one labels it and shows the other
beside it (the board's tiles, the CLI summary, the plan KPIs).

A planned job counts by its stop's end; an unassigned job counts in `jobs` but never as
within. Jobs of a region without a policy, or a kind promised "same day", are left out.
"""

from __future__ import annotations

from dispatch.plan import Plan
from dispatch.promise_clocks import (
    CUSTOMER,
    CUSTOMER_CLOCK,
    PLANNING,
    PROMISED_KINDS,
    CustomerClock,
    ShareCount,
    share_count,
)

#: kept for callers of the first version of this module
ClockShare = ShareCount

__all__ = ["PROMISED_KINDS", "ClockShare", "customer_clock_shares", "promise_shares"]


def promise_shares(
    plan: Plan, customer: CustomerClock = CUSTOMER_CLOCK
) -> dict[str, dict[str, ShareCount]]:
    """`{"customer": {kind: share}, "planning": {kind: share}}` for the promised kinds that
    have jobs: on the customer's clock a planned job is within when its service ends within
    its region's promise hours of `confirmed_at`; on the planning clock when it ends by the
    plan's deadline for it (`PlannedStop.deadline`)."""
    policies = plan.problem.promises.policies
    stops = {s.job_id: s for r in plan.routes for s in r.stops}
    tallies = {clock: {k: [0, 0, 0] for k in PROMISED_KINDS} for clock in (CUSTOMER, PLANNING)}
    for job in plan.problem.jobs:
        if job.kind not in PROMISED_KINDS or job.assists is not None:
            continue  # an assisting visit is the same order's promise: its lead job counts
        policy = policies.get(job.region)
        hours = policy.hours_for(job.kind) if policy is not None else None
        if hours is None:
            continue
        stop = stops.get(job.id)
        kept = {
            CUSTOMER: stop is not None and customer.within(job.confirmed_at, stop.end, hours),
            PLANNING: stop is not None and stop.end <= stop.deadline,
        }
        for clock, hit in kept.items():
            tally = tallies[clock][job.kind]
            tally[0] += hit
            tally[1] += stop is not None
            tally[2] += 1
    return {
        clock: {
            kind.value: share_count(kind, clock, (t[0], t[1], t[2]), policies, customer)
            for kind, t in by_kind.items()
            if t[2]
        }
        for clock, by_kind in tallies.items()
    }


def customer_clock_shares(plan: Plan) -> dict[str, ShareCount]:
    """The customer's clock's shares alone (`promise_shares(plan)["customer"]`)."""
    return promise_shares(plan)[CUSTOMER]
