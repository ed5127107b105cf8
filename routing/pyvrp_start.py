"""A strong start for OR-Tools: PyVRP's search on a relaxed copy of the routing problem.

OR-Tools stays the optimizer of record (`routing.ortools_model` enforces every rule: lunch,
delivery-installation links, soft promise deadlines, several windows, two-person visits).
Its own constructions and local search, though, ended several times further from best-known
than PyVRP on the public VRPTW sets, and the gap grew with size (issue 19, docs/routing.md).
PyVRP's iterated local search (the successor of its hybrid genetic search, C++ inside) finds
far better routes for the part of the problem it can express, so the engine runs it first
and hands its routes to OR-Tools as the initial assignment (`SolveParams.initial_routes`,
`ReadAssignmentFromRoutes`), which repairs and improves them under the full model.

What PyVRP is given, on the same matrices OR-Tools uses (the conservative, congestion-aware
drive times of `routing.travel`, and the same per-arc cost in cents):

* as is: service times, shifts and depots per crew, capacities, optional visits at their
  drop penalties (scaled, `_PyvrpData._prizes`), per-crew arc costs;
* skills and other allowed-crew lists: one PyVRP profile per class of crews that may serve
  the same visits, whose arcs into a barred visit cost more than any prize;
* jobs-per-day caps: an extra load dimension of 1 per visit;
* an installation's window opens no earlier than its delivery's earliest possible end plus
  the link gap (implied by the link, so no plan is lost);
* two-person (synchronised) visits: left to OR-Tools (prize 0, barred to every crew).

The rest depends on `relax`:

* `relax=True` (default), a relaxation, so every plan OR-Tools may find is one PyVRP may
  find too: a visit's windows become their hull, promise deadlines are left out, the lunch
  is not modelled, merged crew classes keep only the bars all members share. Repaired after,
  on PyVRP's schedule: a visit on a crew that may not serve it, starting in the gap between
  two windows, or starting before its delivery's end plus the gap is taken off its route;
  a route whose lunch does not fit loses the fewest stops that make it fit when OR-Tools
  restores it (`routing.ortools_model._trimmed`).
* `relax=False`, a restriction, so PyVRP's routes mostly restore as they are: the widest
  single window, promise deadlines hard where the window allows, the route shortened by the
  lunch, merged crew classes barred from what any member is barred from.

`RELAXED` lists what the default leaves out, for the reports (`dispatch bench city`). The
start is deterministic for a seed when stopped by iterations (`max_iterations`); a clock
stop depends on the load.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from routing.problem import RoutingProblem, Vehicle

#: what the start leaves out or changes, for reports
RELAXED = (
    "lunch break not modelled (OR-Tools restores each route less the stops its lunch needs)",
    "delivery-installation link: only the installation's earliest start; an installation "
    "that starts before its delivery's end + gap is taken off its route",
    "several windows: their hull (a start in a gap is taken off)",
    "promise deadlines (soft) left out",
    "two-person visits left to OR-Tools",
)

#: the largest prize handed to PyVRP, in units of the costliest arc (see `_prizes`)
PRIZE_SCALE = 20

#: PyVRP profiles (one distance and one duration matrix each) at most: crews that may serve
#: different visits are merged into one profile beyond it (`_merged_classes`). Merging cost
#: served visits in the restricted model (a demo zone group of 56 crews in 39 classes: 248
#: of 291 served at 16 profiles, 261 unmerged, 3 s each); each profile is two n x n int64
#: matrices (4 MB at 500 visits), so 32 keeps a group's start under about 130 MB of them
MAX_PROFILES = 32


@dataclass
class StartResult:
    """Per vehicle, the visit indices PyVRP serves in order, and what it cost to get them."""

    routes: list[list[int]]
    seconds: float
    iterations: int
    #: visits taken off PyVRP's routes because they broke a rule it did not see
    taken_off: int = 0
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def served(self) -> int:
        return sum(len(r) for r in self.routes)


def pyvrp_start(
    problem: RoutingProblem,
    time_limit_s: float,
    *,
    seed: int = 1,
    max_iterations: int | None = None,
    all_required: bool = False,
    initial_routes: list[list[int]] | None = None,
    relax: bool = True,
) -> StartResult | None:
    """Routes for `problem` from PyVRP within `time_limit_s` (or `max_iterations`), or None.

    None when there is nothing to route (no vehicles or no visits). `all_required` makes
    every visit mandatory (benchmarks, where the drop penalty only stands for "must
    serve"): PyVRP's search is tuned for that case.
    `initial_routes` (per vehicle, visit indices in order) is PyVRP's warm start: PyVRP
    then improves a plan OR-Tools found instead of building its own. `relax` (default)
    gives PyVRP a relaxation of the problem (every plan OR-Tools may find is one PyVRP may
    find too) and repairs its routes after; False gives it a restriction instead (see
    `_PyvrpData`).
    """
    from pyvrp import solve
    from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

    if not problem.vehicles or not problem.visits:
        return None
    started = time.monotonic()
    built = _PyvrpData(problem, all_required, relax)
    criteria: list[StoppingCriterion] = [MaxRuntime(max(0.05, time_limit_s))]
    if max_iterations is not None:
        criteria = [MaxIterations(max_iterations), *criteria]
    stop = criteria[0] if len(criteria) == 1 else MultipleCriteria(criteria)
    initial = built.solution_of(initial_routes) if initial_routes is not None else None
    result = solve(
        built.data,
        stop=stop,
        seed=seed,
        display=False,
        collect_stats=False,
        initial_solution=initial,
    )
    routes, removed = built.routes_of(result.best)
    return StartResult(
        routes=routes,
        seconds=round(time.monotonic() - started, 3),
        iterations=int(result.num_iterations),
        taken_off=removed,
        stats={"pyvrp_cost": float(result.cost()), "pyvrp_feasible": float(result.is_feasible())},
    )


class _PyvrpData:
    """The relaxed problem as `pyvrp.ProblemData`, and the way back to vehicle routes."""

    def __init__(self, problem: RoutingProblem, all_required: bool, relax: bool = True) -> None:
        import pyvrp

        self.problem = problem
        self.relax = relax
        # a restriction shortens the route by the lunch; a relaxation leaves the lunch to
        # OR-Tools' restore (`routing.ortools_model._trimmed`)
        self.shorten_for_lunch = not relax
        vehicles = problem.vehicles
        depot_locs = sorted({loc for v in vehicles for loc in (v.start_location, v.end_location)})
        self.depot_of = {loc: k for k, loc in enumerate(depot_locs)}
        n_dep = len(depot_locs)
        self.n_dep = n_dep
        locations = np.array(depot_locs + [v.location for v in problem.visits], dtype=np.int64)
        windows = [
            (v.windows[0][0], v.windows[-1][1]) if relax else _widest(v.windows)
            for v in problem.visits
        ]
        early = np.array([w[0] for w in windows], dtype=np.int64)
        late = np.array([w[1] for w in windows], dtype=np.int64)
        service = np.array([v.service_s for v in problem.visits], dtype=np.int64)
        day_start = min(v.shift_start for v in vehicles)
        day_end = max(v.shift_end for v in vehicles)
        # the same conservative bounds as routing.ortools_model._Nodes, in this node order
        earliest_depart = np.concatenate([np.full(n_dep, day_start), early + service])
        latest_arrival = np.concatenate([np.full(n_dep, day_end), late])
        drive = {
            p: problem.travel.conservative_durations(p, locations, earliest_depart, latest_arrival)
            for p in sorted({v.profile for v in vehicles})
        }
        if not relax:
            late = self._deadline_bounds(early, late, service)
        early = self._link_bounds(early, late, service)
        self.type_members, self.data = self._build(
            pyvrp, locations, drive, early, late, service, all_required
        )

    def _deadline_bounds(self, early, late, service) -> np.ndarray:
        late = late.copy()
        for i, v in enumerate(self.problem.visits):
            if v.deadline_s is not None and v.lateness_cost_per_s > 0:
                bound = v.deadline_s - v.service_s
                if early[i] <= bound < late[i]:
                    late[i] = bound
        return late

    def _link_bounds(self, early, late, service) -> np.ndarray:
        """An installation opens no earlier than its delivery's earliest end plus the gap."""
        early = early.copy()
        for p in self.problem.precedences:
            bound = int(early[p.before] + service[p.before] + p.gap_s)
            if bound <= late[p.after]:
                early[p.after] = max(int(early[p.after]), bound)
        return early

    def _build(self, pyvrp, locations, drive, early, late, service, all_required):
        problem = self.problem
        n_dep, n_vis = self.n_dep, len(problem.visits)
        synced = {i for s in problem.syncs for i in (s.first, s.second)}
        dims = problem.demand_dims
        count_visits = any(v.max_visits is not None for v in problem.vehicles)
        demand = np.array([v.demand for v in problem.visits], dtype=np.int64).reshape(n_vis, dims)
        if count_visits:
            demand = np.hstack([demand, np.ones((n_vis, 1), dtype=np.int64)])
        dist = problem.travel.distances[np.ix_(locations, locations)].astype(np.int64)
        prizes = self._prizes(dist, drive)
        # entering a barred visit costs more than its prize and any detour it could save
        forbidden_cost = 2 * max(prizes, default=0) + 1
        # profiles: (travel profile, cost per km, cost per hour, visits the crews may not serve)
        banned = [
            frozenset(
                i
                for i, v in enumerate(problem.visits)
                if i in synced or (v.allowed_vehicles is not None and k not in v.allowed_vehicles)
            )
            for k in range(len(problem.vehicles))
        ]
        classes = _merged_classes(
            [(v.profile, v.cost_per_km, v.cost_per_hour) for v in problem.vehicles],
            banned,
            relax=self.relax,
        )
        dist_mats: list[np.ndarray] = []
        dur_mats: list[np.ndarray] = []
        types: dict[tuple, list[int]] = {}
        self.barred: dict[int, frozenset[int]] = {}
        for p, (members, class_banned) in enumerate(classes):
            veh = problem.vehicles[members[0]]
            cost = (dist * veh.cost_per_km) // 1000 + (
                drive[veh.profile] * veh.cost_per_hour
            ) // 3600
            if class_banned:
                cost[:, [n_dep + i for i in sorted(class_banned)]] = forbidden_cost
            np.fill_diagonal(cost, 0)
            dist_mats.append(cost)
            dur = drive[veh.profile].astype(np.int64).copy()
            np.fill_diagonal(dur, 0)
            dur_mats.append(dur)
            for k in members:
                types.setdefault(_type_key(problem.vehicles[k], p), []).append(k)
                self.barred[k] = banned[k]
        for members in types.values():
            members.sort()
        unlimited = int(demand.sum()) + 1 if demand.size else 1
        vehicle_types = []
        for key, members in types.items():
            veh = problem.vehicles[members[0]]
            caps = list(veh.capacity) if veh.capacity else [unlimited] * dims
            if count_visits:
                caps.append(veh.max_visits if veh.max_visits is not None else n_vis)
            shift = veh.shift_end - veh.shift_start
            vehicle_types.append(
                pyvrp.VehicleType(
                    num_available=len(members),
                    capacity=caps,
                    start_depot=self.depot_of[veh.start_location],
                    end_depot=self.depot_of[veh.end_location],
                    tw_early=veh.shift_start,
                    tw_late=veh.shift_end,
                    shift_duration=shift
                    - (veh.break_.duration_s if veh.break_ and self.shorten_for_lunch else 0),
                    profile=key[-1],
                )
            )
        clients = [
            pyvrp.Client(
                location=n_dep + i,
                delivery=[int(x) for x in demand[i]],
                service_duration=int(service[i]),
                tw_early=int(early[i]),
                tw_late=int(max(early[i], late[i])),
                prize=0 if i in synced else prizes[i],
                required=all_required and i not in synced,
            )
            for i in range(n_vis)
        ]
        depots = [pyvrp.Depot(location=d) for d in range(n_dep)]
        data = pyvrp.ProblemData(
            locations=[pyvrp.Location(x=0, y=0) for _ in range(len(locations))],
            clients=clients,
            depots=depots,
            vehicle_types=vehicle_types,
            distance_matrices=dist_mats,
            duration_matrices=dur_mats,
        )
        return list(types.values()), data

    def _prizes(self, dist: np.ndarray, drive: dict[str, np.ndarray]) -> list[int]:
        """Drop penalties scaled so the largest is `PRIZE_SCALE` x the costliest arc.

        The planner's penalties (10^7-10^8 cents) dwarf arc costs (10^2-10^4) by so much
        that PyVRP's penalty manager warns of the scale (`PenaltyBoundWarning`); their order
        is what matters: every prize stays far above any detour, and a job worth more stays
        worth more. (On a demo zone group the served count was about the same either way:
        261 and 265 of 291 in one 3 s run each.)
        """
        raw = [int(v.drop_penalty) for v in self.problem.visits]
        top = max(raw, default=0)
        if top == 0:
            return raw
        worst_arc = max(
            int(
                ((dist * v.cost_per_km) // 1000).max()
                + (drive[v.profile].max() * v.cost_per_hour) // 3600
            )
            for v in self.problem.vehicles
        )
        ceiling = PRIZE_SCALE * max(1, worst_arc)
        if top <= ceiling:
            return raw
        return [max(1, (p * ceiling) // top) if p else 0 for p in raw]

    def solution_of(self, routes: list[list[int]]):
        """Per-vehicle visit lists as a `pyvrp.Solution` (visits barred or synced dropped)."""
        import pyvrp

        type_of = {k: t for t, members in enumerate(self.type_members) for k in members}
        out = [
            pyvrp.Route(self.data, [i for i in route if i not in self.barred[k]], type_of[k])
            for k, route in enumerate(routes)
            if route
        ]
        return pyvrp.Solution(self.data, [r for r in out if r.num_clients()])

    def routes_of(self, solution) -> tuple[list[list[int]], int]:
        """Per vehicle of the problem, the visits in order, less those that break a rule PyVRP
        did not see (a barred crew, a window gap, a link); how many were taken off."""
        routes: list[list[int]] = [[] for _ in self.problem.vehicles]
        starts: dict[int, int] = {}
        ends: dict[int, int] = {}
        vehicle_of: dict[int, int] = {}
        used = [0] * len(self.type_members)
        for r in solution.routes():
            t = r.vehicle_type()
            k = self.type_members[t][used[t]]
            used[t] += 1
            for act in r.schedule():
                if act.is_client():
                    i = int(act.idx)
                    routes[k].append(i)
                    starts[i] = int(act.start_time)
                    ends[i] = int(act.end_time)
                    vehicle_of[i] = k
        removed = 0
        visits = self.problem.visits
        for k, route in enumerate(routes):
            # a relaxation's repairs: a crew of a merged class serving a visit it may not,
            # or a start in the gap between two of a visit's windows
            keep = [
                i
                for i in route
                if i not in self.barred[k]
                and any(a <= starts[i] <= b for a, b in visits[i].windows)
            ]
            for i in set(route) - set(keep):
                del starts[i]
                removed += 1
            routes[k] = keep
        for p in self.problem.precedences:
            a, b = p.before, p.after
            if b not in starts:
                continue
            # the OR-Tools model applies the gap on a shared crew too (conservative)
            if a not in starts or starts[b] < ends[a] + p.gap_s:
                routes[vehicle_of[b]].remove(b)
                del starts[b]
                removed += 1
        return routes, removed


def _merged_classes(
    cost_keys: list[tuple], banned: list[frozenset[int]], relax: bool = True
) -> list[tuple[list[int], frozenset[int]]]:
    """Crews grouped into at most `MAX_PROFILES` classes (more only when their travel
    profiles and costs differ that much): (members, visits barred to all of them).

    Crews with the same cost key and the same barred visits share a class; then, while
    there are too many, the two classes of one cost key whose merge changes the fewest
    crew-visit pairs are merged. A merged class is barred from the visits all its members
    are barred from (`relax`: a relaxation, the start takes a visit off a crew that may not
    serve it) or from those any member is (a restriction). Deterministic: ties go to the
    lower class indices.
    """
    combine = frozenset.intersection if relax else frozenset.union
    classes: dict[tuple, list[int]] = {}
    for k, (key, bar) in enumerate(zip(cost_keys, banned, strict=True)):
        classes.setdefault((key, bar), []).append(k)
    out = [(members, key, bar) for (key, bar), members in classes.items()]
    while len(out) > MAX_PROFILES:
        best: tuple[int, int, int] | None = None
        for a in range(len(out)):
            for b in range(a + 1, len(out)):
                if out[a][1] != out[b][1]:
                    continue
                both = combine(out[a][2], out[b][2])
                extra = len(out[a][0]) * len(both ^ out[a][2]) + len(out[b][0]) * len(
                    both ^ out[b][2]
                )
                if best is None or extra < best[0]:
                    best = (extra, a, b)
        if best is None:
            break
        _, a, b = best
        merged = (sorted(out[a][0] + out[b][0]), out[a][1], combine(out[a][2], out[b][2]))
        out = [c for n, c in enumerate(out) if n not in (a, b)] + [merged]
    return [(members, bar) for members, _, bar in out]


def _widest(windows: tuple[tuple[int, int], ...]) -> tuple[int, int]:
    """The longest of a visit's windows (the first on ties)."""
    return max(windows, key=lambda w: (w[1] - w[0], -w[0]))


def _type_key(veh: Vehicle, profile: int) -> tuple:
    """Crews that PyVRP may treat as interchangeable share a vehicle type."""
    return (
        veh.start_location,
        veh.end_location,
        veh.shift_start,
        veh.shift_end,
        veh.capacity,
        veh.max_visits,
        veh.break_.duration_s if veh.break_ else 0,
        profile,
    )
