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
    """A VRPLIB file that cannot be read (the message names the file, the line and what is
    wrong), or routes in its numbering that do not fit the instance."""


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
#: header keywords the reader uses: each may appear once
_KEYWORDS = ("NAME", "DIMENSION", "CAPACITY", "VEHICLES", "SERVICE_TIME", "EDGE_WEIGHT_TYPE")
#: the value columns of each section after the node id, and whether they hold integers >= 0
#: (True), integers (None) or any finite numbers (False)
_COLUMNS: dict[str, tuple[tuple[str, ...], bool | None]] = {
    "NODE_COORD_SECTION": (("x", "y"), False),
    "DEMAND_SECTION": (("demand",), True),
    "TIME_WINDOW_SECTION": (("ready", "due"), None),
    "SERVICE_TIME_SECTION": (("service",), True),
}


@dataclass
class _Section:
    line: int  # line number of the `..._SECTION` keyword
    rows: list[tuple[int, list[str]]]  # (line number, fields) of each row


class _Reader:
    """One VRPLIB file split into header values and section rows, each with its line number;
    every error it raises names the file, the line and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: dict[str, tuple[int, str]] = {}
        self.sections: dict[str, _Section] = {}
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise VrplibError(f"{path}: not UTF-8 text ({exc})") from exc
        current: _Section | None = None
        for n, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line == "EOF":
                continue
            if line.endswith("_SECTION"):
                if line in self.sections:
                    raise self.error(n, f"second {line} (the first is on line {self.line(line)})")
                current = self.sections[line] = _Section(n, [])
                continue
            m = _HEADER.match(line)
            if m and not line[0].isdigit() and not line.startswith("-"):
                key = m.group(1)
                if key in _KEYWORDS and key in self.header:
                    raise self.error(n, f"second {key} (the first is on line {self.line(key)})")
                self.header[key] = (n, m.group(2))
                current = None
                continue
            if current is None:
                raise self.error(n, f"unexpected line {raw!r}")
            current.rows.append((n, line.split()))

    def line(self, name: str) -> int:
        """The line of a header keyword or section."""
        return self.sections[name].line if name in self.sections else self.header[name][0]

    def error(self, line: int | None, message: str) -> VrplibError:
        return VrplibError(f"{self.path}{'' if line is None else f', line {line}'}: {message}")

    def count(self, key: str, minimum: int, default: int | None = None) -> int:
        """An integer header value >= minimum; a missing one is `default`, or an error."""
        if key not in self.header:
            if default is None:
                raise self.error(None, f"missing {key}")
            return default
        n, text = self.header[key]
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise self.error(n, f"{key} must be an integer >= {minimum}, got {text!r}")
        return value

    def table(self, name: str, dim: int) -> tuple[np.ndarray, list[int]]:
        """The section's value columns, one row per node 1..dim in order, and their lines."""
        columns, counts = _COLUMNS[name]
        integer = counts is not False
        section = self.sections.get(name)
        if section is None:
            raise self.error(None, f"missing {name}")
        values = np.zeros((len(section.rows), len(columns)))
        for k, (n, fields) in enumerate(section.rows):
            if len(fields) != 1 + len(columns):
                raise self.error(
                    n,
                    f"{name} rows must have {1 + len(columns)} fields "
                    f"(node {' '.join(columns)}), got {len(fields)}",
                )
            if k >= dim:
                raise self.error(n, f"{name} has more rows than DIMENSION {dim}")
            if _number(fields[0]) != k + 1:
                order = f"node ids must be 1..{dim} in order: expected {k + 1}"
                raise self.error(n, f"{name} {order}, got {fields[0]!r}")
            for j, (column, text) in enumerate(zip(columns, fields[1:], strict=True)):
                value = _number(text)
                if value is None or (integer and value != round(value)):
                    kind = "an integer" if integer else "a finite number"
                    raise self.error(
                        n, f"{name} node {k + 1}: {column} must be {kind}, got {text!r}"
                    )
                if counts and value < 0:
                    raise self.error(n, f"{name} node {k + 1}: {column} must be >= 0, got {text!r}")
                values[k, j] = value
        if len(section.rows) != dim:
            raise self.error(section.line, f"{name} has {len(section.rows)} rows, DIMENSION {dim}")
        return values, [n for n, _ in section.rows]

    def service_time(self) -> float:
        """The scalar SERVICE_TIME (0 when absent): an integer >= 0."""
        if "SERVICE_TIME" not in self.header:
            return 0.0
        n, text = self.header["SERVICE_TIME"]
        value = _number(text)
        if value is None or value != round(value) or value < 0:
            raise self.error(n, f"SERVICE_TIME must be an integer >= 0, got {text!r}")
        return value

    def depot(self) -> None:
        """Exactly one depot, node 1: DEPOT_SECTION is `1`, then only `-1` terminators."""
        section = self.sections.get("DEPOT_SECTION")
        if section is None:
            return
        if not section.rows:
            raise self.error(section.line, "DEPOT_SECTION is empty: one depot, node 1, is needed")
        for k, (n, fields) in enumerate(section.rows):
            value = _number(fields[0])
            if value != (1 if k == 0 else -1):
                raise self.error(
                    n, f"DEPOT_SECTION: exactly one depot, node 1, is supported; got {fields[0]!r}"
                )


