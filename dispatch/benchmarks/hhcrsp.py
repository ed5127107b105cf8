"""Home-healthcare benchmark instances (HHCRSP) read into the engine's own model, and solved.

The format is that of iolab-uniud/hhcrsp (Ceschia, Di Gaspero, Rosati, Schaerf 2024, "Multi-
neighborhood simulated annealing for the home healthcare routing and scheduling problem",
ITOR, doi:10.1111/itor.13585); the "extended/small" set is in ../shared/benchmarks/hhcrsp/.
All times are whole minutes from the start of the day; `distances` is an integer matrix of
travel minutes over the departing points, then the patients (`distance_matrix_index`).

Mapping onto `DispatchProblem`:

- departing point -> `Depot`; caregiver -> one-person `Crew` with its abilities as skills,
  its working shift, starting and ending at its departing point;
- each service a patient requires -> one `Job` needing that skill: service start no earlier
  than the patient's window start (hard), window end as a soft deadline on the start
  (tardiness), the patient's duration or the service's default;
- a patient with two services -> two jobs linked by a `JobSync` (simultaneous: same start;
  sequential: the second starts `distance[0]..distance[1]` minutes after the first), done by
  two different crews;
- incompatible caregivers -> left out of the job's eligible crews (the domain has no
  per-person exclusion; `dispatch.benchmarks.hhcrsp_score` checks it on the plan);
- the matrix -> `TravelSettings(provider="matrix")`, in seconds, used as given.

Costs: one second of driving costs as much as one second of tardiness, as in the published
objective, which weighs travel and tardiness equally (`dispatch.benchmarks.hhcrsp_score`); its
third term,
the maximum tardiness, is not modelled by the engine and is only measured.
"""

from __future__ import annotations

import json
import time as clock
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from dispatch.day_problem import DispatchProblem, JobSync, TravelSettings
from dispatch.errors import InputError
from dispatch.models import Crew, CrewKind, Depot, DepotKind, GeoPoint, Job, JobKind, TimeWindow
from dispatch.plan import Plan, Unassigned, UnassignedReason
from dispatch.planning.routed_day import routed_day
from dispatch.translate import LATENESS_CENTS_PER_S
from routing.ortools_model import SolveParams, solve

#: the instances carry no date; any day will do
DAY = date(2025, 1, 6)
#: with overtime allowed, the latest a caregiver may be back (minutes): the day's last minute
DAY_END = 24 * 60 - 1
#: CNY per hour of driving that costs what a second of tardiness costs (equal weights)
COST_PER_HOUR = LATENESS_CENTS_PER_S * 3600 / 100


@dataclass(frozen=True)
class Caregiver:
    id: str
    abilities: frozenset[str]
    shift: tuple[int, int]  # minutes
    depot: str  # departing point id: where the caregiver starts and ends
    depot_index: int  # its row in the instance's matrix


@dataclass(frozen=True)
class ServiceVisit:
    """One service a patient requires: the job it became, with the instance's raw values."""

    job_id: str
    patient: str
    service: str
    duration: int  # minutes
    window: tuple[int, int]  # minutes; the start is hard, the end soft (tardiness)
    location: GeoPoint
    matrix_index: int
    incompatible: frozenset[str]  # caregiver ids


@dataclass(frozen=True)
class Synchronisation:
    first: str  # job ids
    second: str
    min_delay: int  # minutes
    max_delay: int


@dataclass
class HhcrspInstance:
    """An instance as read: the engine's problem, plus the raw values the scorer checks."""

    name: str
    problem: DispatchProblem
    #: job id -> crew indices allowed (skill and not incompatible), for `translate`
    eligible: dict[str, list[int]]
    caregivers: list[Caregiver]
    visits: list[ServiceVisit]
    syncs: list[Synchronisation]
    minutes: list[list[int]]  # the instance's travel matrix, as given
    overtime: bool = True  # may a caregiver return after its shift ends (see read_instance)


