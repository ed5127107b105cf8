"""Small hand-made problems for tests: a straight east-west street in Shanghai.

Points are placed along latitude 31.2 at whole-kilometre steps east of a depot, so travel
times are easy to work out by hand: with the test travel settings (detour factor 1.0,
36 km/h for every crew kind, no rush hours) one kilometre takes 100 s.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time

from dispatch.day_problem import DispatchProblem, TravelSettings
from dispatch.models import Crew, CrewKind, Depot, DepotKind, GeoPoint, Job, JobKind, TimeWindow
from dispatch.plan import Plan

DAY = date(2026, 6, 18)
LAT = 31.2
LON0 = 121.4
#: degrees of longitude per kilometre at LAT, on the same sphere as routing.travel
KM_DEG = 1000 / (6_371_008.8 * math.cos(math.radians(LAT)) * math.pi / 180)

FLAT_TRAVEL = TravelSettings(
    detour_factor=1.0,
    speeds_kmh={k.value: 36.0 for k in CrewKind},
    rush_hours=(),
)


def at(hh: int, mm: int = 0, ss: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hh, mm, ss))


def point(km: float) -> GeoPoint:
    return GeoPoint(LON0 + km * KM_DEG, LAT)


def depot(id: str = "D", km: float = 0.0) -> Depot:
    return Depot(id, DepotKind.SERVICE_POINT, point(km))


def job(
    id: str,
    km: float,
    window: tuple[int, int] = (8, 18),
    kind: JobKind = JobKind.REPAIR,
    minutes: int = 30,
    **kw,
) -> Job:
    kw.setdefault("order_id", f"O-{id}")
    kw.setdefault("confirmed_at", at(7, 0))
    return Job(
        id=id,
        kind=kind,
        location=point(km),
        windows=(TimeWindow(at(window[0]), at(window[1])),),
        service_minutes=minutes,
        **kw,
    )


def crew(id: str = "C1", kind: CrewKind = CrewKind.COMBINED, **kw) -> Crew:
    kw.setdefault("people", 2)
    kw.setdefault("skills", frozenset())
    kw.setdefault("start_depot", "D")
    kw.setdefault("end_depot", "D")
    kw.setdefault("capacity_volume_l", 10_000)
    kw.setdefault("capacity_weight_kg", 2_000)
    return Crew(id=id, kind=kind, **kw)


def problem(
    jobs: list[Job], crews: list[Crew], depots: list[Depot] | None = None, **kw
) -> DispatchProblem:
    kw.setdefault("travel", FLAT_TRAVEL)
    return DispatchProblem(DAY, jobs, crews, depots or [depot()], **kw)


def planned(p: DispatchProblem, routes: dict[str, list[str]]) -> Plan:
    """A plan with the given stop orders per crew, timed exactly as the planner times them.

    No solver runs: the sequences go through the planner's own final timing and translation
    (`time_day`, `to_plan`), so times can be worked out by hand; every other job is listed
    unassigned. Fails if the timing had to drop a job or the plan breaks a hard rule.
    """
    from dispatch.plan_validator import validate_plan
    from dispatch.planning.assemble import DaySequences, time_day, to_plan
    from dispatch.planning.routed_day import routed_day

    routed = routed_day(p)
    jp, cp = routed.job_pos, routed.crew_pos
    day = DaySequences({cp[c]: [jp[j] for j in js] for c, js in routes.items()})
    timed, drops = time_day(routed, day)
    assert not drops, f"the timing dropped {[routed.full.job_ids[v] for v in drops]}"
    plan = to_plan(routed, timed, drops, [])
    assert validate_plan(plan) == []
    return plan
