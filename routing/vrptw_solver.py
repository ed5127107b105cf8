"""The engine's strategy for plain VRPTW benchmarks (Solomon, Gehring & Homberger).

Benchmarks score total distance with a fixed fleet and every customer served. The engine's
OR-Tools model (`routing.ortools_model`) is used unchanged; what differs from a dispatch day
is only the search set-up, chosen here:

* Every visit is optional at a penalty far above any distance saving (`drop_penalty`), so
  a first solution always exists even when a construction heuristic cannot fit everyone on
  the instance's fleet; mandatory visits left OR-Tools without any solution on 5 of 11
  reference instances (../shared/benchmarks/vrptw/baselines.md). A solution that still
  leaves a visit out is reported as infeasible, never hidden.
* A *portfolio*: several differently configured searches, one per process (so both cores
  work), each given the whole time limit; the plan with fewest unserved visits and then
  least distance is kept. OR-Tools' search is deterministic (fixed internal seed), so the
  diversity comes from different constructions and search settings, or from PyVRP starts
  with different seeds (`pyvrp-x2`, the default: `routing.pyvrp_start`).

The strategies compared are named in `PORTFOLIOS`; docs/benchmarks.md has the measurements
behind the default.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from routing.ortools_model import Progress, SolveParams, solve
from routing.problem import RoutingProblem, RoutingSolution
from routing.pyvrp_start import pyvrp_start


@dataclass(frozen=True)
class SearchConfig:
    """One OR-Tools search: construction, metaheuristic and (for ILS) ruin size."""

    first_solution: str = "parallel_cheapest_insertion"
    metaheuristic: str = "ruin_and_recreate"
    ruin_size: int = 10
    #: "pyvrp": PyVRP's search first (`routing.pyvrp_start`), its routes OR-Tools' start
    start: str = ""
    #: share of the time the start gets; OR-Tools searches from it for the rest
    start_share: float = 0.0
    seed: int = 1

    @property
    def label(self) -> str:
        short = {
            "parallel_cheapest_insertion": "pci",
            "path_cheapest_arc": "pca",
            "savings": "sav",
            "local_cheapest_insertion": "lci",
        }
        meta = {"guided_local_search": "gls", "ruin_and_recreate": f"ils{self.ruin_size}"}
        search = meta.get(self.metaheuristic, self.metaheuristic)
        if self.start:
            return f"{self.start}{self.seed}@{self.start_share:g}+{search}"
        return f"{short.get(self.first_solution, self.first_solution)}+{search}"


#: named portfolios: each entry runs in its own process for the whole time limit
PORTFOLIOS: dict[str, tuple[SearchConfig, ...]] = {
    # the engine as the dispatch day uses it: cheapest insertion + guided local search
    "gls": (SearchConfig("parallel_cheapest_insertion", "guided_local_search"),),
    "pca-gls": (SearchConfig("path_cheapest_arc", "guided_local_search"),),
    # iterated local search with SISR ruin-and-recreate, one process
    "ils": (SearchConfig("parallel_cheapest_insertion", "ruin_and_recreate"),),
    # two ILS searches from two constructions, one per core
    "ils-x2": (
        SearchConfig("parallel_cheapest_insertion", "ruin_and_recreate"),
        SearchConfig("savings", "ruin_and_recreate"),
    ),
    # ILS and GLS side by side, one per core
    "ils+gls": (
        SearchConfig("parallel_cheapest_insertion", "ruin_and_recreate"),
        SearchConfig("parallel_cheapest_insertion", "guided_local_search"),
    ),
    # PyVRP's search (`routing.pyvrp_start`) for 90 % of the time, then OR-Tools' local
    # search from its routes under the engine's own model, to its local optimum; two seeds,
    # one per core. Greedy descent, not guided local search: on 1,000 customers GLS from a
    # PyVRP start overran a 5 s limit by 12 s in some runs (no new solution for its last
    # 14 s), and the whole 60 s benchmark call by 11-18 s
    "pyvrp-x2": (
        SearchConfig(metaheuristic="greedy_descent", start="pyvrp", start_share=0.9, seed=1),
        SearchConfig(metaheuristic="greedy_descent", start="pyvrp", start_share=0.9, seed=2),
    ),
    # the start alone (its share 1.0: OR-Tools only restores and times its routes)
    "pyvrp-only": (
        SearchConfig(metaheuristic="greedy_descent", start="pyvrp", start_share=1.0, seed=1),
    ),
}
DEFAULT_PORTFOLIO = "pyvrp-x2"


def with_drop_penalties(problem: RoutingProblem) -> RoutingProblem:
    """A copy whose visits are optional at a penalty no distance saving can outweigh.

    Removing one visit saves at most the two arcs around it, each no longer than the
    longest arc, so 4 x the longest arc (+1) exceeds any saving.
    """
    penalty = 4 * int(problem.travel.distances.max()) + 1
    visits = [replace(v, drop_penalty=penalty) for v in problem.visits]
    return replace(problem, visits=visits)


def _run(problem: RoutingProblem, config: SearchConfig, time_limit_s: float) -> RoutingSolution:
    started = time.monotonic()
    initial = None
    start_s = 0.0
    restored: list[int] = []

    def first(p: Progress) -> None:
        # the first solution of a warm-started search is the restored start
        if not restored:
            restored.append(p.objective)

    if config.start == "pyvrp":
        start = pyvrp_start(
            problem, time_limit_s * config.start_share, seed=config.seed, all_required=True
        )
        initial = start.routes if start is not None else None
        start_s = time.monotonic() - started
    params = SolveParams(
        time_limit_s=max(0.1, time_limit_s - start_s),
        first_solution=config.first_solution,
        metaheuristic=config.metaheuristic,
        ruin_size=config.ruin_size,
        initial_routes=initial,
        limit_includes_model=True,
        progress=first if initial is not None else None,
        # the start alone: OR-Tools only restores its routes (the first solution it sees)
        solution_limit=1 if config.start_share >= 1.0 else None,
    )
    sol = solve(problem, params)
    sol.stats["start_s"] = round(start_s, 3)
    if restored:
        sol.stats["start_objective"] = restored[0]
    sol.stats["config"] = config.label  # type: ignore[assignment]
    sol.stats["wall_s"] = round(time.monotonic() - started, 3)
    return sol


def _better(a: RoutingSolution, b: RoutingSolution | None) -> bool:
    """Fewer unserved visits first, then the lower objective (distance)."""
    if b is None:
        return True
    return (len(a.unassigned), a.objective) < (len(b.unassigned), b.objective)


def solve_vrptw(
    problem: RoutingProblem,
    time_limit_s: float,
    portfolio: str = DEFAULT_PORTFOLIO,
    workers: int | None = None,
) -> RoutingSolution:
    """Solve a VRPTW benchmark problem within about `time_limit_s` seconds of wall time.

    `workers` caps the processes (default: one per search in the portfolio); with fewer
    workers than searches the time limit is shared, so the wall time stays bounded. The
    returned stats carry `config` (the winning search) and `portfolio`.
    """
    if portfolio not in PORTFOLIOS:
        raise ValueError(f"unknown portfolio {portfolio!r}; choose from {sorted(PORTFOLIOS)}")
    configs = PORTFOLIOS[portfolio]
    workers = len(configs) if workers is None else max(1, min(workers, len(configs)))
    rounds = -(-len(configs) // workers)
    # Leave a little of the limit for process start, model building and timing the routes.
    per_search = max(0.1, time_limit_s / rounds - 0.3)
    penalised = with_drop_penalties(problem)
    if workers == 1:
        results = [_run(penalised, c, per_search) for c in configs]
    else:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [pool.submit(_run, penalised, c, per_search) for c in configs]
            results = [f.result() for f in futures]
    best = None
    for sol in results:
        if _better(sol, best):
            best = sol
    assert best is not None
    best.stats["portfolio"] = portfolio  # type: ignore[assignment]
    best.stats["searches"] = ";".join(  # type: ignore[assignment]
        f"{s.stats.get('config')}={s.objective}/{len(s.unassigned)}"
        + (f" (start {s.stats['start_objective']})" if "start_objective" in s.stats else "")
        for s in results
    )
    return best
