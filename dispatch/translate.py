"""Translate the dispatch domain into routing types, and routing solutions back into plans.

Shared by the planner and the plan validator so both see the same seconds, metres and
matrices: the travel model is always built over the whole problem in one fixed order
(depots, then jobs) so that a plan re-validated from its file sees bit-identical times.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path

import numpy as np

from dispatch.day_problem import DispatchProblem
from dispatch.errors import InputError
from dispatch.link_rules import CrewMode, linked_pairs, mode_allows
from dispatch.models import CallbackPolicy, Crew, CrewKind, Job, JobKind
from dispatch.record_rules import EARLIEST, LATEST, format_number
from dispatch.roll_over import carried_urgency
from dispatch.service_time import estimate_minutes
from routing.problem import Break, Precedence, RoutingProblem, Sync, Vehicle, Visit
from routing.travel import Congestion, TravelModel, haversine_model

#: lateness cost in cents per second for a normal job (about 100 CNY per hour late)
LATENESS_CENTS_PER_S = 3
#: dropping a job costs more than any driving or lateness it could save
DROP_BASE = 10_000_000
#: what a callback served by another crew than its original one costs when its region
#: prefers the original crew (`CallbackPolicy.PREFER_ORIGINAL`): 30 CNY, half an hour of a
#: 60 CNY/h crew or 15 km at 2 CNY/km; an assumption, not a measured figure
PREFER_ORIGINAL_CENTS = 3_000
#: the largest number of seconds, litres, kilograms or cents the solver is handed for one
#: visit or vehicle: far beyond any real day, load or price (31 years, a million tonnes), far
#: below where OR-Tools' int64 sums could overflow. A problem built in code (bypassing the
#: record rules of `dispatch.record_rules`) may hold more; the translation caps it here, and
#: the planner's screening lists such a job unassigned (`out_of_range`) before it is solved.
SOLVER_MAX = 10**9


def seconds_of(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _capped(value: int) -> int:
    return max(-SOLVER_MAX, min(value, SOLVER_MAX))


def service_seconds(job: Job) -> int:
    """The job's time on site in seconds, as the solver sees it (capped at `SOLVER_MAX`)."""
    return _capped(estimate_minutes(job) * 60)


def out_of_range(job: Job) -> str | None:
    """Why the planner cannot compute with this job's values (a date outside the years it
    plans, a service time or load beyond `SOLVER_MAX`), or None when it can.

    The record readers refuse such values at the door; a job built in code may still hold
    them, and the screening then leaves it unassigned with this as the detail."""
    moments = [("confirmed_at", job.confirmed_at), ("deadline", job.deadline)]
    moments += [("delivered_at", job.delivered_at)]
    moments += [(f"windows[{k}]", w.start) for k, w in enumerate(job.windows)]
    moments += [(f"windows[{k}]", w.end) for k, w in enumerate(job.windows)]
    for name, moment in moments:
        if moment is not None and not EARLIEST <= moment <= LATEST:
            return (
                f"{name} {moment.isoformat(timespec='minutes')} is outside the years the "
                f"planner plans ({EARLIEST.year}-{LATEST.year})"
            )
    minutes = estimate_minutes(job)
    if minutes * 60 > SOLVER_MAX:
        stated = "service_minutes" if job.service_minutes is not None else "estimated service"
        return (
            f"{stated} of {format_number(minutes)} minutes (quantity "
            f"{format_number(job.quantity)}) is beyond what the planner computes with"
        )
    if job.kind in (JobKind.DELIVERY, JobKind.PICKUP):
        for name in ("volume_l", "weight_kg"):
            if getattr(job, name) > SOLVER_MAX:
                value = format_number(getattr(job, name))
                return f"{name} {value} is beyond what the planner computes with"
    return None


#: the environment variable naming the folder road matrices are kept in between runs
TRAVEL_CACHE_ENV = "FIELDROUTE_TRAVEL_CACHE"
#: the folder a long-running process chose (`use_travel_cache`); None: the variable's
_travel_cache: Path | None = None


