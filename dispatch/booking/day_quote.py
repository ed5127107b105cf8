"""One day of a region with a new order's jobs added: the tentative routes timed on it, the
order's jobs screened, and each job tried in a slot.

The order's jobs join the day's problem at its end (so every stored job keeps its position
and the tentative routes, kept by ids, time exactly as they were found), windowed over the
whole day's span of slots. Screening them alone against the day's crews gives the crews that
may do each at all (kind, skills, people, load, reach) and, for a job no crew may do, the
screening's reason, which the quote passes on to the call centre.

A `QuoteDay` is made by `dispatch.booking.prepared.PreparedDay.quote_day`, which adds the
order to a day translated once (fast), or by `QuoteDay.rebuilt`, which translates the whole
day with the order in it (any travel provider; the reference the fast one is tested
against). Either way it belongs to one quote or one booking and is never shared.

Trying a job in a slot narrows its visit's window to the slot in this day's own routing
problem, then asks `dispatch.booking.insertion.best_insertion`. A linked installation is
tried on a copy of the day with its delivery placed (`with_placed`), so the link rules see
the delivery's time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from dispatch.booking.gaps import DayIndex, Prefixes
from dispatch.booking.insertion import Insertion, best_insertion
from dispatch.booking.keys import Key
from dispatch.booking.order import in_slot
from dispatch.booking.slots import Slot
from dispatch.booking.tentative import TentativeRoutes
from dispatch.day_problem import DispatchProblem
from dispatch.errors import InputError
from dispatch.models import Job
from dispatch.planning.feasibility import screen
from dispatch.planning.leftovers import LeftoverDay
from dispatch.planning.routed_day import RoutedDay, routed_day
from dispatch.translate import build_travel, clip_windows, out_of_range


@dataclass(frozen=True)
class Placed:
    """A copy of the quote's day with a job committed; `changed`: the vehicles whose
    routes differ from the prepared day's; `prefixes`: the copy's route prefixes for the
    fast check (None: the day has no index)."""

    day: LeftoverDay
    changed: frozenset[int]
    prefixes: Prefixes | None = None


#: screenings already done for one quote, by what they read (`screening_key`)
Screenings = dict[Hashable, tuple[dict[str, list[int]], dict[str, str]]]


def screened(
    alone: DispatchProblem, memo: Screenings | None = None, day_key: Key | None = None
) -> tuple[dict[str, list[int]], dict[str, str]]:
    """The order's jobs screened alone against the day's crews (`alone`: the day's problem
    with only them): job id -> the crew indices that may do it; job id -> why none may.
    `memo`: screenings of the same quote on other days, used where this one would read
    exactly the same (`screening_key`; `day_key`: its part of the day, when known).

    Only the crews whose kind, skills and people fit one of the jobs are screened (the
    screening times each class of crews alike, and a delivery has no use for the
    installers' classes): the screening judges every crew on its own, so the others could
    only have been refused, and its reasons name the crews that fit. When a job fits no
    crew at all, every crew is screened, for the reason that says which need nobody meets.
    """
    key = screening_key(alone, day_key) if memo is not None else None
    if memo is not None and key in memo:
        return memo[key]
    crews = alone.crews
    able = [k for k, c in enumerate(crews) if any(c.can_do(j) for j in alone.jobs)]
    if not all(any(crews[k].can_do(j) for k in able) for j in alone.jobs):
        able = list(range(len(crews)))
    fitting = dataclasses.replace(alone, crews=[crews[k] for k in able])
    screening = screen(fitting, build_travel(fitting))
    eligible = {j: [able[k] for k in ks] for j, ks in screening.eligible.items()}
    refused = {u.job_id: u.detail or u.reason.value for u in screening.unassigned}
    if memo is not None:
        memo[key] = (eligible, refused)
    return eligible, refused


def alone_on(problem: DispatchProblem, jobs: Sequence[Job]) -> DispatchProblem:
    """The day's problem with only `jobs` (the order's, checked and given the day's rules)."""
    return dataclasses.replace(problem, jobs=list(jobs), zones=[], syncs=[])


def day_key(problem: DispatchProblem) -> Key:
    """What a screening reads of the day itself: crews, depots, travel, reach limit."""
    return Key(
        (
            tuple(problem.crews),
            tuple(problem.depots),
            repr(problem.travel),
            problem.max_km_from_depot,
        )
    )


def screening_key(alone: DispatchProblem, day: Key | None = None) -> Hashable:
    """Everything `dispatch.planning.feasibility.screen` reads of the order's jobs alone on
    a day: the day's crews, depots, travel setting and reach limit (`day_key`), and each
    job but for the date of its windows (their seconds on the day instead). Two days of a
    quote with the same crews give the same key, and the same screening. The date itself
    only where a job has no window on the day (the reason names it)."""
    jobs = tuple(
        (
            tuple(getattr(j, f.name) for f in dataclasses.fields(j) if f.name != "windows"),
            clip_windows(alone, j),
            out_of_range(j),
        )
        for j in alone.jobs
    )
    no_window = any(not clip_windows(alone, j) for j in alone.jobs)
    return (day or day_key(alone), jobs, alone.date if no_window else None)


def timed_tentative(routed: RoutedDay, tentative: TentativeRoutes) -> LeftoverDay:
    """The tentative routes (by ids) timed on the day `routed`."""
    seqs: dict[int, list[int]] = {}
    breaks: dict[int, int] = {}
    for crew_id, (job_ids, lunch) in tentative.routes.items():
        k = routed.crew_pos[crew_id]
        seqs[k] = [routed.job_pos[j] for j in job_ids]
        if lunch is not None:
            breaks[k] = lunch
    return LeftoverDay.of(routed, routed.time(seqs, breaks) if seqs else [])


class QuoteDay:
    """The day's problem with the order's jobs added (`problem`, `routed`), its tentative
    routes timed on it (`day`), the order's visits and their screening."""

    def __init__(
        self,
        problem: DispatchProblem,
        routed: RoutedDay,
        day: LeftoverDay,
        visit: dict[str, int],
        eligible: dict[str, list[int]],
        refused: dict[str, str],
        index: DayIndex | None = None,
    ) -> None:
        self.problem = problem
        self.routed = routed
        self.day = day
        #: the order's job id -> its visit
        self.visit = visit
        #: job id -> crew indices that may do it (the same crews, in the same order)
        self.eligible = eligible
        #: job id -> why no crew may do it on this day
        self.refused = refused
        #: the prepared day's arrays for the fast insertion check (None: crew by crew)
        self.index = index

    @classmethod
    def rebuilt(
        cls,
        problem: DispatchProblem,
        tentative: TentativeRoutes,
        jobs: Sequence[Job],
        span: Slot,
        memo: Screenings | None = None,
    ) -> QuoteDay:
        """The day translated whole with `jobs` added (slow; any travel provider)."""
        stored = {j.id for j in problem.jobs}
        for job in jobs:
            if job.id in stored:
                raise InputError("order", "order_id", f"job {job.id!r} exists already")
        added = [in_slot(j, span.start, span.end) for j in jobs]
        whole = dataclasses.replace(problem, jobs=[*problem.jobs, *added])
        routed = routed_day(whole, lazy=True)
        eligible, refused = screened(alone_on(problem, added), memo)
        day = timed_tentative(routed, tentative)
        visit = {j.id: routed.job_pos[j.id] for j in added}
        return cls(whole, routed, day, visit, eligible, refused)

    def place(self, job_id: str, slot: Slot, on: Placed | None = None) -> Insertion | None:
        """The cheapest place for the order's job `job_id` starting inside `slot` on the
        tentative day (or `on` a copy of it with a job placed), or None when it fits
        nowhere (or no crew may do it)."""
        if job_id not in self.eligible:
            return None
        v = self.visit[job_id]
        routing = self.routed.full.routing
        to_s = self.problem.to_seconds
        window = ((max(0, to_s(slot.start)), min(86_399, to_s(slot.end))),)
        routing.visits[v] = dataclasses.replace(routing.visits[v], windows=window)
        index = self.index
        if index is not None and on is not None and on.prefixes is not None:
            index = dataclasses.replace(
                index, changed=index.changed | on.changed, prefixes=on.prefixes
            )
        day = self.day if on is None else on.day
        return best_insertion(day, v, self.eligible[job_id], index)

    def with_placed(self, ins: Insertion) -> Placed:
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
        changed = frozenset({ins.vehicle})
        if self.index is None:
            return Placed(copy, changed)
        return Placed(copy, changed, self.index.prefixes.with_routes(copy, changed))

    def crew_id(self, ins: Insertion) -> str:
        return self.routed.full.crew_ids[ins.vehicle]