def read_instance(path: Path | str, overtime: bool = True) -> HhcrspInstance:
    """Read one instance file; `InputError` names the record and field of any bad value.

    `overtime`: caregivers may work past their shift's end, as the published validator
    allows (it checks only that no service starts before the shift does); the overtime is
    measured by `dispatch.benchmarks.hhcrsp_score`, not optimised. False makes the shift end hard.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(str(path), "(document)", f"not JSON: {exc}") from None
    return instance_from_dict(data, path.stem, overtime)


def instance_from_dict(data: Any, name: str = "", overtime: bool = True) -> HhcrspInstance:
    """The instance from parsed JSON (see the module docstring and `read_instance`)."""
    root = f"instance {name!r}" if name else "instance"
    data = _mapping(data, root, "(document)")
    services = {}
    for k, raw in enumerate(_list(data, root, "services")):
        s = _mapping(raw, root, f"services[{k}]")
        sid = _text(s, f"service {k}", "id")
        services[sid] = s.get("default_duration")
    depots, depot_index = _depots(data, root)
    caregivers = _caregivers(data, root, services, depot_index)
    matrix = _matrix(data, root)
    visits, syncs = _patients(data, root, services, {c.id for c in caregivers})
    indices = [depot_index[d.id] for d in depots] + [v.matrix_index for v in visits]
    rows = [depot_index[d.id] for d in depots]
    rows += list({v.patient: v.matrix_index for v in visits}.values())
    if sorted(rows) != list(range(len(matrix))):
        raise InputError(
            root, "distances", "rows must be the departing points and patients, one row each"
        )
    crews = [
        Crew(
            id=c.id,
            kind=CrewKind.REPAIR_TECHNICIAN,
            people=1,
            skills=c.abilities,
            start_depot=c.depot,
            end_depot=c.depot,
            shift_start=_clock(c.shift[0], f"caregiver {c.id!r}", "working_shift"),
            shift_end=_clock(
                DAY_END if overtime else c.shift[1], f"caregiver {c.id!r}", "working_shift"
            ),
            cost_per_hour=COST_PER_HOUR,
            cost_per_km=0.0,
        )
        for c in caregivers
    ]
    day_end = DAY_END if overtime else max(c.shift[1] for c in caregivers)
    jobs = [_job(v, day_end) for v in visits]
    problem = DispatchProblem(
        date=DAY,
        jobs=jobs,
        crews=crews,
        depots=depots,
        travel=TravelSettings(
            provider="matrix",
            rush_hours=(),
            matrix_s=tuple(tuple(matrix[i][j] * 60 for j in indices) for i in indices),
        ),
        name=str(data.get("name") or name),
        syncs=[JobSync(s.first, s.second, s.min_delay, s.max_delay) for s in syncs],
    )
    eligible = {
        v.job_id: [
            k
            for k, c in enumerate(caregivers)
            if v.service in c.abilities and c.id not in v.incompatible
        ]
        for v in visits
    }
    return HhcrspInstance(name, problem, eligible, caregivers, visits, syncs, matrix, overtime)


def solve_instance(
    instance: HhcrspInstance,
    time_limit_s: float,
    solution_limit: int | None = None,
    metaheuristic: str = "ruin_and_recreate",
) -> Plan:
    """Solve the whole instance in one OR-Tools search and return the timed plan.

    Ruin-and-recreate by default: at 8 s it beat guided local search on both instances tried
    (009: 810,000 vs 1,014,480 engine cost; 000: equal), see docs/benchmarks.md.

    Not through `dispatch.planning.planner.make_plan`, which since issue 22 keeps two-crew
    visits whole too (zone split, second pass, repairs), but is tuned for city days (zone
    groups, drop penalties by urgency), not for a benchmark that counts every served service:
    here the problem is translated whole, solved, timed by `routing.schedule` and returned
    unvalidated: the caller validates (`dispatch.plan_validator`,
    `dispatch.benchmarks.hhcrsp_score`).
    """
    started = clock.monotonic()
    problem = instance.problem
    day = routed_day(problem, allowed=instance.eligible)
    full = day.full
    params = SolveParams(
        time_limit_s=time_limit_s, solution_limit=solution_limit, metaheuristic=metaheuristic
    )
    solution = solve(full.routing, params)
    found = solution.stats.get("solutions", 0) > 0
    reason = UnassignedReason.NO_CAPACITY_LEFT if found else UnassignedReason.NOT_SOLVED_IN_TIME
    unassigned = [Unassigned(full.job_ids[v], reason) for v in solution.unassigned]
    routes = day.crew_routes(solution.routes)
    stats = {
        "wall_s": round(clock.monotonic() - started, 2),
        "solutions": solution.stats.get("solutions", 0),
        "objective": solution.objective,
    }
    return Plan(problem, routes, unassigned, stats)


def minute_of(moment: datetime) -> float:
    """Minutes since the instance's day start (the plan's datetimes back in instance time)."""
    return (moment - datetime.combine(DAY, time(0))).total_seconds() / 60


# ---- reading helpers: each raises InputError naming the record and the field


def _mapping(value: Any, record: str, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(record, field, "must be an object")
    return value


def _list(data: Mapping[str, Any], record: str, field: str) -> list[Any]:
    value = data.get(field)
    if value is None:
        raise InputError(record, field, "is required")
    if not isinstance(value, list):
        raise InputError(record, field, "must be a list")
    return value


def _text(data: Mapping[str, Any], record: str, field: str, key: str | None = None) -> str:
    """`data[key]` (default: the field's name) as text; errors name `field`."""
    value = data.get(key or field)
    if value is None:
        raise InputError(record, field, "is required")
    if not isinstance(value, str) or not value.strip():
        raise InputError(record, field, f"must be a non-empty string, got {value!r}")
    return value


def _int(value: Any, record: str, field: str, minimum: int = 0) -> int:
    if value is None:
        raise InputError(record, field, "is required")
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(record, field, f"must be a whole number >= {minimum}, got {value!r}")
    return value


def _pair(
    data: Mapping[str, Any], record: str, field: str, key: str | None = None
) -> tuple[int, int]:
    value = data.get(key or field)
    if value is None:
        raise InputError(record, field, "is required")
    if not isinstance(value, list) or len(value) != 2:
        raise InputError(record, field, f"must be [start, end], got {value!r}")
    a, b = (_int(x, record, field) for x in value)
    if b < a:
        raise InputError(record, field, f"ends before it starts: {value!r}")
    return a, b


def _point(data: Mapping[str, Any], record: str) -> GeoPoint:
    value = data.get("location")
    if value is None:
        raise InputError(record, "location", "is required")
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
    ):
        raise InputError(record, "location", f"must be [lon, lat], got {value!r}")
    point = GeoPoint(float(value[0]), float(value[1]))
    point.check(record)
    return point


