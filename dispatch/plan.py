"""A day's plan: each crew's timed stops, promise slack per job, and unassigned jobs with reasons.

A plan is only ever built by the planner after it passed the independent validator; a plan
read from a file is re-validated before use (`dispatch validate PLAN`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from dispatch.day_problem import DispatchProblem


class UnassignedReason(StrEnum):
    """Why a job is not in the plan. Every job is planned or listed with one of these."""

    NO_ELIGIBLE_CREW = "no_eligible_crew"  # no crew with the kind, skills and people needed
    WINDOW_NOT_ON_PLAN_DAY = "window_not_on_plan_day"
    WINDOW_UNREACHABLE = "window_unreachable"  # no eligible crew can arrive within a window
    EXCEEDS_CAPACITY = "exceeds_capacity"  # bigger or heavier than any eligible vehicle
    OUTSIDE_REGION = "outside_region"
    LINKED_JOB_UNASSIGNED = "linked_delivery_unassigned"  # its delivery is not planned today
    NO_CAPACITY_LEFT = "no_capacity_left"  # feasible alone, but crews' days are full
    NOT_SOLVED_IN_TIME = "not_solved_in_time"  # the optimizer found no solution in time
    REMOVED_BY_DISPATCHER = "removed_by_dispatcher"  # taken off its route by a manual override
    CREW_UNAVAILABLE = "crew_unavailable"  # its crew dropped out (re-plan) and no other has room
    #: a date or number the planner cannot compute with (a job built in code past the record
    #: rules: a window in the year 9999, a quantity of 10^30); the detail names the field
    OUT_OF_RANGE = "out_of_range"


@dataclass(frozen=True)
class PlannedStop:
    job_id: str
    arrival: datetime
    start: datetime
    end: datetime
    deadline: datetime

    @property
    def slack_minutes(self) -> int:
        """Minutes between the job's end and its promise deadline (negative: late)."""
        return int((self.deadline - self.end).total_seconds() // 60)


@dataclass(frozen=True)
class PlannedBreak:
    start: datetime
    minutes: int
    after_stop: int  # -1: before the first stop
    before_travel: bool


@dataclass
class CrewRoute:
    crew_id: str
    depart: datetime
    return_at: datetime
    stops: list[PlannedStop]
    lunch: PlannedBreak | None = None
    distance_m: int = 0
    drive_s: int = 0


@dataclass(frozen=True)
class Unassigned:
    job_id: str
    reason: UnassignedReason
    detail: str = ""


@dataclass
class Plan:
    problem: DispatchProblem
    routes: list[CrewRoute]
    unassigned: list[Unassigned]
    stats: dict[str, float] = field(default_factory=dict)

    def stop_of(self) -> dict[str, tuple[CrewRoute, int]]:
        return {s.job_id: (r, k) for r in self.routes for k, s in enumerate(r.stops)}
