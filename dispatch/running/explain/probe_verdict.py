"""What the probe's slots say about a job that is feasible alone but still unassigned.

If a slot breaks no rule, the planner's bounded search missed it: `ROOM_ON_ROUTE` with a
`move_to_crew` fix. Otherwise the rule most of the `BEST_CANDIDATES` best slots break
decides: coming back after the shift end -> `SHIFT_END`; missing its own window, pushing
another stop out of its window, the crew's job limit, vehicle load, lunch break or a linked
delivery -> `CREWS_FULL` (the job is feasible alone, so a miss of its own window means the
crews are busy in it, not that the window cannot be reached). A `widen_window` or
`extend_shift` fix from a probe slot is exact: that slot broke only that one rule, by less
than the suggested minutes. Jobs the dispatcher took off a route get the same probe, told
as `REMOVED_BY_DISPATCHER`.
"""

from __future__ import annotations

from collections import Counter

from dispatch.models import Job
from dispatch.plan import Unassigned
from dispatch.running.explain.day import Day
from dispatch.running.explain.fixes import day_fixes, move_fix
from dispatch.running.explain.model import Binding, Fix
from dispatch.running.explain.probe import Slot
from dispatch.running.explain.wording import (
    clock,
    skills_label,
    slot_text,
    step,
    where,
    whole_minutes,
    windows_text,
)

#: each crew's best slot is kept; the rule most of this many best slots break decides
BEST_CANDIDATES = 5
#: how the closest fits break each probe rule: (several, one)
RULE_VERBS: dict[str, tuple[str, str]] = {
    "shift": ("end after the shift", "ends after the shift"),
    "window": ("miss the window", "misses the window"),
    "pushes": ("push a stop out of its window", "pushes a stop out of its window"),
    "max_jobs": ("hit the crew's job limit", "hits the crew's job limit"),
    "capacity": ("overload the vehicle", "overloads the vehicle"),
    "break": ("leave no room for lunch", "leaves no room for lunch"),
    "link": ("delay a linked delivery", "delays a linked delivery"),
    "order": (
        "break their order's maximum gap or one visit",
        "breaks its order's maximum gap or one visit",
    ),
    "other": ("break another rule", "breaks another rule"),
}


def removed(day: Day, job: Job, u: Unassigned, slots: list[Slot]) -> tuple[Binding, str, list[Fix]]:
    """Taken off its route by the dispatcher: a crew with room for it now, if any."""
    detail = f" ({u.detail})" if u.detail else ""
    room = [s for s in slots if s.rule == "fits"]
    if room:
        s = room[0]
        message = (
            f"taken off its route by the dispatcher{detail}; {slot_text(day, s)} has room "
            f"for it at {clock(day, s.start)}"
        )
        return Binding.REMOVED_BY_DISPATCHER, message, [move_fix(day, job, s)]
    message = f"taken off its route by the dispatcher{detail}; no eligible crew has room for it now"
    return Binding.REMOVED_BY_DISPATCHER, message, list(day_fixes(day, job))


def full(
    day: Day, job: Job, v: int, slots: list[Slot], tried: int, prefix: str
) -> tuple[Binding, str, list[Fix]]:
    """Feasible alone: the probe's verdict on the eligible crews' days."""
    label = skills_label(job)
    windows = windows_text(day, v)
    if not slots:
        message = (
            f"{prefix}feasible alone, but the eligible crews' days were not probed (the "
            "explanation's evaluation budget is spent)"
        )
        return Binding.CREWS_FULL, message, list(day_fixes(day, job))
    room = [s for s in slots if s.rule == "fits"]
    if room:
        s = room[0]
        message = (
            f"{prefix}{slot_text(day, s)} has room for it at {clock(day, s.start)} with "
            "every rule kept; the planner's bounded search did not place it"
        )
        return Binding.ROOM_ON_ROUTE, message, [move_fix(day, job, s)]
    top = slots[:BEST_CANDIDATES]
    counts = Counter(s.rule for s in top)
    rule = max(
        counts, key=lambda r: (counts[r], -next(i for i, s in enumerate(top) if s.rule == r))
    )
    best = next(s for s in top if s.rule == rule)
    share = ""
    if len(top) > 1:
        plural, singular = RULE_VERBS[rule]
        verb = singular if counts[rule] == 1 else plural
        share = f" ({counts[rule]} of the {len(top)} closest fits {verb})"
    if tried == 1:
        crews = f"nearest crew {label} is"
        days = f"day of the nearest crew {label} is"
    else:
        crews = f"{tried} nearest crews {label} are"
        days = f"days of the {tried} nearest crews {label} are"
    if rule == "shift":
        return _past_shift_end(day, job, best, days, share, prefix)
    fixes: list[Fix] = []
    if rule == "window":
        last = day.full.routing.visits[v].windows[-1][1]
        what = (
            f"at best {slot_text(day, best)} could start it {clock(day, best.start)}, "
            f"{whole_minutes(best.over_s)} min after it closes{share}"
        )
        if best.only:
            fixes.append(_widen_for_slot(day, best, last))
    else:
        what = _busy_because(day, job, best, rule, share)
    message = f"{prefix}feasible alone, but the {crews} busy in its window {windows}: {what}"
    return Binding.CREWS_FULL, message, [*fixes, *day_fixes(day, job)]