def use_travel_cache(root: str | Path | None) -> None:
    """Keep road matrices under `root` in this process, whatever $FIELDROUTE_TRAVEL_CACHE
    says: what the service does with its `travel_cache` setting. None: the variable again."""
    global _travel_cache
    _travel_cache = None if root is None else Path(root)


def travel_cache_dir(problem: DispatchProblem) -> Path | None:
    """Where the problem's road matrices are cached: the process's folder (`use_travel_cache`,
    else $FIELDROUTE_TRAVEL_CACHE), in a sub-folder per region (the one all its jobs are in;
    `_mixed` when several), so that regions never share or evict each other's entries
    (`routing.road_network` keeps a bounded number per folder). None: no disk cache."""
    root = _travel_cache
    if root is None:
        value = os.environ.get(TRAVEL_CACHE_ENV, "").strip()
        root = Path(value).expanduser() if value else None
    if root is None:
        return None
    regions = {j.region for j in problem.jobs}
    region = regions.pop() if len(regions) == 1 else "_mixed"
    # a folder name whatever the region is called: no separators, no "..", never empty
    return root / (re.sub(r"[^A-Za-z0-9_-]", "_", region) or "_")


def build_travel(problem: DispatchProblem, lazy: bool = False) -> TravelModel:
    """The travel model over all depots then all jobs, from the problem's travel settings.

    Road providers ("osm", "osrm") give free-flow road seconds scaled per crew kind (see
    `TravelSettings`); the rush-hour congestion applies on top, as for "haversine". Road
    matrices are cached on disk per region (`travel_cache_dir`) when a cache is configured.

    `lazy=True` (the planner, for large days): with "haversine", a model that computes the
    same entries on demand instead of all pairs up front (`routing.lazy_travel`).
    """
    points = [d.location for d in problem.depots] + [j.location for j in problem.jobs]
    settings = problem.travel
    slices = tuple(
        (seconds_of(time.fromisoformat(a)), seconds_of(time.fromisoformat(b)), round(f * 1000))
        for a, b, f in settings.rush_hours
    )
    if settings.provider == "matrix":
        return _given_matrix(problem, Congestion(slices))
    lon = np.array([p.lon for p in points])
    lat = np.array([p.lat for p in points])
    if settings.provider == "osm":
        from routing.road_network import osm_model

        cache = travel_cache_dir(problem)
        return osm_model(
            settings.osm_file, lon, lat, settings.speeds_kmh, Congestion(slices), cache_dir=cache
        )
    if settings.provider == "osrm":
        from routing.osrm_client import osrm_model

        return osrm_model(settings.osrm_url, lon, lat, settings.speeds_kmh, Congestion(slices))
    if lazy:
        from routing.lazy_travel import LazyHaversineModel

        return LazyHaversineModel(
            lon, lat, settings.speeds_kmh, settings.detour_factor, Congestion(slices)
        )
    return haversine_model(
        lon, lat, settings.speeds_kmh, settings.detour_factor, Congestion(slices)
    )


def _given_matrix(problem: DispatchProblem, congestion: Congestion) -> TravelModel:
    """Provider "matrix": the problem's own travel seconds, the same for every crew kind."""
    m = np.array(problem.travel.matrix_s, dtype=np.int64)
    n = len(problem.depots) + len(problem.jobs)
    if m.shape != (n, n):
        raise InputError(
            "travel settings", "matrix_s", f"is {len(m)}x{len(m)}, need {n}x{n} (depots, jobs)"
        )
    durations = {kind.value: m for kind in CrewKind}
    return TravelModel(np.zeros_like(m), durations, congestion, {"provider": "matrix"})


def job_location(problem: DispatchProblem, job_index: int) -> int:
    return len(problem.depots) + job_index


@dataclass(frozen=True)
class Continuation:
    """A crew that already has stops: it may go on from its last stop once free again."""

    location: int  # index in the full travel model where it is free
    free_at: int  # seconds
    visits_used: int
    load_used: tuple[int, int]
    break_done: bool


@dataclass
class Translation:
    """A routing problem plus the maps back to job and crew ids."""

    routing: RoutingProblem
    job_ids: list[str]  # visit index -> job id
    crew_ids: list[str]  # vehicle index -> crew id
    #: location index in `routing.travel` -> index in the full travel model
    location_map: np.ndarray


