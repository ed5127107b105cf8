"""Up-front checks: which jobs can never be served today, and why.

A job that fails here is reported unassigned with its reason instead of being handed to the
optimizer, so the reason a dispatcher reads is the real one ("no crew has skill
work_at_height"), not just "dropped".
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.models import CREW_CAN_DO, Crew, Job, JobKind
from dispatch.plan import Unassigned, UnassignedReason
from dispatch.problem import DispatchProblem
from dispatch.service_time import estimate_minutes
from dispatch.translate import clip_windows, job_location, seconds_of
from routing.travel import TravelModel


@dataclass
class Screening:
    """Eligible crew indices per servable job, and the unservable jobs with reasons."""

    eligible: dict[str, list[int]]
    unassigned: list[Unassigned]


def _missing(job: Job, crews: list[Crew]) -> str:
    kinds = [c for c in crews if job.kind in CREW_CAN_DO[c.kind]]
    if not kinds:
        return f"no crew kind does {job.kind.value} jobs"
    skilled = [c for c in kinds if job.skills <= c.skills]
    if not skilled:
        have = set().union(*(c.skills for c in kinds))
        lacking = sorted(job.skills - have) or sorted(job.skills)
        return f"no {job.kind.value} crew has skill(s) {', '.join(lacking)} together"
    return (
        f"needs {job.people} people; the largest eligible crew has {max(c.people for c in skilled)}"
    )


def screen(problem: DispatchProblem, travel: TravelModel) -> Screening:
    """Check every job against every crew: kind/skills/people, capacity, region, windows."""
    eligible: dict[str, list[int]] = {}
    unassigned: list[Unassigned] = []
    n_dep = len(problem.depots)
    depot_pos = {d.id: k for k, d in enumerate(problem.depots)}
    max_m = problem.max_km_from_depot * 1000
    for i, job in enumerate(problem.jobs):
        loc = job_location(problem, i)
        nearest = int(travel.distances[loc, :n_dep].min()) if n_dep else 0
        if nearest > max_m:
            unassigned.append(
                Unassigned(
                    job.id,
                    UnassignedReason.OUTSIDE_REGION,
                    f"{nearest / 1000:.0f} km from the nearest depot",
                )
            )
            continue
        windows = clip_windows(problem, job)
        if not windows:
            unassigned.append(
                Unassigned(
                    job.id, UnassignedReason.WINDOW_NOT_ON_PLAN_DAY, f"no window on {problem.date}"
                )
            )
            continue
        able = [k for k, c in enumerate(problem.crews) if c.can_do(job)]
        if not able:
            unassigned.append(
                Unassigned(job.id, UnassignedReason.NO_ELIGIBLE_CREW, _missing(job, problem.crews))
            )
            continue
        if job.kind in (JobKind.DELIVERY, JobKind.PICKUP):
            fits = [
                k
                for k in able
                if job.volume_l <= problem.crews[k].capacity_volume_l
                and job.weight_kg <= problem.crews[k].capacity_weight_kg
            ]
            if not fits:
                unassigned.append(
                    Unassigned(
                        job.id,
                        UnassignedReason.EXCEEDS_CAPACITY,
                        f"{job.volume_l:.0f} l / {job.weight_kg:.0f} kg is more than any "
                        "eligible vehicle holds",
                    )
                )
                continue
            able = fits
        service = estimate_minutes(job) * 60
        reachable = []
        for k in able:
            crew = problem.crews[k]
            start_loc, end_loc = depot_pos[crew.start_depot], depot_pos[crew.end_depot]
            shift_start, shift_end = seconds_of(crew.shift_start), seconds_of(crew.shift_end)
            out = shift_start + travel.travel_time(crew.kind.value, start_loc, loc, shift_start)
            start = next((max(out, a) for a, b in windows if out <= b), None)
            if start is None:
                continue
            back = start + service
            back += travel.travel_time(crew.kind.value, loc, end_loc, back)
            if back <= shift_end:
                reachable.append(k)
        if not reachable:
            unassigned.append(
                Unassigned(
                    job.id,
                    UnassignedReason.WINDOW_UNREACHABLE,
                    "no eligible crew can arrive within a window and be back by its shift end",
                )
            )
            continue
        eligible[job.id] = reachable
    _drop_orphan_installations(problem, eligible, unassigned)
    return Screening(eligible, unassigned)


def _drop_orphan_installations(
    problem: DispatchProblem, eligible: dict[str, list[int]], unassigned: list[Unassigned]
) -> None:
    """An installation whose delivery (in this problem) cannot be served cannot be either."""
    failed_deliveries = {
        j.order_id for j in problem.jobs if j.kind is JobKind.DELIVERY and j.id not in eligible
    }
    for job in problem.jobs:
        if (
            job.kind is JobKind.INSTALLATION
            and job.order_id in failed_deliveries
            and job.id in eligible
        ):
            del eligible[job.id]
            unassigned.append(
                Unassigned(
                    job.id,
                    UnassignedReason.LINKED_JOB_UNASSIGNED,
                    f"the delivery of order {job.order_id} cannot be planned today",
                )
            )
