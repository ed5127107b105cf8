"""Why a planned stop is late: it ends after its promise deadline (`LATE_ROUTE`).

The sentence names which of these makes it late, the first that holds: the promise had
already passed when the day began; the customer's window opens too late for the promise
(fix: offer a window that opens earlier); no eligible crew could finish in time even from
its depot (fix: another crew); the stop waits for its linked delivery (fix: deliver by a
time); or the crew's earlier stops. Fixes for the last: another crew that can finish it in
time (`move_to_crew`, probed as for unassigned jobs), starting the crew's shift earlier
(re-timed and validated) and another crew of its kind in its zone.
"""

from __future__ import annotations

from dispatch.models import Job
from dispatch.plan import CrewRoute, PlannedStop
from dispatch.running.explain.alone import able, alone
from dispatch.running.explain.day import Day
from dispatch.running.explain.fixes import add_crew, earlier_start, move_fix
from dispatch.running.explain.model import Binding, Explanation, Fix
from dispatch.running.explain.probe import probe
from dispatch.running.explain.wording import STEP_MIN, clock, moment, whole_minutes


def explain_late(day: Day, route: CrewRoute, k: int) -> Explanation:
    """Why stop k of the route ends after its promise deadline, and what would help."""
    stop = route.stops[k]
    job = day.problem.jobs[day.job_pos[stop.job_id]]
    binding = Binding.LATE_ROUTE
    message, fixes = _late(day, job, route, k)
    return Explanation(
        job.id, "late", binding, message, tuple(fixes), day.zone_of(job), job.kind.value
    )


def _late(day: Day, job: Job, route: CrewRoute, k: int) -> tuple[str, list[Fix]]:
    p = day.full.routing
    v = day.job_pos[job.id]
    visit = p.visits[v]
    stop = route.stops[k]
    crew_k = day.crew_pos[route.crew_id]
    sec = day.problem.to_seconds
    end, deadline = sec(stop.end), sec(stop.deadline)
    late = end - deadline
    head = (
        f"{route.crew_id} ends it {clock(day, end)}, {whole_minutes(late)} min after its "
        f"promise deadline {moment(day, stop.deadline)}"
    )
    if deadline < 0:
        return f"{head}: the promise had passed before the plan day began", []
    first = visit.windows[0][0]
    if first + visit.service_s > deadline:
        new_start = (deadline - visit.service_s) // (STEP_MIN * 60) * STEP_MIN * 60
        minutes = (first - new_start) // 60
        fix = Fix(
            "widen_window",
            f"offer a window from {clock(day, new_start)} ({minutes} min earlier)",
            {"minutes": minutes, "new_start": clock(day, new_start), "direction": "earlier"},
        )
        return (
            f"{head}: its window opens {clock(day, first)}, and {visit.service_s // 60} min "
            "of work started then cannot end by the deadline",
            [fix],
        )
    eligible = able(day, job)
    served = [a for a in alone(day, v, eligible) if a.ok(p.vehicles[a.crew].shift_end)]
    if served:
        soonest = min(served, key=lambda a: (a.start, a.crew))
        assert soonest.start is not None
        if soonest.start + visit.service_s > deadline:
            return (
                f"{head}: even the nearest crew ({day.crew(soonest.crew).id}), straight "
                f"from its depot, could finish it {clock(day, soonest.start + visit.service_s)}"
                " at the earliest",
                [add_crew(day, job)],
            )
    waits = _waits_for_delivery(day, v, crew_k, stop, deadline, head)
    if waits is not None:
        return waits
    others = [a.crew for a in served if a.crew != crew_k]
    return _earlier_stops(head, route, k), _route_fixes(day, job, v, crew_k, others, deadline, late)


def _waits_for_delivery(
    day: Day, v: int, crew_k: int, stop: PlannedStop, deadline: int, head: str
) -> tuple[str, list[Fix]] | None:
    """An installation that cannot start before its linked delivery ends (and the gap)."""
    sec = day.problem.to_seconds
    visit = day.full.routing.visits[v]
    if v in day.before_of and day.before_of[v][0] in day.ends:
        d, gap = day.before_of[v]
        d_end, d_crew = day.ends[d]
        bound = d_end + (0 if d_crew == crew_k else gap)
        if sec(stop.start) <= bound:
            by = deadline - visit.service_s - (0 if d_crew == crew_k else gap)
            delivery = day.full.job_ids[d]
            fix = Fix(
                "plan_delivery_first",
                f"deliver {delivery} by {clock(day, by)}",
                {"delivery_job_id": delivery, "deliver_by": clock(day, by)},
            )
            return (
                f"{head}: it waits for its delivery {delivery}, which "
                f"{day.crew(d_crew).id} ends {clock(day, d_end)}",
                [fix],
            )
    return None


def _earlier_stops(head: str, route: CrewRoute, k: int) -> str:
    """The stop is late because of where the crew's route brings it, and when."""
    stop = route.stops[k]
    if k == 0:
        return (
            f"{head}: it is the crew's first stop, and leaving at {route.depart:%H:%M} it "
            f"arrives {stop.arrival:%H:%M}"
        )
    return (
        f"{head}: the crew's {k} earlier stop{'s' if k != 1 else ''} since it left at "
        f"{route.depart:%H:%M} bring{'s' if k == 1 else ''} it there only at "
        f"{stop.arrival:%H:%M}"
    )


def _route_fixes(
    day: Day, job: Job, v: int, crew_k: int, others: list[int], deadline: int, late: int
) -> list[Fix]:
    """Another crew that finishes it in time, an earlier start for its crew, one more crew."""
    fixes: list[Fix] = []
    if others:
        slots, _ = probe(day, v, others, deadline)
        room = [s for s in slots if s.rule == "fits"]
        if room:
            fixes.append(move_fix(day, job, room[0]))
    earlier = earlier_start(day, crew_k, v, deadline, late)
    if earlier is not None:
        fixes.append(earlier)
    fixes.append(add_crew(day, job))
    return fixes
