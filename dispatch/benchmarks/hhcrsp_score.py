"""An HHCRSP plan checked and scored against the instance's own raw values.

Independent of the engine's model: it reads the caregivers, services, windows, syncs and the
minute matrix as `dispatch.benchmarks.hhcrsp` parsed them from the file, never the
`DispatchProblem`, the travel model or the routing translation, and replays each route leg by leg.

The objective is the one published with the instances: Mankowska, Meisel and Bierwirth
(2014, Health Care Manag Sci 17:15-30), used by Ceschia et al. (2024, ITOR,
doi:10.1111/itor.13585) for these sets, minimises (D + T + Tmax) / 3 with D the total travel
(minutes, from the departing point to the first patient, between patients and back),
T the total tardiness and Tmax the largest tardiness of a service, where a service's tardiness
is max(0, start - end of the patient's time window). The README of iolab-uniud/hhcrsp shows
its validator reporting `total_cost` = 334 / 3 for a solution with 334 travel and no tardiness.

Rules (hard): every service once, by a caregiver who has the ability and is not incompatible
with the patient; no start before the window opens; service as long as required; travel and
service fit between consecutive stops; the day within the caregiver's shift, return included
(unless the instance was read with overtime allowed, the default: the published validator
only checks the shift's start and reports overtime); two services of one patient by two
caregivers, simultaneous or `min..max` apart.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from dispatch.benchmarks.hhcrsp import HhcrspInstance, minute_of
from dispatch.plan import Plan


@dataclass(frozen=True)
class Score:
    """The published cost components of a plan, in minutes."""

    travel: float
    total_tardiness: float
    max_tardiness: float
    served: int
    unserved: int
    overtime: float = 0.0  # minutes back after the shift's end, all caregivers (not in the cost)

    @property
    def objective(self) -> float:
        """(travel + total tardiness + max tardiness) / 3, the published objective."""
        return (self.travel + self.total_tardiness + self.max_tardiness) / 3


def score_plan(instance: HhcrspInstance, plan: Plan) -> Score:
    """Travel and tardiness of the plan's routes, from the instance's matrix and windows."""
    caregivers = {c.id: c for c in instance.caregivers}
    visits = {v.job_id: v for v in instance.visits}
    travel = overtime = 0.0
    tardiness: list[float] = []
    for route in plan.routes:
        if not route.stops:
            continue
        cg = caregivers[route.crew_id]
        rows = [cg.depot_index, *(visits[s.job_id].matrix_index for s in route.stops)]
        rows.append(cg.depot_index)
        travel += sum(instance.minutes[a][b] for a, b in itertools.pairwise(rows))
        for s in route.stops:
            tardiness.append(max(0.0, minute_of(s.start) - visits[s.job_id].window[1]))
        back = minute_of(route.stops[-1].end) + instance.minutes[rows[-2]][cg.depot_index]
        overtime += max(0.0, back - cg.shift[1])
    served = sum(len(r.stops) for r in plan.routes)
    return Score(
        travel=travel,
        total_tardiness=sum(tardiness),
        max_tardiness=max(tardiness, default=0.0),
        served=served,
        unserved=len(instance.visits) - served,
        overtime=overtime,
    )


def tardiness_lower_bound(instance: HhcrspInstance) -> float:
    """A lower bound on the total tardiness of any plan serving every service.

    Each service alone: no eligible caregiver starts it before both the window and that
    caregiver's shift have opened. Capacity, travel and syncs are ignored, so the bound is
    weak on crowded instances; it shows how much tardiness the data force (windows that close
    before any qualified caregiver's shift starts), which the instances do not publish.
    """
    caregivers = {c.id: c for c in instance.caregivers}
    total = 0.0
    for v in instance.visits:
        able = [
            c
            for c in caregivers.values()
            if v.service in c.abilities and c.id not in v.incompatible
        ]
        if able:
            total += min(max(0, max(v.window[0], c.shift[0]) - v.window[1]) for c in able)
    return total


def check_plan(instance: HhcrspInstance, plan: Plan) -> list[str]:  # noqa: C901 - a flat list of independent HHCRSP rule checks in one pass over the plan
    """Every broken HHCRSP rule in the plan, as readable lines; empty means none.

    Services left unassigned are not a broken rule here (they are counted by `score_plan`),
    but half of a two-service visit is.
    """
    out: list[str] = []
    caregivers = {c.id: c for c in instance.caregivers}
    visits = {v.job_id: v for v in instance.visits}
    start_of: dict[str, tuple[float, str]] = {}
    for route in plan.routes:
        cg = caregivers.get(route.crew_id)
        if cg is None:
            out.append(f"route of unknown caregiver {route.crew_id!r}")
            continue
        if not route.stops:
            continue
        depart = minute_of(route.depart)
        if depart < cg.shift[0]:
            out.append(f"{cg.id} leaves at {depart:g}, before its shift starts ({cg.shift[0]})")
        t, row = depart, cg.depot_index
        for s in route.stops:
            v = visits.get(s.job_id)
            if v is None:
                out.append(f"{cg.id} serves unknown service {s.job_id!r}")
                continue
            if s.job_id in start_of:
                out.append(f"{s.job_id} is served twice")
            start, end = minute_of(s.start), minute_of(s.end)
            start_of[s.job_id] = (start, cg.id)
            if v.service not in cg.abilities:
                out.append(f"{cg.id} lacks the ability {v.service} for {v.patient}")
            if cg.id in v.incompatible:
                out.append(f"{cg.id} is incompatible with {v.patient}")
            if start < v.window[0]:
                out.append(f"{s.job_id} starts at {start:g}, before its window {v.window}")
            if end - start < v.duration:
                out.append(f"{s.job_id} lasts {end - start:g} min, needs {v.duration}")
            ready = t + instance.minutes[row][v.matrix_index]
            if start < ready:
                out.append(
                    f"{s.job_id} starts at {start:g}; {cg.id} cannot be there before {ready:g}"
                )
            t, row = end, v.matrix_index
        back = t + instance.minutes[row][cg.depot_index]
        if back > cg.shift[1] and not instance.overtime:
            out.append(f"{cg.id} is back at {back:g}, after its shift ends ({cg.shift[1]})")
    unassigned = {u.job_id for u in plan.unassigned}
    for v in instance.visits:
        if v.job_id not in start_of and v.job_id not in unassigned:
            out.append(f"{v.job_id} is neither served nor unassigned")
    for sy in instance.syncs:
        first, second = start_of.get(sy.first), start_of.get(sy.second)
        if first is None and second is None:
            continue
        if first is None or second is None:
            out.append(f"only one of {sy.first}, {sy.second} is served")
            continue
        if first[1] == second[1]:
            out.append(f"{sy.first} and {sy.second} are both served by {first[1]}")
        delay = second[0] - first[0]
        if not sy.min_delay <= delay <= sy.max_delay:
            out.append(
                f"{sy.second} starts {delay:g} min after {sy.first}, "
                f"outside [{sy.min_delay}, {sy.max_delay}]"
            )
    return out
