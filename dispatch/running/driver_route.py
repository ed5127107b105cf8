"""The driver's view of his route: one crew's day as compact, JSON-ready data.

What a crew needs on the road and nothing else: where and when to leave and come back, the
lunch break, and per stop the times, the appointment window it is planned in, the door (floor,
lift), what to bring, and the jobs of the same order that other crews do (an installer sees
when the delivery he waits for is planned to end). Customer contact (address, name, phone)
is personal data: `include_contact=False` leaves those keys out entirely.

A stop that is half of a two-crew visit (an assisted job and the job assisting it,
`Job.assists`, paired in `DispatchProblem.syncs`) carries `assist`: whether this crew is
assisted or assists, when the crews meet (the assisted job's planned start; the assisting
crew starts within the plan's `assist_tolerance_minutes` of it) and the partner jobs' crews.
Of the partner crew nothing else is shown (its route, its other stops, its times); the
partner's job is left out of `linked`, which it would otherwise repeat.

Times are local ISO datetimes to the minute ("2026-06-18T09:05"), seconds cut off, so every
time has the same shape; cutting (not rounding) keeps a start inside its window on screen.
The output depends only on the plan, so the same plan gives byte-identical JSON; numbers are
normalised (volumes, weights and coordinates always floats) so a plan read back from its
file gives the same bytes too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dispatch.models import Depot, Job
from dispatch.plan import Plan, PlannedStop
from dispatch.privacy import coarse_job_fields


def driver_route(plan: Plan, crew_id: str, *, include_contact: bool = True) -> dict[str, Any]:
    """Crew `crew_id`'s route in `plan` for the driver's app.

    A crew of the problem without a route gets its depots and no stops; a crew not in the
    problem raises `KeyError`.
    """
    problem = plan.problem
    crew = next((c for c in problem.crews if c.id == crew_id), None)
    if crew is None:
        raise KeyError(crew_id)
    depots = {d.id: d for d in problem.depots}
    route = next((r for r in plan.routes if r.crew_id == crew_id), None)
    jobs = problem.jobs_by_id()
    pairs = assist_pairs(plan)
    # other crews' planned stops, by order, for the "linked" jobs
    by_order: dict[str, list[tuple[str, Job, PlannedStop]]] = {}
    for r in plan.routes:
        if r.crew_id == crew_id:
            continue
        for s in r.stops:
            other = jobs[s.job_id]
            by_order.setdefault(other.order_id, []).append((r.crew_id, other, s))
    out: dict[str, Any] = {
        "crew_id": crew.id,
        "date": problem.date.isoformat(),
        "depart": None,
        "return_at": None,
        "start_depot": _depot(depots[crew.start_depot]),
        "end_depot": _depot(depots[crew.end_depot]),
        "lunch": None,
        "distance_km": 0.0,
        "stops": [],
    }
    if route is None:
        return out
    out.update(
        depart=_time(route.depart),
        return_at=_time(route.return_at),
        lunch=None
        if route.lunch is None
        else {"start": _time(route.lunch.start), "minutes": route.lunch.minutes},
        distance_km=round(route.distance_m / 1000, 1),
        stops=[
            _stop(k, jobs[s.job_id], s, by_order, pairs.get(s.job_id), include_contact)
            for k, s in enumerate(route.stops, start=1)
        ],
    )
    return out


def assist_pairs(plan: Plan) -> dict[str, dict[str, Any]]:
    """Per job that is half of a two-crew visit, its `assist` entry: `role` ("assisted": the
    crew that leads the visit; "assisting": the crew that helps), `meet` (the assisted job's
    planned start, to the minute; None while it is not on the plan) and `partners`, each
    partner job's `job_id` and `crew_id` (None while it is not on the plan), in id order.

    The pairs are the problem's syncs (first: assisted, second: assisting) and, for a pair
    the problem did not sync, each job's `Job.assists` whose assisted job is in the problem.
    """
    problem = plan.problem
    jobs = problem.jobs_by_id()
    links = {(sy.first, sy.second) for sy in problem.syncs}
    for job in problem.jobs:
        if job.assists is not None and job.assists in jobs:
            links.add((job.assists, job.id))
    placed = {s.job_id: (r.crew_id, s) for r in plan.routes for s in r.stops}
    partners: dict[str, set[str]] = {}
    assisted_by: dict[str, str] = {}  # an assisting job -> the job it assists
    for first, second in sorted(links):
        partners.setdefault(first, set()).add(second)
        partners.setdefault(second, set()).add(first)
        assisted_by.setdefault(second, first)
    out: dict[str, dict[str, Any]] = {}
    for job_id, others in partners.items():
        lead = assisted_by.get(job_id, job_id)
        lead_stop = placed.get(lead)
        out[job_id] = {
            "role": "assisting" if job_id in assisted_by else "assisted",
            "meet": _time(lead_stop[1].start) if lead_stop else None,
            "partners": [
                {"job_id": other, "crew_id": placed[other][0] if other in placed else None}
                for other in sorted(others)
            ],
        }
    return out


def _time(moment: datetime) -> str:
    return moment.replace(second=0, microsecond=0).isoformat(timespec="minutes")


def _depot(depot: Depot) -> dict[str, Any]:
    return {
        "id": depot.id,
        "name": depot.name,
        "lon": float(depot.location.lon),
        "lat": float(depot.location.lat),
    }


def _stop(
    seq: int,
    job: Job,
    stop: PlannedStop,
    by_order: dict[str, list[tuple[str, Job, PlannedStop]]],
    assist: dict[str, Any] | None,
    include_contact: bool,
) -> dict[str, Any]:
    window = next((w for w in job.windows if w.start <= stop.start <= w.end), None)
    partner_ids = {p["job_id"] for p in assist["partners"]} if assist else set()
    linked = sorted(
        (
            {"job_id": other.id, "kind": other.kind.value, "crew_id": crew_id, "end": _time(s.end)}
            for crew_id, other, s in by_order.get(job.order_id, [])
            if other.id not in partner_ids
        ),
        key=lambda x: (x["end"], x["job_id"]),
    )
    out: dict[str, Any] = {
        "seq": seq,
        "job_id": job.id,
        "kind": job.kind.value,
        "order_id": job.order_id,
        "eta": _time(stop.arrival),
        "start": _time(stop.start),
        "end": _time(stop.end),
        "window": None
        if window is None
        else {"start": _time(window.start), "end": _time(window.end)},
        "lon": float(job.location.lon),
        "lat": float(job.location.lat),
        "floor": int(job.floor),
        "has_lift": bool(job.has_lift),
        "bring": {
            "category": job.category.value,
            "quantity": int(job.quantity),
            "volume_l": float(job.volume_l),
            "weight_kg": float(job.weight_kg),
            "people": int(job.people),
            "skills": sorted(job.skills),
        },
        "priority": job.priority.value,
        "linked": linked,
    }
    if assist is not None:  # only a half of a two-crew visit has it
        out["assist"] = {**assist, "partners": [dict(p) for p in assist["partners"]]}
    if include_contact:
        out.update(
            address=job.address,
            customer_name=job.customer_name,
            customer_phone=job.customer_phone,
        )
    else:  # planners and managers: no door (coarse location, no floor)
        out = coarse_job_fields(out)
    return out


__all__ = ["assist_pairs", "driver_route"]
