"""The simulation runner: season simulations run in worker processes, `python -m
api.background.simulation_worker SIM_ID`, by the background-job runner `api.background.job_runner`
(read its docstring: claim, reap, cancel, recovery after a restart, requeue on shutdown).

What is the simulations' own: they run one at a time per service process (`MAX_RUNNING`: a
season is many plans in a row, and the planners' work must not starve the dispatchers' daily
plans of cores); a worker is stopped as hung past a deadline its settings allow
(`deadline_s`); the worker gets the Dask scheduler its replications may run on. The
simulations table has no `version` column: the runner's state changes bump none.
"""

from __future__ import annotations

from typing import Any

from api.background.job_runner import Deadline, JobRunner, RunnerSpec
from api.context import AppContext
from api.services.simulation_input import LEVER_OPTION_NAMES
from api.settings import Settings
from api.storage.models import SimulationRow

#: simulations run at the same time by one service process
MAX_RUNNING = 1
#: a simulated day may take several planner searches (one per zone group) plus execution and
#: bookkeeping: the hang deadline allows this many time limits and seconds per day
DAY_TIME_LIMITS = 12
DAY_OVERHEAD_S = 60.0
#: start-up (imports, the city) and the report
FIXED_OVERHEAD_S = 300.0
INTERRUPTED = "interrupted by a service restart; ask for the simulation again"
OVERRAN = "the simulation worker ran far past its expected time and was stopped"


def deadline_s(params: dict[str, Any]) -> float:
    """How long a worker may run before it is taken for hung (generous on purpose: it is a
    guard against a stuck process, not a budget)."""
    resolved = params.get("settings") or {}
    planner = resolved.get("planner") or {}
    limit = float(planner.get("time_limit_s") or 8.0)
    days = int(resolved.get("days") or 30)
    runs = int(params.get("replications") or 1)
    if params.get("recommend"):
        runs *= int(params.get("rounds") or 5)
        if params.get("levers"):  # a hiring search per lever option
            runs *= len(params.get("lever_options") or LEVER_OPTION_NAMES)
    return FIXED_OVERHEAD_S + runs * days * (DAY_TIME_LIMITS * limit + DAY_OVERHEAD_S)


def _dask_env(settings: Settings) -> dict[str, str]:
    """The Dask scheduler the replications may run on."""
    if settings.dask_scheduler:
        return {"FIELDROUTE_DASK_SCHEDULER": settings.dask_scheduler}
    return {}


SIMULATIONS = RunnerSpec(
    noun="simulation",
    row=SimulationRow,
    worker_module="api.background.simulation_worker",
    params="params",
    deadline=lambda params, _settings: Deadline(deadline_s(params), OVERRAN),
    max_running=lambda _settings: MAX_RUNNING,
    interrupted=INTERRUPTED,
    extra_env=_dask_env,
)


class SimulationRunner(JobRunner):
    """The simulation runner of one service process."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx, SIMULATIONS)


__all__ = ["INTERRUPTED", "SIMULATIONS", "SimulationRunner", "deadline_s"]
