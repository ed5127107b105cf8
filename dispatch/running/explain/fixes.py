"""What would help: the fixes an explanation offers that stand on their own.

`add_crew` (the smallest crew kind that does the job, its skills and people, the job's zone
and part of the day), `tomorrow` (`move_to_day`: the next day at the time of day its first
window starts; tomorrow's capacity is not checked, it is a booking suggestion), `move_fix`
(`move_to_crew`: a probe slot with room), `nearer_depot` (`add_crew` based at the depot
nearest the job) and `earlier_start` (`extend_shift` earlier, for a late stop: the route is
re-timed and validated). The fixes whose numbers come from the binding's own sentence
(`widen_window`, `extend_shift` later, `bigger_vehicle`, `plan_delivery_first`) are built
beside that sentence, in `unassigned`, `probe_verdict` and `late`.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from dispatch.models import Job
from dispatch.running.explain.alone import Alone
from dispatch.running.explain.day import Day, fixed_deliveries
from dispatch.running.explain.model import Fix, band_of, needed_crew_kind
from dispatch.running.explain.probe import Slot
from dispatch.running.explain.wording import STEP_MIN, article, clock, kind_label, slot_text, step
from dispatch.translate import job_location
from routing.problem import RoutingProblem
from routing.schedule import build_schedules, earliest_in_windows
from routing.validate import check_route


def add_crew(day: Day, job: Job) -> Fix:
    kind = needed_crew_kind(job)
    zone = day.zone_of(job)
    band = band_of(day.problem, job)
    skills = sorted(job.skills)
    with_skills = f" with {', '.join(skills)}" if skills else ""
    people = f" ({job.people} people)" if job.people > 1 else ""
    where = f" in zone {zone}" if zone else ""
    return Fix(
        "add_crew",
        f"add {article(kind)} {kind_label(kind, 1)}{with_skills}{people}{where} this {band}",
        {
            "crew_kind": kind.value,
            "skills": skills,
            "people": job.people,
            "zone": zone,
            "band": band,
        },
    )


def tomorrow(day: Day, job: Job) -> Fix:
    v = day.job_pos[job.id]
    first = day.full.routing.visits[v].windows[0][0]
    tod = first % 86_400
    date = day.problem.date + timedelta(days=1)
    hhmm = f"{tod // 3600:02d}:{tod % 3600 // 60:02d}"
    return Fix(
        "move_to_day",
        f"book it tomorrow ({date.isoformat()}) at {hhmm}, the time of day its window starts "
        "(tomorrow's capacity not checked)",
        {"date": date.isoformat(), "time": hhmm},
    )


def day_fixes(day: Day, job: Job) -> tuple[Fix, ...]:
    """The fixes for a job today's crews cannot take: another crew, or another day."""
    return (add_crew(day, job), tomorrow(day, job))


def move_fix(day: Day, job: Job, s: Slot) -> Fix:
    crew = day.crew(s.crew)
    return Fix(
        "move_to_crew",
        f"put {job.id} on {slot_text(day, s)} (start {clock(day, s.start)}, ends "
        f"{clock(day, s.end)})",
        {
            "crew_id": crew.id,
            "position": s.position,
            "start": clock(day, s.start),
            "end": clock(day, s.end),
        },
    )


def nearer_depot(day: Day, job: Job, v: int, alone: list[Alone]) -> Fix | None:
    """add_crew at the depot nearest the job, when a crew from there would be in time."""
    problem = day.problem
    n_dep = len(problem.depots)
    loc = job_location(problem, v)
    d = int(day.travel.distances[loc, :n_dep].argmin())
    kind = needed_crew_kind(job)
    earliest = min(day.full.routing.vehicles[a.crew].shift_start for a in alone)
    profile = kind.value if kind.value in day.travel.profiles else day.travel.profiles[0]
    arrival = earliest + day.travel.travel_time(profile, d, loc, earliest)
    visit = day.full.routing.visits[v]
    if earliest_in_windows(arrival, visit.windows) is None:
        return None
    depot = problem.depots[d]
    fix = add_crew(day, job)
    details = dict(fix.details, depot=depot.id, arrival=clock(day, arrival))
    return Fix(
        "add_crew",
        f"{fix.message}, based at {depot.id}: it could arrive {clock(day, arrival)}",
        details,
    )


def earlier_start(day: Day, k: int, v: int, deadline: int, late: int) -> Fix | None:
    """extend_shift (earlier start) if re-timing the route with it ends v by its deadline."""
    p = day.full.routing
    route = day.routes[k]
    veh = p.vehicles[k]
    if route.depart > veh.shift_start:
        return None  # it already leaves later than it could: earlier does not help
    seq = day.seqs[k]
    fixed = fixed_deliveries(day, seq)
    hints = {k: day.breaks[k]} if k in day.breaks else {}
    base = step(late)
    for minutes in (base, base + STEP_MIN, base + 2 * STEP_MIN):
        start = veh.shift_start - minutes * 60
        if start < 5 * 3600:
            break
        vehicles = list(p.vehicles)
        vehicles[k] = dataclasses.replace(veh, shift_start=start)
        trial = RoutingProblem(p.visits, vehicles, p.travel, p.precedences)
        timed = build_schedules(trial, [(k, seq)], hints, fixed)[0]
        me = next(s for s in timed.stops if s.visit == v)
        if me.end <= deadline and not check_route(trial, timed):
            crew = day.crew(k)
            return Fix(
                "extend_shift",
                f"start {crew.id}'s shift {minutes} min earlier, at {clock(day, start)}",
                {"crew_id": crew.id, "minutes": minutes, "new_start": clock(day, start)},
            )
    return None
