"""Decomposition of a large day: groups of neighbouring zones, solved independently.

Jobs go to the zone containing them, crews to their home zone; small zones are merged with
touching ones until a group has about `group_size` jobs, so the groups stay compact
territories and each solve stays fast. Installations travel with their delivery's group so
their link can be enforced inside one solve.
"""

from __future__ import annotations

from dataclasses import dataclass

from shapely.ops import unary_union

from dispatch.models import JobKind
from dispatch.problem import DispatchProblem
from dispatch.zones import locate


@dataclass
class Group:
    name: str
    job_indices: list[int]
    crew_indices: list[int]


def make_groups(
    problem: DispatchProblem,
    eligible: dict[str, list[int]],
    decompose_above: int,
    group_size: int,
) -> list[Group]:
    """One group for small days; otherwise one per zone (crews by home zone)."""
    servable = [i for i, j in enumerate(problem.jobs) if j.id in eligible]
    all_crews = list(range(len(problem.crews)))
    if len(servable) <= decompose_above or len(problem.zones) < 2:
        return [Group("all", servable, all_crews)]
    zone_ids = [z.id for z in problem.zones]
    missing = [i for i in servable if problem.jobs[i].zone not in zone_ids]
    located = locate([problem.jobs[i].location for i in missing], problem.zones)
    zone_of = {i: problem.jobs[i].zone for i in servable}
    zone_of.update(dict(zip(missing, located, strict=True)))
    crews_in = {z: [k for k in all_crews if problem.crews[k].home_zone == z] for z in zone_ids}
    homeless = [k for k in all_crews if problem.crews[k].home_zone not in zone_ids]
    jobs_in: dict[str, list[int]] = {z: [] for z in zone_ids}
    for i in servable:
        z = zone_of[i]
        job = problem.jobs[i]
        # A job whose zone has no eligible crew goes to the zone with most eligible crews.
        if z is None or not set(eligible[job.id]) & set(crews_in[z]):
            z = max(zone_ids, key=lambda zz: (len(set(eligible[job.id]) & set(crews_in[zz])), zz))
        jobs_in[z].append(i)
    _keep_orders_together(problem, jobs_in)
    groups = merge_neighbours(
        problem, [Group(z, jobs_in[z], crews_in[z]) for z in zone_ids], group_size
    )
    if homeless:
        groups.append(Group("no home zone", [], homeless))
    return groups


def merge_neighbours(problem: DispatchProblem, groups: list[Group], group_size: int) -> list[Group]:
    """Merge touching zones, smallest first, until each group has about `group_size` jobs.

    Bigger groups let a crew help the zone next door; smaller groups search faster. Zones
    that share a border are merged first, so groups stay compact territories.
    """
    polygons = {z.id: z.polygon for z in problem.zones}
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
    return [
        g for g in sorted(by_name.values(), key=lambda g: g.name) if g.job_indices or g.crew_indices
    ]


def _keep_orders_together(problem: DispatchProblem, jobs_in: dict[str, list[int]]) -> None:
    """Installations follow their delivery's group so the link can be enforced."""
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
