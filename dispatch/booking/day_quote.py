"""One day of a region with a new order's jobs added: the tentative routes re-timed on it,
the order's jobs screened, and each job tried in a slot.

The order's jobs join the day's problem at its end (so every stored job keeps its position
and the tentative routes, kept by ids, time exactly as they were found), windowed over the
whole day's span of slots. Screening them alone against the day's crews gives the crews that
may do each at all (kind, skills, people, load, reach) and, for a job no crew may do, the
screening's reason, which the quote passes on to the call centre.

Trying a job in a slot narrows its visit's window to the slot in this day's own routing
problem (each `QuoteDay` is built for one quote or one booking and never shared), then asks
`dispatch.booking.insertion.best_insertion`. A linked installation is tried on a copy of the
day with its delivery placed (`with_placed`), so the link rules see the delivery's time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from dispatch.booking.insertion import Insertion, best_insertion
from dispatch.booking.order import in_slot
from dispatch.booking.slots import Slot
from dispatch.booking.tentative import TentativeRoutes
from dispatch.day_problem import DispatchProblem
from dispatch.errors import InputError
from dispatch.models import Job
from dispatch.planning.feasibility import screen
from dispatch.planning.leftovers import LeftoverDay
from dispatch.planning.routed_day import routed_day
from dispatch.translate import build_travel


class QuoteDay:
    """The day's problem with `jobs` added, its tentative routes timed on it (`day`)."""

    def __init__(
        self, problem: DispatchProblem, tentative: TentativeRoutes, jobs: Sequence[Job], span: Slot
    ) -> None:
        stored = {j.id for j in problem.jobs}
        for job in jobs:
            if job.id in stored:
                raise InputError("order", "order_id", f"job {job.id!r} exists already")
        added = [in_slot(j, span.start, span.end) for j in jobs]
        self.problem = dataclasses.replace(problem, jobs=[*problem.jobs, *added])
        self.routed = routed_day(self.problem, lazy=True)
        self.visit = {j.id: self.routed.job_pos[j.id] for j in added}
        alone = dataclasses.replace(problem, jobs=added, zones=[], syncs=[])
        screening = screen(alone, build_travel(alone))
        #: job id -> crew indices that may do it (the same crews, in the same order)
        self.eligible = screening.eligible
        #: job id -> why no crew may do it on this day
        self.refused = {u.job_id: u.detail or u.reason.value for u in screening.unassigned}
        seqs: dict[int, list[int]] = {}
        breaks: dict[int, int] = {}
        for crew_id, (job_ids, lunch) in tentative.routes.items():
            k = self.routed.crew_pos[crew_id]
            seqs[k] = [self.routed.job_pos[j] for j in job_ids]
            if lunch is not None:
                breaks[k] = lunch
        routes = self.routed.time(seqs, breaks) if seqs else []
        self.day = LeftoverDay.of(self.routed, routes)

    def place(self, job_id: str, slot: Slot, day: LeftoverDay | None = None) -> Insertion | None:
        """The cheapest place for the order's job `job_id` starting inside `slot` on `day`
        (default: the tentative day), or None when it fits nowhere (or no crew may do it)."""
        if job_id not in self.eligible:
            return None
        v = self.visit[job_id]
        routing = self.routed.full.routing
        to_s = self.problem.to_seconds
        window = ((max(0, to_s(slot.start)), min(86_399, to_s(slot.end))),)
        routing.visits[v] = dataclasses.replace(routing.visits[v], windows=window)
        return best_insertion(day or self.day, v, self.eligible[job_id])

    def with_placed(self, ins: Insertion) -> LeftoverDay:
        """A copy of the tentative day with `ins` committed (the day itself is unchanged)."""
        d = self.day
        copy = LeftoverDay(
            routed=d.routed,
            seqs={k: list(s) for k, s in d.seqs.items()},
            breaks=dict(d.breaks),
            routes=dict(d.routes),
            ends=dict(d.ends),
            starts=dict(d.starts),
            links=d.links,
            busy=dict(d.busy),
        )
        copy.commit(ins.vehicle, ins.seq, ins.route)
        return copy

    def crew_id(self, ins: Insertion) -> str:
        return self.routed.full.crew_ids[ins.vehicle]
