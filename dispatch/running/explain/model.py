"""What an explanation says: the bindings, fixes, explanations and zone shortages.

The public vocabulary of `dispatch.running.explain` (re-exported there), and the two ways a job is
classed wherever a fix or a shortage names a crew to add: the smallest crew kind that does it
(`needed_crew_kind`) and the part of the day its first window starts in (`band_of`). Nothing
here looks at a plan's routes; every other module of the package builds on these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from dispatch.day_problem import DispatchProblem
from dispatch.models import CREW_CAN_DO, CrewKind, Job


class Binding(StrEnum):
    """The constraint that keeps a job off the plan, or makes it late."""

    NO_SKILLED_CREW = "no_skilled_crew"  # no crew on duty with the kind, skills and people
    WINDOW_CLOSED = "window_closed"  # no eligible crew can arrive before its window closes
    CAPACITY = "capacity"  # bigger or heavier than any eligible vehicle
    SHIFT_END = "shift_end"  # a crew could start it but not be back by its shift end
    CREWS_FULL = "crews_full"  # feasible alone, but every eligible crew's day is full
    LINKED_DELIVERY = "linked_delivery"  # its delivery is not planned, or ends too late
    NOT_ON_PLAN_DAY = "not_on_plan_day"
    OUTSIDE_REGION = "outside_region"
    OUT_OF_RANGE = "out_of_range"  # a date or number the planner cannot compute with
    REMOVED_BY_DISPATCHER = "removed_by_dispatcher"
    LATE_ROUTE = "late_route"  # planned, but it ends after its promise deadline
    #: a crew has room for it with every rule kept: the planner's bounded search missed it
    ROOM_ON_ROUTE = "room_on_route"
    #: half of a two-crew visit (`Job.assists`) whose pair could not be planned whole: its
    #: partner cannot be planned, or no two crews are free at the same time
    ASSIST_PAIR = "assist_pair"


@dataclass(frozen=True)
class Fix:
    """One thing that would get the job planned (or on time).

    `kind` is one of "add_crew", "widen_window", "move_to_day", "bigger_vehicle",
    "extend_shift", "plan_delivery_first", "move_to_crew"; `details` is JSON-ready.
    """

    kind: str
    message: str
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Explanation:
    """Why one job is unassigned or late, and what would fix it."""

    job_id: str
    status: str  # "unassigned" | "late"
    binding: Binding
    message: str
    fixes: tuple[Fix, ...]
    zone: str | None
    kind: str  # the job kind


@dataclass(frozen=True)
class ZoneShortage:
    """Crews missing in one zone, of one kind with one skill set, in one part of the day."""

    zone: str | None
    crew_kind: str
    skills: tuple[str, ...]
    band: str  # "morning" | "afternoon" | "evening"
    jobs: int
    work_hours: float
    crews_short: int
    message: str


#: part of the day by the start of a job's first window: before 12:00, before 17:00, later
BANDS: tuple[tuple[str, int], ...] = (("morning", 12 * 3600), ("afternoon", 17 * 3600))


def needed_crew_kind(job: Job) -> CrewKind:
    """The smallest crew kind that does this kind of job (fewest job kinds; enum order on ties)."""
    kinds = [k for k in CrewKind if job.kind in CREW_CAN_DO[k]]
    return min(kinds, key=lambda k: (len(CREW_CAN_DO[k]), list(CrewKind).index(k)))


def band_of(problem: DispatchProblem, job: Job) -> str:
    """The part of the day the job's first window starts in: morning, afternoon or evening."""
    start = problem.to_seconds(job.windows[0].start) % 86_400
    return next((name for name, end in BANDS if start < end), "evening")
