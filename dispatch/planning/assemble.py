"""Assemble the day: merge the solves' visit sequences, time them on the whole problem, and
translate the result into a `Plan`.

The final timing runs once over all jobs and crews (one full translation), so links between
a delivery and an installation planned in different solves are timed together. Should the
re-timing of merged sequences ever break a hard rule (rounding at a zone border, a break that
no longer fits), the offending stop is taken out and reported unassigned with that reason,
rather than returning an invalid plan; `stats["timing_drops"]` counts such cases.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

from dispatch.models import JobKind
from dispatch.plan import Plan, Unassigned, UnassignedReason
from dispatch.planning.routed_day import RoutedDay
from dispatch.translate import Translation
from routing.problem import RouteSchedule, RoutingSolution
from routing.validate import validate_solution

MAX_REPAIRS = 50


@dataclass
class DaySequences:
    """Per crew index: the job indices in visiting order and where its break goes."""

    jobs: dict[int, list[int]] = field(default_factory=dict)
    breaks: dict[int, int] = field(default_factory=dict)

    def add(
        self,
        tr: Translation,
        sol: RoutingSolution,
        job_pos: dict[str, int],
        crew_pos: dict[str, int],
    ) -> None:
        for r in sol.routes:
            crew = crew_pos[tr.crew_ids[r.vehicle]]
            first = crew not in self.jobs
            seq = self.jobs.setdefault(crew, [])
            if first and r.break_ is not None:
                self.breaks[crew] = r.break_.after_stop
            seq.extend(job_pos[tr.job_ids[s.visit]] for s in r.stops)

    def planned(self) -> set[int]:
        return set(itertools.chain.from_iterable(self.jobs.values()))


def time_day(routed: RoutedDay, day: DaySequences) -> tuple[list[RouteSchedule], list[int]]:
    """Timed routes on the whole day, and job indices taken out because they broke a rule."""
    full = routed.full
    seqs = {k: list(v) for k, v in day.jobs.items() if v}
    dropped: list[int] = []
    for _ in range(MAX_REPAIRS):
        routes = routed.time(seqs, day.breaks)
        on_routes = set(itertools.chain.from_iterable(seqs.values()))
        unassigned = [i for i in range(len(full.routing.visits)) if i not in on_routes]
        bad = _offending_visits(full, RoutingSolution(routes, unassigned), seqs)
        if not bad:
            return routes, dropped
        for k, seq in seqs.items():
            if k in day.breaks:  # the break stays after the same remaining stop
                day.breaks[k] -= sum(1 for v in seq[: day.breaks[k] + 1] if v in bad)
            seq[:] = [v for v in seq if v not in bad]
        dropped += sorted(bad)
    raise RuntimeError("could not time the merged routes")  # pragma: no cover


def _offending_visits(
    full: Translation, sol: RoutingSolution, seqs: dict[int, list[int]]
) -> set[int]:
    ids = {v.id: i for i, v in enumerate(full.routing.visits)}
    bad: set[int] = set()
    for v in validate_solution(full.routing, sol):
        if v.rule == "accounting":
            continue
        if v.visit is not None:
            bad.add(ids[v.visit])
        elif v.vehicle is not None:  # a route-level rule: shorten that route from its end
            k = full.crew_ids.index(v.vehicle)
            if seqs.get(k):
                bad.add(seqs[k][-1])
    return bad


def to_plan(
    day: RoutedDay,
    routes: list[RouteSchedule],
    timing_drops: list[int],
    pre_unassigned: list[Unassigned],
    unsolved: dict[str, str] | None = None,
    reasons: Mapping[str, tuple[UnassignedReason, str]] | None = None,
) -> Plan:
    """The Plan: timed routes, and every job not on a route unassigned with its reason.

    `unsolved[job_id]` names the group whose solve found no solution at all in time;
    `reasons[job_id]` is what binds for a job the last pass tried on every eligible crew
    (`dispatch.planning.leftovers`).
    """
    unsolved = unsolved or {}
    reasons = reasons or {}
    problem, full = day.problem, day.full
    crew_routes = day.crew_routes(routes)
    planned = {s.job_id for r in crew_routes for s in r.stops}
    screened = {u.job_id for u in pre_unassigned}
    ordered = {j.order_id for j in problem.jobs if j.kind is JobKind.DELIVERY}
    delivered = {j.order_id for j in problem.jobs if j.kind is JobKind.DELIVERY and j.id in planned}
    dropped = {full.job_ids[v] for v in timing_drops}
    partners: dict[str, list[str]] = {}
    for sy in problem.syncs:
        partners.setdefault(sy.first, []).append(sy.second)
        partners.setdefault(sy.second, []).append(sy.first)
    unassigned = list(pre_unassigned)
    for job in problem.jobs:
        if job.id in planned or job.id in screened:
            continue
        if job.kind is JobKind.INSTALLATION and job.order_id in ordered - delivered:
            reason, detail = (
                UnassignedReason.LINKED_JOB_UNASSIGNED,
                f"the delivery of order {job.order_id} is not planned",
            )
        elif job.id in unsolved:
            reason, detail = UnassignedReason.NOT_SOLVED_IN_TIME, unsolved[job.id]
        elif job.id in reasons:
            reason, detail = reasons[job.id]
        elif job.id in partners:
            reason, detail = (
                UnassignedReason.ASSIST_PAIR,
                "no two eligible crews were free at the same time for it and "
                f"{', '.join(partners[job.id])} (a two-crew visit: both or neither)",
            )
        elif job.id in dropped:
            reason, detail = (
                UnassignedReason.NO_CAPACITY_LEFT,
                "no longer fitted its crew's day when the zones' routes were timed together",
            )
        else:
            reason, detail = (
                UnassignedReason.NO_CAPACITY_LEFT,
                "eligible crews' days are full at this job's windows",
            )
        unassigned.append(Unassigned(job.id, reason, detail))
    return Plan(problem, crew_routes, unassigned, {"timing_drops": len(dropped)})
