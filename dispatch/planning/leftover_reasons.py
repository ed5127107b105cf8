"""What binds for a job the last pass could place nowhere, said with the crew that came closest.

`dispatch.planning.leftovers` tries an unassigned job against every eligible crew, position
and lunch gap; each trial that fails (or that a bound rules out) is a `Miss`: the rule it
breaks worst, by how many seconds, and on which crew. The closest miss of all is the job's
reason, instead of a blanket "no capacity left" (issue 17 §2):

* `shift_end`: the crew would be back after its shift end ("IC019 would be back at its depot
  18:14, 14 min after its shift ends 18:00");
* `lunch_break`: it fits only if the crew skipped its lunch inside the lunch window;
* `window_full`: the crews that can reach it are busy until after its window closes;
* `delivery_end_gap`: an installation that cannot start before its window closes because of
  its delivery's planned end plus the link gap (the delivery is named);
* `jobs_per_day`, `vehicle_full`: the crew's job limit, its vehicle's load;
* `no_capacity_left`, with the crew and the stop it would push past its window (or the
  delivery it would delay for another crew's installer): the day is full around the job.

Counted rules (lunch, job limit, load, a delay of another crew's delivery) rank after any
miss by minutes, so the crew named is the one a small change would let take the job.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.plan import UnassignedReason
from dispatch.planning.routed_day import RoutedDay
from dispatch.record_rules import format_number

#: a miss's rule -> the reason it gives (a link to the job's own delivery: `delivery_end_gap`)
REASON_OF = {
    "shift": UnassignedReason.SHIFT_END,
    "lunch": UnassignedReason.LUNCH_BREAK,
    "window": UnassignedReason.WINDOW_FULL,
    "jobs": UnassignedReason.JOBS_PER_DAY,
    "load": UnassignedReason.VEHICLE_FULL,
    "pushes": UnassignedReason.NO_CAPACITY_LEFT,
    "link": UnassignedReason.NO_CAPACITY_LEFT,
    "other": UnassignedReason.NO_CAPACITY_LEFT,
    "max_gap": UnassignedReason.MAX_LINK_GAP,
    "crew_mode": UnassignedReason.CREW_MODE,
}


@dataclass(frozen=True)
class Miss:
    """One crew's closest failed trial of a job (or the bound that ruled its slots out)."""

    crew: int
    #: "shift", "lunch", "window", "pushes", "link", "jobs", "load", "other", or an
    #: order's rule: "max_gap" (its maximum gap, by `over_s`), "crew_mode" (its one visit)
    rule: str
    over_s: int  # seconds past the limit of a timed rule (0 for counted rules)
    #: counted rules broken (lunch, link, job limit, load) plus further timed rules broken
    counted: int
    at: int | None = None  # the job's start ("window", "link") or the return ("shift")
    other: int | None = None  # the stop pushed, or the delivery the link is about
    bound: bool = False  # from a lower bound: the real miss is at least this large

    @property
    def badness(self) -> tuple[int, int, int]:
        return (self.counted, self.over_s, self.crew)


def reason_for(
    routed: RoutedDay, ends: dict[int, tuple[int, int]], v: int, miss: Miss
) -> tuple[UnassignedReason, str]:
    """The reason and detail of visit v, from its closest miss."""
    problem = routed.problem
    p = routed.full.routing
    veh = p.vehicles[miss.crew]
    crew = veh.id

    def clock(s: int) -> str:
        return problem.from_seconds(s).strftime("%H:%M")

    def minutes(s: int) -> int:
        return max(1, -(-s // 60))

    least = "at least " if miss.bound else ""
    earliest = " at the earliest" if miss.bound else ""
    rule, over = miss.rule, miss.over_s
    links = routed.links()
    if rule == "link" and v in links and miss.other == links[v][0]:
        d, gap = links[v]
        end, dk = ends[d]
        assert miss.at is not None  # a link to its own delivery says when it could start
        return UnassignedReason.DELIVERY_END_GAP, (
            f"its delivery {p.visits[d].id} ends {clock(end)} on {p.vehicles[dk].id}; with "
            f"the {gap // 60} min gap the closest crew {crew} could start it {clock(miss.at)}"
            f", {minutes(over)} min after its window closes {clock(miss.at - over)}"
        )
    if rule in ("max_gap", "crew_mode") and miss.other is not None:
        return REASON_OF[rule], f"closest crew: {_order_rule_text(routed, ends, v, miss)}"
    if rule == "shift":
        if miss.at is None:
            text = (
                f"{crew} would need {least}{minutes(over)} min more than its shift to "
                f"{clock(veh.shift_end)} holds"
            )
        else:
            text = (
                f"{crew} would be back at its depot {clock(miss.at)}{earliest}, {least}"
                f"{minutes(over)} min after its shift ends {clock(veh.shift_end)}"
            )
    elif rule == "lunch" and veh.break_ is not None:
        b = veh.break_
        text = (
            f"{crew} could fit it only without its {b.duration_s // 60} min lunch between "
            f"{clock(b.window_start)} and {clock(b.window_end)}"
        )
    elif rule == "window" and miss.at is not None:
        text = (
            f"{crew} could start it {clock(miss.at)} at the earliest, {least}{minutes(over)} "
            f"min after its window closes {clock(miss.at - over)}"
        )
    elif rule == "pushes" and miss.other is not None:
        text = (
            f"{crew} could take it only by starting {p.visits[miss.other].id} {least}"
            f"{minutes(over)} min past its window"
        )
    elif rule == "link" and miss.other is not None:
        text = (
            f"{crew} could take it only by delaying delivery {p.visits[miss.other].id}, "
            "which another crew's installation waits for"
        )
    elif rule == "jobs":
        text = f"{crew} already has its {veh.max_visits} jobs for the day"
    elif rule == "load":
        job = problem.jobs[v]
        text = (
            f"{crew}'s vehicle has no room left for {format_number(round(job.volume_l))} l / "
            f"{format_number(round(job.weight_kg))} kg"
        )
    else:
        text = f"{crew} came closest, but its day is full at this job's windows"
    return REASON_OF.get(rule, UnassignedReason.NO_CAPACITY_LEFT), f"closest crew: {text}"


def _order_rule_text(
    routed: RoutedDay, ends: dict[int, tuple[int, int]], v: int, miss: Miss
) -> str:
    """What an order's maximum gap or one visit ruled out, for `reason_for`."""
    problem = routed.problem
    p = routed.full.routing
    crew = p.vehicles[miss.crew].id
    other = miss.other
    assert other is not None  # (the caller's condition)
    links = {pr.after: pr for pr in p.precedences}
    link = links.get(v) or links.get(other)
    if miss.rule == "crew_mode":
        return (
            f"{crew} came closest, but order {problem.jobs[v].order_id} is to be served in one "
            "visit (crew mode combined): its installation right after its delivery, on the "
            "crew that delivers"
        )
    most = (link.max_gap_s or 0) // 60 if link is not None else 0
    over = max(1, -(-miss.over_s // 60))
    at = "" if miss.at is None else f" at {problem.from_seconds(miss.at):%H:%M}"
    if link is not None and link.after == v and other in ends:
        end, dk = ends[other]
        return (
            f"its delivery {p.visits[other].id} ends {problem.from_seconds(end):%H:%M} on "
            f"{p.vehicles[dk].id}; {crew} could start it{at}, {over} min past the maximum "
            f"gap of {most} min"
        )
    return (
        f"{crew} could do it only {over} min too early for installation "
        f"{p.visits[other].id} (its maximum gap of {most} min)"
    )


__all__ = ["REASON_OF", "Miss", "reason_for"]
