"""The plan runner: plans (and re-plans) solved in worker processes, `python -m
api.background.plan_worker PLAN_ID`, by the background-job runner `api.background.job_runner` (read
its docstring: claim, reap, cancel, recovery after a restart, requeue on shutdown).

What is the plans' own: up to `max_running_plans` solve at the same time per service
process, and a worker still running `OVERRUN_S` past twice its time limit (the plan's
`time_limit_s`, else `plan_time_limit_s`) is stopped as hung (timing, validation and
writing a large day take a while after the search itself).
"""

from __future__ import annotations

from typing import Any

from api.background.job_runner import Deadline, JobRunner, RunnerSpec
from api.context import AppContext
from api.settings import Settings
from api.storage.models import PlanRow

#: a worker still running this long after twice its search time limit is stopped as hung
OVERRUN_S = 120.0
INTERRUPTED = "interrupted by a service restart; trigger the plan again"


def deadline(options: dict[str, Any], settings: Settings) -> Deadline:
    limit = float(options.get("time_limit_s") or settings.plan_time_limit_s)
    limit *= int(options.get("horizon_days") or 1)  # each day of a horizon gets the limit
    return Deadline(
        2 * limit + OVERRUN_S,
        f"the plan worker was still running long after its {limit:g} s time limit and was "
        "stopped; trigger the plan again",
    )


PLANS = RunnerSpec(
    noun="plan",
    row=PlanRow,
    worker_module="api.background.plan_worker",
    params="options",
    deadline=deadline,
    max_running=lambda settings: settings.max_running_plans,
    interrupted=INTERRUPTED,
    doing="solving",
)


class PlanRunner(JobRunner):
    """The plan runner of one service process."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx, PLANS)