def clip_windows(problem: DispatchProblem, job: Job) -> tuple[tuple[int, int], ...]:
    """The job's windows in plan-day seconds, clipped to the day; empty if none falls on it.

    An installation whose delivery was done earlier (`Job.delivered_at`) is clipped to its
    `delivered_bounds` as well."""
    out = []
    low, high = delivered_bounds(problem, job) or (0, 86_399)
    for w in job.windows:
        a, b = problem.to_seconds(w.start), problem.to_seconds(w.end)
        a, b = max(a, 0, low), min(b, 86_399, high)
        if a <= b:
            out.append((a, b))
    return tuple(out)


def delivered_bounds(problem: DispatchProblem, job: Job) -> tuple[int, int] | None:
    """For an installation whose delivery ended at `Job.delivered_at`: the earliest start
    (that end + the link gap) and the latest (+ its maximum gap, `DispatchProblem.
    max_link_gap_for`; the end of the day without one), in plan-day seconds; else None."""
    if job.delivered_at is None or job.kind is not JobKind.INSTALLATION:
        return None
    done = _capped(problem.to_seconds(job.delivered_at))
    most = problem.max_link_gap_for(job)
    high = 86_399 if most is None else done + most * 60
    return done + problem.link_gap_minutes * 60, high


#: days overdue that still raise a job's drop penalty (older backlog counts as this old)
MAX_AGE_DAYS = 2


def urgency(problem: DispatchProblem, deadline: datetime) -> int:
    """0: due after today, 1: due today, 2: already overdue when the day starts, plus one per
    further whole day overdue up to `MAX_AGE_DAYS`.

    The aging keeps a backlog from starving: when every job on offer is overdue (a busy
    peak), jobs only a few crews can do (a water heater needs `electrical` and `plumbing`)
    would otherwise lose, day after day, to easier jobs those same crews can reach more
    cheaply. In a scale-0.1 peak season they stayed undone for the whole plateau.
    """
    day_start = problem.at(time(0))
    if deadline < day_start:
        return 2 + min(MAX_AGE_DAYS, (day_start - deadline).days)
    return 1 if deadline.date() <= problem.date else 0


def crew_vehicle(problem: DispatchProblem, crew: Crew, depot_index: dict[str, int]) -> Vehicle:
    brk = None
    if crew.lunch is not None:
        brk = Break(
            seconds_of(crew.lunch.window_start),
            seconds_of(crew.lunch.window_end),
            crew.lunch.minutes * 60,
        )
    capacity = (
        (_capped(int(crew.capacity_volume_l)), _capped(int(crew.capacity_weight_kg)))
        if crew.carries_goods
        else ()
    )
    return Vehicle(
        id=crew.id,
        start_location=depot_index[crew.start_depot],
        end_location=depot_index[crew.end_depot],
        shift_start=seconds_of(crew.shift_start),
        shift_end=seconds_of(crew.shift_end),
        profile=crew.kind.value,
        capacity=capacity,
        break_=brk,
        max_visits=crew.max_jobs,
        cost_per_km=_capped(round(crew.cost_per_km * 100)),
        cost_per_hour=_capped(round(crew.cost_per_hour * 100)),
    )


def _continue(vehicle: Vehicle, cont: Continuation, location: int) -> Vehicle:
    """The remainder of a crew's day after the stops it already has."""
    return dataclasses.replace(
        vehicle,
        start_location=location,
        shift_start=min(cont.free_at, vehicle.shift_end - 1),
        capacity=tuple(
            max(0, c - u) for c, u in zip(vehicle.capacity, cont.load_used, strict=False)
        ),
        max_visits=None
        if vehicle.max_visits is None
        else max(0, vehicle.max_visits - cont.visits_used),
        break_=None if cont.break_done else vehicle.break_,
    )


