"""Why a job is not planned: the unassigned reasons, probe by probe.

The plan's `UnassignedReason` is the starting point, then probes, in this order:

* outside the region, or a window not on the plan day: said as they are;
* an installation whose delivery is not planned -> `LINKED_DELIVERY` (fix: plan the
  delivery first, with the delivery's own first fix);
* kind, skills, people: no crew on duty could ever do the job -> `NO_SKILLED_CREW`;
* volume/weight against the largest eligible vehicle -> `CAPACITY`;
* the job alone (`dispatch.running.explain.alone`): if no eligible crew arrives before the last
  window closes -> `WINDOW_CLOSED` (fix: widen the window by the minutes missing, rounded
  up to 30 min); if one arrives in time but cannot be back by its shift end -> `SHIFT_END`
  (fix: extend that crew's shift);
* an installation whose planned delivery ends too late for its window -> `LINKED_DELIVERY`
  (fix: plan the delivery earlier);
* feasible alone: the insertion probe (`dispatch.running.explain.probe`) and its verdict
  (`dispatch.running.explain.probe_verdict`).
"""

from __future__ import annotations

from collections.abc import Sequence

from dispatch.models import CREW_CAN_DO, Crew, Job, JobKind
from dispatch.plan import Unassigned, UnassignedReason
from dispatch.running.explain.alone import Alone, able, alone
from dispatch.running.explain.day import Day
from dispatch.running.explain.fixes import add_crew, day_fixes, nearer_depot
from dispatch.running.explain.model import Binding, Explanation, Fix
from dispatch.running.explain.probe import probe
from dispatch.running.explain.probe_verdict import full, removed
from dispatch.running.explain.wording import clock, moment, skills_label, step, whole_minutes
from dispatch.translate import job_location
from routing.schedule import earliest_in_windows


def explain_unassigned(day: Day, u: Unassigned) -> Explanation:
    """The job's explanation, made once per call (`Day.explained`)."""
    if u.job_id in day.explained:
        return day.explained[u.job_id]
    job = day.problem.jobs[day.job_pos[u.job_id]]
    binding, message, fixes = _unassigned(day, job, u)
    e = Explanation(
        job.id, "unassigned", binding, message, tuple(fixes), day.zone_of(job), job.kind.value
    )
    day.explained[u.job_id] = e
    return e


def _unassigned(day: Day, job: Job, u: Unassigned) -> tuple[Binding, str, list[Fix]]:
    reason = u.reason
    v = day.job_pos[job.id]
    if reason is UnassignedReason.OUT_OF_RANGE:  # its numbers are not for arithmetic
        return Binding.OUT_OF_RANGE, u.detail, []
    if reason is UnassignedReason.OUTSIDE_REGION:
        return Binding.OUTSIDE_REGION, _outside(day, job, u), []
    if reason is UnassignedReason.WINDOW_NOT_ON_PLAN_DAY:
        return _not_on_day(day, job)
    if reason is UnassignedReason.ASSIST_PAIR:
        return _pair(day, job, u)
    linked = _linked(day, job, v)
    if linked is not None:
        return linked
    eligible = able(day, job)
    if not any(c.can_do(job) for c in day.problem.crews):
        return _no_skilled_crew(day, job)
    if not eligible:
        return _capacity(day, job)
    served = alone(day, v, eligible)
    if not any(a.ok(day.full.routing.vehicles[a.crew].shift_end) for a in served):
        return _unreachable(day, job, v, served)
    late_link = _delivery_too_late(day, job, v, eligible)
    if late_link is not None:
        return late_link
    slots, tried = probe(
        day, v, [a.crew for a in served if a.ok(day.full.routing.vehicles[a.crew].shift_end)]
    )
    if reason is UnassignedReason.REMOVED_BY_DISPATCHER:
        return removed(day, job, u, slots)
    prefix = ""
    if reason is UnassignedReason.NOT_SOLVED_IN_TIME:
        prefix = "the optimizer found no solution for its zone in time; "
    elif reason is UnassignedReason.CREW_UNAVAILABLE:  # handed over by a re-plan
        prefix = "its crew went off duty and nobody took it over; "
    return full(day, job, v, slots, tried, prefix)


def _pair(day: Day, job: Job, u: Unassigned) -> tuple[Binding, str, list[Fix]]:
    """Half of a two-crew visit planned neither: the pair's reason, and a crew for the half
    the fewest crews may do (where a second crew is what was missing)."""
    partners = [
        sy.second if sy.first == job.id else sy.first
        for sy in day.problem.syncs
        if job.id in (sy.first, sy.second)
    ]
    fixes = []
    if partners and "crew" in u.detail:
        halves = [job, *(day.problem.jobs[day.job_pos[p]] for p in partners if p in day.job_pos)]
        scarce = min(halves, key=lambda j: (sum(c.can_do(j) for c in day.problem.crews), j.id))
        fixes.append(add_crew(day, scarce))
    with_whom = f" (with {', '.join(partners)})" if partners else ""
    return Binding.ASSIST_PAIR, f"a two-crew visit{with_whom}: {u.detail}", fixes


