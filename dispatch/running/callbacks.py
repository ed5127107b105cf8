"""The callback guarantee (返修): when a repeat visit after a completed job is a callback.

Business rule (docs/api.md, "Callbacks"; the limits are settings,
`FIELDROUTE_REPAIR_GUARANTEE_DAYS` and `FIELDROUTE_INSTALLATION_CALLBACK_DAYS`):

- a **repair** is guaranteed for the same fault for `repair_guarantee_days` (180, half a
  year) after its completion; a different fault is a new repair, not a callback;
- an **installation** problem is a callback within `installation_callback_days`;
- a **delivery** or **pick-up** is never repaired: a damaged or wrong product is a
  return/exchange, i.e. a pick-up job.

Days are counted between calendar dates (the completion day and today's): a repair
completed 180 days ago is still guaranteed, one 181 days ago is not. The callback rate
(callbacks per completed job) is computed from the jobs this rule admits.
"""

from __future__ import annotations

from datetime import datetime

from dispatch.models import JobKind


def callback_refusal(
    job_id: str,
    kind: str,
    completed_at: datetime | None,
    original_fault: str | None,
    fault: str | None,
    *,
    repair_guarantee_days: int,
    installation_callback_days: int,
    now: datetime,
) -> str | None:
    """Why the completed job `job_id` cannot get a callback for `fault` at `now`, or None
    if it can.

    `kind` (a `JobKind` value), `completed_at` and `original_fault` are the original job's;
    `fault` is the fault reported now. An original repair without a fault code accepts any
    fault. The job's status is the caller's to check (it may still complete); `job_id` only
    names the job in the reason.
    """
    if kind in (JobKind.DELIVERY, JobKind.PICKUP):
        return (
            f"job {job_id!r} is a {kind}: only installations and repairs get "
            "callbacks; for a damaged or wrong product open a return/exchange (pickup) job instead"
        )
    if completed_at is None:  # completed without a completion time: cannot judge
        return f"job {job_id!r} has no completion time"
    days = (now.date() - completed_at.date()).days
    completed = completed_at.date().isoformat()
    if kind == JobKind.REPAIR:
        if original_fault and fault != original_fault:
            return (
                f"a different fault is a new repair, not a callback (the original repair was "
                f"for {original_fault!r}, this is {fault!r})"
            )
        limit = repair_guarantee_days
        if days > limit:
            return f"outside the {limit}-day guarantee: completed {completed}, {days} days ago"
    else:
        limit = installation_callback_days
        if days > limit:
            return (
                f"outside the {limit}-day installation callback window: completed "
                f"{completed}, {days} days ago"
            )
    return None
