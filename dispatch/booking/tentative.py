"""The tentative day a quote is checked against: the day's booked jobs on the crews' routes.

**What it is.** The jobs already stored for the region and day (booked through quotes or
entered otherwise) placed by the planner's own last pass, `dispatch.planning.leftovers.
settle_leftovers`, started from empty routes (run by `dispatch.booking.greedy`, which gives
the same routes in a fraction of the time): the jobs most urgent first, each on the
eligible crew and at the position that adds the fewest metres and breaks no rule (windows,
shifts, lunches, loads, job limits, a delivery before its installation), timed with the real
travel times (`RoutedDay`). It is the planner's greedy insertion, not its solve.

**Why not the day's published or latest plan.** A plan is a snapshot of an earlier set of
jobs: every booking since then would be missing from it, and re-timing it with the new jobs
inserted is this very greedy pass anyway. The greedy day is simple, deterministic (same jobs,
same routes) and honest in the direction that matters: every job it places is inside its
booked window on a timed route that breaks no hard rule, so a slot quoted on it is one the
full planner can keep (it packs at least as well; `tests/dispatch/test_booking.py` checks
that booked days plan inside their slots). It packs worse than the solver, so a quote may
refuse a slot the solver could still have fitted: the cost of honesty. Jobs it cannot place
(`unplaced`) are reported with the quote: the day is already over-booked for them.

It places no two-crew visit (an assisted job and its assisting job, `Job.assists`): the fast
pass has no pair placement yet, so a day's pairs are listed `unplaced` and their crews' hours
look free to a quote; the planner itself places pairs whole (`dispatch.planning.leftovers`).

It ignores what the day has become once crews are on the road (started jobs, positions):
quotes are for days that have not started, the first slot `SlotGrid.lead_minutes` ahead.

`TentativeRoutes` holds the result by ids, so a service may keep it between quotes for as
long as the day's jobs and crews stay the same (`api.services.quotes` does) and re-time it on
a day with the quoted order's jobs added (`dispatch.booking.day_quote`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dispatch.booking.greedy import settle_from_empty
from dispatch.day_problem import DispatchProblem
from dispatch.planning.feasibility import screen
from dispatch.planning.leftovers import Settled, settle_leftovers
from dispatch.planning.routed_day import RoutedDay, routed_day


@dataclass(frozen=True)
class TentativeRoutes:
    """Per crew id: its jobs' ids in route order and the stop its lunch follows (None: no
    lunch on the route); the jobs placed on no route, with why."""

    routes: dict[str, tuple[tuple[str, ...], int | None]]
    unplaced: dict[str, str]

    @property
    def placed(self) -> int:
        return sum(len(jobs) for jobs, _ in self.routes.values())

    def with_route(
        self, crew_id: str, jobs: tuple[str, ...], lunch_after: int | None
    ) -> TentativeRoutes:
        """These routes with crew `crew_id`'s route replaced: the day after a booking that
        was checked on it (`dispatch.booking.quotes.SlotOffer.route`), without placing the
        whole day again."""
        return TentativeRoutes({**self.routes, crew_id: (jobs, lunch_after)}, self.unplaced)


def tentative_routes(
    problem: DispatchProblem, routed: RoutedDay | None = None, *, fast: bool = True
) -> TentativeRoutes:
    """The greedy day of `problem`'s jobs on its crews (`routed`: the day already translated).
    `fast=False`: placed by `settle_leftovers` itself (`dispatch.booking.greedy` places the
    same routes faster; the tests compare the two)."""
    routed = routed or routed_day(problem, lazy=True)
    screening = screen(problem, routed.travel)
    settle = settle_from_empty if fast else _settle_from_empty_slowly
    settled = settle(routed, screening.eligible)
    routes: dict[str, tuple[tuple[str, ...], int | None]] = {}
    placed: set[str] = set()
    for r in settled.routes:
        if not r.stops:
            continue
        jobs = tuple(routed.full.job_ids[s.visit] for s in r.stops)
        placed.update(jobs)
        lunch = r.break_.after_stop if r.break_ is not None else None
        routes[routed.full.crew_ids[r.vehicle]] = (jobs, lunch)
    unplaced = {u.job_id: f"{u.reason.value}: {u.detail}" for u in screening.unassigned}
    for job_id, (reason, detail) in settled.reasons.items():
        unplaced[job_id] = f"{reason.value}: {detail}"
    for job in problem.jobs:
        if job.id not in placed and job.id not in unplaced:
            unplaced[job.id] = "no_capacity_left: the greedy day found no room for it"
    return TentativeRoutes(routes, unplaced)


def _settle_from_empty_slowly(routed: RoutedDay, eligible: Mapping[str, list[int]]) -> Settled:
    return settle_leftovers(routed, [], [], eligible, place_pairs=False)
