"""A day prepared for quoting: its problem and tentative routes translated, timed and
indexed once, then extended by each quote's jobs in a few milliseconds.

Quoting a new order on a day of 1,500 jobs used to translate the whole day with the order's
jobs added (`routed_day`: the routing problem and its 1,400 x 1,400 matrices), time every
crew's tentative route on it and screen the order: about 0.2 s per day and quote before a
single slot was tried. None of that depends on the order but the order's own rows, so
`PreparedDay` does it once per day's content and `quote_day` adds the order:

* the order's jobs translated on their own (`dispatch.translate.translate` over them and
  every crew: the very visits a whole translation gives them) and put after the day's
  visits, where `routed_day` puts jobs added at the end of the problem;
* the travel model keeps the day's matrices and gets the added addresses' rows and columns
  (`dispatch.booking.added_points`);
* the links between visits (a delivery and its installation) extended by the order's;
* the tentative routes, timed once, shared (the quote reads them; a placed delivery is tried
  on a copy, `QuoteDay.with_placed`), with the arrays of the fast insertion check
  (`dispatch.booking.gaps.DayIndex`).

The quote is the one a whole translation gives (`tests/dispatch/test_booking_fast.py`
quotes the same orders both ways). Where the day cannot be extended so (travel times from a
road network or a given matrix: no per-pair formula for the added addresses; an order whose
id a stored job's order shares, which a whole translation would link to it; a day without
crews) `quote_day` translates the whole day as before (`QuoteDay.rebuilt`): slower, the same
answer.

A booking's jobs join the prepared day the same way (`after_booking`), the travel matrices
then copied into plain ones, so the next quote finds the day prepared without a new
translation.

A prepared day is read, never changed, by the quotes on it, so a service may share one
between threads (`api.services.quote_days` keeps one per day's content).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence

import numpy as np

from dispatch.booking.added_points import AddedPointsTravel
from dispatch.booking.day_quote import (
    QuoteDay,
    Screenings,
    alone_on,
    day_key,
    screened,
    timed_tentative,
)
from dispatch.booking.gaps import CrewGaps, DayIndex, Prefixes
from dispatch.booking.order import in_slot
from dispatch.booking.slots import Slot
from dispatch.booking.tentative import TentativeRoutes
from dispatch.day_problem import DispatchProblem
from dispatch.errors import InputError
from dispatch.models import Job
from dispatch.planning.leftovers import LeftoverDay, busy_until
from dispatch.planning.routed_day import RoutedDay, VisitLinks, routed_day
from dispatch.translate import Translation, build_travel, job_location, translate
from routing.lazy_travel import LazyHaversineModel
from routing.problem import Precedence


class PreparedDay:
    """A day's problem and tentative routes, ready to quote on (see the module docstring).

    `fast=False` quotes every order by translating the whole day (what the module replaced;
    the tests compare the two). `routed`: the day already translated (`routed_day(problem,
    lazy=True)`, as placing the tentative routes did)."""

    def __init__(
        self,
        problem: DispatchProblem,
        tentative: TentativeRoutes,
        *,
        fast: bool = True,
        routed: RoutedDay | None = None,
    ) -> None:
        self.problem = problem
        self.tentative = tentative
        self.job_ids = frozenset(j.id for j in problem.jobs)
        #: what screening an order reads of the day (`dispatch.booking.day_quote.day_key`)
        self.day_key = day_key(problem)
        self.order_ids = frozenset(j.order_id for j in problem.jobs)
        #: can the day be extended by an order's rows (haversine travel times)?
        self.fast = fast and problem.travel.provider == "haversine"
        if not self.fast:
            return
        self.routed = routed or routed_day(problem, lazy=True)  # (the tentative routes' own)
        self.day = timed_tentative(self.routed, tentative)
        for k in range(len(problem.crews)):
            busy_until(self.day, k)  # every route's busy seconds, read by every quote
        self.index = DayIndex(CrewGaps.of(self.day), Prefixes.of(self.day))

    def extends(self, jobs: Sequence[Job]) -> bool:
        """Can `jobs` be added to the translated day (see the module docstring)?"""
        return (
            self.fast
            and bool(self.problem.crews)
            and not any(j.order_id in self.order_ids for j in jobs)
        )

    @classmethod
    def after_booking(
        cls, before: PreparedDay, booked: Sequence[Job], tentative: TentativeRoutes
    ) -> PreparedDay:
        """The day `before` with the `booked` jobs stored and the tentative routes as the
        booking's check left them (`TentativeRoutes.with_route`): the booked jobs added to
        the translated day as a quote adds an order's (after the day's own; the travel
        matrices kept, with the new rows and columns copied in), instead of translating the
        whole day again. It quotes as a day prepared from scratch does (its jobs' order is
        the only difference, and nothing a quote answers depends on it)."""
        if not before.extends(booked):
            whole = dataclasses.replace(before.problem, jobs=[*before.problem.jobs, *booked])
            return cls(whole, tentative, fast=before.fast)
        alone = alone_on(before.problem, booked)
        problem = copy.copy(before.problem)  # (checked above, with the day's rules)
        problem.jobs = [*before.problem.jobs, *alone.jobs]
        routed, _ = _extended(before.routed, problem, len(booked))
        travel = routed.full.routing.travel
        assert isinstance(travel, AddedPointsTravel)
        routing = copy.copy(routed.full.routing)
        routing.travel = travel.flattened()
        full = dataclasses.replace(routed.full, routing=routing)
        return cls(problem, tentative, routed=dataclasses.replace(routed, full=full))

    def quote_day(
        self, jobs: Sequence[Job], span: Slot, memo: Screenings | None = None
    ) -> QuoteDay:
        """The day with the order's `jobs` added, windowed over `span` until a slot is
        tried (`InputError` when a job's id is stored on the day already); `memo`: the
        quote's screenings on its other days (`dispatch.booking.day_quote.screened`)."""
        for job in jobs:
            if job.id in self.job_ids:
                raise InputError("order", "order_id", f"job {job.id!r} exists already")
        if not self.extends(jobs):
            return QuoteDay.rebuilt(self.problem, self.tentative, jobs, span, memo)
        alone = alone_on(self.problem, [in_slot(j, span.start, span.end) for j in jobs])
        added = alone.jobs  # checked, and given the day's rules (`DispatchProblem`)
        # a shallow copy: the day's jobs were checked when it was built, the order's just now
        problem = copy.copy(self.problem)
        problem.jobs = [*self.problem.jobs, *added]
        routed, links = _extended(self.routed, problem, len(added))
        base = self.day
        day = LeftoverDay(
            routed=routed,
            seqs=base.seqs,
            breaks=base.breaks,
            routes=base.routes,
            ends=base.ends,
            starts=base.starts,
            links=_links(base.links, links),
            busy=dict(base.busy),
        )
        eligible, refused = screened(alone, memo, self.day_key)
        visit = {j.id: routed.job_pos[j.id] for j in added}
        return QuoteDay(problem, routed, day, visit, eligible, refused, self.index)


def _extended(
    base: RoutedDay, problem: DispatchProblem, n_added: int
) -> tuple[RoutedDay, list[Precedence]]:
    """`base` (the day without the order) with the last `n_added` jobs of `problem` added,
    as `routed_day(problem, lazy=True)` would translate them; and the links they add."""
    n_jobs = len(problem.jobs) - n_added
    added = problem.jobs[n_jobs:]
    travel = build_travel(problem, lazy=True)
    deadlines = dict(base.deadlines)
    deadlines.update({j.id: problem.promises.deadline(j) for j in added})
    # the order's visits as a translation over every crew gives them, without building
    # every crew's vehicle again: translated with one crew, then placed after the day's
    # visits and allowed the crews `translate` allows (those that can do the job; None:
    # all of them)
    own = translate(problem, travel, deadlines, range(n_jobs, len(problem.jobs)), [0])
    full = base.full
    first = len(full.location_map) - n_jobs  # the day's first job location (after depots)
    visits = []
    for job, visit in zip(added, own.routing.visits, strict=True):
        allowed = tuple(k for k, c in enumerate(problem.crews) if c.can_do(job))
        visits.append(
            dataclasses.replace(
                visit,
                location=first + n_jobs + (visit.location - (len(own.location_map) - n_added)),
                allowed_vehicles=None if len(allowed) == len(problem.crews) else allowed,
            )
        )
    links = [  # the whole link, an order's maximum gap and crew mode included
        dataclasses.replace(p, before=p.before + n_jobs, after=p.after + n_jobs)
        for p in own.routing.precedences
    ]
    where = np.array([job_location(problem, n_jobs + i) for i in range(n_added)], dtype=np.int64)
    assert isinstance(travel, LazyHaversineModel)  # `PreparedDay.fast`: haversine only
    # a shallow copy: the day's visits were checked when it was translated, the order's by
    # their own translation (`RoutingProblem.__post_init__` would check all 1,500 again)
    routing = copy.copy(full.routing)
    routing.visits = [*full.routing.visits, *visits]
    routing.travel = AddedPointsTravel(full.routing.travel, travel, full.location_map, where)
    if links:  # a new list only when needed: the schedule builder's link index is kept by it
        routing.precedences = [*full.routing.precedences, *links]
    job_ids = [*full.job_ids, *own.job_ids]
    translation = Translation(
        routing, job_ids, full.crew_ids, np.concatenate([full.location_map, where])
    )
    job_pos = dict(base.job_pos)
    job_pos.update({j: n_jobs + i for i, j in enumerate(own.job_ids)})
    return RoutedDay(problem, travel, deadlines, translation, job_pos, base.crew_pos), links


def _links(base: VisitLinks, added: Sequence[Precedence]) -> VisitLinks:
    """The day's ties between visits with the order's delivery -> installation links."""
    if not added:
        return base
    delivery_of = dict(base.delivery_of)
    waiting = dict(base.waiting)
    rules = dict(base.rules)
    by_visit = dict(base.by_visit)
    for p in added:
        delivery_of[p.after] = (p.before, p.gap_s)
        waiting[p.before] = [*waiting.get(p.before, []), p.after]
        rules[p.after] = p
        for v in (p.before, p.after):
            by_visit[v] = [*by_visit.get(v, []), p]
    return VisitLinks(delivery_of, waiting, base.partners, rules, by_visit)
