"""Run one season simulation in a process of its own: `python -m api.background.simulation_worker
SIM_ID`.

`api.background.simulation_runner` starts this process for a simulation it has marked `running`, for
the reasons plans run in `api.background.plan_worker`: a season runs the real planner every
simulated day (minutes to hours of OR-Tools search), which must never run in the web process, and a
crash, a memory blow-up or a cancel (the runner kills the process group) takes down only
this process. What every worker does around its work (reading the row, recording the outcome
only while the simulation is still `running` and not being cancelled, `failed` with the
error on any exception, throttled progress, the exit codes) is `api.background.worker_main`; this
module
is the simulation's work (`SIMULATION`):

1. from the row: the validated request (`params`) and, for fixture `own`, the snapshot of
   the service's zones, depots and crews (`city`);
2. rebuilds the settings and the city (`api.services.simulation_input`) and runs the replications:
   one after another in this process, reporting progress per simulated day, or on the Dask
   cluster named by `FIELDROUTE_DASK_SCHEDULER` (`dispatch.planning.cluster`), reporting per
   finished
   replication; with `recommend` the capacity search
   (`dispatch.season.recommend.recommend_capacity`) runs instead, reporting per round, and
   with `levers` too the search beyond hiring (`dispatch.season.levers.recommend_with_levers`,
   the function `dispatch simulate --recommend --levers` calls), reporting per option and
   round;
3. writes the report (`dispatch.season.report`) into a temporary folder and stores the
   summary, the weekly rows, the recommendation (with its peak weeks on both clocks and the
   levers chosen in words: `dispatch.season.report_numbers.described_recommendation`, as
   the report shows it), report.html and days.csv in the row, status `done`.

Logs name the simulation id only.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from api.background.worker_main import Task, WorkerSpec, main
from api.services.simulation_input import lever_options_of, scenario, season_city_of
from api.settings import Settings
from api.storage.models import SimulationRow
from dispatch.planning.cluster import Cluster
from dispatch.season.city import SeasonCity
from dispatch.season.levers import LeverOption
from dispatch.season.report import summary_dict, write_report
from dispatch.season.report_numbers import described_recommendation, seed_of
from dispatch.season.settings import SeasonSettings
from dispatch.season.simulator import SeasonResult

#: the share of the progress bar the simulation itself takes (the report takes the rest)
SIMULATION_SHARE = 0.95
#: a lever search's message for a round started: "<option>: round <n>: temporary crews ..."
LEVER_ROUND = re.compile(r": round \d+: ")

Progress = Callable[[float, str], None]


def cluster_of(settings: Settings) -> Cluster:
    """Serial in this process, unless the service names a Dask scheduler."""
    if settings.dask_scheduler:
        return Cluster("dask", address=settings.dask_scheduler)
    return Cluster("serial")


def _read(row: SimulationRow) -> tuple[dict[str, Any], dict[str, Any] | None]:
    return dict(row.params or {}), row.city


def _work(task: Task, data: tuple[dict[str, Any], dict[str, Any] | None]) -> dict[str, Any]:
    params, snapshot = data
    return simulate(params, snapshot, task.settings, task.progress)


def simulate(
    params: dict[str, Any],
    snapshot: dict[str, Any] | None,
    service: Settings,
    progress: Progress,
) -> dict[str, Any]:
    """Run the simulation a row asks for; the row values of its outcome (module doc)."""
    season, overrides = scenario(params.get("overrides") or {})
    if "workers" not in (overrides.get("planner") or {}):
        # the service's planner setting, not every core: plans are solved on this host too
        season = season.with_changes(
            planner=dataclasses.replace(season.planner, workers=service.plan_workers)
        )
    city = season_city_of(str(params.get("fixture")), season, snapshot)
    replications = int(params.get("replications") or 1)
    cluster = cluster_of(service)
    progress(0.0, f"{replications} replication(s) on {cluster.describe()}")
    recommendation = None
    rounds = int(params.get("rounds") or 5)
    if params.get("recommend") and params.get("levers"):
        options = lever_options_of(params.get("lever_options"))
        recommendation, results = _recommend_with_levers(
            season, city, replications, cluster, rounds, options, progress
        )
    elif params.get("recommend"):
        recommendation, results = _recommend(season, city, replications, cluster, rounds, progress)
    else:
        results = _replications(season, city, replications, cluster, progress)
    recommendation = described_recommendation(recommendation, results)
    progress(SIMULATION_SHARE, "writing the report")
    with tempfile.TemporaryDirectory(prefix="fieldroute-simulation-") as tmp:
        paths = write_report(Path(tmp), results, recommendation)
        report_html = paths["report.html"].read_text(encoding="utf-8")
        days_csv = paths["days.csv"].read_text(encoding="utf-8")
    weeks = [
        {"replication": k, "seed": seed_of(r), **w} for k, r in enumerate(results) for w in r.weeks
    ]
    return {
        "status": "done",
        "progress": 1.0,
        "message": "done",
        "error": None,
        "summary": plain(summary_dict(results, recommendation)),
        "weeks": plain(weeks),
        "recommendation": plain(recommendation),
        "report_html": report_html,
        "days_csv": days_csv,
    }


def _replications(
    season: SeasonSettings,
    city: SeasonCity,
    replications: int,
    cluster: Cluster,
    progress: Progress,
) -> list[SeasonResult]:
    """Serially with day-by-day progress, else on the cluster (progress per replication).

    `dispatch.season.study.run_replications` reports only finished replications when it
    runs several; a planner waiting on a long serial run wants to see the days go by, so the
    serial case runs the same replication settings here, one season at a time.
    """
    from dispatch.season.simulator import simulate_season
    from dispatch.season.study import replication_settings, run_replications

    if cluster.mode != "serial":
        return run_replications(
            season,
            city,
            replications,
            cluster,
            lambda done, total, message: progress(SIMULATION_SHARE * done / total, message),
        )
    results = []
    for k in range(replications):

        def day_done(done: int, total: int, message: str, k: int = k) -> None:
            fraction = (k + done / max(1, total)) / replications
            progress(SIMULATION_SHARE * fraction, f"replication {k + 1}/{replications}: {message}")

        results.append(simulate_season(replication_settings(season, k, False), city, day_done))
    return results


def _recommend(
    season: SeasonSettings,
    city: SeasonCity,
    replications: int,
    cluster: Cluster,
    rounds: int,
    progress: Progress,
) -> tuple[dict[str, Any], list[SeasonResult]]:
    """The capacity search; progress moves one step per round started."""
    from dispatch.season.recommend import recommend_capacity

    started = [0]

    def say(message: str) -> None:
        progress(SIMULATION_SHARE * started[0] / rounds, f"capacity search: {message}")
        started[0] += 1

    rec, results = recommend_capacity(
        season, city, replications, cluster, max_rounds=rounds, progress=say
    )
    return rec.as_dict(), results


def _recommend_with_levers(
    season: SeasonSettings,
    city: SeasonCity,
    replications: int,
    cluster: Cluster,
    rounds: int,
    options: tuple[LeverOption, ...],
    progress: Progress,
) -> tuple[dict[str, Any], list[SeasonResult]]:
    """The search beyond hiring: one capacity search per lever option. Progress moves one
    step per round started (`rounds` steps per option; an option whose search settles
    early jumps to the next option's first step)."""
    from dispatch.season.levers import recommend_with_levers

    steps = rounds * len(options)
    step = [0, 0]  # options finished, rounds started in the current option

    def say(message: str) -> None:
        if LEVER_ROUND.search(message):
            done = step[0] * rounds + step[1]
            progress(SIMULATION_SHARE * done / steps, f"lever search: {message}")
            step[1] += 1
        else:  # "<option>: worst peak week ..., cost ... CNY": the option is done
            step[0], step[1] = step[0] + 1, 0
            progress(SIMULATION_SHARE * step[0] * rounds / steps, f"lever search: {message}")

    return recommend_with_levers(
        season,
        city,
        replications,
        cluster,
        max_rounds=rounds,
        progress=say,
        options=options,
    )


def plain(value: Any) -> Any:
    """JSON-safe: numpy scalars as Python numbers, NaN and infinities as None (PostgreSQL's
    JSON refuses them), tuples as lists."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


#: the simulation's work, for `api.background.worker_main`
SIMULATION = WorkerSpec("simulation", SimulationRow, read=_read, work=_work)


if __name__ == "__main__":
    sys.exit(main(SIMULATION))
