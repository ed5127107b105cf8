"""How the sentences say things: clock times, windows, slots, crew kinds, minutes over a limit.

Kept in one place so every explanation says a time, a slot or a crew kind the same way, and
so the rounding of the minutes a fix suggests (`step`: whole `STEP_MIN` steps) and of the
minutes a limit is missed by (`whole_minutes`) is decided once.
"""

from __future__ import annotations

import math
from datetime import datetime

from dispatch.models import CrewKind, Job
from dispatch.running.explain.day import Day
from dispatch.running.explain.probe import Slot

#: windows are widened and shifts extended in steps of this many minutes
STEP_MIN = 30


def clock(day: Day, seconds: int) -> str:
    """HH:MM on the plan day; other days with their date."""
    return moment(day, day.problem.from_seconds(seconds))


def moment(day: Day, at: datetime) -> str:
    """HH:MM on the plan day; other days with their date."""
    if at.date() == day.problem.date:
        return at.strftime("%H:%M")
    return at.strftime("%Y-%m-%d %H:%M")


def windows_text(day: Day, v: int) -> str:
    return ", ".join(
        f"{clock(day, a)}-{clock(day, b)}" for a, b in day.full.routing.visits[v].windows
    )


def where(day: Day, k: int, position: int) -> str:
    """Where in crew k's day a slot lies: "after J12" or "as its first stop"."""
    seq = day.seqs.get(k, [])
    if not seq:
        return "in its empty day"
    if position == 0:
        return "as its first stop"
    return f"after {day.full.job_ids[seq[position - 1]]}"


def slot_text(day: Day, slot: Slot) -> str:
    return f"{day.crew(slot.crew).id} {where(day, slot.crew, slot.position)}"


def step(seconds: int) -> int:
    """Minutes to add, rounded up to whole `STEP_MIN` steps (at least one step)."""
    return max(1, math.ceil(seconds / (STEP_MIN * 60))) * STEP_MIN


def whole_minutes(seconds: int) -> int:
    """Whole minutes over a limit, rounded up (a second late is a minute late)."""
    return max(1, math.ceil(seconds / 60))


def kind_label(kind: CrewKind, n: int) -> str:
    label = kind.value.replace("_", " ")
    if kind is CrewKind.COMBINED:
        label = "combined crew"
    return label + ("s" if n != 1 else "")


def article(kind: CrewKind) -> str:
    return "an" if kind_label(kind, 1)[0] in "aeiou" else "a"


def skills_label(job: Job) -> str:
    if job.skills:
        return f"with {', '.join(sorted(job.skills))}"
    return f"for {job.kind.value} jobs"