def _clock(minutes: int, record: str, field: str) -> time:
    if minutes >= 24 * 60:
        raise InputError(record, field, f"{minutes} min is not within one day")
    return time(minutes // 60, minutes % 60)


def _depots(data: Mapping[str, Any], root: str) -> tuple[list[Depot], dict[str, int]]:
    """Departing points, and the matrix row of each (its own index or its position)."""
    depots, index = [], {}
    for k, raw in enumerate(_list(data, root, "departing_points")):
        d = _mapping(raw, root, f"departing_points[{k}]")
        did = _text(d, f"departing point {k}", "id")
        record = f"departing point {did!r}"
        depots.append(Depot(did, DepotKind.SERVICE_POINT, _point(d, record)))
        index[did] = _int(d.get("distance_matrix_index", k), record, "distance_matrix_index")
    if not depots:
        raise InputError(root, "departing_points", "at least one is required")
    return depots, index


def _caregivers(
    data: Mapping[str, Any], root: str, services: Mapping[str, Any], depot_index: dict[str, int]
) -> list[Caregiver]:
    out = []
    for k, raw in enumerate(_list(data, root, "caregivers")):
        c = _mapping(raw, root, f"caregivers[{k}]")
        cid = _text(c, f"caregiver {k}", "id")
        record = f"caregiver {cid!r}"
        abilities = _list(c, record, "abilities")
        for a in abilities:
            if a not in services:
                raise InputError(record, "abilities", f"unknown service {a!r}")
        depot = _text(c, record, "starting_point_id")
        if depot not in depot_index:
            raise InputError(record, "starting_point_id", f"unknown departing point {depot!r}")
        row = _int(
            c.get("distance_matrix_index", depot_index[depot]), record, "distance_matrix_index"
        )
        if row != depot_index[depot]:
            raise InputError(
                record,
                "distance_matrix_index",
                f"{row} is not the row of departing point {depot!r}",
            )
        shift = _pair(c, record, "working_shift")
        if shift[1] == shift[0]:
            raise InputError(record, "working_shift", "is empty")
        out.append(Caregiver(cid, frozenset(abilities), shift, depot, row))
    if not out:
        raise InputError(root, "caregivers", "at least one is required")
    return out


def _matrix(data: Mapping[str, Any], root: str) -> list[list[int]]:
    rows = _list(data, root, "distances")
    n = len(rows)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != n:
            raise InputError(root, f"distances[{i}]", f"must be a list of {n} numbers")
        for j, x in enumerate(row):
            _int(x, root, f"distances[{i}][{j}]")
    return rows


def _patients(
    data: Mapping[str, Any], root: str, services: Mapping[str, Any], caregiver_ids: set[str]
) -> tuple[list[ServiceVisit], list[Synchronisation]]:
    visits, syncs = [], []
    for k, raw in enumerate(_list(data, root, "patients")):
        p = _mapping(raw, root, f"patients[{k}]")
        pid = _text(p, f"patient {k}", "id")
        record = f"patient {pid!r}"
        location = _point(p, record)
        window = _pair(p, record, "time_window")
        row = _int(p.get("distance_matrix_index"), record, "distance_matrix_index")
        incompatible = p.get("incompatible_caregivers") or []
        for c in incompatible:
            if c not in caregiver_ids:
                raise InputError(record, "incompatible_caregivers", f"unknown caregiver {c!r}")
        required = _list(p, record, "required_caregivers")
        if not 1 <= len(required) <= 2:
            raise InputError(record, "required_caregivers", "must list one or two services")
        mine: list[ServiceVisit] = []
        for n, r in enumerate(required):
            field = f"required_caregivers[{n}]"
            r = _mapping(r, record, field)
            service = _text(r, record, f"{field}.service", "service")
            if service not in services:
                raise InputError(record, f"{field}.service", f"unknown service {service!r}")
            duration = r.get("duration") or services[service]
            duration = _int(duration, record, f"{field}.duration", minimum=1)
            job_id = f"{pid}:{service}"
            if any(v.job_id == job_id for v in mine):
                raise InputError(record, f"{field}.service", f"{service!r} is required twice")
            mine.append(
                ServiceVisit(
                    job_id, pid, service, duration, window, location, row, frozenset(incompatible)
                )
            )
        visits += mine
        if len(mine) == 2:
            syncs.append(_sync(p, record, mine[0].job_id, mine[1].job_id))
    return visits, syncs


def _sync(p: Mapping[str, Any], record: str, first: str, second: str) -> Synchronisation:
    raw = p.get("synchronization")
    if raw is None:
        raise InputError(record, "synchronization", "is required with two services")
    s = _mapping(raw, record, "synchronization")
    kind = s.get("type")
    if kind == "simultaneous":
        return Synchronisation(first, second, 0, 0)
    if kind == "sequential":
        lo, hi = _pair(s, record, "synchronization.distance", "distance")
        return Synchronisation(first, second, lo, hi)
    raise InputError(record, "synchronization.type", f"{kind!r} is not simultaneous/sequential")


def _job(v: ServiceVisit, day_end: int) -> Job:
    """The job: start from the window's start until the day ends (the shifts bound it
    further); due, softly, to start by the window's end (deadline = window end + service)."""
    midnight = datetime.combine(DAY, time(0))
    start = midnight + timedelta(minutes=v.window[0])
    return Job(
        id=v.job_id,
        kind=JobKind.REPAIR,
        order_id=v.patient,
        confirmed_at=midnight,
        location=v.location,
        windows=(TimeWindow(start, midnight + timedelta(minutes=max(day_end, v.window[0]))),),
        service_minutes=v.duration,
        skills=frozenset({v.service}),
        deadline=midnight + timedelta(minutes=v.window[1] + v.duration),
    )