def job_demand(job: Job) -> tuple[int, int]:
    """Volume (l) and weight (kg) a job puts on the vehicle; only goods moves carry load.

    Pick-ups are counted as if loaded from the start: conservative, since a truck may be
    emptier when it collects an old appliance late in the day.
    """
    if job.kind in (JobKind.DELIVERY, JobKind.PICKUP):
        return (_capped(int(np.ceil(job.volume_l))), _capped(int(np.ceil(job.weight_kg))))
    return (0, 0)


def _preference(job: Job, local_of_id: dict[str, int]) -> dict[str, int]:
    """A callback's wish for its original crew, when its region prefers it and the crew is
    in this solve (`routing.preferences`)."""
    if job.callback_policy is not CallbackPolicy.PREFER_ORIGINAL or job.original_crew is None:
        return {}
    k = local_of_id.get(job.original_crew)
    if k is None:
        return {}
    return {"preferred_vehicle": k, "preference_cost": PREFER_ORIGINAL_CENTS}


def translate(
    problem: DispatchProblem,
    travel: TravelModel,
    deadlines: dict[str, datetime],
    job_indices: Sequence[int],
    crew_indices: Sequence[int],
    eligible: dict[str, list[int]] | None = None,
    not_before: dict[str, int] | None = None,
    continuations: dict[int, Continuation] | None = None,
    not_after: dict[str, int] | None = None,
) -> Translation:
    """The routing problem for a subset of jobs and crews (indices into the problem's lists).

    `not_before[job_id]` (seconds) cuts the job's windows so it starts no earlier: used when
    a job's linked delivery is already fixed on another crew's route; `not_after[job_id]`
    so it starts no later (that delivery's end + its maximum gap).

    A delivery and an installation of one order in the subset are linked
    (`link_precedence`); the crew mode of the order (`DispatchProblem.crew_mode_for`)
    narrows the crews both may go to (`dispatch.link_rules.mode_allows`).

    `continuations[crew_index]` turns that crew into the rest of its day: it starts where
    and when its planned stops leave it, with what capacity, job count and break remain.

    `eligible[job_id]` lists the crew indices (into `problem.crews`) allowed for the job;
    when None, kind, skills and people decide.
    """
    jobs = [problem.jobs[i] for i in job_indices]
    crews = [problem.crews[i] for i in crew_indices]
    depot_pos = {d.id: k for k, d in enumerate(problem.depots)}
    used_depots = sorted(
        {depot_pos[c.start_depot] for c in crews} | {depot_pos[c.end_depot] for c in crews}
    )
    continuations = continuations or {}
    extra = sorted({c.location for k, c in continuations.items() if k in set(crew_indices)})
    global_locs = np.array(
        used_depots + [job_location(problem, i) for i in job_indices] + extra, dtype=np.int64
    )
    local_depot = {problem.depots[g].id: k for k, g in enumerate(used_depots)}
    sub = travel.subset(global_locs)
    vehicles = [crew_vehicle(problem, c, local_depot) for c in crews]
    first_extra = len(used_depots) + len(jobs)
    for pos, k in enumerate(crew_indices):
        if k in continuations:
            vehicles[pos] = _continue(
                vehicles[pos],
                continuations[k],
                first_extra + extra.index(continuations[k].location),
            )
    local_crew = {g: k for k, g in enumerate(crew_indices)}
    local_of_id = {c.id: k for k, c in enumerate(crews)}
    # `can_do` reads only the job's kind, skills, people, certification (its level and day)
    # and a barred original crew: a day has a handful of such needs, so each is matched
    # against the crews once (a 1,500-job, 275-crew day took 0.3 s a translation matching
    # every pair; an override translates the whole day)
    allowed_for_need: dict[tuple[object, ...], tuple[int, ...]] = {}
    visits = []
    for k, job in enumerate(jobs):
        if eligible is not None:
            allowed = tuple(local_crew[c] for c in eligible[job.id] if c in local_crew)
        else:
            different = job.callback_policy is CallbackPolicy.DIFFERENT_CREW
            barred = job.original_crew if different else ""
            need = (job.kind, job.skills, job.people, job.min_certification, job.day, barred)
            found = allowed_for_need.get(need)
            if found is None:
                found = tuple(i for i, c in enumerate(crews) if c.can_do(job))
                allowed_for_need[need] = found
            allowed = found
        deadline = deadlines[job.id]
        windows = clip_windows(problem, job)
        if not_before and job.id in not_before:
            floor = not_before[job.id]
            windows = tuple((max(a, floor), b) for a, b in windows if b >= floor)
        if not_after and job.id in not_after:
            ceiling = not_after[job.id]
            windows = tuple((a, min(b, ceiling)) for a, b in windows if a <= ceiling)
        visits.append(
            Visit(
                id=job.id,
                location=len(used_depots) + k,
                service_s=service_seconds(job),
                windows=windows or ((0, 0),),
                demand=job_demand(job),
                allowed_vehicles=None if len(allowed) == len(crews) else allowed,
                deadline_s=_capped(problem.to_seconds(deadline)),
                lateness_cost_per_s=LATENESS_CENTS_PER_S * job.priority.weight,
                drop_penalty=DROP_BASE
                * (
                    job.priority.weight
                    + max(urgency(problem, deadline), carried_urgency(job, problem.date))
                ),
                **_preference(job, local_of_id),
            )
        )
    precedences = []
    for k, d in linked_pairs(jobs).items():
        link = link_precedence(problem, jobs[k], d, k)
        precedences.append(link)
        if link.same_vehicle or problem.crew_mode_for(jobs[k]) is CrewMode.SPLIT:
            visits[d], visits[k] = _mode_vehicles(visits[d], visits[k], crews, link)
    visit_of = {j.id: k for k, j in enumerate(jobs)}
    syncs = [  # two-person visits with both jobs in this subset
        Sync(
            visit_of[s.first],
            visit_of[s.second],
            s.min_delay_minutes * 60,
            s.max_delay_minutes * 60,
        )
        for s in problem.syncs
        if s.first in visit_of and s.second in visit_of
    ]
    routing = RoutingProblem(visits, vehicles, sub, precedences, syncs)
    return Translation(routing, [j.id for j in jobs], [c.id for c in crews], global_locs)


