"""What changed between two plans of one day: the diff a dispatcher approves after a re-plan.

`diff_plans(old, new)` compares the plans by job and crew ids only, so it works for any two
plans of a day (a re-plan, a from-scratch plan, a plan after overrides):

* `crews_changed`: crews whose stops (jobs, order, arrival/start/end) or lunch differ, or
  who have a route in only one of the plans;
* `moved`: jobs of both plans whose crew changed (`None` = unassigned);
* `eta_changes`: planned jobs whose new ETA differs from the one the customer was told
  (`notified_eta`, default the old plan's). The ETA is the planned *start* of work, when
  the crew rings the bell: the planner lets crews drive on early and wait at the door, so
  the arrival can be hours before it; `beyond_tolerance` marks the ones a
  customer must be told again (more than `tolerance_minutes` either way: a crew an hour
  early finds nobody at home just as one an hour late breaks the promise of a time);
* `added` / `removed`: jobs only in the new / old plan's problem;
* `newly_unassigned`: the new plan's unassigned jobs that were planned before or are new;
* `at_risk`: promises newly at risk: a job that now ends after its deadline but did not
  before (or is new), and a newly unassigned job due by the end of the plan day.

`started` names jobs already under way or finished (a re-plan's pinned jobs): their ETA is
history, so they get no ETA change and no promise warning.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from dispatch.plan import CrewRoute, Plan, Unassigned


@dataclass(frozen=True)
class JobMove:
    """A job now done by another crew; `None` stands for the unassigned list."""

    job_id: str
    from_crew: str | None
    to_crew: str | None


@dataclass(frozen=True)
class EtaChange:
    """A planned arrival that differs from what the customer was told."""

    job_id: str
    crew_id: str
    old_eta: datetime
    new_eta: datetime
    minutes: int  # new - old, rounded to whole minutes (negative: earlier)
    beyond_tolerance: bool  # the customer must be told again


@dataclass(frozen=True)
class AtRisk:
    """A promise the new plan no longer keeps; `planned_end` is None when unassigned."""

    job_id: str
    deadline: datetime
    planned_end: datetime | None
    reason: str


@dataclass
class PlanDiff:
    crews_changed: list[str] = field(default_factory=list)
    moved: list[JobMove] = field(default_factory=list)
    eta_changes: list[EtaChange] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    newly_unassigned: list[Unassigned] = field(default_factory=list)
    at_risk: list[AtRisk] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (
            self.crews_changed
            or self.moved
            or self.eta_changes
            or self.added
            or self.removed
            or self.newly_unassigned
            or self.at_risk
        )

    @property
    def notices(self) -> list[EtaChange]:
        """The ETA changes a customer must be told about (beyond the tolerance)."""
        return [e for e in self.eta_changes if e.beyond_tolerance]

    def summary(self) -> dict[str, Any]:
        """JSON-ready: counts first, then every list (datetimes as ISO strings)."""
        return {
            "counts": {
                "crews_changed": len(self.crews_changed),
                "moved": len(self.moved),
                "eta_changes": len(self.eta_changes),
                "eta_notices": len(self.notices),
                "added": len(self.added),
                "removed": len(self.removed),
                "newly_unassigned": len(self.newly_unassigned),
                "at_risk": len(self.at_risk),
            },
            "crews_changed": list(self.crews_changed),
            "moved": [
                {"job_id": m.job_id, "from_crew": m.from_crew, "to_crew": m.to_crew}
                for m in self.moved
            ],
            "eta_changes": [
                {
                    "job_id": e.job_id,
                    "crew_id": e.crew_id,
                    "old_eta": e.old_eta.isoformat(),
                    "new_eta": e.new_eta.isoformat(),
                    "minutes": e.minutes,
                    "beyond_tolerance": e.beyond_tolerance,
                }
                for e in self.eta_changes
            ],
            "added": list(self.added),
            "removed": list(self.removed),
            "newly_unassigned": [
                {"job_id": u.job_id, "reason": u.reason.value, "detail": u.detail}
                for u in self.newly_unassigned
            ],
            "at_risk": [
                {
                    "job_id": r.job_id,
                    "deadline": r.deadline.isoformat(),
                    "planned_end": None if r.planned_end is None else r.planned_end.isoformat(),
                    "reason": r.reason,
                }
                for r in self.at_risk
            ],
        }


def _minutes(delta: timedelta) -> int:
    """Whole minutes, rounded half away from zero (90 s -> 2, -90 s -> -2)."""
    seconds = delta.total_seconds()
    whole = int((abs(seconds) + 30) // 60)
    return whole if seconds >= 0 else -whole


def _route_key(route: CrewRoute) -> tuple:
    stops = tuple((s.job_id, s.arrival, s.start, s.end) for s in route.stops)
    return stops, route.lunch


def diff_plans(
    old: Plan,
    new: Plan,
    *,
    notified_eta: dict[str, datetime] | None = None,
    tolerance_minutes: int = 30,
    started: Collection[str] = (),
) -> PlanDiff:
    """The changes from `old` to `new` (see the module docstring); lists sorted by id."""
    notified_eta = notified_eta or {}
    started = frozenset(started)
    old_routes = {r.crew_id: r for r in old.routes}
    new_routes = {r.crew_id: r for r in new.routes}
    crews_changed = sorted(
        c
        for c in old_routes.keys() | new_routes.keys()
        if c not in old_routes
        or c not in new_routes
        or _route_key(old_routes[c]) != _route_key(new_routes[c])
    )
    old_stops = {s.job_id: (r.crew_id, s) for r in old.routes for s in r.stops}
    new_stops = {s.job_id: (r.crew_id, s) for r in new.routes for s in r.stops}
    old_jobs = {j.id for j in old.problem.jobs}
    new_jobs = {j.id for j in new.problem.jobs}
    old_unassigned = {u.job_id for u in old.unassigned}

    moved = []
    for job_id in sorted(old_jobs & new_jobs):
        before = old_stops[job_id][0] if job_id in old_stops else None
        after = new_stops[job_id][0] if job_id in new_stops else None
        if before != after:
            moved.append(JobMove(job_id, before, after))

    tolerance = timedelta(minutes=tolerance_minutes)
    eta_changes = []
    for job_id in sorted(new_stops):
        if job_id in started:
            continue
        crew_id, stop = new_stops[job_id]
        told = notified_eta.get(job_id)
        if told is None and job_id in old_stops:
            told = old_stops[job_id][1].start
        if told is None or told == stop.start:
            continue
        delta = stop.start - told
        eta_changes.append(
            EtaChange(job_id, crew_id, told, stop.start, _minutes(delta), abs(delta) > tolerance)
        )

    newly_unassigned = sorted(
        (u for u in new.unassigned if u.job_id not in old_unassigned),
        key=lambda u: u.job_id,
    )
    at_risk = _at_risk(old, new, old_stops, new_stops, newly_unassigned, started)
    return PlanDiff(
        crews_changed=crews_changed,
        moved=moved,
        eta_changes=eta_changes,
        added=sorted(new_jobs - old_jobs),
        removed=sorted(old_jobs - new_jobs),
        newly_unassigned=newly_unassigned,
        at_risk=at_risk,
    )


def _at_risk(old, new, old_stops, new_stops, newly_unassigned, started) -> list[AtRisk]:
    out = []
    for job_id in sorted(new_stops):
        if job_id in started:
            continue
        stop = new_stops[job_id][1]
        if stop.end <= stop.deadline:
            continue
        before = old_stops.get(job_id)
        if before is not None and before[1].end > before[1].deadline:
            continue  # late already in the old plan: not newly at risk
        late = _minutes(stop.end - stop.deadline)
        out.append(
            AtRisk(job_id, stop.deadline, stop.end, f"would end {late} min after its deadline")
        )
    jobs = new.problem.jobs_by_id()
    day_end = datetime.combine(new.problem.date, time.max)
    for u in newly_unassigned:
        if u.job_id in started or u.job_id not in jobs:
            continue
        deadline = new.problem.promises.deadline(jobs[u.job_id])
        if deadline <= day_end:
            out.append(AtRisk(u.job_id, deadline, None, f"unassigned: {u.reason.value}"))
    out.sort(key=lambda r: r.job_id)
    return out
