"""The tentative day placed fast: the planner's last pass from empty routes, with the
insertion check's arrays (`dispatch.booking.gaps`), giving the very same routes.

A quote on a day this process has not seen places the day's stored jobs first
(`dispatch.booking.tentative`): `dispatch.planning.leftovers.settle_leftovers` from empty
routes tries each job on every gap of every eligible crew, crew by crew in Python, and times
about nine trials per job: 4 to 5 s on the 1,500-job demo day, the cold quote's cost.
`settle_from_empty` does the same pass with the same rules:

* the jobs in the same order, the same skips (an installation whose delivery is not placed,
  half of a two-person visit), the same budget of trials;
* each job's trials are the same list in the same order (`CrewGaps.trials` with the
  last pass's metres; the crew that carries the job's delivery, and any crew with one of
  its two-person partners, crew by crew as the last pass does them);
* a trial is timed and judged as the last pass does, unless the bound of
  `Prefixes.surely_fails` shows it would break a window, a lunch or a shift (it still
  counts against the budget, as a timed trial would); the first that passes is taken;
* the gaps and prefixes of the crew that took a job are read again (`with_vehicle`,
  `with_routes`);
* a job that fits nowhere is tried once more by the last pass itself (`_try_job`), for the
  closest miss its reason names: such jobs are few and quickly refused.

Then the day is timed whole and the reasons written as `settle_leftovers` does.
`tests/dispatch/test_booking_fast.py` compares the two passes on the demo city.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

import numpy as np

from dispatch.booking.gaps import CrewGaps, Prefixes, Trial
from dispatch.planning.assemble import DaySequences, time_day
from dispatch.planning.leftover_reasons import Miss, reason_for
from dispatch.planning.leftovers import (
    MAX_EVALUATIONS,
    LeftoverDay,
    Settled,
    _trials,
    _try_job,
    fixed_elsewhere,
    judge_route,
    link_floor,
)
from dispatch.planning.routed_day import RoutedDay
from routing.problem import RouteSchedule


def settle_from_empty(
    routed: RoutedDay, eligible: Mapping[str, list[int]], max_evaluations: int = MAX_EVALUATIONS
) -> Settled:
    """`settle_leftovers(routed, [], [], eligible, max_evaluations)`, faster."""
    state = _Pass(LeftoverDay.of(routed, []))
    spent = 0
    for v in _turns(state.day, eligible):
        if spent >= max_evaluations:
            break
        if _waits(state.day, v):
            continue
        spent += state.place(v, eligible[routed.problem.jobs[v].id], max_evaluations - spent)
    day = state.day
    timed, more = time_day(routed, DaySequences(day.seqs, day.breaks))
    kept = [v for v in state.placed if v not in more]
    reasons = {
        routed.problem.jobs[v].id: reason_for(routed, day.ends, v, miss)
        for v, miss in state.misses.items()
    }
    return Settled(timed, sorted(set(more) - set(kept)), kept, reasons, spent)


def _turns(day: LeftoverDay, eligible: Mapping[str, list[int]]) -> list[int]:
    """The visits in the last pass's order: deliveries an installation waits for, then by
    drop penalty (the most urgent first), then by position."""
    routed = day.routed
    visits = routed.full.routing.visits
    awaited = {d for d, _ in day.links.delivery_of.values()}
    return sorted(
        (routed.job_pos[j] for j in eligible),
        key=lambda v: (v not in awaited, -visits[v].drop_penalty, v),
    )


def _waits(day: LeftoverDay, v: int) -> bool:
    """The last pass leaves v for now: its delivery, or its two-person partner, unplaced."""
    links = day.links
    if v in links.delivery_of and links.delivery_of[v][0] not in day.ends:
        return True
    return not all(o in day.ends for o, *_ in links.partners.get(v, ()))


class _Pass:
    """The day as the pass changes it, with its gaps and prefixes; what it placed and the
    closest misses of the jobs it could not."""

    def __init__(self, day: LeftoverDay) -> None:
        self.day = day
        self.gaps = CrewGaps.of(day)
        self.prefixes = Prefixes.of(day)
        self.placed: list[int] = []
        self.misses: dict[int, Miss] = {}

    def place(self, v: int, crews: list[int], budget: int) -> int:
        """Try visit v as the last pass does; the trials it spent."""
        found, spent = _fast_try(self.day, self.gaps, self.prefixes, v, crews, budget)
        if found is None:  # asked again, for the closest miss and the count
            found, miss, spent = _try_job(self.day, v, crews, budget)
            if miss is not None:
                self.misses[v] = miss
        if found is not None:
            k, seq, route = found
            self.day.commit(k, seq, route)
            self.placed.append(v)
            self.gaps = self.gaps.with_vehicle(self.day, k)
            self.prefixes = self.prefixes.with_routes(self.day, {k})
        return spent


def _fast_try(
    day: LeftoverDay, gaps: CrewGaps, prefixes: Prefixes, v: int, crews: list[int], budget: int
) -> tuple[tuple[int, list[int], RouteSchedule] | None, int]:
    """The last pass's `_try_job` for visit v, without its misses: the crew, sequence and
    timed route it takes (None: none), and the trials it spent."""
    by_crew = _by_crew(day, v)
    mine: list[Trial] = sorted(
        t for k in crews if k in by_crew for t in _trials(day, v, k, _ignore)
    )
    floors = _floors(day, v, gaps.shift_start)
    fast = gaps.trials(day, v, [k for k in crews if k not in by_crew], floors, metres=True)
    for spent, (_metres, k, pos, _n, gap) in enumerate(heapq.merge(mine, fast), start=1):
        if spent > budget:
            return None, budget
        floor = link_floor(day, v, k)[0] if k in by_crew else int(floors[k])
        if prefixes.surely_fails(day, v, k, pos, gap, floor):
            continue
        seq = day.seqs.get(k, [])
        new_seq = [*seq[:pos], v, *seq[pos:]]
        hints = {k: gap} if gap is not None else {}
        route = day.routed.time({k: new_seq}, hints, fixed_elsewhere(day, new_seq))[0]
        if judge_route(day, v, route, day.routed.check(route)) is None:
            return (k, new_seq, route), spent
    return None, 0  # (`settle_from_empty` asks `_try_job` then, for its miss and count)


def _by_crew(day: LeftoverDay, v: int) -> set[int]:
    """Vehicles whose trials for v the last pass's own code makes: the one carrying v's
    delivery (its route orders the two) and those carrying a two-person partner of v (the
    last pass leaves them out)."""
    out = {day.ends[o][1] for o, *_ in day.links.partners.get(v, ()) if o in day.ends}
    if v in day.links.delivery_of:
        out.add(day.ends[day.links.delivery_of[v][0]][1])
    return out


def _floors(day: LeftoverDay, v: int, shift_start: np.ndarray) -> np.ndarray:
    """Per vehicle other than its delivery's, the earliest start of v (`link_floor`)."""
    if v not in day.links.delivery_of:
        return shift_start
    d, gap = day.links.delivery_of[v]
    return np.full(len(shift_start), day.ends[d][0] + gap, dtype=np.int64)


def _ignore(_miss: Miss) -> None:
    """The misses of trials are not kept here (`settle_from_empty` asks `_try_job`)."""
