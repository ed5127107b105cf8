"""The planner: a day's jobs and crews in, a validated plan out.

Steps: derive promise deadlines; screen out jobs that cannot be served (with reasons); split
large days by zone (jobs by territory, crews by home zone) and solve the zones in parallel
processes; time the routes; translate back; run the independent validator, and refuse to
return a plan that fails it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

from dispatch.feasibility import screen
from dispatch.models import JobKind
from dispatch.plan import CrewRoute, Plan, PlannedBreak, PlannedStop, Unassigned, UnassignedReason
from dispatch.problem import DispatchProblem
from dispatch.translate import Translation, build_travel, translate
from dispatch.validation import PlanInvalid, validate_plan
from dispatch.zones import locate
from routing.ortools_model import Progress, SolveParams, solve
from routing.problem import RoutingSolution
from routing.travel import TravelModel


@dataclass
class PlanOptions:
    """How hard and how the planner searches."""

    time_limit_s: float = 30.0
    #: stop each zone's search after this many improving solutions (reproducible runs)
    solution_limit: int | None = None
    #: days with more jobs than this are split by zone
    decompose_above: int = 350
    workers: int = 0  # 0: one per CPU core
    progress: Callable[[str, float], None] | None = None  # (message, fraction done)


@dataclass
class _Group:
    name: str
    job_indices: list[int]
    crew_indices: list[int]


def make_plan(problem: DispatchProblem, options: PlanOptions | None = None) -> Plan:
    """Plan the day. Raises `PlanInvalid` rather than return a plan that breaks a hard rule."""
    options = options or PlanOptions()
    started = time.monotonic()
    report = options.progress or (lambda _m, _f: None)
    report("building travel matrices", 0.0)
    travel = build_travel(problem)
    deadlines = {j.id: problem.promises.deadline(j) for j in problem.jobs}
    screening = screen(problem, travel)
    groups = _groups(problem, screening.eligible, options)
    report(f"solving {len(screening.eligible)} jobs in {len(groups)} group(s)", 0.05)
    solutions = _solve_groups(
        problem, travel, deadlines, screening.eligible, groups, options, report
    )
    plan = _to_plan(problem, deadlines, solutions, screening.unassigned)
    plan.stats["wall_s"] = round(time.monotonic() - started, 2)
    plan.stats["groups"] = len(groups)
    report("validating", 0.98)
    violations = validate_plan(plan, travel)
    if violations:
        raise PlanInvalid(violations)
    report("done", 1.0)
    return plan


def _groups(
    problem: DispatchProblem, eligible: dict[str, list[int]], options: PlanOptions
) -> list[_Group]:
    """One group for small days; otherwise one per zone (crews by home zone)."""
    servable = [i for i, j in enumerate(problem.jobs) if j.id in eligible]
    all_crews = list(range(len(problem.crews)))
    if len(servable) <= options.decompose_above or len(problem.zones) < 2:
        return [_Group("all", servable, all_crews)]
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
    groups = [_Group(z, jobs_in[z], crews_in[z]) for z in zone_ids if jobs_in[z] or crews_in[z]]
    if homeless:
        groups.append(_Group("no home zone", [], homeless))
    return groups


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


def _solve_one(translation: Translation, params: SolveParams) -> RoutingSolution:
    return solve(translation.routing, params)


def _solve_groups(problem, travel: TravelModel, deadlines, eligible, groups, options, report):
    total = sum(len(g.job_indices) for g in groups) or 1
    workers = options.workers or os.cpu_count() or 1
    workers = max(1, min(workers, len(groups)))
    translations = [
        translate(problem, travel, deadlines, g.job_indices, g.crew_indices, eligible)
        for g in groups
    ]
    params = []
    for g in groups:
        share = len(g.job_indices) / total
        limit = max(1.0, min(options.time_limit_s, options.time_limit_s * share * workers * 0.9))
        params.append(SolveParams(time_limit_s=limit, solution_limit=options.solution_limit))
    if workers == 1 or len(groups) == 1:
        results = []
        done = 0
        for g, t, p in zip(groups, translations, params, strict=True):
            if len(groups) == 1:
                p.progress = lambda pr: report(
                    f"{pr.solutions} solutions, cost {pr.objective}, {pr.unassigned} unassigned",
                    min(0.95, 0.05 + 0.9 * pr.elapsed_s / options.time_limit_s),
                )
            results.append(_solve_one(t, p))
            done += len(g.job_indices)
            report(f"zone {g.name} solved", 0.05 + 0.9 * done / total)
        return list(zip(translations, results, strict=True))
    # Largest groups first so the two cores finish together.
    order = sorted(range(len(groups)), key=lambda k: -len(groups[k].job_indices))
    results: dict[int, RoutingSolution] = {}
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = {k: pool.submit(_solve_one, translations[k], params[k]) for k in order}
        done = 0
        for k in order:
            results[k] = futures[k].result()
            done += len(groups[k].job_indices)
            report(f"zone {groups[k].name} solved", 0.05 + 0.9 * done / total)
    return [(translations[k], results[k]) for k in range(len(groups))]


def _to_plan(problem, deadlines, solutions, pre_unassigned: list[Unassigned]) -> Plan:
    routes: list[CrewRoute] = []
    stats = {"objective": 0, "solutions": 0}
    for tr, sol in solutions:
        stats["objective"] += sol.objective
        stats["solutions"] += sol.stats.get("solutions", 0)
        routes.extend(_crew_route(problem, deadlines, tr, r) for r in sol.routes)
    by_id = problem.jobs_by_id()
    planned = {s.job_id for r in routes for s in r.stops}
    ordered = {j.order_id for j in problem.jobs if j.kind is JobKind.DELIVERY}
    delivered = {by_id[j].order_id for j in planned if by_id[j].kind is JobKind.DELIVERY}
    unassigned = list(pre_unassigned)
    for tr, sol in solutions:
        for v in sol.unassigned:
            job = by_id[tr.job_ids[v]]
            if job.kind is JobKind.INSTALLATION and job.order_id in ordered - delivered:
                unassigned.append(
                    Unassigned(
                        job.id,
                        UnassignedReason.LINKED_JOB_UNASSIGNED,
                        f"the delivery of order {job.order_id} is not planned",
                    )
                )
            else:
                unassigned.append(
                    Unassigned(
                        job.id,
                        UnassignedReason.NO_CAPACITY_LEFT,
                        "eligible crews' days are full at this job's windows",
                    )
                )
    routes.sort(key=lambda r: r.crew_id)
    return Plan(problem, routes, unassigned, stats)


def _crew_route(problem, deadlines, tr: Translation, r) -> CrewRoute:
    veh = tr.routing.vehicles[r.vehicle]
    stops = [
        PlannedStop(
            tr.job_ids[s.visit],
            problem.from_seconds(s.arrival),
            problem.from_seconds(s.start),
            problem.from_seconds(s.end),
            deadlines[tr.job_ids[s.visit]],
        )
        for s in r.stops
    ]
    lunch = None
    if r.break_ is not None and veh.break_ is not None:
        lunch = PlannedBreak(
            problem.from_seconds(r.break_.start),
            veh.break_.duration_s // 60,
            r.break_.after_stop,
            r.break_.before_travel,
        )
    dist, drive = _route_totals(tr, r)
    return CrewRoute(
        tr.crew_ids[r.vehicle],
        problem.from_seconds(r.depart),
        problem.from_seconds(r.return_arrival),
        stops,
        lunch,
        dist,
        drive,
    )


def _route_totals(tr: Translation, route) -> tuple[int, int]:
    """Distance (m) and driving time (s) of a timed route, with the real travel times."""
    veh = tr.routing.vehicles[route.vehicle]
    travel = tr.routing.travel
    locs = (
        [veh.start_location]
        + [tr.routing.visits[s.visit].location for s in route.stops]
        + [veh.end_location]
    )
    departs = [route.depart] + [s.end for s in route.stops]
    if route.break_ is not None and route.break_.before_travel:
        k = route.break_.after_stop + 1
        departs[k] = max(departs[k], route.break_.start) + (
            veh.break_.duration_s if veh.break_ else 0
        )
    dist = sum(int(travel.distances[a, b]) for a, b in zip(locs, locs[1:], strict=False))
    drive = sum(
        travel.travel_time(veh.profile, a, b, t)
        for a, b, t in zip(locs, locs[1:], departs, strict=False)
    )
    return dist, drive


__all__ = ["PlanOptions", "Progress", "make_plan"]
