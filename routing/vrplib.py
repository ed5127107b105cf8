"""Reader for VRPLIB-format VRPTW instances and `.sol` files, into `routing.problem` types.

The public benchmark set (Solomon, Gehring & Homberger; see ../shared/benchmarks/vrptw/README.md)
is scored under the DIMACS 2021 convention: arc distance = travel time =
`floor(10 * euclid) / 10`, objective = total distance only, fleet = the file's `VEHICLES`.

Units. `routing` works in integers, so everything here is scaled by `SCALE` = 10: one distance
unit is a tenth of an instance unit (a "decimetre" if the instance's units are metres), and one
time unit is a tenth of an instance time unit. `floor(10 * euclid)` is then an exact integer
(computed with integer square roots, no float rounding), travel time equals distance, and the
integer windows and service times of the files become integers x10. A total distance in these
units divided by 10 is the DIMACS figure the best-known solutions are stated in.

This module needs nothing beyond numpy (the `vrplib` package is not required).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routing.problem import RoutingProblem, RoutingSolution, Vehicle, Visit
from routing.schedule import build_schedules
from routing.travel import TravelModel

#: integer units per instance unit (distances and times), so floor(10 x euclid)/10 is exact
SCALE = 10
PROFILE = "euclid"


class VrplibError(ValueError):
    """A VRPLIB file that cannot be read (the message names the file and what is wrong)."""


@dataclass(frozen=True)
class VrptwInstance:
    """A VRPTW instance as the file states it (instance units; node 0 is the depot)."""

    name: str
    coords: np.ndarray  # (n+1, 2)
    demands: np.ndarray  # (n+1,), depot 0
    capacity: int
    ready: np.ndarray  # (n+1,) earliest service start; depot: horizon start
    due: np.ndarray  # (n+1,) latest service start; depot: latest return
    service: np.ndarray  # (n+1,), depot 0
    vehicles: int

    @property
    def customers(self) -> int:
        return len(self.coords) - 1

    def distances(self) -> np.ndarray:
        """All-pairs `floor(SCALE * euclid)` as int64: the DIMACS distances x 10, exactly."""
        return dimacs_distances(self.coords)


def dimacs_distances(coords: np.ndarray) -> np.ndarray:
    """floor(10 * euclidean distance) between all pairs, in integers.

    For integer coordinates this is isqrt(100 * (dx^2 + dy^2)), computed exactly: a float
    square root is corrected by one where it lands on the wrong side of a perfect square.
    """
    c = np.asarray(coords)
    if np.issubdtype(c.dtype, np.integer) or np.all(c == np.round(c)):
        ci = np.rint(c).astype(np.int64)
        d = ci[:, None, :] - ci[None, :, :]
        sq = SCALE * SCALE * (d[..., 0] ** 2 + d[..., 1] ** 2)
        r = np.floor(np.sqrt(sq.astype(np.float64))).astype(np.int64)
        r -= (r * r > sq).astype(np.int64)
        r += ((r + 1) * (r + 1) <= sq).astype(np.int64)
        return r
    d = c[:, None, :] - c[None, :, :]
    return np.floor(SCALE * np.hypot(d[..., 0], d[..., 1]) + 1e-9).astype(np.int64)


_HEADER = re.compile(r"^\s*([A-Z_]+)\s*:\s*(.*?)\s*$")


def read_instance(path: str | Path) -> VrptwInstance:  # noqa: C901 - file parser with one branch per VRPLIB section and header keyword
    """Parse a VRPLIB VRPTW file (`NODE_COORD`, `DEMAND`, `TIME_WINDOW`, optional
    `SERVICE_TIME_SECTION`, `DEPOT` sections; a scalar `SERVICE_TIME` applies to customers)."""
    path = Path(path)
    header: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current: str | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line == "EOF":
            continue
        if line.endswith("_SECTION"):
            current = line
            sections[current] = []
            continue
        m = _HEADER.match(line)
        if m and not line[0].isdigit() and not line.startswith("-"):
            header[m.group(1)] = m.group(2)
            current = None
            continue
        if current is None:
            raise VrplibError(f"{path}: unexpected line {raw!r}")
        sections[current].append(line.split())

    def section(name: str, width: int) -> np.ndarray:
        rows = sections.get(name)
        if rows is None:
            raise VrplibError(f"{path}: missing {name}")
        if any(len(r) != width for r in rows):
            raise VrplibError(f"{path}: {name} rows must have {width} fields")
        ids = [int(r[0]) for r in rows]
        if ids != list(range(1, len(rows) + 1)):
            raise VrplibError(f"{path}: {name} node ids must be 1..{len(rows)} in order")
        return np.array([[float(x) for x in r[1:]] for r in rows])

    try:
        dim = int(header["DIMENSION"])
        capacity = int(header["CAPACITY"])
    except (KeyError, ValueError) as e:
        raise VrplibError(f"{path}: DIMENSION and CAPACITY are required integers") from e
    if header.get("EDGE_WEIGHT_TYPE", "EUC_2D") != "EUC_2D":
        raise VrplibError(f"{path}: only EDGE_WEIGHT_TYPE EUC_2D is supported")
    coords = section("NODE_COORD_SECTION", 3)
    demands = section("DEMAND_SECTION", 2)[:, 0]
    tw = section("TIME_WINDOW_SECTION", 3)
    for name, arr in (("NODE_COORD", coords), ("DEMAND", demands), ("TIME_WINDOW", tw)):
        if len(arr) != dim:
            raise VrplibError(f"{path}: {name}_SECTION has {len(arr)} rows, DIMENSION {dim}")
    depots = [int(r[0]) for r in sections.get("DEPOT_SECTION", [["1"], ["-1"]])]
    if depots[:1] != [1] or [d for d in depots[1:] if d != -1]:
        raise VrplibError(f"{path}: exactly one depot, node 1, is supported")
    if "SERVICE_TIME_SECTION" in sections:
        service = section("SERVICE_TIME_SECTION", 2)[:, 0]
        if len(service) != dim:
            raise VrplibError(
                f"{path}: SERVICE_TIME_SECTION has {len(service)} rows, DIMENSION {dim}"
            )
    else:
        service = np.full(dim, float(header.get("SERVICE_TIME", 0)))
    service[0] = 0
    vehicles = int(header.get("VEHICLES", dim - 1))
    coords = coords.astype(np.int64) if np.all(coords == np.round(coords)) else coords
    return VrptwInstance(
        name=header.get("NAME", path.stem),
        coords=coords,
        demands=_integers(path, "DEMAND", demands),
        capacity=capacity,
        ready=_integers(path, "TIME_WINDOW", tw[:, 0]),
        due=_integers(path, "TIME_WINDOW", tw[:, 1]),
        service=_integers(path, "SERVICE_TIME", service),
        vehicles=vehicles,
    )


def _integers(path: Path, what: str, values: np.ndarray) -> np.ndarray:
    if not np.all(values == np.round(values)):
        raise VrplibError(f"{path}: {what} values must be integers")
    return values.astype(np.int64)


def read_solution(path: str | Path) -> tuple[list[list[int]], float | None]:
    """Routes of a `.sol` file as customer numbers 1..n (customer c is node c), and its Cost."""
    routes: list[list[int]] = []
    cost = None
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.lower().startswith("route"):
            routes.append([int(x) for x in line.split(":", 1)[1].split()])
        elif line.lower().startswith("cost"):
            cost = float(line.split()[1])
    return routes, cost


def to_problem(inst: VrptwInstance) -> RoutingProblem:
    """The instance as a `RoutingProblem` in x10 integer units (see the module docstring).

    Location 0 is the depot and location c is customer c; visit index c-1 is customer c, and
    its id is str(c). Every vehicle is identical: capacity, shift = the depot's window, and
    an arc cost equal to the distance (cost_per_km = 1000 makes cost = distance units).
    Visits carry no drop penalty here: the solver decides how strongly dropping is punished.
    """
    dist = inst.distances()
    travel = TravelModel(dist, {PROFILE: dist.copy()}, settings={"provider": "dimacs-euc2d"})
    visits = [
        Visit(
            id=str(c),
            location=c,
            service_s=int(inst.service[c]) * SCALE,
            windows=((int(inst.ready[c]) * SCALE, int(inst.due[c]) * SCALE),),
            demand=(int(inst.demands[c]),),
        )
        for c in range(1, inst.customers + 1)
    ]
    vehicles = [
        Vehicle(
            id=f"v{k + 1}",
            start_location=0,
            end_location=0,
            shift_start=int(inst.ready[0]) * SCALE,
            shift_end=int(inst.due[0]) * SCALE,
            profile=PROFILE,
            capacity=(inst.capacity,),
            cost_per_km=1000,
            cost_per_hour=0,
        )
        for k in range(inst.vehicles)
    ]
    return RoutingProblem(visits, vehicles, travel)


def routes_to_solution(problem: RoutingProblem, routes: list[list[int]]) -> RoutingSolution:
    """Customer-number routes (as in `.sol` files) timed into a solution for the validator."""
    sequences = [(k, [c - 1 for c in route]) for k, route in enumerate(routes) if route]
    timed = build_schedules(problem, sequences)
    served = {c - 1 for route in routes for c in route}
    unassigned = [i for i in range(len(problem.visits)) if i not in served]
    return RoutingSolution(timed, unassigned)


def solution_routes(solution: RoutingSolution) -> list[list[int]]:
    """The solution's non-empty routes as customer numbers 1..n (the `.sol` numbering)."""
    return [[s.visit + 1 for s in r.stops] for r in solution.routes if r.stops]


def total_distance(problem: RoutingProblem, solution: RoutingSolution) -> int:
    """Sum of arc distances over all routes, depot to depot, in x10 units."""
    d = problem.travel.distances
    total = 0
    for r in solution.routes:
        if not r.stops:
            continue
        veh = problem.vehicles[r.vehicle]
        path = [veh.start_location, *(problem.visits[s.visit].location for s in r.stops)]
        path.append(veh.end_location)
        total += int(sum(int(d[a, b]) for a, b in itertools.pairwise(path)))
    return total


def format_distance(units: int) -> str:
    """x10 integer units as the one-decimal DIMACS figure (exact, no float rounding)."""
    return f"{units // SCALE}.{units % SCALE}"


def gap_pct(distance: int, bks: float) -> float:
    """Relative gap to the best-known distance, in percent."""
    return 100.0 * (distance / SCALE - bks) / bks if bks > 0 else math.nan
