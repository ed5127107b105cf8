"""The job by itself: which crews may do it, and each of them serving it straight from its depot.

The first probes of an unassigned job, before any route is looked at: a crew may do it at
all (kind, skills, people, and a vehicle that holds it), and a crew that leaves its start
depot at shift start, serves only this job and drives back arrives in a window and is home
by its shift end, timed as the planner's screen times it. A job no crew can serve alone is
unreachable however the routes look; one that some crew can is probed slot by slot next
(`dispatch.running.explain.probe`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dispatch.models import Job, JobKind
from dispatch.running.explain.day import Day
from routing.schedule import earliest_in_windows


@dataclass(frozen=True)
class Alone:
    """One eligible crew serving the job alone: out of its depot at shift start and back."""

    crew: int
    arrival: int
    start: int | None  # None: every window closed before it arrives
    back: int | None

    def ok(self, shift_end: int) -> bool:
        return self.back is not None and self.back <= shift_end


def able(day: Day, job: Job) -> list[int]:
    """Crews that may do the job at all and whose vehicle holds it."""
    out = []
    for k, c in enumerate(day.problem.crews):
        if not c.can_do(job):
            continue
        if job.kind in (JobKind.DELIVERY, JobKind.PICKUP) and (
            job.volume_l > c.capacity_volume_l or job.weight_kg > c.capacity_weight_kg
        ):
            continue
        out.append(k)
    return out


def alone(day: Day, v: int, crews: Sequence[int]) -> list[Alone]:
    """Each crew serving the job alone, timed as the planner's screen times it."""
    p = day.full.routing
    visit = p.visits[v]
    out = []
    for k in crews:
        veh = p.vehicles[k]
        tt = p.travel.travel_time
        arrival = veh.shift_start + tt(
            veh.profile, veh.start_location, visit.location, veh.shift_start
        )
        start = earliest_in_windows(arrival, visit.windows)
        back = None
        if start is not None:
            done = start + visit.service_s
            back = done + tt(veh.profile, visit.location, veh.end_location, done)
        out.append(Alone(k, arrival, start, back))
    return out