def _number(text: str) -> float | None:
    """`text` as a finite float, or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_instance(path: str | Path) -> VrptwInstance:
    """Parse a VRPLIB VRPTW file (`NODE_COORD`, `DEMAND`, `TIME_WINDOW`, optional
    `SERVICE_TIME_SECTION`, `DEPOT` sections; a scalar `SERVICE_TIME` applies to customers).

    A file that cannot be read raises `VrplibError` naming the file, the line and the field:
    a missing or non-integer DIMENSION / CAPACITY / VEHICLES, an unsupported
    EDGE_WEIGHT_TYPE, a stray line, a keyword or section given twice, a missing section, a
    row of the wrong width or out of node order, a value that is not a number (an integer
    for demands, windows and service times), a row count other than DIMENSION, a negative
    demand or service time, a window that ends before it starts, a depot other than node 1.
    """
    r = _Reader(Path(path))
    dim = r.count("DIMENSION", minimum=1)
    capacity = r.count("CAPACITY", minimum=0)
    vehicles = r.count("VEHICLES", minimum=0, default=dim - 1)
    if "EDGE_WEIGHT_TYPE" in r.header and r.header["EDGE_WEIGHT_TYPE"][1] != "EUC_2D":
        n, text = r.header["EDGE_WEIGHT_TYPE"]
        raise r.error(n, f"only EDGE_WEIGHT_TYPE EUC_2D is supported, got {text!r}")
    coords, _ = r.table("NODE_COORD_SECTION", dim)
    demands = r.table("DEMAND_SECTION", dim)[0][:, 0]
    tw, tw_lines = r.table("TIME_WINDOW_SECTION", dim)
    for k in np.flatnonzero(tw[:, 1] < tw[:, 0]):
        ends = f"due {tw[k, 1]:g} is before ready {tw[k, 0]:g}"
        raise r.error(tw_lines[k], f"TIME_WINDOW_SECTION node {k + 1}: {ends}")
    r.depot()
    if "SERVICE_TIME_SECTION" in r.sections:
        service = r.table("SERVICE_TIME_SECTION", dim)[0][:, 0]
    else:
        service = np.full(dim, r.service_time())
    service[0] = 0
    coords = coords.astype(np.int64) if np.all(coords == np.round(coords)) else coords
    return VrptwInstance(
        name=r.header["NAME"][1] if "NAME" in r.header else r.path.stem,
        coords=coords,
        demands=demands.astype(np.int64),
        capacity=capacity,
        ready=tw[:, 0].astype(np.int64),
        due=tw[:, 1].astype(np.int64),
        service=service.astype(np.int64),
        vehicles=vehicles,
    )


def read_solution(
    path: str | Path, customers: int | None = None
) -> tuple[list[list[int]], float | None]:
    """Routes of a `.sol` file as customer numbers 1..n (customer c is node c), and its Cost.

    `Route #k: c1 c2 ...` lines give the routes, `Cost x` the cost; other lines are ignored.
    A `VrplibError` naming the file and the line is raised for a customer that is not an
    integer, below 1 or (when `customers` is given) above it, a customer on two routes, a
    Cost that is not a number or given twice, and a file without any Route line.
    """
    path = Path(path)
    routes: list[list[int]] = []
    cost: float | None = None
    cost_line = 0
    served: dict[int, int] = {}  # customer -> line of its route
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        where = f"{path}, line {n}"
        if line.lower().startswith("route"):
            name, colon, body = line.partition(":")
            if not colon:
                raise VrplibError(f"{where}: {name!r} has no ':' before its customers")
            route = []
            for text in body.split():
                try:
                    c = int(text)
                except ValueError:
                    raise VrplibError(
                        f"{where}: {name}: customer {text!r} is not an integer"
                    ) from None
                if c < 1 or (customers is not None and c > customers):
                    known = f"1..{'n' if customers is None else customers}"
                    raise VrplibError(f"{where}: {name}: unknown customer {c} (not in {known})")
                if c in served:
                    raise VrplibError(
                        f"{where}: {name}: customer {c} is already on the route of line {served[c]}"
                    )
                served[c] = n
                route.append(c)
            routes.append(route)
        elif line.lower().startswith("cost"):
            text = line[4:].strip().removeprefix(":").strip()
            if cost is not None:
                raise VrplibError(f"{where}: second Cost (the first is on line {cost_line})")
            cost = _number(text)
            if cost is None:
                raise VrplibError(f"{where}: Cost must be a number, got {text!r}")
            cost_line = n
    if not routes:
        raise VrplibError(f"{path}: no 'Route' lines")
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
    """Customer-number routes (as in `.sol` files) timed into a solution for the validator.

    Route k is driven by vehicle k; a customer outside 1..n, a customer on two routes or a
    non-empty route past the fleet raises `VrplibError` naming the route.
    """
    n = len(problem.visits)
    seen: set[int] = set()
    for k, route in enumerate(routes):
        if route and k >= len(problem.vehicles):
            raise VrplibError(f"route {k + 1}: the fleet has only {len(problem.vehicles)} vehicles")
        for c in route:
            if not 1 <= c <= n:
                raise VrplibError(f"route {k + 1}: unknown customer {c} (not in 1..{n})")
            if c in seen:
                raise VrplibError(f"route {k + 1}: customer {c} is on an earlier route")
            seen.add(c)
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