def _outside(day: Day, job: Job, u: Unassigned) -> str:
    n_dep = len(day.problem.depots)
    loc = job_location(day.problem, day.job_pos[job.id])
    k = int(day.travel.distances[loc, :n_dep].argmin())
    km = int(day.travel.distances[loc, k]) / 1000
    return (
        f"{km:.0f} km from the nearest depot ({day.problem.depots[k].id}); the region "
        f"serves jobs within {day.problem.max_km_from_depot:.0f} km"
    )


def _not_on_day(day: Day, job: Job) -> tuple[Binding, str, list[Fix]]:
    first = job.windows[0]
    date = day.problem.date
    message = (
        f"its window {moment(day, first.start)}-{moment(day, first.end)} is not on the "
        f"plan day {date.isoformat()}"
    )
    fix = Fix(
        "move_to_day",
        f"plan it on {first.start.date().isoformat()} at {first.start:%H:%M}, its window's day",
        {"date": first.start.date().isoformat(), "time": f"{first.start:%H:%M}"},
    )
    return Binding.NOT_ON_PLAN_DAY, message, [fix]


def _delivery_of(day: Day, job: Job) -> int | None:
    """The delivery of the installation's order in this problem (visit index), if any."""
    v = day.job_pos[job.id]
    if v in day.before_of:
        return day.before_of[v][0]
    return None


def _linked(day: Day, job: Job, v: int) -> tuple[Binding, str, list[Fix]] | None:
    """An installation whose delivery is not on any route."""
    d = _delivery_of(day, job) if job.kind is JobKind.INSTALLATION else None
    if d is None or d in day.ends:
        return None
    delivery = day.problem.jobs[d]
    u = next((x for x in day.plan.unassigned if x.job_id == delivery.id), None)
    why = ""
    first_fix = None
    if u is not None:
        de = explain_unassigned(day, u)
        why = f": {de.message}"
        first_fix = de.fixes[0] if de.fixes else None
    message = f"its delivery {delivery.id} (order {job.order_id}) is not planned{why}"
    details = {"delivery_job_id": delivery.id}
    text = f"plan delivery {delivery.id} first"
    if first_fix is not None:
        details["delivery_fix"] = first_fix.kind
        text += f" ({first_fix.message})"
    return Binding.LINKED_DELIVERY, message, [Fix("plan_delivery_first", text, details)]


def _delivery_too_late(
    day: Day, job: Job, v: int, eligible: Sequence[int]
) -> tuple[Binding, str, list[Fix]] | None:
    """An installation whose planned delivery ends too late for any crew to start it."""
    d = _delivery_of(day, job) if job.kind is JobKind.INSTALLATION else None
    if d is None or d not in day.ends:
        return None
    end, crew = day.ends[d]
    gap = day.before_of[v][1]
    windows = day.full.routing.visits[v].windows
    if any(earliest_in_windows(end + (0 if k == crew else gap), windows) for k in eligible):
        return None
    delivery = day.full.job_ids[d]
    last = windows[-1][1]
    message = (
        f"its delivery {delivery} ends {clock(day, end)} on {day.crew(crew).id}; with the "
        f"{gap // 60} min gap no installer can start before its window closes "
        f"{clock(day, last)}"
    )
    by = last - gap
    fix = Fix(
        "plan_delivery_first",
        f"deliver {delivery} by {clock(day, by)}",
        {
            "delivery_job_id": delivery,
            "deliver_by": clock(day, by),
            "crew_id": day.crew(crew).id,
        },
    )
    return Binding.LINKED_DELIVERY, message, [fix, *day_fixes(day, job)]


def _no_skilled_crew(day: Day, job: Job) -> tuple[Binding, str, list[Fix]]:
    crews = day.problem.crews
    kinds = [c for c in crews if job.kind in CREW_CAN_DO[c.kind]]
    if not kinds:
        message = f"no crew on duty does {job.kind.value} jobs"
    else:
        skilled = [c for c in kinds if job.skills <= c.skills]
        if not skilled:
            have = set().union(*(c.skills for c in kinds))
            lacking = sorted(job.skills - have)
            if lacking:
                message = f"no crew that does {job.kind.value} jobs has {', '.join(lacking)}"
            else:
                message = (
                    f"no crew that does {job.kind.value} jobs has "
                    f"{' + '.join(sorted(job.skills))} together"
                )
        elif not any(c.people >= job.people for c in skilled):
            most = max(skilled, key=lambda c: (c.people, c.id))
            message = (
                f"it needs {job.people} people; the largest crew with its skills "
                f"({most.id}) has {most.people}"
            )
        else:  # kind, skills and people are there: the certification is not
            message = uncertified(job, [c for c in skilled if c.people >= job.people])
    return Binding.NO_SKILLED_CREW, message, [add_crew(day, job)]