def _past_shift_end(
    day: Day, job: Job, best: Slot, days: str, share: str, prefix: str
) -> tuple[Binding, str, list[Fix]]:
    """The closest fits end after the shift: `SHIFT_END`, extended if that was all it broke."""
    veh = day.full.routing.vehicles[best.crew]
    fixes: list[Fix] = []
    end = veh.shift_end
    back = end + best.over_s
    message = (
        f"{prefix}feasible alone, but the {days} full: "
        f"at best {slot_text(day, best)} would be back at its depot {clock(day, back)}, "
        f"{whole_minutes(best.over_s)} min after its shift ends {clock(day, end)}{share}"
    )
    if best.only:
        minutes = step(best.over_s)
        new_end = clock(day, end + minutes * 60)
        fixes.append(
            Fix(
                "extend_shift",
                f"extend {day.crew(best.crew).id}'s shift by {minutes} min to "
                f"{new_end} and put it {where(day, best.crew, best.position)}",
                {
                    "crew_id": day.crew(best.crew).id,
                    "minutes": minutes,
                    "new_end": new_end,
                    "position": best.position,
                },
            )
        )
    return Binding.SHIFT_END, message, [*fixes, *day_fixes(day, job)]


def _widen_for_slot(day: Day, best: Slot, last: int) -> Fix:
    """widen_window: the last window closed later by whole steps lets the slot take it."""
    minutes = step(best.over_s)
    new_end = clock(day, last + minutes * 60)
    return Fix(
        "widen_window",
        f"a window {minutes} min longer (to {new_end}) lets {slot_text(day, best)} take it",
        {
            "minutes": minutes,
            "new_end": new_end,
            "crew_id": day.crew(best.crew).id,
            "position": best.position,
        },
    )


def _busy_because(day: Day, job: Job, best: Slot, rule: str, share: str) -> str:
    """What the closest fit breaks, other than its own window or the shift end."""
    if rule == "pushes":
        assert best.pushed is not None
        return (
            f"fitting it {slot_text(day, best)} would push {day.full.job_ids[best.pushed]} "
            f"{whole_minutes(best.over_s)} min past its window{share}"
        )
    if rule == "max_jobs":
        limit = day.crew(best.crew).max_jobs
        return (
            f"{day.crew(best.crew).id} already has its maximum of {limit} "
            f"job{'s' if limit != 1 else ''}{share}"
        )
    if rule == "capacity":
        return (
            f"{day.crew(best.crew).id}'s vehicle has no room left for "
            f"{job.volume_l:,.0f} l / {job.weight_kg:,.0f} kg{share}"
        )
    if rule == "break":
        return f"fitting it {slot_text(day, best)} leaves no room for the lunch break{share}"
    if rule == "link":
        return (
            f"fitting it {slot_text(day, best)} would delay a delivery that another "
            f"crew's installation waits for{share}"
        )
    if rule == "order":
        return (
            f"fitting it {slot_text(day, best)} would break its order's rule between the "
            f"delivery and the installation (its maximum gap, or one visit by one crew){share}"
        )
    return f"the closest fit, {slot_text(day, best)}, breaks a hard rule{share}"