def link_precedence(problem: DispatchProblem, installation: Job, d: int, k: int) -> Precedence:
    """The link from delivery visit `d` to installation visit `k` under the order's rules:
    the link gap on two crews, the maximum gap (`DispatchProblem.max_link_gap_for`), and the
    crew mode: `combined` is one visit (same crew, right after the delivery, no gap at all),
    `auto` prices a second visit (`DispatchProblem.second_visit_cny`, in cents), `split`
    leaves it to the crews allowed (`_mode_vehicles`)."""
    gap = problem.link_gap_minutes * 60
    most = problem.max_link_gap_for(installation)
    max_gap = None if most is None else most * 60
    mode = problem.crew_mode_for(installation)
    if mode is CrewMode.COMBINED:
        return Precedence(d, k, 0, 0, same_vehicle=True)
    split = round(problem.second_visit_cny * 100) if mode is CrewMode.AUTO else 0
    return Precedence(d, k, gap, max_gap, split_cost=_capped(split))


def _mode_vehicles(
    delivery: Visit, installation: Visit, crews: Sequence[Crew], link: Precedence
) -> tuple[Visit, Visit]:
    """The two visits with only the crews their order's crew mode allows: `split` no
    combined crew delivers; `combined` only combined crews, and only those that may do
    both."""
    mode = CrewMode.COMBINED if link.same_vehicle else CrewMode.SPLIT
    everyone = tuple(range(len(crews)))

    def kept(visit: Visit, kind: JobKind) -> tuple[int, ...]:
        allowed = everyone if visit.allowed_vehicles is None else visit.allowed_vehicles
        return tuple(k for k in allowed if mode_allows(mode, crews[k].kind, kind))

    d_ok, i_ok = kept(delivery, JobKind.DELIVERY), kept(installation, JobKind.INSTALLATION)
    if link.same_vehicle:
        d_ok = i_ok = tuple(k for k in d_ok if k in set(i_ok))
    return (
        dataclasses.replace(delivery, allowed_vehicles=d_ok),
        dataclasses.replace(installation, allowed_vehicles=i_ok),
    )
