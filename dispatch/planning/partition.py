"""Automatic territories for a day without zones: balanced clusters of jobs, crews by depot.

A day planned without a zones file (or with one zone) has no territories to decompose by, and
one solve over every job finds no first solution in time once the day is large: an imported
1,512-job day planned 12 % in 25 s that way. `geographic_parts` cuts such a day into
k = ceil(jobs / group_size) compact areas the solver handles in time:

* **jobs**: a k-means of the job locations (in a local kilometre plane, so a degree of
  longitude is not longer than one of latitude) with a seeded k-means++ start, whose
  assignment step fills each area up to `(1 + BALANCE_SLACK)` times the mean size: jobs with
  the strongest preference for their nearest centre choose first, so the areas stay compact
  and about equal (plain k-means gives the dense city centre one huge cluster);
* **crews**: each crew kind is shared among the areas in proportion to the jobs the kind may
  do there (largest remainder), and a crew goes to the nearest area (from its start depot)
  that still needs one of its kind: pairs are taken nearest first, so the surplus of a
  well-stocked depot goes to the nearest area short of crews;
* **territories**: the Voronoi cells of the area centres, clipped to the buffered hull of the
  jobs and depots. They tile the region, so neighbouring areas touch and the planner's second
  pass lets a crew help the area next door (`decompose.neighbours`); the convex hulls of the
  areas' jobs would leave gaps between them.

Same input, same areas: the start is seeded, ties go to the lower index, and the areas are
numbered north to south. A zones file still gives better-shaped territories (along roads,
rivers and the company's own districts); this is the fallback when there is none.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from scipy.spatial.distance import cdist
from shapely.geometry.base import BaseGeometry

from dispatch.day_problem import DispatchProblem
from dispatch.models import CREW_CAN_DO, JobKind

#: an area may hold this share more than the mean: room for compactness, not for imbalance
BALANCE_SLACK = 0.1
#: k-means rounds at most, and the centre shift (km) under which a round settles them
MAX_ROUNDS = 20
SETTLED_KM = 0.01
#: seed of the k-means++ starts (fixed: same day, same areas), and how many are tried
SEED = 20260618
STARTS = 4
#: the region's hull is buffered by this many km so border jobs lie inside a territory
HULL_BUFFER_KM = 2.0
KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_AT_EQUATOR = 111.320

Part = tuple[str, BaseGeometry, list[int], list[int]]


def geographic_parts(problem: DispatchProblem, jobs: list[int], group_size: int) -> list[Part]:
    """The day's jobs and crews as (name, territory, job indices, crew indices) areas.

    An installation is clustered with its delivery (one unit of two jobs), so the planner's
    rule that it follows its delivery's group does not unbalance the areas. One area (named
    "all", no territory) when the jobs fit one group or there are no crews to share.
    """
    crews = list(range(len(problem.crews)))
    units = _order_units(problem, jobs)
    lonlat = [(problem.jobs[u[0]].location.lon, problem.jobs[u[0]].location.lat) for u in units]
    plane = _Plane(*(np.mean(lonlat, axis=0) if lonlat else (0.0, 0.0)))
    points = plane.xy(lonlat)
    distinct = len(np.unique(points, axis=0)) if units else 0
    k = min(-(-len(jobs) // group_size) if group_size > 0 else 1, len(crews), distinct)
    if k <= 1:
        return [("all", shapely.Polygon(), list(jobs), crews)]
    weights = np.array([len(u) for u in units], dtype=float)
    labels, centres = balanced_kmeans(points, weights, k)
    # areas numbered north to south, then west to east
    order = sorted(range(k), key=lambda c: (-round(centres[c, 1], 6), round(centres[c, 0], 6)))
    rank = {c: r for r, c in enumerate(order)}
    centres = centres[order]
    members: list[list[int]] = [[] for _ in range(k)]
    for unit, c in zip(units, labels, strict=True):
        members[rank[int(c)]].extend(unit)
    depot_at = {d.id: d.location for d in problem.depots}
    starts = plane.xy(
        [(depot_at[c.start_depot].lon, depot_at[c.start_depot].lat) for c in problem.crews]
    )
    shares = deal_crews(problem, [sorted(m) for m in members], centres, starts)
    depots = plane.xy([(d.location.lon, d.location.lat) for d in problem.depots])
    cells = territories(centres, np.vstack([points, depots]))
    width = len(str(k))
    return [
        (f"area {c + 1:0{width}d}", plane.to_degrees(cells[c]), sorted(members[c]), shares[c])
        for c in range(k)
    ]


def _order_units(problem: DispatchProblem, jobs: list[int]) -> list[list[int]]:
    """The jobs as clustering units, each led by the job whose location it takes: an
    installation joins its order's delivery; every other job is a unit of its own."""
    delivery_of = {
        problem.jobs[i].order_id: i for i in jobs if problem.jobs[i].kind is JobKind.DELIVERY
    }
    units: dict[int, list[int]] = {}
    for i in jobs:
        job = problem.jobs[i]
        key = delivery_of.get(job.order_id, i) if job.kind is JobKind.INSTALLATION else i
        units.setdefault(key, []).append(i)
    return [[key, *(i for i in units[key] if i != key)] for key in sorted(units)]


