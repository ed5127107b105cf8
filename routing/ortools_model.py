"""The OR-Tools model: the only module in the project that imports ortools.

One small builder per constraint, as in the OR-Tools samples: arc costs, time windows and
shifts, breaks, soft promise deadlines, capacities, visit counts, allowed vehicles (skills and
people), optional visits (disjunctions), linked-visit precedences, two-person synchronised
visits. All arc data is handed over as precomputed integer matrices (`RegisterTransitMatrix`),
never as per-arc Python callbacks.

`solve()` returns sequences timed by `routing.schedule` with the real travel times; checking
the result is the caller's business (`routing.validate`), so this module can be swapped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from ortools.constraint_solver import (
    pywrapcp,
    routing_enums_pb2,
    routing_ils_pb2,
    routing_parameters_pb2,
)
from ortools.util import optional_boolean_pb2

from routing.preferences import add_preferences
from routing.problem import RoutingProblem, RoutingSolution
from routing.schedule import build_schedules

_FS = routing_enums_pb2.FirstSolutionStrategy
FIRST_SOLUTIONS = {
    "parallel_cheapest_insertion": _FS.PARALLEL_CHEAPEST_INSERTION,
    "local_cheapest_insertion": _FS.LOCAL_CHEAPEST_INSERTION,
    "path_cheapest_arc": _FS.PATH_CHEAPEST_ARC,
    "savings": _FS.SAVINGS,
}
METAHEURISTICS = {
    "guided_local_search": routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH,
    "simulated_annealing": routing_enums_pb2.LocalSearchMetaheuristic.SIMULATED_ANNEALING,
    "tabu_search": routing_enums_pb2.LocalSearchMetaheuristic.TABU_SEARCH,
    "greedy_descent": routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT,
    # Not a LocalSearchMetaheuristic value: OR-Tools' iterated local search (`_use_ils`),
    # run through RoutingModel.SolveWithIteratedLocalSearch.
    "ruin_and_recreate": routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT,
}


@dataclass(frozen=True)
class Progress:
    """Reported at each improving solution the search finds."""

    elapsed_s: float
    objective: int
    solutions: int
    unassigned: int


@dataclass
class SolveParams:
    """Search settings.

    Determinism: the search itself is deterministic; a run that stops on `solution_limit`
    gives the same plan every time (no clock inside the search stops it earlier: see
    `search_parameters`), while a run cut by `time_limit_s` may stop at a different point
    on a busier machine. Tests and reproducible runs set `solution_limit`.
    """

    time_limit_s: float = 30.0
    solution_limit: int | None = None
    first_solution: str = "auto"
    metaheuristic: str = "guided_local_search"
    progress: Callable[[Progress], None] | None = None
    should_stop: Callable[[], bool] | None = None
    #: "ruin_and_recreate" only: SISR ruin size (average visits removed per perturbation)
    ruin_size: int = 10
    #: True: `time_limit_s` also covers building the model and restoring the warm start,
    #: so the call returns within it (a benchmark's wall-clock budget); False: the search
    #: alone gets `time_limit_s`, as the planner's groups always had
    limit_includes_model: bool = False
    #: a warm start: per vehicle, the visit indices of a known solution in visiting order
    #: (a re-plan passes the routes it already has); the search starts from it instead of
    #: a first-solution heuristic, and falls back to one if the routes cannot be restored
    initial_routes: list[list[int]] | None = None

    def __post_init__(self) -> None:
        if self.time_limit_s <= 0:
            raise ValueError(f"time_limit_s must be > 0, got {self.time_limit_s}")
        if self.first_solution != "auto" and self.first_solution not in FIRST_SOLUTIONS:
            raise ValueError(f"unknown first_solution {self.first_solution!r}")
        if self.metaheuristic not in METAHEURISTICS:
            raise ValueError(f"unknown metaheuristic {self.metaheuristic!r}")


class _Nodes:
    """Node layout: visits first (node i = visit i), then one node per depot location."""

    def __init__(self, problem: RoutingProblem) -> None:
        self.n_visits = len(problem.visits)
        depot_locs = sorted(
            {loc for v in problem.vehicles for loc in (v.start_location, v.end_location)}
        )
        self.depot_node = {loc: self.n_visits + k for k, loc in enumerate(depot_locs)}
        self.locations = np.array([v.location for v in problem.visits] + depot_locs, dtype=np.int64)
        self.service = np.array(
            [v.service_s for v in problem.visits] + [0] * len(depot_locs), dtype=np.int64
        )
        day_start = min((v.shift_start for v in problem.vehicles), default=0)
        day_end = max((v.shift_end for v in problem.vehicles), default=0)
        self.earliest_depart = np.array(
            [v.earliest_start + v.service_s for v in problem.visits]
            + [day_start] * len(depot_locs),
            dtype=np.int64,
        )
        self.latest_arrival = np.array(
            [v.latest_start for v in problem.visits] + [day_end] * len(depot_locs), dtype=np.int64
        )
        self.horizon = int(max(day_end, int(self.latest_arrival.max(initial=0)))) + 1

    @property
    def size(self) -> int:
        return len(self.locations)


def solve(problem: RoutingProblem, params: SolveParams | None = None) -> RoutingSolution:  # noqa: PLR0915 - builds, searches and reads the solution; move the read-out into a helper
    """Optimise the problem and return timed routes plus unassigned visits."""
    params = params or SolveParams()
    started = time.monotonic()
    if not problem.vehicles:
        return RoutingSolution([], list(range(len(problem.visits))), 0, {"solve_s": 0.0})
    nodes = _Nodes(problem)
    starts = [nodes.depot_node[v.start_location] for v in problem.vehicles]
    ends = [nodes.depot_node[v.end_location] for v in problem.vehicles]
    manager = pywrapcp.RoutingIndexManager(nodes.size, len(problem.vehicles), starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    # Visit nodes never act as start/end, so index == node for them; depots get their own.
    index_of = [manager.NodeToIndex(i) for i in range(nodes.n_visits)]

    drive = _drive_matrices(problem, nodes)
    time_dim = _add_time(problem, nodes, routing, drive)
    _add_costs(problem, nodes, routing, drive)
    _add_breaks(problem, nodes, routing, manager, time_dim)
    _add_deadlines(problem, time_dim, index_of)
    _add_capacities(problem, nodes, routing)
    _add_allowed_vehicles(problem, routing, index_of)
    _add_precedences(problem, routing, time_dim, index_of, nodes.horizon)
    _add_syncs(problem, routing, time_dim, index_of)
    _add_disjunctions(problem, routing, index_of)
    add_preferences(problem, nodes.size, routing)

    search = search_parameters(pair_safe(problem, params, nodes.n_visits), nodes.n_visits)
    _pair_safe_operators(problem, search)
    _fit_to_wall(params, search, started)
    counter = {"n": 0}
    # The callback reaches the model through `holder`, emptied after the search: a closure
    # over `routing` itself is a cycle through C++ (the model holds the callback) that
    # Python's collector cannot see, so every model leaked, ~840 MB a 21-day season.
    holder = [routing]

    def on_solution() -> None:
        counter["n"] += 1
        model = holder[0]
        if params.progress is not None:
            dropped = sum(1 for i in index_of if model.NextVar(i).Value() == i)
            params.progress(
                Progress(time.monotonic() - started, model.CostVar().Value(), counter["n"], dropped)
            )
        if params.should_stop is not None and params.should_stop():
            model.CancelSearch()

    routing.AddAtSolutionCallback(on_solution)
    model_s = time.monotonic() - started
    solution = None
    if params.initial_routes is not None:
        initial = _initial_assignment(routing, search, params.initial_routes)
        _fit_to_wall(params, search, started)
        if initial is not None:
            solution = routing.SolveFromAssignmentWithParameters(initial, search)
    if solution is None and search.use_iterated_local_search:
        # SolveWithParameters ignores use_iterated_local_search in 9.15; this entry point
        # builds its own first solution, so a warm start goes through the branch above.
        solution = routing.SolveWithIteratedLocalSearch(search)
    if solution is None:
        solution = routing.SolveWithParameters(search)
    holder.clear()  # no more solutions: break the cycle (see `holder`)
    if solution is None:
        # Not even a first solution (only happens when the model is contradictory or stopped).
        return RoutingSolution(
            [], list(range(nodes.n_visits)), 0, {"solve_s": time.monotonic() - started}
        )

    sequences: list[tuple[int, list[int]]] = []
    breaks: dict[int, int] = {}
    break_start = _break_starts(solution, problem)
    for v in range(len(problem.vehicles)):
        idx = routing.Start(v)
        seq: list[int] = []
        starts_at: list[int] = []
        idx = solution.Value(routing.NextVar(idx))
        while not routing.IsEnd(idx):
            node = manager.IndexToNode(idx)
            seq.append(node)
            starts_at.append(solution.Min(time_dim.CumulVar(idx)))
            idx = solution.Value(routing.NextVar(idx))
        if not seq:
            continue
        if v in break_start:
            b = break_start[v]
            breaks[v] = (
                sum(1 for s, n in zip(starts_at, seq, strict=True) if s + nodes.service[n] <= b) - 1
            )
        sequences.append((v, seq))
    routes = build_schedules(problem, sequences, breaks)
    served = {s.visit for r in routes for s in r.stops}
    unassigned = [i for i in range(nodes.n_visits) if i not in served]
    stats = {
        "model_s": round(model_s, 3),
        "solve_s": round(time.monotonic() - started, 3),
        "solutions": counter["n"],
        "objective": solution.ObjectiveValue(),
    }
    return RoutingSolution(routes, unassigned, solution.ObjectiveValue(), stats)


def _fit_to_wall(params: SolveParams, search, started: float) -> None:
    """With `limit_includes_model`, the search gets what is left of the time limit (at
    least 0.1 s) once the model is built and the start restored. (At 1,000 visits those
    took about 0.2 s; the 1,000-customer benchmark still overruns its budget by 4-14 s,
    somewhere outside this function's reach: docs/benchmarks.md.)"""
    if params.limit_includes_model:
        left = params.time_limit_s - (time.monotonic() - started)
        search.time_limit.FromMilliseconds(max(100, int(left * 1000)))


def _initial_assignment(routing, search, routes: list[list[int]]):
    """The warm start as an assignment, or None.

    The model's travel times are conservative upper bounds, and a start may come from a
    relaxed model (`routing.pyvrp_start`: no lunch, links checked only after), so a route
    may not fit the full model. When the routes cannot be restored together, each is tried
    alone; one that fails loses the fewest stops that make it fit (`_trimmed`), and its
    other stops keep their order. Stops taken out start unperformed, for the search.
    """
    routing.CloseModelWithParameters(search)
    initial = routing.ReadAssignmentFromRoutes(routes, True)
    if initial is not None:
        return initial
    usable: list[list[int]] = [[] for _ in routes]
    for k, route in enumerate(routes):
        if route:
            usable[k] = _trimmed(routing, len(routes), k, route)
    return routing.ReadAssignmentFromRoutes(usable, True) if any(usable) else None


#: stops a warm-start route may lose one by one before it is given up (each loss tries
#: every stop: a route of n stops costs up to n restores per stop lost)
MAX_TRIMMED_STOPS = 3


def _trimmed(routing, n_routes: int, k: int, route: list[int]) -> list[int]:
    """`route` for vehicle k, less the fewest stops (up to `MAX_TRIMMED_STOPS`, earliest
    first) that let OR-Tools restore it alone; [] if that is not enough."""

    def fits(candidate: list[int]) -> bool:
        trial: list[list[int]] = [[] for _ in range(n_routes)]
        trial[k] = candidate
        return routing.ReadAssignmentFromRoutes(trial, True) is not None

    if fits(route):
        return route
    for _ in range(MAX_TRIMMED_STOPS):
        for pos in range(len(route)):
            shorter = route[:pos] + route[pos + 1 :]
            if fits(shorter):
                return shorter
        # no single stop helps: drop the last stop and try again from the shorter route
        route = route[:-1]
        if not route or fits(route):
            return route
    return []


def search_parameters(
    params: SolveParams, n_visits: int
) -> routing_parameters_pb2.RoutingSearchParameters:
    """OR-Tools' search parameters for `params` (a function of its own so tests read them)."""
    search = pywrapcp.DefaultRoutingSearchParameters()
    search.first_solution_strategy = FIRST_SOLUTIONS[_first_solution(params, n_visits)]
    search.local_search_metaheuristic = METAHEURISTICS[params.metaheuristic]
    if params.metaheuristic == "ruin_and_recreate":
        _use_ils(search, params.ruin_size)
    # The LP/MIP cumul scheduling inside the search filters made each move several times
    # slower (60 vs 320 solutions in 20 s on a 458-job zone) for no better plans: the
    # routes are re-timed by routing.schedule and checked by the validator afterwards.
    search.disable_scheduling_beware_this_may_degrade_performance = True
    search.time_limit.FromMilliseconds(int(params.time_limit_s * 1000))
    if params.solution_limit:
        search.solution_limit = params.solution_limit
        # OR-Tools stops the solution finalizer run after each accepted move (and its other
        # sub-searches) at `lns_time_limit`, 0.1 s by default: a clock inside the search, so
        # a move could be kept alone and lost on a loaded machine. A reproducible run lifts
        # it to the search's own ceiling; since `_add_deadlines` no longer gives the
        # finalizer costs it stalls on, an 8-day scale-0.1 season took 45 s instead of 41 s.
        search.lns_time_limit.FromMilliseconds(int(params.time_limit_s * 1000))
    return search


#: the least search time worth giving one first-solution strategy in `solve_best_of`
MIN_CONSTRUCTION_S = 1.0


def solve_best_of(
    problem: RoutingProblem, params: SolveParams, strategies: tuple[str, ...]
) -> RoutingSolution:
    """Solve once per first-solution strategy, sharing the time, and keep the cheapest plan.

    Guided local search seldom serves a job its first solution left out when the slots are
    full; which jobs are left out depends on the construction, so two constructions give
    the search two chances. Objective ties go to the earlier strategy (deterministic).

    A clock-limited search gives each construction at least `MIN_CONSTRUCTION_S`: the
    strategies beyond what the time allows are not tried (the earliest are kept). Halving a
    one-second share left parallel cheapest insertion without a first solution on some
    250-300-visit groups of a 4,000-job day, which then planned nothing at all. With a
    `solution_limit` the clock is only a ceiling and every strategy runs, so the plan does
    not depend on how the time was shared (serial and cluster runs share it differently).
    """
    strategies = pair_safe_strategies(problem, strategies)
    if not params.solution_limit:
        fits = int(params.time_limit_s // MIN_CONSTRUCTION_S)
        strategies = strategies[: max(1, min(len(strategies), fits))]
    share = params.time_limit_s / len(strategies)
    best: RoutingSolution | None = None
    for name in strategies:
        sol = solve(problem, replace(params, time_limit_s=share, first_solution=name))
        found = sol.stats.get("solutions", 0) > 0
        if found and (best is None or sol.objective < best.objective):
            best = sol
    return best if best is not None else sol


def _use_ils(search, ruin_size: int) -> None:
    """Iterated local search: SISR ruin and cheapest-insertion recreate, SA acceptance.

    SISR (slack induction by string removals, Christiaens & Vanden Berghe 2020) removes
    strings of consecutive visits from neighbouring routes, which is what lets a search
    empty a route and reshuffle time windows; greedy descent improves each recreated
    solution; the simulated-annealing temperatures are derived from the instance
    (`automatic_temperatures`) so no cost scale is assumed. The random seed is fixed
    inside OR-Tools, so a run stopped by `solution_limit` is reproducible.
    """
    search.use_iterated_local_search = True
    ils = search.iterated_local_search_parameters
    ils.perturbation_strategy = routing_ils_pb2.PerturbationStrategy.RUIN_AND_RECREATE
    rr = ils.ruin_recreate_parameters
    del rr.ruin_strategies[:]
    sisr = rr.ruin_strategies.add().sisr
    sisr.max_removed_sequence_size = ruin_size
    sisr.avg_num_removed_visits = ruin_size
    sisr.bypass_factor = 0.01
    rr.recreate_strategy.heuristic = _FS.LOCAL_CHEAPEST_INSERTION
    ils.improve_perturbed_solution = True
    ils.reference_solution_acceptance_strategy.simulated_annealing.automatic_temperatures = True


def pair_safe(problem: RoutingProblem, params: SolveParams, n_visits: int) -> SolveParams:
    """`params`, with parallel cheapest insertion instead of local cheapest insertion when
    the problem has one-visit pairs (`Precedence.same_vehicle`, pickup-and-delivery pairs):
    in OR-Tools 9.15 local cheapest insertion ran out of memory on them before its first
    solution (a 220-visit zone group of the demo day in crew mode `combined`, with or
    without their maximum gap of 0: std::bad_alloc past a 6 GB limit), where parallel
    cheapest insertion solved every group in about 200 MB."""
    pairs = any(p.same_vehicle for p in problem.precedences)
    if pairs and _first_solution(params, n_visits) == "local_cheapest_insertion":
        return replace(params, first_solution="parallel_cheapest_insertion")
    return params


def _pair_safe_operators(problem: RoutingProblem, search) -> None:
    """No local search operator built on local cheapest insertion when the problem has
    one-visit pairs (see `pair_safe`): its path LNS ran out of memory in the same way after
    10-20 s of search on that zone group (past a 4 GB limit; 200 MB without it)."""
    if any(p.same_vehicle for p in problem.precedences):
        ops = search.local_search_operators
        off = optional_boolean_pb2.BOOL_FALSE
        ops.use_local_cheapest_insertion_path_lns = off
        ops.use_local_cheapest_insertion_visit_types_lns = off
        ops.use_local_cheapest_insertion_expensive_chain_lns = off
        ops.use_local_cheapest_insertion_close_nodes_lns = off


def pair_safe_strategies(problem: RoutingProblem, strategies: tuple[str, ...]) -> tuple[str, ...]:
    """`strategies` without local cheapest insertion when the problem has one-visit pairs
    (see `pair_safe`); parallel cheapest insertion in its place, once."""
    if not any(p.same_vehicle for p in getattr(problem, "precedences", ())):
        return strategies
    safe = [
        "parallel_cheapest_insertion" if s == "local_cheapest_insertion" else s for s in strategies
    ]
    return tuple(dict.fromkeys(safe))


def _first_solution(params: SolveParams, n_visits: int) -> str:
    if params.first_solution != "auto":
        return params.first_solution
    return "parallel_cheapest_insertion" if n_visits <= 800 else "local_cheapest_insertion"


def _drive_matrices(problem: RoutingProblem, nodes: _Nodes) -> dict[str, np.ndarray]:
    """Per profile: conservative node-to-node driving times (see routing.travel)."""
    return {
        profile: problem.travel.conservative_durations(
            profile, nodes.locations, nodes.earliest_depart, nodes.latest_arrival
        )
        for profile in sorted({v.profile for v in problem.vehicles})
    }


def _add_time(problem, nodes, routing, drive) -> pywrapcp.RoutingDimension:
    """Time = service at the origin + driving; waiting is slack. Shifts bound start and end."""
    transit_idx = {}
    for profile, m in drive.items():
        transit = np.minimum(m + nodes.service[:, None], nodes.horizon)
        np.fill_diagonal(transit, 0)
        transit_idx[profile] = routing.RegisterTransitMatrix(transit.tolist())
    per_vehicle = [transit_idx[v.profile] for v in problem.vehicles]
    routing.AddDimensionWithVehicleTransits(
        per_vehicle, nodes.horizon, nodes.horizon, False, "time"
    )
    dim = routing.GetDimensionOrDie("time")
    for i, visit in enumerate(problem.visits):
        cumul = dim.CumulVar(i)
        cumul.SetRange(visit.windows[0][0], visit.windows[-1][1])
        for (_, end), (start, _) in zip(visit.windows, visit.windows[1:], strict=False):
            if start - end > 1:
                cumul.RemoveInterval(end + 1, start - 1)
    for k, veh in enumerate(problem.vehicles):
        dim.CumulVar(routing.Start(k)).SetRange(veh.shift_start, veh.shift_end)
        dim.CumulVar(routing.End(k)).SetRange(veh.shift_start, veh.shift_end)
        routing.AddVariableMinimizedByFinalizer(dim.CumulVar(routing.Start(k)))
    return dim


def _add_costs(problem, nodes, routing, drive) -> None:
    """Arc cost in cents: distance x cost per km + driving time x cost per hour, per class
    (and per the linked pairs whose delivery it may do but not the installation, for their
    second visit's price: `_add_split_costs`)."""
    dist = problem.travel.distances[np.ix_(nodes.locations, nodes.locations)].astype(np.int64)
    cache: dict[tuple, int] = {}
    priced = [p for p in problem.precedences if p.split_cost]
    for k, veh in enumerate(problem.vehicles):
        delivers_only = frozenset(
            n
            for n, p in enumerate(priced)
            if _may(problem, p.before, k) and not _may(problem, p.after, k)
        )
        key = (veh.profile, veh.cost_per_km, veh.cost_per_hour, delivers_only)
        if key not in cache:
            cost = (dist * veh.cost_per_km) // 1000 + (
                drive[veh.profile] * veh.cost_per_hour
            ) // 3600
            np.fill_diagonal(cost, 0)
            _add_split_costs(priced, delivers_only, cost)
            cache[key] = routing.RegisterTransitMatrix(cost.tolist())
        routing.SetArcCostEvaluatorOfVehicle(cache[key], k)


def _may(problem, visit: int, vehicle: int) -> bool:
    allowed = problem.visits[visit].allowed_vehicles
    return allowed is None or vehicle in allowed


def _add_split_costs(priced: list, delivers_only: frozenset[int], cost: np.ndarray) -> None:
    """A linked pair's second visit (`Precedence.split_cost`) as arc costs, half on each
    side so that whichever of the two is placed first already sees it: every arc into
    `after` costs half, except the one from `before` (the same crew going on from the same
    visit); every arc into `before` costs the other half on a vehicle that may do `before`
    but not `after` (`delivers_only`: a truck, whose delivery always needs a second visit).
    So a truck and an installer pay it once, one crew doing both back to back nothing; a
    combined crew that delivers and leaves pays half (the one case priced short). Arc costs
    are what every first-solution heuristic and filter prices; a price on the installation
    alone was seen too late: the delivery's crew was chosen first, on km alone, and on the
    demo day 30 or 100 CNY left the 2 orders of 238 served in one visit unchanged."""
    for n, p in enumerate(priced):
        half = p.split_cost // 2
        cost[:, p.after] += p.split_cost - half
        cost[p.before, p.after] -= p.split_cost - half
        cost[p.after, p.after] = 0
        if n in delivers_only:
            cost[:, p.before] += half
            cost[p.before, p.before] = 0


def _add_breaks(problem, nodes, routing, manager, dim) -> None:
    """Each crew's lunch: a fixed-length interval inside its window, never during a visit."""
    solver = routing.solver()
    visit_transits = [
        int(nodes.service[manager.IndexToNode(i)]) if not routing.IsEnd(i) else 0
        for i in range(routing.Size())
    ]
    for k, veh in enumerate(problem.vehicles):
        if veh.break_ is None:
            continue
        b = veh.break_
        interval = solver.FixedDurationIntervalVar(
            b.window_start, b.latest_start, b.duration_s, False, f"break {k}"
        )
        dim.SetBreakIntervalsOfVehicle([interval], k, visit_transits)


def _break_starts(solution, problem) -> dict[int, int]:
    out = {}
    intervals = solution.IntervalVarContainer()
    for i in range(intervals.Size()):
        element = intervals.Element(i)
        name = element.Var().Name()
        if name.startswith("break ") and element.PerformedValue():
            out[int(name.split()[1])] = element.StartValue()
    return out


def _add_deadlines(problem, dim, index_of) -> None:
    """Promise deadlines: soft upper bound on the service start (deadline - service).

    Only where the bound falls inside the visit's windows. Past the last window it can never
    bind. Before the first window opens the visit is late whatever the plan (an overdue job
    carried over), and its bound is left out on purpose: OR-Tools' solution finalizer,
    which assigns the times after every accepted move, sets each such lateness cost to its
    least value first and then backtracks depth-first through the breaks and the
    delivery-installation links (routes with cross-route links are all re-timed each time)
    until its `lns_time_limit` clock stops it. On three groups of a scale-0.1 season day,
    20 solutions took 0.2-1.0 s without those costs; with them, one took 7.5 s at the
    default clock, and with the clock at 10 s they found only 4-15 in 20 s. Because the
    stall is cut by a clock, the accepted moves, and so the plan, depended on the machine's
    load even with a solution limit. What is lost: the optimizer
    no longer pushes an already-late visit earlier in its crew's day. Its drop penalty is
    unchanged, so it is planned as before, and its lateness is still measured on the timed
    plan. On the 1,500-job demo day this planned the same share with 11 % fewer km.
    """
    for i, visit in enumerate(problem.visits):
        if visit.deadline_s is None or visit.lateness_cost_per_s <= 0:
            continue
        bound = visit.deadline_s - visit.service_s
        if visit.windows[0][0] <= bound < visit.windows[-1][1]:
            dim.SetCumulVarSoftUpperBound(index_of[i], bound, visit.lateness_cost_per_s)


def _add_capacities(problem, nodes, routing) -> None:
    """Volume/weight dimensions, and the per-crew cap on jobs per day."""
    n_depots = nodes.size - nodes.n_visits
    for d in range(problem.demand_dims):
        demands = [v.demand[d] for v in problem.visits] + [0] * n_depots
        unlimited = sum(demands) + 1
        caps = [veh.capacity[d] if veh.capacity else unlimited for veh in problem.vehicles]
        idx = routing.RegisterUnaryTransitVector(demands)
        routing.AddDimensionWithVehicleCapacity(idx, 0, caps, True, f"capacity{d}")
    if any(v.max_visits is not None for v in problem.vehicles):
        idx = routing.RegisterUnaryTransitVector([1] * nodes.n_visits + [0] * n_depots)
        caps = [
            v.max_visits if v.max_visits is not None else nodes.n_visits for v in problem.vehicles
        ]
        routing.AddDimensionWithVehicleCapacity(idx, 0, caps, True, "visits")


def _add_allowed_vehicles(problem, routing, index_of) -> None:
    """Skills, people and crew kind, as the vehicle variable's domain (-1: unperformed).

    `SetAllowedVehiclesForIndex` treats an empty list as "all vehicles", the opposite of
    what an empty eligibility list means, so the domain is set directly.
    """
    for i, visit in enumerate(problem.visits):
        if visit.allowed_vehicles is not None:
            routing.VehicleVar(index_of[i]).SetValues([-1, *visit.allowed_vehicles])


def _add_precedences(problem, routing, dim, index_of, horizon) -> None:
    """`after` no earlier than `before`'s end plus the gap, when both are served.

    The timing is a dimension node precedence, which OR-Tools' own filters see during the
    search; the same rule written as a plain solver constraint on the cumuls (with a big-M
    for unserved nodes) combined with break intervals left 9.15's first-solution heuristics
    without any solution on real demo zones. The gap is applied even when one crew does
    both: conservative, and the timing step (`routing.schedule`) drops it on a shared crew,
    which only makes stops earlier.

    An order's own rules are in the same terms. A maximum gap (`Precedence.max_gap_s`) is
    a node precedence the other way with a negative offset, as `_add_syncs` bounds a delay.
    One visit by one crew (`Precedence.same_vehicle`, the `combined` crew mode) is a
    pickup-and-delivery pair, which the insertion heuristics place as a pair and the filters
    check, with a gap and a maximum gap of 0: back to back. A second trip's price
    (`split_cost`) is an arc cost (`_add_split_costs`). None of them is a plain solver
    constraint.

    "`after` only if `before` is served" is deliberately NOT a solver constraint here: as a
    plain `ActiveVar(after) <= ActiveVar(before)` it is invisible to the insertion filters,
    so on an overloaded day (more jobs than the crews can do, many dropped) the first
    solution heuristics finished with an installation whose delivery they had dropped and
    the whole assignment was rejected: no solution at all in 10 s for 250-job zones of a
    simulated peak day. The rule is still enforced: the routing validator flags such an
    installation and the planner takes it off its route (`dispatch.planning.assemble.time_day`,
    reason `linked_delivery_unassigned`) before any plan is returned.
    """
    for p in problem.precedences:
        a, b = index_of[p.after], index_of[p.before]
        service = problem.visits[p.before].service_s
        dim.AddNodePrecedence(b, a, service + p.gap_s)
        latest_gap = problem.visits[p.after].latest_start - (
            problem.visits[p.before].earliest_start + service
        )
        if p.max_gap_s is not None and latest_gap > p.max_gap_s:
            # start(before) >= start(after) - (service + max gap): the other side of the
            # link as a node precedence too, so the cumul filters see it (see the docstring);
            # left out where the windows alone keep it (it made first solutions slower)
            dim.AddNodePrecedence(a, b, -(service + p.max_gap_s))
        if p.same_vehicle:
            # one visit by one crew: a pickup-and-delivery pair (same vehicle, `before`
            # first, both served or neither), which the insertion heuristics place as a
            # pair and the filters check; the max gap of 0 makes the two back to back
            routing.AddPickupAndDelivery(b, a)


def _add_syncs(problem, routing, dim, index_of) -> None:
    """Two-person visits: on two vehicles, starts `min..max` apart; both served or neither.

    The timing is a pair of dimension node precedences (start(second) >= start(first) + min
    and start(first) >= start(second) - max), which OR-Tools' cumul-bounds filter propagates
    across routes during the search, as for `_add_precedences`. "Two vehicles" is a plain
    solver constraint (a vehicle variable is -1 when unserved).

    "Both or neither" is priced, not constrained (`_add_disjunctions`): the pair shares one
    disjunction whose penalty is paid once unless both are served, so serving half of it
    earns nothing and the search drops or completes it. As a plain
    `ActiveVar(a) == ActiveVar(b)` it is invisible to the insertion filters, as the
    precedences' rule was: on the demo day with 29 assisted installations a zone group found
    no first solution in its time (34 jobs `not_solved_in_time`, 1,448 of 1,529 planned),
    against 1,497 planned with the priced pair. A half the search still leaves served is
    flagged by the routing validator and taken off by the planner's timing step
    (`dispatch.planning.assemble.time_day`), so no plan holds half a pair.
    """
    solver = routing.solver()
    for sy in problem.syncs:
        a, b = index_of[sy.first], index_of[sy.second]
        different = solver.IsDifferentVar(routing.VehicleVar(a), routing.VehicleVar(b))
        solver.Add(different >= routing.ActiveVar(a) + routing.ActiveVar(b) - 1)
        dim.AddNodePrecedence(a, b, sy.min_delay_s)
        dim.AddNodePrecedence(b, a, -sy.max_delay_s)


def synced_groups(problem: RoutingProblem) -> list[list[int]]:
    """The visits tied by syncs, as groups (a visit synced with two others: one group of
    three), each sorted, in order of their first visit."""
    parent: dict[int, int] = {}

    def root(i: int) -> int:
        while parent.get(i, i) != i:
            i = parent[i]
        return i

    for sy in problem.syncs:
        a, b = root(sy.first), root(sy.second)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in sorted({i for sy in problem.syncs for i in (sy.first, sy.second)}):
        groups.setdefault(root(i), []).append(i)
    return [groups[k] for k in sorted(groups)]


def _add_disjunctions(problem, routing, index_of) -> None:
    """Each visit may be dropped at its penalty; a synced group (`synced_groups`) is one
    disjunction, its penalty the sum of its visits' and paid once unless all are served."""
    grouped: set[int] = set()
    for group in synced_groups(problem):
        grouped.update(group)
        routing.AddDisjunction(
            [index_of[i] for i in group],
            int(sum(problem.visits[i].drop_penalty for i in group)),
            len(group),
            routing.PENALIZE_ONCE,
        )
    for i, visit in enumerate(problem.visits):
        if i not in grouped:
            routing.AddDisjunction([index_of[i]], int(visit.drop_penalty))