def uncertified(job: Job, crews: list[Crew]) -> str:
    """Why the crews able in all else may not do `job`: the certification it needs."""
    held = [(c.certification_for(job.kind), c.id) for c in crews]
    valid = [(h.score, cid) for h, cid in held if h is not None and h.valid_on(job.day)]
    best = (
        f"the best valid on {job.day} is {max(valid)[0]} ({max(valid)[1]})"
        if valid
        else f"none holds one valid on {job.day}"
    )
    return (
        f"no crew holds the certification of {job.min_certification} or more for "
        f"{job.kind.value} jobs it needs; {best}"
    )


def _capacity(day: Day, job: Job) -> tuple[Binding, str, list[Fix]]:
    kinds = [c for c in day.problem.crews if c.can_do(job)]
    vol = max(c.capacity_volume_l for c in kinds)
    kg = max(c.capacity_weight_kg for c in kinds)
    largest = max(kinds, key=lambda c: (c.capacity_volume_l, c.capacity_weight_kg, c.id))
    message = (
        f"{job.volume_l:,.0f} l / {job.weight_kg:,.0f} kg is more than any eligible vehicle "
        f"holds (largest: {largest.id}, {largest.capacity_volume_l:,.0f} l / "
        f"{largest.capacity_weight_kg:,.0f} kg)"
    )
    fix = Fix(
        "bigger_vehicle",
        f"send a vehicle that holds {job.volume_l:,.0f} l and {job.weight_kg:,.0f} kg, "
        "or split the order",
        {
            "volume_l": job.volume_l,
            "weight_kg": job.weight_kg,
            "largest_volume_l": vol,
            "largest_weight_kg": kg,
        },
    )
    return Binding.CAPACITY, message, [fix]


def _unreachable(day: Day, job: Job, v: int, served: list[Alone]) -> tuple[Binding, str, list[Fix]]:
    """Window closed before any eligible crew arrives, or no way back by shift end."""
    in_time = [a for a in served if a.start is not None]
    if in_time:
        return _no_way_back(day, job, in_time)
    p = day.full.routing
    visit = p.visits[v]
    label = skills_label(job)
    last = visit.windows[-1][1]

    def back_if_widened(a: Alone) -> int:
        veh = p.vehicles[a.crew]
        done = a.arrival + visit.service_s
        back = done + p.travel.travel_time(veh.profile, visit.location, veh.end_location, done)
        return back - veh.shift_end

    fitting = [a for a in served if back_if_widened(a) <= 0] or served
    a = min(fitting, key=lambda a: (a.arrival, a.crew))
    over = a.arrival - last
    minutes = step(over)
    crew = day.crew(a.crew)
    closes = "window closes" if len(visit.windows) == 1 else "last window closes"
    message = (
        f"{closes} {clock(day, last)}; the nearest crew {label} ({crew.id}) can arrive "
        f"{clock(day, a.arrival)} at the earliest, leaving its depot at shift start "
        f"{clock(day, p.vehicles[a.crew].shift_start)}"
    )
    new_end = clock(day, last + minutes * 60)
    fixes = [
        Fix(
            "widen_window",
            f"a window {minutes} min longer (to {new_end}) lets {crew.id} take it",
            {"minutes": minutes, "new_end": new_end, "crew_id": crew.id},
        )
    ]
    nearer = nearer_depot(day, job, v, served)
    if nearer is not None:
        fixes.append(nearer)
    return Binding.WINDOW_CLOSED, message, fixes


def _no_way_back(day: Day, job: Job, in_time: list[Alone]) -> tuple[Binding, str, list[Fix]]:
    """A crew can start it in its window, but none is back at its depot by its shift end."""
    p = day.full.routing
    label = skills_label(job)

    def overrun(a: Alone) -> tuple[int, int]:
        assert a.back is not None  # started in its window, so timed back too
        return a.back - p.vehicles[a.crew].shift_end, a.crew

    a = min(in_time, key=overrun)
    assert a.back is not None and a.start is not None
    end = p.vehicles[a.crew].shift_end
    over = a.back - end
    minutes = step(over)
    crew = day.crew(a.crew)
    message = (
        f"the nearest crew {label} that can start it in its window ({crew.id}, at "
        f"{clock(day, a.start)}) would be back at its depot {clock(day, a.back)}, "
        f"{whole_minutes(over)} min after its shift ends {clock(day, end)}"
    )
    fix = Fix(
        "extend_shift",
        f"extend {crew.id}'s shift by {minutes} min to {clock(day, end + minutes * 60)}",
        {"crew_id": crew.id, "minutes": minutes, "new_end": clock(day, end + minutes * 60)},
    )
    return Binding.SHIFT_END, message, [fix, *day_fixes(day, job)]
