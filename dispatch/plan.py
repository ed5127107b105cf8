"""A day's plan: each crew's timed stops, promise slack per job, and unassigned jobs with reasons.

A plan is only ever built by the planner after it passed the independent validator; a plan
read from a file is re-validated before use (`dispatch validate PLAN`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

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
    #: the job alone leaves no eligible crew room for its lunch inside the lunch window (a
    #: 270-min job in a 09:00-11:00 slot with lunch to start by 12:45)
    LUNCH_WINDOW = "lunch_window"
    # Tried against every eligible crew, position and lunch gap, it fits none: what binds for
    # the crew that came closest (the detail names it; `dispatch.planning.leftover_reasons`).
    # `no_capacity_left` stays for a stop it would push past its window, and in stored plans.
    SHIFT_END = "shift_end"  # that crew would be back after its shift end
    LUNCH_BREAK = "lunch_break"  # that crew could fit it only by skipping its lunch
    WINDOW_FULL = "window_full"  # the crews that reach it are busy until its window closes
    DELIVERY_END_GAP = "delivery_end_gap"  # its delivery's planned end + the gap is too late
    JOBS_PER_DAY = "jobs_per_day"  # that crew already does its most jobs a day
    VEHICLE_FULL = "vehicle_full"  # that crew's vehicle has no room left for it
    #: half of a two-crew visit (an assisted job and its assisting job, `Job.assists`) that
    #: could not be planned whole: the detail says why (the partner cannot be planned, no
    #: second crew may do it, no two crews are free at the same time)
    ASSIST_PAIR = "assist_pair_unplanned"
    #: an installation that cannot start within its order's maximum gap after its delivery
    #: ends (`DispatchProblem.max_link_gap_minutes`): the detail names the delivery, its
    #: end and the gap (a delivery done on an earlier day: `Job.delivered_at`)
    MAX_LINK_GAP = "max_link_gap"
    #: an order whose crew mode (`DispatchProblem.crew_mode`) no crew could keep: one
    #: combined crew for both visits, or a truck then installers
    CREW_MODE = "crew_mode"


#: reasons that say the eligible crews' days are full (the day lacked capacity for the job)
CAPACITY_REASONS = frozenset(
    {
        UnassignedReason.NO_CAPACITY_LEFT,
        UnassignedReason.SHIFT_END,
        UnassignedReason.LUNCH_BREAK,
        UnassignedReason.WINDOW_FULL,
        UnassignedReason.JOBS_PER_DAY,
        UnassignedReason.VEHICLE_FULL,
    }
)


@dataclass(frozen=True)
class PlannedStop:
    job_id: str
    arrival: datetime
    start: datetime
    end: datetime
    deadline: datetime
    #: the `slack_minutes` a plan file stated for this stop (None for a plan built in memory):
    #: kept only so that the validator can refuse a file whose stated slack is not the slack
    #: its own deadline and end give; never read for planning or figures
    stated_slack_minutes: int | None = field(default=None, compare=False, repr=False)

    @property
    def slack_minutes(self) -> int:
        """Minutes between the job's end and its promise deadline, rounded down (negative:
        late); what a plan file writes as `slack_minutes`."""
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
    #: every setting the plan was made with, defaults included (`dispatch.files.plan_settings`
    #: `effective_settings`), for readers of the saved plan; None when not recorded
    settings: dict[str, Any] | None = None
    #: what the planner wants a person to read before trusting the plan, one sentence each
    #: (e.g. a group of jobs that found no first solution in its time: see
    #: `dispatch.planning.planner`); empty when all went as asked
    warnings: list[str] = field(default_factory=list)

    def stop_of(self) -> dict[str, tuple[CrewRoute, int]]:
        return {s.job_id: (r, k) for r in self.routes for k, s in enumerate(r.stops)}
