"""Run independent tasks serially, on a local Dask cluster, or on an existing Dask cluster.

Season replications, scenario sweeps and zone solves are independent pieces of work; this
module is the one place that knows how to farm them out, so every caller gets the same
choices and the same guarantees:

* ``Cluster("serial")`` runs them one after another in this process (tests, small runs);
* ``Cluster("local", workers=N)`` starts a Dask ``LocalCluster`` of N single-threaded worker
  processes for the duration of the ``with`` block (N=0: one per CPU core);
* ``Cluster("dask", address="tcp://host:8786")`` submits to a running Dask scheduler, so work
  that outgrows one machine runs on an existing distributed engine rather than a home-made one.

Results always come back in submission order, whatever order the workers finish in, and a
task is a pure function of its arguments (each carries its own seed), so the same inputs give
the same results serially and in parallel. Worker processes are started non-daemonic so a
task may itself use a process pool (the planner does for large days).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

MODES = ("serial", "local", "dask")


@dataclass(frozen=True)
class Cluster:
    """Where independent tasks run: see the module docstring."""

    mode: str = "serial"
    workers: int = 0
    address: str = ""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"cluster mode {self.mode!r} is not one of: {', '.join(MODES)}")
        if self.workers < 0:
            raise ValueError(f"cluster workers must be >= 0, got {self.workers}")
        if self.mode == "dask" and not self.address:
            raise ValueError("cluster mode 'dask' needs a scheduler address (tcp://host:port)")

    @classmethod
    def from_options(cls, scheduler: str = "", workers: int = 0, parallel: bool = True) -> Cluster:
        """CLI helper: a scheduler address wins; otherwise local processes unless serial."""
        if scheduler:
            return cls("dask", address=scheduler)
        return cls("local", workers=workers) if parallel else cls("serial")

    def describe(self) -> str:
        if self.mode == "serial":
            return "serial (this process)"
        if self.mode == "local":
            return f"Dask local cluster, {self.worker_count()} worker process(es)"
        return f"Dask cluster at {self.address}"

    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    def map(
        self,
        fn: Callable[..., Any],
        tasks: Sequence[tuple],
        on_done: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """`[fn(*t) for t in tasks]`, run where this cluster says, in submission order.

        `on_done(index, result)` is called as each task finishes (progress reporting).
        """
        results: list[Any]
        if self.mode == "serial" or not tasks:
            results = []
            for k, args in enumerate(tasks):
                results.append(fn(*args))
                if on_done:
                    on_done(k, results[-1])
            return results
        with _client(self) as client:
            from distributed import as_completed

            futures = [client.submit(fn, *args, pure=False) for args in tasks]
            index = {f.key: k for k, f in enumerate(futures)}
            results = [None] * len(futures)
            for future in as_completed(futures):
                k = index[future.key]
                results[k] = future.result()  # re-raises a task's exception here
                if on_done:
                    on_done(k, results[k])
            return results


@contextmanager
def _client(cluster: Cluster) -> Iterator[Any]:
    import dask
    from distributed import Client, LocalCluster

    if cluster.mode == "dask":
        with Client(cluster.address, timeout="30s") as client:
            yield client
        return
    with (
        dask.config.set({"distributed.worker.daemon": False}),
        LocalCluster(
            n_workers=cluster.worker_count(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as local,
        Client(local) as client,
    ):
        yield client


__all__ = ["MODES", "Cluster"]
