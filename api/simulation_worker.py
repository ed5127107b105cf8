"""Run one season simulation in a process of its own: `python -m api.simulation_worker SIM_ID`.

`api.simulation_runner` starts this process for a simulation it has marked `running`, for
the reasons plans run in `api.plan_worker`: a season runs the real planner every simulated
day (minutes to hours of OR-Tools search), which must never run in the web process, and a
crash, a memory blow-up or a cancel (the runner kills the process group) takes down only
this process. The worker

1. reads the row: the validated request (`params`) and, for fixture `own`, the snapshot of
   the service's zones, depots and crews (`city`);
2. rebuilds the settings and the city (`api.simulation_input`) and runs the replications:
   one after another in this process, reporting progress per simulated day, or on the Dask
   cluster named by `FIELDROUTE_DASK_SCHEDULER` (`dispatch.cluster`), reporting per finished
   replication; with `recommend` the capacity search
   (`dispatch.season.recommend.recommend_capacity`) runs instead, reporting per round;
3. writes the report (`dispatch.season.report`) into a temporary folder and stores the
   summary, the weekly rows, the recommendation, report.html and days.csv in the row,
   status `done`; on any exception, status `failed` with the error.

Every write is conditional on the row still being `running` (and, for the outcome, not being
cancelled), so a simulation cancelled or given up meanwhile is never overwritten. Progress
writes are throttled to one per `PROGRESS_EVERY_S`. Logs name the simulation id only.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import false, update
from sqlalchemy.orm import Session, sessionmaker

from api.db import make_engine, session_factory
from api.models import SimulationRow
from api.plan_worker import describe
from api.settings import Settings
from api.simulation_input import scenario, season_city_of
from dispatch.cluster import Cluster
from dispatch.season.city import SeasonCity
from dispatch.season.report import seed_of, summary_dict, write_report
from dispatch.season.settings import SeasonSettings
from dispatch.season.simulator import SeasonResult

log = logging.getLogger("api.simulation_worker")

#: at most one progress write per this many seconds
PROGRESS_EVERY_S = 0.5
#: the share of the progress bar the simulation itself takes (the report takes the rest)
SIMULATION_SHARE = 0.95

Progress = Callable[[float, str], None]


class ProgressWriter:
    """Progress `(fraction, message)` to the row: throttled, monotonic, never raising."""

    def __init__(self, sessions: sessionmaker[Session], sim_id: str) -> None:
        self.sessions = sessions
        self.sim_id = sim_id
        self.fraction = 0.0
        self.last_write = 0.0

    def __call__(self, fraction: float, message: str) -> None:
        self.fraction = max(self.fraction, min(max(fraction, 0.0), 1.0))
        now = time.monotonic()
        if now - self.last_write < PROGRESS_EVERY_S:
            return
        self.last_write = now
        try:
            with self.sessions() as session, session.begin():
                session.execute(
                    update(SimulationRow)
                    .where(SimulationRow.id == self.sim_id, SimulationRow.status == "running")
                    .values(progress=round(self.fraction, 4), message=message[:500])
                    .execution_options(synchronize_session=False)
                )
        except Exception:  # a busy database must not abort the season; the next write may pass
            log.warning("simulation %s: progress not recorded", self.sim_id, exc_info=True)


def cluster_of(settings: Settings) -> Cluster:
    """Serial in this process, unless the service names a Dask scheduler."""
    if settings.dask_scheduler:
        return Cluster("dask", address=settings.dask_scheduler)
    return Cluster("serial")


def run_simulation(sessions: sessionmaker[Session], settings: Settings, sim_id: str) -> int:
    """Run simulation `sim_id` and record the outcome; the process exit code (0: recorded)."""
    with sessions() as session:
        row = session.get(SimulationRow, sim_id)
        if row is None:
            log.error("simulation %s: no such simulation", sim_id)
            return 2
        if row.status != "running":
            log.warning("simulation %s is %s, not running: nothing to do", sim_id, row.status)
            return 0
        params, snapshot = dict(row.params or {}), row.city
    log.info("simulation %s: running", sim_id)
    try:
        values = simulate(params, snapshot, settings, ProgressWriter(sessions, sim_id))
    except Exception as exc:
        log.warning("simulation %s failed: %s", sim_id, type(exc).__name__)
        recorded = _finish(
            sessions,
            settings,
            sim_id,
            {"status": "failed", "error": describe(exc), "message": "failed"},
        )
        return 1 if recorded else 4
    if _finish(sessions, settings, sim_id, values):
        log.info("simulation %s: done", sim_id)
    else:
        log.info("simulation %s: result not recorded (cancelled or given up meanwhile)", sim_id)
    return 0


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
    if params.get("recommend"):
        recommendation, results = _recommend(
            season, city, replications, cluster, int(params.get("rounds") or 5), progress
        )
    else:
        results = _replications(season, city, replications, cluster, progress)
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


def _finish(
    sessions: sessionmaker[Session], settings: Settings, sim_id: str, values: dict[str, Any]
) -> bool:
    """Record the outcome if the simulation is still running and not being cancelled."""
    with sessions() as session, session.begin():
        result = session.execute(
            update(SimulationRow)
            .where(
                SimulationRow.id == sim_id,
                SimulationRow.status == "running",
                SimulationRow.cancel_requested == false(),
            )
            .values(**values, finished_at=settings.now())
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write("usage: python -m api.simulation_worker SIMULATION_ID\n")
        return 2
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        return run_simulation(session_factory(engine), settings, args[0])
    except Exception as exc:  # recording the outcome failed: the runner records the exit
        log.error("simulation %s: %s", args[0], describe(exc))
        return 1
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
