"""Decomposition of a large day: groups of neighbouring territories, solved independently.

Jobs go to the zone containing them, crews to their home zone. A zone with more than
`group_size` jobs (a 10,000-job day puts up to 1,500 in one demo zone) is cut into sectors
around its centre, each with about `group_size` jobs and a share of the zone's crews of every
kind: a sweep decomposition, so each sector is a compact wedge of the zone (its polygon is
the zone clipped to the wedge, with shapely). Small territories are then merged with
touching ones until a group has about `group_size` jobs, so the groups stay compact and each
solve stays fast: OR-Tools' first-solution construction grows faster than linearly with the
visits, and groups of ~800-1,500 jobs found no first solution at all in their share of a
10,000-job day's time. Installations travel with their delivery's group so their link can
be enforced inside one solve. A job whose territory has no crew that may do it goes to the
territory (of its own zone first) with most such crews.

A large day with fewer than two zones (no zones file) has no territories to cut: it is
partitioned automatically into compact areas of about `group_size` jobs, with crews dealt
by their start depot (`dispatch.planning.partition`). The demo day without zones, 25 s on two
cores: 3,000 jobs as one solve found no first solution, the repair passes placed 88.4 % in
105 s; six areas planned 92.0 % in 34 s (the city's 12 zones: 93.5 %).

The groups only partition the first pass. The planner's second pass then offers each
group's leftovers to the spare time of the crews of the groups whose territory touches it
(`neighbours`): that is where a crew helps the zone next door; the insertion repair after it
tries any eligible crew within reach (dispatch/planning/planner.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from dispatch.day_problem import DispatchProblem
from dispatch.models import JobKind
from dispatch.planning.partition import geographic_parts
from dispatch.zones import locate


@dataclass
class Group:
    """A first-pass solve: its jobs and crews (indices into the problem's lists)."""

    name: str
    job_indices: list[int]
    crew_indices: list[int]
    #: the union of its territories' polygons (None: the whole region, or no home zone)
    territory: BaseGeometry | None = None


def make_groups(
    problem: DispatchProblem,
    eligible: dict[str, list[int]],
    decompose_above: int,
    group_size: int,
) -> list[Group]:
    """One group for small days; otherwise groups of neighbouring territories (see above)."""
    servable = [i for i, j in enumerate(problem.jobs) if j.id in eligible]
    all_crews = list(range(len(problem.crews)))
    if len(servable) <= decompose_above:
        return [Group("all", servable, all_crews)]
    if len(problem.zones) < 2:
        return _areas_without_zones(problem, eligible, servable, group_size)
    zone_ids = [z.id for z in problem.zones]
    missing = [i for i in servable if problem.jobs[i].zone not in zone_ids]
    located = locate([problem.jobs[i].location for i in missing], problem.zones)
    zone_of = {i: problem.jobs[i].zone for i in servable}
    zone_of.update(dict(zip(missing, located, strict=True)))
    crews_in = {z: [k for k in all_crews if problem.crews[k].home_zone == z] for z in zone_ids}
    homeless = [k for k in all_crews if problem.crews[k].home_zone not in zone_ids]
    located_in: dict[str, list[int]] = {z: [] for z in zone_ids}
    for i in servable:
        zone_id = zone_of[i]
        if zone_id is not None:
            located_in[zone_id].append(i)
    # territories: whole zones, or sectors of the zones with too many jobs
    polygons: dict[str, BaseGeometry] = {}
    crews_of: dict[str, list[int]] = {}
    zone_parts: dict[str, list[str]] = {}
    part_of: dict[int, str] = {}
    for zone in problem.zones:
        parts = _split_zone(problem, zone, located_in[zone.id], crews_in[zone.id], group_size)
        zone_parts[zone.id] = [name for name, *_ in parts]
        for name, polygon, jobs, crews in parts:
            polygons[name], crews_of[name] = polygon, crews
            part_of.update(dict.fromkeys(jobs, name))
    names = list(crews_of)
    jobs_in: dict[str, list[int]] = {name: [] for name in names}
    for i in servable:
        able = set(eligible[problem.jobs[i].id])
        part = part_of.get(i)
        if part is None or not able.intersection(crews_of[part]):
            # no crew of its territory may do it: its zone's best territory, else anyone's
            zone_id = zone_of[i]
            own = zone_parts[zone_id] if zone_id is not None else []
            part = _most_able(own, crews_of, able) if own else None
            if part is None or not able.intersection(crews_of[part]):
                part = _most_able(names, crews_of, able)
        jobs_in[part].append(i)
    _keep_orders_together(problem, jobs_in)
    groups = merge_neighbours(
        problem,
        [Group(name, jobs_in[name], crews_of[name]) for name in names],
        group_size,
        polygons,
    )
    if homeless:
        groups.append(Group("no home zone", [], homeless))
    return groups


def _areas_without_zones(
    problem: DispatchProblem, eligible: dict[str, list[int]], servable: list[int], group_size: int
) -> list[Group]:
    """A day with fewer than two zones: automatic areas (`dispatch.planning.partition`).

    A job none of its area's crews may do goes to the area with most crews that may.
    """
    parts = geographic_parts(problem, servable, group_size)
    if len(parts) < 2:
        return [Group("all", servable, list(range(len(problem.crews))))]
    polygons = {name: polygon for name, polygon, _, _ in parts}
    crews_of = {name: crews for name, _, _, crews in parts}
    names = list(crews_of)
    jobs_in: dict[str, list[int]] = {name: [] for name in names}
    for name, _, jobs, crews in parts:
        for i in jobs:
            able = set(eligible[problem.jobs[i].id])
            jobs_in[name if able.intersection(crews) else _most_able(names, crews_of, able)].append(
                i
            )
    _keep_orders_together(problem, jobs_in)
    groups = [Group(name, jobs_in[name], crews_of[name]) for name in names]
    return merge_neighbours(problem, groups, group_size, polygons)


def _most_able(names: list[str], crews_of: dict[str, list[int]], able: set[int]) -> str:
    """The territory with most crews in `able` (ties: the later name)."""
    return max(names, key=lambda n: (len(able.intersection(crews_of[n])), n))


def _split_zone(
    problem: DispatchProblem, zone, jobs: list[int], crews: list[int], group_size: int
) -> list[tuple[str, Polygon, list[int], list[int]]]:
    """The zone as (name, polygon, job indices, crew indices) territories.

    A zone of up to `group_size` jobs is one territory. A larger one is cut into
    k = ceil(jobs / group_size) sectors of equal job counts by angle around the zone's
    centroid (ties by job index, so the cut is deterministic); each sector's polygon is the
    zone clipped to its wedge, and its crews are a share of the zone's crews of every kind in
    proportion to its jobs (largest remainder), dealt in crew order.
    """
    k = min(-(-len(jobs) // group_size), max(1, len(crews))) if group_size > 0 else 1
    if k <= 1:
        return [(zone.id, zone.polygon, list(jobs), list(crews))]
    centre = zone.polygon.centroid
    angle = {
        i: math.atan2(
            problem.jobs[i].location.lat - centre.y, problem.jobs[i].location.lon - centre.x
        )
        for i in jobs
    }
    ordered = sorted(jobs, key=lambda i: (angle[i], i))
    bounds = [round(len(ordered) * s / k) for s in range(k + 1)]
    chunks = [ordered[bounds[s] : bounds[s + 1]] for s in range(k)]
    # wedge boundaries half-way between neighbouring sectors' outermost jobs
    cuts = [(angle[chunks[s][-1]] + angle[chunks[s + 1][0]]) / 2 for s in range(k - 1)]
    edges = [cuts[-1] - 2 * math.pi, *cuts, cuts[0] + 2 * math.pi]
    span = zone.polygon.bounds
    radius = 2 * max(span[2] - span[0], span[3] - span[1]) + 1.0
    shares = _deal(problem, crews, [len(c) for c in chunks])
    parts = []
    for s in range(k):
        lo, hi = edges[s], edges[s + 1]
        steps = max(2, math.ceil((hi - lo) / (math.pi / 18)))
        arc = [
            (
                centre.x + radius * math.cos(lo + (hi - lo) * t / steps),
                centre.y + radius * math.sin(lo + (hi - lo) * t / steps),
            )
            for t in range(steps + 1)
        ]
        wedge = Polygon([(centre.x, centre.y), *arc])
        parts.append((f"{zone.id}/{s + 1}", zone.polygon.intersection(wedge), chunks[s], shares[s]))
    return parts


def _deal(problem: DispatchProblem, crews: list[int], sizes: list[int]) -> list[list[int]]:
    """Crews shared among sectors per kind, in proportion to the sectors' jobs."""
    out: list[list[int]] = [[] for _ in sizes]
    total = sum(sizes) or 1
    by_kind: dict[str, list[int]] = {}
    for c in crews:
        by_kind.setdefault(problem.crews[c].kind.value, []).append(c)
    for kind in sorted(by_kind):
        members = by_kind[kind]
        exact = [len(members) * n / total for n in sizes]
        counts = [math.floor(x) for x in exact]
        rest = sorted(range(len(sizes)), key=lambda s: (-(exact[s] - counts[s]), s))
        for s in rest[: len(members) - sum(counts)]:
            counts[s] += 1
        pos = 0
        for s, n in enumerate(counts):
            out[s] += members[pos : pos + n]
            pos += n
    return out


def merge_neighbours(
    problem: DispatchProblem,
    groups: list[Group],
    group_size: int,
    polygons: dict[str, BaseGeometry] | None = None,
) -> list[Group]:
    """Merge touching territories, smallest first, until each has about `group_size` jobs.

    Bigger groups let a crew help the zone next door; smaller groups search faster. Zones
    that share a border are merged first, so groups stay compact territories. `polygons`
    names each group's territory (default: the problem's zones, by id).
    """
    polygons = polygons or {z.id: z.polygon for z in problem.zones}
    parts = {g.name: [g.name] for g in groups}
    by_name = {g.name: g for g in groups}
    while True:
        small = sorted(
            (g for g in by_name.values() if len(g.job_indices) < group_size),
            key=lambda g: (len(g.job_indices), g.name),
        )
        merged = False
        for g in small:
            shape = unary_union([polygons[z] for z in parts[g.name]])
            neighbours = [
                h
                for h in by_name.values()
                if h is not g
                and len(h.job_indices) + len(g.job_indices) <= group_size
                and shape.distance(unary_union([polygons[z] for z in parts[h.name]])) < 1e-6
            ]
            if not neighbours:
                continue
            h = min(neighbours, key=lambda x: (len(x.job_indices), x.name))
            name = "+".join(sorted([g.name, h.name]))
            by_name[name] = Group(
                name, g.job_indices + h.job_indices, g.crew_indices + h.crew_indices
            )
            parts[name] = parts.pop(g.name) + parts.pop(h.name)
            del by_name[g.name], by_name[h.name]
            merged = True
            break
        if not merged:
            break
    for g in by_name.values():
        g.territory = unary_union([polygons[z] for z in parts[g.name]])
    return [
        g for g in sorted(by_name.values(), key=lambda g: g.name) if g.job_indices or g.crew_indices
    ]


def neighbours(groups: list[Group]) -> dict[str, list[str]]:
    """Per group name: the groups whose territory touches its own (a group without a
    territory, such as the crews with no home zone, neighbours every group)."""
    out: dict[str, list[str]] = {g.name: [] for g in groups}
    for a in groups:
        for b in groups:
            if a is b:
                continue
            if (
                a.territory is None
                or b.territory is None
                or a.territory.distance(b.territory) < 1e-6
            ):
                out[a.name].append(b.name)
    return out


def _keep_orders_together(problem: DispatchProblem, jobs_in: dict[str, list[int]]) -> None:
    """Installations follow their delivery's group so the link can be enforced, and the
    halves of a two-crew visit (`DispatchProblem.syncs`) follow its first half, so the pair
    is planned whole in one solve (or, left over, offered whole to the neighbours' crews)."""
    delivery_zone = {
        problem.jobs[i].order_id: z
        for z, idx in jobs_in.items()
        for i in idx
        if problem.jobs[i].kind is JobKind.DELIVERY
    }
    for z, idx in jobs_in.items():
        for i in list(idx):
            job = problem.jobs[i]
            target = delivery_zone.get(job.order_id)
            if job.kind is JobKind.INSTALLATION and target is not None and target != z:
                idx.remove(i)
                jobs_in[target].append(i)
    if not problem.syncs:
        return
    pos = {j.id: i for i, j in enumerate(problem.jobs)}
    zone_of = {i: z for z, idx in jobs_in.items() for i in idx}
    for sy in problem.syncs:  # given in order: a visit synced with two others follows one
        a, b = pos[sy.first], pos[sy.second]
        if a in zone_of and b in zone_of and zone_of[a] != zone_of[b]:
            jobs_in[zone_of[b]].remove(b)
            jobs_in[zone_of[a]].append(b)
            zone_of[b] = zone_of[a]


def time_limits(sizes: list[int], workers: int, budget: float) -> list[float]:
    """Per-group search seconds so that all workers finish within `budget`.

    Groups go largest first to the least-loaded worker (as the pool runs them); each worker's
    budget is shared among its groups in proportion to their jobs.
    """
    loads = [0] * workers
    worker_of = {}
    for k in sorted(range(len(sizes)), key=lambda k: -sizes[k]):
        w = loads.index(min(loads))
        worker_of[k] = w
        loads[w] += sizes[k] + 1
    return [max(1.0, budget * (sizes[k] + 1) / loads[worker_of[k]]) for k in range(len(sizes))]
