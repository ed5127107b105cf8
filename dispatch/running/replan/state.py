"""The day as it stands at the re-plan time (`DayState`): what happened, who is gone, what
is new or called off, and what the customers were told.

Which reported events make a visit done or in progress is `dispatch.running.replan.pinning`;
`state_as_planned` builds the state of a day that went exactly as planned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dispatch.models import Job
from dispatch.plan import Plan


@dataclass(frozen=True)
class DayState:
    """The day as it stands at `at` (naive local datetimes of the plan day)."""

    at: datetime
    #: finished visits (completed or failed): job id -> (actual start, actual end)
    done: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    #: visits under way: job id -> actual start (arrived or started)
    in_progress: dict[str, datetime] = field(default_factory=dict)
    #: overruns: job id (in progress or not yet started) -> the new expected end
    expected_end: dict[str, datetime] = field(default_factory=dict)
    #: crew id -> from when the crew is gone; its stops not started by then are handed over
    unavailable: dict[str, datetime] = field(default_factory=dict)
    new_jobs: tuple[Job, ...] = ()
    cancelled: frozenset[str] = frozenset()
    #: the ETA each customer was told (default: the plan's planned start of work)
    notified_eta: dict[str, datetime] = field(default_factory=dict)


def state_as_planned(plan: Plan, at: datetime) -> DayState:
    """The state in which everything went exactly as `plan` said until `at`.

    Stops that end by `at` are done, stops started by then are in progress; nothing else.
    A re-plan of it changes nothing (the diff is empty).
    """
    done: dict[str, tuple[datetime, datetime]] = {}
    in_progress: dict[str, datetime] = {}
    for r in plan.routes:
        for s in r.stops:
            if s.end <= at:
                done[s.job_id] = (s.start, s.end)
            elif s.start <= at:
                in_progress[s.job_id] = s.start
    return DayState(at=at, done=done, in_progress=in_progress)
