"""Replications of a season, run where a `dispatch.planning.cluster.Cluster` says.

Replication k runs the season with seed `settings.seed + k`: its demand, sickness, execution
noise and callbacks are drawn from that seed alone, so replication k gives the same season
whether it runs alone, serially after others, or on any worker of a Dask cluster. When
replications run in parallel each planner uses one process (the workers are the parallelism).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from dispatch.planning.cluster import Cluster
from dispatch.season.city import SeasonCity
from dispatch.season.settings import SeasonSettings
from dispatch.season.simulator import Progress, SeasonResult, simulate_season


def replication_settings(settings: SeasonSettings, k: int, parallel: bool) -> SeasonSettings:
    """Settings of replication `k`: its own seed; one planner process when run in parallel."""
    planner = settings.planner
    if parallel:
        planner = dataclasses.replace(planner, workers=1)
    return settings.with_changes(seed=settings.seed + k, planner=planner)


def _run_one(settings: SeasonSettings, city: SeasonCity) -> SeasonResult:
    return simulate_season(settings, city)


def run_replications(
    settings: SeasonSettings,
    city: SeasonCity,
    replications: int = 1,
    cluster: Cluster | None = None,
    progress: Progress | None = None,
    on_result: Callable[[int, SeasonResult], None] | None = None,
) -> list[SeasonResult]:
    """`replications` seasons (seeds seed, seed+1, ...), in seed order.

    A single replication on the serial cluster reports day-by-day progress; several report
    one step per finished replication.
    """
    if replications < 1:
        raise ValueError(f"replications must be >= 1, got {replications}")
    cluster = cluster or Cluster("serial")
    parallel = cluster.mode != "serial"
    tasks = [(replication_settings(settings, k, parallel), city) for k in range(replications)]
    if replications == 1 and not parallel:
        result = simulate_season(tasks[0][0], city, progress)
        if on_result:
            on_result(0, result)
        return [result]

    finished = [0]

    def done(k: int, result: Any) -> None:
        finished[0] += 1
        if progress:
            progress(finished[0], replications, f"replication {k} (seed {settings.seed + k}) done")
        if on_result:
            on_result(k, result)

    return cluster.map(_run_one, tasks, on_done=done)
