"""The planner: a day's jobs and crews in, a validated plan out.

1. derive promise deadlines and screen out jobs that cannot be served (with reasons);
2. split large days into groups of neighbouring territories (`dispatch.planning.decompose`:
   zones, and sectors of zones too big for one solve; automatic areas on a day without zones)
   and solve them in parallel: local processes by default, or the workers of a
   `dispatch.planning.cluster.Cluster` (a local Dask cluster or a running Dask scheduler, so
   a region larger than one machine still plans);
3. rebalance across territories: the jobs no group could fit are offered to every eligible
   crew for the rest of its day (idle crews from their depot, busy ones from their last
   stop), so a crew with spare time helps the zone next door; then an insertion repair tries
   the remaining ones between the stops of any eligible crew within reach;
4. time all routes together on the whole problem; a last pass (`dispatch.planning.leftovers`)
   offers every job still unassigned to every eligible crew, idle ones anywhere included, and
   gives each that fits nowhere the reason that binds for the closest crew; translate back,
   and run the independent validator: a plan that fails it is never returned
   (`PlanInvalid`). A group whose solve found no first solution in its time is named in
   `Plan.warnings` (its jobs that the later passes could not place are unassigned
   `not_solved_in_time`); `dispatch plan` exits 3.

Two-crew visits (an assisted job and its assisting job, `Job.assists`; `DispatchProblem.syncs`)
are kept whole by every step: the screening lists both halves unassigned when one cannot be
planned or no two crews may do them (`assist_pair_unplanned`); the decomposition puts both in
one group; each solve prices "both or neither" (`routing.ortools_model._add_syncs`) and the
second pass offers a group's left-over pair to its neighbours' crews together; the insertion
repair leaves pairs alone; the last pass places a pair whole on two crews (one half, then the
other beside it, or neither: `dispatch.planning.leftovers`); the timing step takes off any half
left alone. The validator refuses half a pair, both halves on one crew, or starts too far
apart.

On a cluster only the group solves travel: each task is one group's routing problem (its
own dense sub-matrices, a few MB), so the main process needs the whole day's jobs and crews
but never all-pairs matrices, and the solver memory is spread over the workers. Results come
back in submission order, so with a solution limit a cluster plan equals a serial one.

Memory and time at 10,000 jobs: with the "haversine" travel provider the whole-day travel
model is lazy (`routing.lazy_travel`): each group's solve gets dense sub-matrices of its own
locations only, and the whole-day steps (second pass, insertion, timing, validation) read
single legs and short rows, never all pairs. The up-front screening is vectorised
(`dispatch.planning.feasibility`). Road-network providers keep their dense matrices.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing import get_all_start_methods, get_context

from dispatch.day_problem import DispatchProblem
from dispatch.models import JobKind
from dispatch.plan import Plan, UnassignedReason
from dispatch.plan_validator import PlanInvalid, validate_plan
from dispatch.planning.assemble import DaySequences, time_day, to_plan
from dispatch.planning.cluster import Cluster
from dispatch.planning.decompose import Group, make_groups, neighbours, time_limits
from dispatch.planning.feasibility import screen
from dispatch.planning.insertion import insert_leftovers
from dispatch.planning.leftovers import settle_leftovers
from dispatch.planning.linked_modes import mode_stats
from dispatch.planning.routed_day import RoutedDay, routed_day
from dispatch.translate import Continuation, Translation, build_travel, job_demand
from routing.ortools_model import Progress, SolveParams, solve, solve_best_of
from routing.problem import RouteSchedule, RoutingSolution
from routing.pyvrp_start import pyvrp_start

#: share of the time limit for the zone solves; the rest goes to the cross-zone pass
FIRST_PASS_SHARE = 0.8
#: the least search time one neighbour-pass solve gets (see `_rebalance`)
MIN_PASS_S = 0.25


@dataclass
class PlanOptions:
    """How long and how the planner searches."""

    time_limit_s: float = 30.0
    #: stop each solve after this many improving solutions (reproducible runs)
    solution_limit: int | None = None
    #: days with more jobs than this are split by zone
    decompose_above: int = 350
    #: zones are merged with neighbours up to about this many jobs per solve
    group_size: int = 500
    workers: int = 0  # 0: one per CPU core
    #: first-solution strategies tried per solve, sharing its time, best plan kept: on the
    #: 1,500-job demo day the pair planned 98.6 % in a run where PCI alone gave 97.7-98.0 %
    constructions: tuple[str, ...] = ("parallel_cheapest_insertion", "local_cheapest_insertion")
    progress: Callable[[str, float], None] | None = None  # (message, fraction done)
    #: where the group solves run: None (default) is a pool of `workers` local processes;
    #: a `Cluster` runs them serially, on a local Dask cluster or on a Dask scheduler
    cluster: Cluster | None = None
    #: "pyvrp": each group solve starts from PyVRP's routes on its relaxed problem
    #: (`routing.pyvrp_start`) for `start_share` of its time, then OR-Tools' guided local
    #: search repairs and improves them under the full model. "" (default): OR-Tools' own
    #: `constructions`. On the demo day the start planned less (97.1 % against 98.9 %, at
    #: 7,649 against 7,534 km, `--time-limit 50`): the relaxed problem serves about 10 %
    #: fewer of a zone group's jobs than OR-Tools does (docs/routing.md, "A PyVRP start")
    start: str = ""
    start_share: float = 0.5
    #: with a `solution_limit` (reproducible runs) the start stops after this many
    #: iterations instead of at its clock, which is then only a ceiling
    start_iterations: int = 2000

    def __post_init__(self) -> None:
        if self.time_limit_s <= 0:
            raise ValueError(f"time_limit_s must be > 0, got {self.time_limit_s}")


def make_plan(problem: DispatchProblem, options: PlanOptions | None = None) -> Plan:
    """Plan the day. Raises `PlanInvalid` rather than return a plan that breaks a hard rule."""
    options = options or PlanOptions()
    started = time.monotonic()
    report = forward_only(options.progress or (lambda _m, _f: None))
    report("building travel matrices", 0.0)
    travel = build_travel(problem, lazy=True)
    screening = screen(problem, travel)
    # the whole day, each job allowed the crews the screening found (none if screened out)
    allowed = {j.id: screening.eligible.get(j.id, []) for j in problem.jobs}
    routed = routed_day(problem, travel, allowed=allowed)
    job_pos, crew_pos = routed.job_pos, routed.crew_pos
    groups = make_groups(problem, screening.eligible, options.decompose_above, options.group_size)
    report(f"solving {len(screening.eligible)} jobs in {len(groups)} group(s)", 0.05)
    budget = options.time_limit_s * (FIRST_PASS_SHARE if len(groups) > 1 else 1.0)
    limits = time_limits([len(g.job_indices) for g in groups], _workers(groups, options), budget)
    solutions = _solve_groups(routed, screening.eligible, groups, limits, budget, options, report)
    day = DaySequences()
    for tr, sol in solutions:
        day.add(tr, sol, job_pos, crew_pos)
    left = [job_pos[j] for j in screening.eligible if job_pos[j] not in day.planned()]
    first_pass_s = round(time.monotonic() - started, 2)
    first_pass_left = len(left)
    rebalanced = 0
    if len(groups) > 1 and left:
        report(f"second pass: {len(left)} jobs offered to neighbouring crews' spare time", 0.85)
        rebalanced = _rebalance(routed, screening.eligible, day, groups, left, options)
    left = [job_pos[j] for j in screening.eligible if job_pos[j] not in day.planned()]
    inserted: list[int] = []
    phases = {"search_s": round(time.monotonic() - started, 2)}
    if left:
        report(f"inserting {len(left)} left-over jobs into routes where they fit", 0.92)
        eligible_crews = {job_pos[j]: ks for j, ks in screening.eligible.items()}
        inserted = insert_leftovers(routed.full, day, left, eligible_crews)
    phases["insertion_s"] = round(time.monotonic() - started - phases["search_s"], 2)
    report("timing all routes", 0.95)
    routes, drops = time_day(routed, day)
    report("offering every left-over job to every eligible crew", 0.96)
    settled = settle_leftovers(routed, routes, drops, screening.eligible)
    routes, drops = settled.routes, settled.drops
    phases["last_pass_s"] = round(time.monotonic() - started - sum(phases.values()), 2)
    failed = [
        (g, tr, limit)
        for g, (tr, sol), limit in zip(groups, solutions, limits, strict=True)
        if g.job_indices and sol.stats.get("solutions", 0) == 0 and not sol.routes
    ]
    unsolved = {
        job_id: f"no solution for {g.name} within {limit:.0f} s: give the planner more time"
        for g, tr, limit in failed
        for job_id in tr.job_ids
    }
    plan = to_plan(routed, routes, drops, screening.unassigned, unsolved, settled.reasons)
    plan.warnings += unsolved_warnings(plan, failed)
    plan.stats.update(
        wall_s=round(time.monotonic() - started, 2),
        groups=len(groups),
        solutions=sum(s.stats.get("solutions", 0) for _, s in solutions),
        unsolved_groups=len(failed),
        unsolved_jobs=sum(len(g.job_indices) for g, _, _ in failed),
        first_pass_s=first_pass_s,
        left_after_first_pass=first_pass_left,
        rebalanced=rebalanced,
        inserted_by_repair=len(inserted),
        placed_by_last_pass=len(settled.placed),
        last_pass_trials=settled.evaluations,
    )
    plan.stats.update(mode_stats(plan, travel))  # one visit or two per linked order
    report("validating", 0.98)
    before_validation = time.monotonic()
    violations = validate_plan(plan, travel)
    plan.stats["validation_s"] = round(time.monotonic() - before_validation, 2)
    plan.stats.update(phases)
    if violations:
        raise PlanInvalid(violations)
    report("done", 1.0)
    return plan


def unsolved_warnings(plan: Plan, failed: list[tuple[Group, Translation, float]]) -> list[str]:
    """One loud sentence per group whose solve found no first solution in its time: the
    group, its jobs, its seconds, and how many of its jobs the later passes could not place
    (they are unassigned with reason `not_solved_in_time`). Such a plan is much worse than
    the time asked for could give, and nothing else in it says so."""
    left = {u.job_id for u in plan.unassigned if u.reason is UnassignedReason.NOT_SOLVED_IN_TIME}
    return [
        f"group {g.name!r} ({len(g.job_indices)} jobs) found no first solution in its "
        f"{limit:.0f} s of search: {sum(1 for j in tr.job_ids if j in left)} of its jobs are "
        "unassigned (not_solved_in_time); give the planner more time or split the day "
        "into zones"
        for g, tr, limit in failed
    ]


def _workers(groups: list[Group], options: PlanOptions) -> int:
    """How many group solves run at once: the cluster's workers, else `options.workers`
    (0: one per CPU core), never more than the groups."""
    cluster = options.cluster
    slots = (cluster.worker_count() if cluster.mode != "serial" else 1) if cluster else 0
    return max(1, min(slots or options.workers or os.cpu_count() or 1, len(groups)))


def forward_only(report: Callable[[str, float], None]) -> Callable[[str, float], None]:
    """`report`, with each fraction raised to the highest one reported before: the phases'
    own estimates (a solve's share of its time, groups done) may disagree at their seams,
    and a progress bar that goes backwards tells a user the work is being undone."""
    highest = 0.0

    def forward(message: str, fraction: float) -> None:
        nonlocal highest
        highest = max(highest, fraction)
        report(message, highest)

    return forward


@dataclass(frozen=True)
class GroupSearch:
    """How one group is searched (`PlanOptions`' fields, in a form that pickles small)."""

    constructions: tuple[str, ...] = ()
    start: str = ""
    start_share: float = 0.5
    start_iterations: int = 2000

    @classmethod
    def of(cls, options: PlanOptions) -> GroupSearch:
        return cls(
            options.constructions, options.start, options.start_share, options.start_iterations
        )


def solve_group(
    translation: Translation, params: SolveParams, search: GroupSearch
) -> RoutingSolution:
    """One group's solve: from PyVRP's routes when `search.start` says so, else from
    OR-Tools' own constructions (best of several when more than one)."""
    if search.start == "pyvrp" and translation.routing.visits:
        return _solve_from_start(translation, params, search)
    if len(search.constructions) > 1:
        return solve_best_of(translation.routing, params, search.constructions)
    if search.constructions:
        params.first_solution = search.constructions[0]
    return solve(translation.routing, params)


def _solve_from_start(
    translation: Translation, params: SolveParams, search: GroupSearch
) -> RoutingSolution:
    started = time.monotonic()
    reproducible = bool(params.solution_limit)
    start = pyvrp_start(
        translation.routing,
        # a reproducible run stops the start by iterations; its clock is only a ceiling
        params.time_limit_s * (1.0 if reproducible else search.start_share),
        max_iterations=search.start_iterations if reproducible else None,
    )
    start_s = time.monotonic() - started
    left = params.time_limit_s if reproducible else max(0.5, params.time_limit_s - start_s)
    rest = replace(
        params,
        time_limit_s=left,
        initial_routes=start.routes if start is not None else None,
        first_solution=search.constructions[0] if search.constructions else "auto",
    )
    sol = solve(translation.routing, rest)
    sol.stats["start_s"] = round(start_s, 3)
    sol.stats["start_served"] = start.served if start is not None else 0
    return sol


def _solve_groups(
    routed: RoutedDay,
    eligible: dict[str, list[int]],
    groups: list[Group],
    limits: list[float],
    budget: float,
    options: PlanOptions,
    report: Callable[[str, float], None],
) -> list[tuple[Translation, RoutingSolution]]:
    """Solve each group in its `limits` seconds: serially, in a pool of local processes, or
    on `options.cluster`."""
    total = sum(len(g.job_indices) for g in groups) or 1
    cluster = options.cluster
    workers = _workers(groups, options)
    translations = [routed.part(g.job_indices, g.crew_indices, eligible) for g in groups]
    search = GroupSearch.of(options)
    params = [
        SolveParams(time_limit_s=limit, solution_limit=options.solution_limit) for limit in limits
    ]
    # Largest groups first, so the last to finish are small ones.
    order = sorted(range(len(groups)), key=lambda k: -len(groups[k].job_indices))
    done = 0

    def solved(k: int) -> None:
        nonlocal done
        done += len(groups[k].job_indices)
        report(f"zone {groups[k].name} solved", 0.05 + 0.8 * done / total)

    if cluster is not None and len(groups) > 1:
        tasks = [(translations[k], params[k], search) for k in order]
        out = cluster.map(solve_group, tasks, on_done=lambda n, _r: solved(order[n]))
        results: dict[int, RoutingSolution] = dict(zip(order, out, strict=True))
        return [(translations[k], results[k]) for k in range(len(groups))]
    if workers == 1:
        results_list = []
        for k, (t, p) in enumerate(zip(translations, params, strict=True)):
            if len(groups) == 1:
                p.progress = lambda pr: report(
                    f"{pr.solutions} solutions, cost {pr.objective}, {pr.unassigned} unassigned",
                    min(0.85, 0.05 + 0.8 * pr.elapsed_s / budget),
                )
            results_list.append(solve_group(t, p, search))
            solved(k)
        return list(zip(translations, results_list, strict=True))
    # fork where the platform has it: callers' scripts need no __main__ guard, and the parent
    # has started no solver threads; spawn elsewhere.
    method = "fork" if "fork" in get_all_start_methods() else "spawn"
    results = {}
    with ProcessPoolExecutor(workers, mp_context=get_context(method)) as pool:
        futures = {k: pool.submit(solve_group, translations[k], params[k], search) for k in order}
        for k in order:
            results[k] = futures[k].result()
            solved(k)
    return [(translations[k], results[k]) for k in range(len(groups))]


def _rebalance(
    routed: RoutedDay,
    eligible: dict[str, list[int]],
    day: DaySequences,
    groups: list[Group],
    left: list[int],
    options: PlanOptions,
) -> int:
    """The second pass: offer the jobs the groups left over to neighbouring crews' spare time.

    The leftovers of each group are offered to the remaining day of every eligible crew of
    that group and of the groups whose territory touches it (`decompose.neighbours`): a crew
    with spare time helps the zone next door. When every group touches every other (the
    1,500-job day: four groups) that is one solve over all leftovers and all crews. Otherwise
    one small solve per group, most leftovers first, each on the crews' days as the previous
    solves left them; the time for this pass is shared in proportion to the leftovers, each
    solve getting at least `MIN_PASS_S`. (A floor of one second each made a 4,000-job day of
    19 groups spend 21 s here for about 140 jobs; with a quarter second it spends about 7 s
    and places about 115: these small solves find their first solution in well under that.)
    Returns how many jobs it placed.
    """
    near = neighbours(groups)
    budget = neighbour_pass_budget(options.time_limit_s)
    if all(len(near[g.name]) == len(groups) - 1 for g in groups):
        passes: list[tuple[list[int], set[int] | None]] = [(left, None)]
    else:
        group_of = {i: g.name for g in groups for i in g.job_indices}
        crews_of = {g.name: g.crew_indices for g in groups}
        left_in: dict[str, list[int]] = {}
        for i in left:
            left_in.setdefault(group_of[i], []).append(i)
        passes = [
            (left_in[n], {k for m in (n, *near[n]) for k in crews_of[m]})
            for n in sorted(left_in, key=lambda n: (-len(left_in[n]), n))
        ]
    timed = routed.time({k: v for k, v in day.jobs.items() if v}, day.breaks)
    routes = {r.vehicle: r for r in timed}
    placed = 0
    for jobs, crews in passes:
        # With a solution limit (reproducible runs) the clock is only a ceiling: a pass cut
        # by a one-second share on a busy machine would make the plan depend on the load.
        share = 1.0 if options.solution_limit else len(jobs) / len(left)
        limit = max(MIN_PASS_S, budget * share)
        tr, sol = _second_pass(routed, eligible, routes, jobs, crews, limit, options)
        day.add(tr, sol, routed.job_pos, routed.crew_pos)
        changed = sorted({routed.crew_pos[tr.crew_ids[r.vehicle]] for r in sol.routes if r.stops})
        placed += sum(len(r.stops) for r in sol.routes)
        if changed and len(passes) > 1:  # re-time the crews that took jobs, for the next pass
            fixed = {
                s.visit: (s.end, k) for k, r in routes.items() if k not in changed for s in r.stops
            }
            for r in routed.time({k: day.jobs[k] for k in changed}, day.breaks, fixed):
                routes[r.vehicle] = r
    return placed


def neighbour_pass_budget(time_limit_s: float) -> float:
    """Seconds for the whole neighbour pass: the time limit's share left after the zone
    solves, at least one second."""
    return max(1.0, time_limit_s * (1 - FIRST_PASS_SHARE))


def _second_pass(
    routed: RoutedDay,
    eligible: dict[str, list[int]],
    routes: dict[int, RouteSchedule],
    left: list[int],
    allowed: set[int] | None,
    limit: float,
    options: PlanOptions,
) -> tuple[Translation, RoutingSolution]:
    """Offer `left` to the remaining day of the eligible crews (of `allowed`, None: all).

    `routes` are the timed routes so far (by crew index). An installation whose delivery is
    already on a route keeps the link through a "not before the delivery's end + gap" bound
    on its windows, and a "not after its end + the maximum gap" one when its order has a
    maximum gap (`link_bounds`).
    """
    problem, full = routed.problem, routed.full
    delivery_end = {}
    delivery_at: dict[str, tuple[int, bool]] = {}  # order -> (crew, delivery is its last stop)
    continuations: dict[int, Continuation] = {}
    for k, r in routes.items():
        if not r.stops:
            continue
        last = r.stops[-1]
        free_at = last.end
        if r.break_ is not None and r.break_.after_stop == len(r.stops) - 1:
            vehicle_break = full.routing.vehicles[k].break_
            assert vehicle_break is not None  # a route takes only its vehicle's break
            free_at = max(free_at, r.break_.start) + vehicle_break.duration_s
        load = [0, 0]
        for s in r.stops:
            job = problem.jobs[s.visit]
            d = job_demand(job)
            load[0] += d[0]
            load[1] += d[1]
            if job.kind is JobKind.DELIVERY:
                delivery_end[job.order_id] = s.end
                delivery_at[job.order_id] = (k, s is r.stops[-1])
        continuations[k] = Continuation(
            location=int(full.location_map[full.routing.visits[last.visit].location]),
            free_at=free_at,
            visits_used=len(r.stops),
            load_used=(load[0], load[1]),
            break_done=r.break_ is not None,
        )
    not_before, not_after, eligible = link_bounds(routed, left, delivery_end, delivery_at, eligible)
    # Only crews that may do a leftover job, still have half an hour of shift left and may
    # still take a job.
    wanted = {k for i in left for k in eligible[problem.jobs[i].id]}
    if allowed is not None:
        wanted &= allowed
    vehicles = full.routing.vehicles

    def may_take_more(k: int) -> bool:
        if k not in continuations:
            return True
        c, most = continuations[k], vehicles[k].max_visits
        return c.free_at + 1800 < vehicles[k].shift_end and (most is None or c.visits_used < most)

    crews = [k for k in sorted(wanted) if may_take_more(k)]
    tr = routed.part(left, crews, eligible, not_before, continuations, not_after)
    return tr, solve(
        tr.routing, SolveParams(time_limit_s=limit, solution_limit=options.solution_limit)
    )


def link_bounds(
    routed: RoutedDay,
    left: list[int],
    delivery_end: dict[str, int],
    delivery_at: dict[str, tuple[int, bool]],
    eligible: dict[str, list[int]],
) -> tuple[dict[str, int], dict[str, int], dict[str, list[int]]]:
    """For the second pass: the installations of `left` whose delivery is on a route
    (`delivery_end` by order), as (not before, not after, eligible crews) bounds of their
    windows: its end + the link gap, its end + the maximum gap. An order served in one
    visit (`Precedence.same_vehicle`) may only follow its delivery on that crew at once, so
    only when the delivery is the crew's last stop (its windows cut to that one moment);
    otherwise no crew is left it here."""
    problem = routed.problem
    rules = {p.after: p for p in routed.full.routing.precedences}
    not_before: dict[str, int] = {}
    not_after: dict[str, int] = {}
    narrowed = dict(eligible)
    for i in left:
        job = problem.jobs[i]
        if job.kind is not JobKind.INSTALLATION or job.order_id not in delivery_end:
            continue
        end = delivery_end[job.order_id]
        link = rules.get(i)
        gap = problem.link_gap_minutes * 60 if link is None else link.gap_s
        not_before[job.id] = end + gap
        if link is not None and link.max_gap_s is not None:
            not_after[job.id] = end + link.max_gap_s
        if link is not None and link.same_vehicle:
            crew, last = delivery_at[job.order_id]
            narrowed[job.id] = [crew] if last and crew in eligible[job.id] else []
    return not_before, not_after, narrowed


__all__ = ["PlanOptions", "Progress", "make_plan"]
