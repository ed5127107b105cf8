"""The tentative day's gaps as arrays, read once per day: what makes a quote's insertion
check (and the tentative day's own placing) fast without changing its answer.

`dispatch.booking.insertion` tries a new job in every gap of every eligible crew's route
(before the first stop, between two stops, after the last) and keeps the trials that its
cheap bounds leave, cheapest detour first. Written crew by crew and gap by gap in Python
that is about 2 ms per job and slot on the 1,500-job demo day, most of it re-reading the
same routes. `CrewGaps` reads them once per prepared day (`dispatch.booking.prepared`): for
every gap its crew, position, the locations on either side, when the crew is free to leave
for it, the next stop's last window end and the legs it replaces; for every crew its
stops, load, limits and free hours (`with_vehicle` reads one crew again after its route
changed). `trials` then applies the same bounds, in the same integer arithmetic, to all
gaps of all eligible crews at once with numpy, and hands the trials out in the order
sorting them gives, as they are read: exactly those of the crew-by-crew code
(`tests/dispatch/test_booking_fast.py`).

`Prefixes` serves the second speed-up: before a trial is timed (a third of a millisecond),
a lower bound on every start after the new job decides whether it can pass at all
(`surely_fails`). The bound is exact where it matters: the stops before the new job are
timed as the trial will time them (the route as it is, or, where the trial moves the crew's
lunch out of them, the same stops without a lunch; both with the stops of other routes
they wait for where those are now: a route is read again when one of them moves); every
later leg is counted at its free-flow time (rush hours only slow a leg; a lunch only adds
its length, and must start in its window) and every start at the earliest its windows
allow. A trial the bound rules out breaks a window, its lunch window or the shift end
whatever the timing does, so skipping it changes no answer; every other trial is timed and
judged as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dispatch.booking.added_points import AddedPointsTravel
from dispatch.planning.leftovers import MARGIN_S, LeftoverDay, busy_until, fixed_elsewhere
from dispatch.planning.leftovers import lunch_gaps as _lunch_gaps
from routing.schedule import earliest_in_windows

#: a job limit or capacity that is not there
UNLIMITED = np.iinfo(np.int64).max // 4

#: (free-flow detour seconds, vehicle, position, lunch choice, lunch gap)
Trial = tuple[int, int, int, int, int | None]


@dataclass(frozen=True)
class CrewGaps:
    """Every gap of every crew's route on a timed day (rows, crew by crew: vehicle k's from
    `offsets[k]` to `offsets[k + 1]`), and every crew (vehicles)."""

    # per gap
    vehicle: np.ndarray
    pos: np.ndarray
    prev: np.ndarray  # the location before the gap (the start depot for the first)
    after: np.ndarray  # the location after it (the end depot for the last)
    ready: np.ndarray  # when the crew may leave for it at the earliest (see `_ready`)
    limit: np.ndarray  # the next stop's last window end, or the shift end
    leg: np.ndarray  # free-flow seconds from `prev` to `after` on the crew's profile
    metres: np.ndarray  # metres from `prev` to `after`
    profile: np.ndarray  # index into `profiles`
    # per vehicle
    offsets: np.ndarray
    profiles: tuple[str, ...]
    stops: np.ndarray
    max_visits: np.ndarray
    load: np.ndarray  # (vehicles, dimensions)
    capacity: np.ndarray  # (vehicles, dimensions); UNLIMITED where none
    shift_start: np.ndarray
    free: np.ndarray  # shift seconds less the route's busy seconds (`busy_until`)

    @classmethod
    def of(cls, day: LeftoverDay) -> CrewGaps:
        """The gaps of `day`'s routes (every vehicle: one gap for a crew without stops)."""
        p = day.routed.full.routing
        profiles = tuple(sorted({veh.profile for veh in p.vehicles}))
        dims = max((len(veh.capacity) for veh in p.vehicles), default=0)
        blocks = [_gap_rows(day, k, profiles) for k in range(len(p.vehicles))]
        g = np.concatenate([np.zeros((0, len(ROWS)), dtype=np.int64), *blocks])
        per = [_crew(day, k, dims) for k in range(len(p.vehicles))]
        c = np.array([x[0] for x in per], dtype=np.int64).reshape(-1, 4)
        sizes = np.array([len(b) for b in blocks], dtype=np.int64)
        columns: dict[str, Any] = {name: g[:, n] for n, name in enumerate(ROWS)}
        return cls(
            **columns,
            offsets=np.concatenate([[0], np.cumsum(sizes)]),
            profiles=profiles,
            stops=c[:, 0],
            max_visits=c[:, 1],
            load=np.array([x[1] for x in per], dtype=np.int64).reshape(len(per), dims),
            capacity=np.array([x[2] for x in per], dtype=np.int64).reshape(len(per), dims),
            shift_start=c[:, 2],
            free=c[:, 3],
        )

    def with_vehicle(self, day: LeftoverDay, k: int) -> CrewGaps:
        """These gaps with vehicle k's read again from `day` (its route changed)."""
        a, b = int(self.offsets[k]), int(self.offsets[k + 1])
        block = _gap_rows(day, k, self.profiles)
        changed: dict[str, Any] = {
            name: np.concatenate([getattr(self, name)[:a], block[:, n], getattr(self, name)[b:]])
            for n, name in enumerate(ROWS)
        }
        changed["offsets"] = self.offsets.copy()
        changed["offsets"][k + 1 :] += len(block) - (b - a)
        numbers, load, _ = _crew(day, k, self.load.shape[1])
        for name, value in zip(
            ("stops", "max_visits", "shift_start", "free"), numbers, strict=True
        ):
            changed[name] = getattr(self, name).copy()
            changed[name][k] = value
        changed["load"] = self.load.copy()
        changed["load"][k] = load
        return dataclasses.replace(self, **changed)

    def trials(
        self,
        day: LeftoverDay,
        v: int,
        crews: list[int],
        not_before: np.ndarray | None = None,
        *,
        metres: bool = False,
    ) -> Iterator[Trial]:
        """The trials of visit v on `crews` (vehicles whose routes are this day's) that the
        bounds of `dispatch.booking.insertion` leave, in order: cheapest detour first (in
        free-flow seconds, or in metres, as the planner's last pass weighs them:
        `dispatch.booking.greedy`), then by crew, position and lunch choice, as sorting
        the trials gives them; made as they are read (a search stops at the first that
        passes). `not_before[k]`: the earliest start its delivery allows v on crew k
        (None: v waits for no delivery)."""
        p = day.routed.full.routing
        visit = p.visits[v]
        ks = np.asarray(crews, dtype=np.int64)
        if not len(ks):
            return iter(())
        dims = self.load.shape[1]  # the dimensions any crew's capacity has
        demand = np.zeros(dims, dtype=np.int64)
        demand[: min(dims, len(visit.demand))] = visit.demand[:dims]
        floor = self.shift_start[ks] if not_before is None else not_before[ks]
        closes = visit.windows[-1][1]
        ok = self.stops[ks] + 1 <= self.max_visits[ks]
        if demand.size:
            ok &= (self.load[ks] + demand <= self.capacity[ks]).all(axis=1)
        ok &= floor <= closes
        ok &= visit.service_s - MARGIN_S <= self.free[ks]
        wanted = np.zeros(len(self.stops), dtype=bool)
        wanted[ks[ok]] = True
        floor_of = np.zeros(len(self.stops), dtype=np.int64)
        floor_of[ks] = floor
        rows = np.flatnonzero(wanted[self.vehicle])
        k = self.vehicle[rows]
        drive_in, drive_out = self._legs_to(p, visit.location, rows)
        detour = drive_in + drive_out - self.leg[rows]
        keep = visit.service_s + detour - MARGIN_S <= self.free[k]
        at_door = np.maximum(self.ready[rows] + drive_in, floor_of[k])
        keep &= at_door - MARGIN_S <= closes
        begins = np.full(len(rows), closes, dtype=np.int64)
        for a, b in reversed(visit.windows):
            begins = np.where(at_door - MARGIN_S <= b, np.maximum(at_door, a), begins)
        keep &= begins + visit.service_s + drive_out - MARGIN_S <= self.limit[rows]
        cost = detour
        if metres:
            m_in, m_out = self._legs_to(p, visit.location, rows, metres=True)
            cost = m_in + m_out - self.metres[rows]
        kept = np.flatnonzero(keep)
        kept = kept[np.lexsort((self.pos[rows[kept]], k[kept], cost[kept]))]
        return self._with_lunches(day, kept, rows, cost)

    def _with_lunches(
        self, day: LeftoverDay, kept: np.ndarray, rows: np.ndarray, cost: np.ndarray
    ) -> Iterator[Trial]:
        """The trials of the gaps `rows[kept]` (in that order), each with its lunch choices."""
        vehicles = day.routed.full.routing.vehicles
        for i in kept.tolist():
            r = int(rows[i])
            kk, pos, c = int(self.vehicle[r]), int(self.pos[r]), int(cost[i])
            gaps = _lunch_gaps(vehicles[kk], day.breaks.get(kk), pos, int(self.stops[kk]))
            for n, gap in enumerate(gaps):
                yield (c, kk, pos, n, gap)

    def _legs_to(
        self, p: Any, here: int, rows: np.ndarray, *, metres: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Free-flow seconds (or metres) from each gap's `prev` to `here` and from `here` to
        its `after`."""
        if metres:
            return self._legs(p.travel, None, here, rows)
        drive_in = np.empty(len(rows), dtype=np.int64)
        drive_out = np.empty(len(rows), dtype=np.int64)
        for n, name in enumerate(self.profiles):
            mine = self.profile[rows] == n
            if mine.any():
                drive_in[mine], drive_out[mine] = self._legs(p.travel, name, here, rows[mine])
        return drive_in, drive_out

    def _legs(
        self, travel: Any, profile: str | None, here: int, at: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Seconds on `profile` (None: metres) from the gaps `at` to `here` and back on."""
        if isinstance(travel, AddedPointsTravel) and here >= travel.base.size:
            j = here - travel.base.size  # an order's address: its column and row at hand
            return (
                travel.to_added[profile][self.prev[at], j].astype(np.int64),
                travel.from_added[profile][j, self.after[at]].astype(np.int64),
            )
        m = travel.distances if profile is None else travel.durations[profile]
        return (
            np.asarray(m[self.prev[at], here], dtype=np.int64),
            np.asarray(m[here, self.after[at]], dtype=np.int64),
        )


#: the per-gap arrays of `CrewGaps`, in the order `_gap_rows` gives them
ROWS = ("vehicle", "pos", "prev", "after", "ready", "limit", "leg", "metres", "profile")


def _gap_rows(day: LeftoverDay, k: int, profiles: tuple[str, ...]) -> np.ndarray:
    """Vehicle k's gaps on `day`, one row each (`ROWS`)."""
    p = day.routed.full.routing
    veh = p.vehicles[k]
    seq = day.seqs.get(k, [])
    legs = p.travel.durations[veh.profile]
    dist = p.travel.distances
    places = [veh.start_location, *(p.visits[x].location for x in seq), veh.end_location]
    prof = profiles.index(veh.profile)
    rows = []
    for pos in range(len(seq) + 1):
        a, b = places[pos], places[pos + 1]
        limit = p.visits[seq[pos]].windows[-1][1] if pos < len(seq) else veh.shift_end
        ready = _ready(day, k, pos)
        rows.append([k, pos, a, b, ready, limit, int(legs[a, b]), int(dist[a, b]), prof])
    return np.array(rows, dtype=np.int64).reshape(-1, len(ROWS))


def _crew(day: LeftoverDay, k: int, dims: int) -> tuple[list[int], list[int], list[int]]:
    """Vehicle k on `day`: (stops, job limit, shift start, free seconds), its load and its
    capacity per dimension."""
    p = day.routed.full.routing
    veh = p.vehicles[k]
    seq = day.seqs.get(k, [])
    free = veh.shift_end - veh.shift_start - busy_until(day, k)
    limit_visits = UNLIMITED if veh.max_visits is None else veh.max_visits
    load = [sum(p.visits[x].demand[d] for x in seq) for d in range(dims)]
    caps = [veh.capacity[d] if d < len(veh.capacity) else UNLIMITED for d in range(dims)]
    return [len(seq), limit_visits, veh.shift_start, free], load, caps


def _ready(day: LeftoverDay, k: int, pos: int) -> int:
    """When crew k may leave for a job put at `pos`, at the earliest: its shift start, or
    the end of the stop before (less its lunch, when the lunch was taken earlier and could
    move after the job). The bound the crew-by-crew code uses."""
    veh = day.routed.full.routing.vehicles[k]
    route, brk = day.routes.get(k), day.breaks.get(k)
    if not pos or route is None:
        return veh.shift_start
    lunch_s = veh.break_.duration_s if veh.break_ is not None else 0
    late_lunch = brk is not None and brk < pos - 1
    return route.stops[pos - 1].end - (lunch_s if late_lunch else 0)


@dataclass(frozen=True)
class Prefixes:
    """Per vehicle with a route: each stop's end when the route is timed as it is (`ends`),
    and the same stops' ends timed without a lunch (`free_ends`; only where the route's
    lunch comes before its last leg, else the same list); both with the stops on other
    routes that its stops wait for (a delivery, a two-person partner) where they are now,
    as a trial is timed. `inputs` keeps those stops' ends: a route whose inputs move is read
    again (`with_routes`)."""

    ends: dict[int, list[int]]
    free_ends: dict[int, list[int]]
    inputs: dict[int, tuple[tuple[int, int], ...]]
    #: visit -> the vehicles whose inputs hold it
    waiters: dict[int, frozenset[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, day: LeftoverDay, vehicles: Iterable[int] | None = None) -> Prefixes:
        """The prefixes of `day`'s routes (of `vehicles` only, when given)."""
        ends: dict[int, list[int]] = {}
        free_ends: dict[int, list[int]] = {}
        inputs: dict[int, tuple[tuple[int, int], ...]] = {}
        for k in day.routes if vehicles is None else vehicles:
            if k not in day.routes:
                continue
            seq, brk = day.seqs[k], day.breaks.get(k)
            fixed = fixed_elsewhere(day, seq)
            inputs[k] = tuple((o, end) for o, (end, _) in sorted(fixed.items()))
            hint = {k: brk} if brk is not None else {}
            ends[k] = [s.end for s in day.routed.time({k: seq}, hint, fixed)[0].stops]
            free_ends[k] = ends[k]
            if brk is not None and brk <= len(seq) - 2:
                # the lunch on the way home: no lunch before any stop
                late = day.routed.time({k: seq}, {k: len(seq) - 1}, fixed)
                free_ends[k] = [s.end for s in late[0].stops]
        waiters: dict[int, frozenset[int]] = {}
        for k, waits in inputs.items():
            for o, _ in waits:
                waiters[o] = waiters.get(o, frozenset()) | {k}
        return cls(ends, free_ends, inputs, waiters)

    def with_routes(self, day: LeftoverDay, vehicles: Iterable[int]) -> Prefixes:
        """These prefixes with `vehicles`' read again from `day` (their routes changed), and
        those of the routes waiting for a stop that moved with them."""
        vehicles = set(vehicles)
        on_them = {o for k in vehicles for o in day.seqs.get(k, [])}
        waiting = {j for o in on_them for j in self.waiters.get(o, ())}
        moved = {
            j
            for j in waiting
            if any(day.ends.get(o, (None, None))[0] != end for o, end in self.inputs[j])
        }
        gone = vehicles | moved
        fresh = Prefixes.of(day, gone)
        waiters = dict(self.waiters)
        for j in gone:
            for o, _ in self.inputs.get(j, ()):
                waiters[o] = waiters[o] - {j}
        for o, js in fresh.waiters.items():
            waiters[o] = waiters.get(o, frozenset()) | js
        return Prefixes(
            {k: e for k, e in self.ends.items() if k not in gone} | fresh.ends,
            {k: e for k, e in self.free_ends.items() if k not in gone} | fresh.free_ends,
            {k: e for k, e in self.inputs.items() if k not in gone} | fresh.inputs,
            waiters,
        )

    def surely_fails(
        self, day: LeftoverDay, v: int, k: int, pos: int, gap: int | None, not_before: int
    ) -> bool:
        """Whether the trial of visit v at `pos` of vehicle k's route (lunch hint `gap`) on
        `day` (whose routes these prefixes read) breaks a window, the lunch window or the
        shift end however it is timed (see the module docstring); `not_before`: the
        earliest start v's delivery on another vehicle allows. False when it cannot tell."""
        p = day.routed.full.routing
        veh = p.vehicles[k]
        seq = day.seqs.get(k, [])
        if pos == 0:
            t, loc = veh.shift_start, veh.start_location
        elif k not in self.ends:
            return False  # (a route these prefixes have not read)
        else:
            brk = day.breaks.get(k)
            lunch_before = brk is not None and brk <= pos - 2  # on the route as it is
            kept_before = gap is not None and gap <= pos - 2  # on the trial's route
            if (kept_before and gap != brk) or (veh.break_ is not None and gap is None):
                return False  # a lunch the schedule builder places itself: no exact prefix
            ends = self.free_ends[k] if lunch_before and not kept_before else self.ends[k]
            t, loc = ends[pos - 1], p.visits[seq[pos - 1]].location
            if v in day.links.delivery_of:
                d = day.links.delivery_of[v][0]
                if d in seq[:pos]:  # its delivery on this route, timed with the prefix
                    not_before = ends[seq.index(d)]
        return _late(p, veh, [v, *seq[pos:]], t, loc, not_before, gap, pos)


def _late(
    p: Any, veh: Any, after: list[int], t: int, loc: int, not_before: int, gap: int | None, pos: int
) -> bool:
    """From the exact end `t` at `loc` of the stop before the new job: does the rest of the
    trial's route (`after`: the new visit, then the stops after it) surely miss a window, the
    lunch window or the shift end? Later legs at free-flow times (a lower bound)."""
    legs = p.travel.durations[veh.profile]
    lunch = veh.break_
    lunch_leg = None if gap is None else gap + 1  # the leg into the stop after the lunch
    exact = not (gap is None and lunch is not None)  # no lunch on the first leg
    for m, x in enumerate([*after, None], start=pos):
        dest = veh.end_location if x is None else p.visits[x].location
        if lunch is not None and m == lunch_leg:
            if max(t, lunch.window_start) > lunch.latest_start:
                return True
            arrival = t + lunch.duration_s + int(legs[loc, dest])
        elif m == pos and exact:
            arrival = t + p.travel.travel_time(veh.profile, loc, dest, t)
        else:
            arrival = t + int(legs[loc, dest])
        if x is None:
            return arrival > veh.shift_end
        stop = p.visits[x]
        start = earliest_in_windows(max(arrival, not_before) if m == pos else arrival, stop.windows)
        if start is None:
            return True
        t, loc = start + stop.service_s, stop.location
    return False


@dataclass(frozen=True)
class DayIndex:
    """What the fast insertion check reads of a prepared day: its gaps, its routes' prefix
    times, and its routes' driving seconds (filled as read). `changed` names the vehicles
    whose routes differ from the prepared day's (a delivery placed on one before its
    installation is tried): those are tried crew by crew, as without an index."""

    gaps: CrewGaps
    prefixes: Prefixes
    drive_s: dict[int, int] = field(default_factory=dict)
    changed: frozenset[int] = frozenset()
