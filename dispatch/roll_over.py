"""Roll-over: a job left unplanned on its day is carried to a later day, nothing waits for a
manual edit.

A carried job keeps its appointment's clock times and moves its windows by whole days (a
customer booked for 10-12 is next offered 10-12 the day after: the slot he chose, one day
on); its promise does not move (`confirmed_at` and an explicit `deadline` are kept), so on the
customer's clock a carried job is as late as it is. `Job.first_due` remembers the day it was
first due, and its age (days since then) raises its priority in the planner
(`carried_urgency`, used by `dispatch.translate`): a job that has already waited a day goes
before a fresh one that can still wait.

The service rolls jobs over when a day's plan is triggered (`api.services.roll_over`); the
horizon (`dispatch.planning.horizon`) carries each day's leftovers into the next.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from dispatch.models import Job, TimeWindow

#: days of age that still raise a carried job's priority (older ones count as this old), as
#: `dispatch.translate.MAX_AGE_DAYS` caps a deadline's age
MAX_CARRIED_DAYS = 2


def due_day(job: Job) -> date:
    """The day the job is due now: its first window's day."""
    return job.windows[0].start.date()


def carried_to(job: Job, day: date) -> Job:
    """`job` carried to `day` (a later day than it is due): every window moved by the same
    whole days, `first_due` set to the day it was first due. A job already due on `day` or
    later is returned as it is."""
    shift = (day - due_day(job)).days
    if shift <= 0:
        return job
    step = timedelta(days=shift)
    return replace(
        job,
        windows=tuple(TimeWindow(w.start + step, w.end + step) for w in job.windows),
        first_due=job.first_due or due_day(job),
    )


def days_carried(job: Job, day: date) -> int:
    """How many days `job` has waited by `day`: 0 for a job on its first day."""
    if job.first_due is None:
        return 0
    return max(0, (day - job.first_due).days)


def carried_urgency(job: Job, day: date) -> int:
    """The least urgency (`dispatch.translate.urgency`'s scale: 1 is due today, 2 and more
    overdue) a job carried over deserves on `day`: 1 + its days carried (capped), 0 for a job
    on its first day."""
    age = days_carried(job, day)
    return 1 + min(age, MAX_CARRIED_DAYS) if age else 0