def balanced_kmeans(
    points: np.ndarray, weights: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Labels (0..k-1) and centres of weighted `points` in k compact clusters of about equal
    weight: of `STARTS` seeded k-means++ starts and their rounds, the clustering with the
    least weighted squared distance to its centres. (With capacities a round does not always
    improve on the one before, so the best round is kept, not the last.)"""
    cap = float(weights.sum()) / k * (1 + BALANCE_SLACK)
    rng = np.random.default_rng(SEED)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(STARTS):
        centres = _kmeans_pp(points, k, rng)
        labels = np.full(len(points), -1)
        for _ in range(MAX_ROUNDS):
            new = _assign(points, weights, centres, cap)
            if np.array_equal(new, labels):
                break
            labels = new
            before = centres.copy()
            for c in range(k):
                inside = labels == c
                if inside.any():
                    centres[c] = np.average(points[inside], axis=0, weights=weights[inside])
            cost = float((weights * ((points - centres[labels]) ** 2).sum(axis=1)).sum())
            if best is None or cost < best[0]:
                best = (cost, labels, centres.copy())
            if np.abs(centres - before).max() < SETTLED_KM:
                break
    assert best is not None  # STARTS, MAX_ROUNDS >= 1
    return best[1], best[2]


def _kmeans_pp(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ start: each next centre drawn with probability ~ squared distance."""
    chosen = [int(rng.integers(len(points)))]
    nearest = ((points - points[chosen[0]]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = float(nearest.sum())
        pick = int(rng.choice(len(points), p=nearest / total)) if total > 0 else len(chosen)
        chosen.append(pick)
        nearest = np.minimum(nearest, ((points - points[pick]) ** 2).sum(axis=1))
    return points[chosen].astype(float)


def _assign(points: np.ndarray, weights: np.ndarray, centres: np.ndarray, cap: float) -> np.ndarray:
    """Each point to its nearest centre with room (`cap` weight); the points with the
    strongest preference for their nearest centre choose first (ties: lower index). A point
    no centre has room for goes to the least loaded one."""
    dist = cdist(points, centres)
    prefs = np.argsort(dist, axis=1, kind="stable")
    ranked = np.take_along_axis(dist, prefs, axis=1)
    regret = ranked[:, 1] - ranked[:, 0]
    load = [0.0] * len(centres)
    labels = [0] * len(points)
    first, w_of = prefs[:, 0].tolist(), weights.tolist()  # plain lists: a fast Python loop
    for i in np.lexsort((np.arange(len(points)), -regret)).tolist():
        w, c = w_of[i], first[i]
        if load[c] + w > cap:
            room = [c for c in prefs[i].tolist() if load[c] + w <= cap]
            c = room[0] if room else load.index(min(load))
        labels[i] = c
        load[c] += w
    return np.array(labels)


def deal_crews(
    problem: DispatchProblem, members: list[list[int]], centres: np.ndarray, starts: np.ndarray
) -> list[list[int]]:
    """Crews shared among the areas: per kind in proportion to the jobs it may do there,
    each crew to the nearest area (from its start depot) still short of its kind."""
    out: list[list[int]] = [[] for _ in members]
    by_kind: dict[str, list[int]] = {}
    for k, crew in enumerate(problem.crews):
        by_kind.setdefault(crew.kind.value, []).append(k)
    for kind in sorted(by_kind):
        crews = by_kind[kind]
        can = CREW_CAN_DO[problem.crews[crews[0]].kind]
        weights = [sum(1 for i in m if problem.jobs[i].kind in can) for m in members]
        if not sum(weights):
            weights = [len(m) for m in members]
        quota = _largest_remainder(len(crews), weights)
        dist = cdist(starts[crews], centres)
        taken: set[int] = set()
        for flat in np.argsort(dist, axis=None, kind="stable"):
            row, area = divmod(int(flat), len(members))
            if row in taken or not quota[area]:
                continue
            taken.add(row)
            quota[area] -= 1
            out[area].append(crews[row])
    return [sorted(c) for c in out]


def _largest_remainder(total: int, weights: list[int]) -> list[int]:
    """`total` shared in proportion to `weights` (whole numbers, ties to the lower index)."""
    whole = sum(weights) or 1
    exact = [total * w / whole for w in weights]
    counts = [math.floor(x) for x in exact]
    for s in sorted(range(len(weights)), key=lambda s: (-(exact[s] - counts[s]), s))[
        : total - sum(counts)
    ]:
        counts[s] += 1
    return counts


def territories(centres: np.ndarray, points: np.ndarray) -> list[BaseGeometry]:
    """The Voronoi cell of each centre, clipped to the buffered hull of `points` (plane km)."""
    hull = shapely.convex_hull(shapely.multipoints(points)).buffer(HULL_BUFFER_KM)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(centres), extend_to=hull)
    )
    out = []
    for x, y in centres:
        at = shapely.Point(x, y)
        cell = next((c for c in cells if c.covers(at)), None)
        out.append(hull if cell is None else cell.intersection(hull))
    return out


class _Plane:
    """A local kilometre plane around (lon0, lat0): equirectangular, good for a city."""

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0, self.lat0 = lon0, lat0
        self.kx = KM_PER_DEG_LON_AT_EQUATOR * math.cos(math.radians(lat0))
        self.ky = KM_PER_DEG_LAT

    def xy(self, lonlat: list[tuple[float, float]]) -> np.ndarray:
        """(n, 2) km coordinates of (lon, lat) pairs."""
        a = np.asarray(lonlat, dtype=float).reshape(-1, 2)
        return np.column_stack([(a[:, 0] - self.lon0) * self.kx, (a[:, 1] - self.lat0) * self.ky])

    def to_degrees(self, geometry: BaseGeometry) -> BaseGeometry:
        """A plane geometry back in (lon, lat) degrees."""
        return shapely.transform(
            geometry,
            lambda c: np.column_stack(
                [c[:, 0] / self.kx + self.lon0, c[:, 1] / self.ky + self.lat0]
            ),
        )
