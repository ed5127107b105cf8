"""Pure routing problem types: integer seconds since the plan day's midnight, integer metres.

`routing` knows nothing of jobs, crews, storage or HTTP (see docs/architecture.md): the
`dispatch` layer translates its domain into these types, and every check here is about
arithmetic that the solver and the validator must agree on. Objects validate on construction
(as PyVRP's `ProblemData` does) so a malformed problem fails early with the offending field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from routing.travel import TravelModel


class ProblemError(ValueError):
    """A routing problem that is malformed (not merely infeasible)."""


@dataclass(frozen=True)
class Visit:
    """One stop to serve: a job as the optimizer sees it.

    `windows` are hard, inclusive ranges for the *service start*. `deadline_s` is a soft upper
    bound on the *service end* (the promise); each second past it costs `lateness_cost_per_s`.
    `drop_penalty` is what leaving the visit unassigned costs; it must exceed any saving.
    `allowed_vehicles` is None for "any vehicle". `preferred_vehicle`, when set, is the vehicle
    the visit should go to: any other costs `preference_cost` (a soft wish, e.g. a callback's
    original crew: `routing.preferences`).
    """

    id: str
    location: int
    service_s: int
    windows: tuple[tuple[int, int], ...]
    demand: tuple[int, ...] = ()
    allowed_vehicles: tuple[int, ...] | None = None
    deadline_s: int | None = None
    lateness_cost_per_s: int = 0
    drop_penalty: int = 0
    preferred_vehicle: int | None = None
    preference_cost: int = 0

    def __post_init__(self) -> None:
        if self.service_s < 0:
            raise ProblemError(f"visit {self.id}: service_s must be >= 0, got {self.service_s}")
        if not self.windows:
            raise ProblemError(f"visit {self.id}: windows must not be empty")
        last_end = None
        for start, end in self.windows:
            if end < start:
                raise ProblemError(
                    f"visit {self.id}: window ({start}, {end}) ends before it starts"
                )
            if last_end is not None and start <= last_end:
                raise ProblemError(f"visit {self.id}: windows must be sorted and disjoint")
            last_end = end
        if any(d < 0 for d in self.demand):
            raise ProblemError(f"visit {self.id}: demand must be >= 0, got {self.demand}")
        if self.lateness_cost_per_s < 0 or self.drop_penalty < 0 or self.preference_cost < 0:
            raise ProblemError(f"visit {self.id}: costs must be >= 0")

    @property
    def earliest_start(self) -> int:
        return self.windows[0][0]

    @property
    def latest_start(self) -> int:
        return self.windows[-1][1]


@dataclass(frozen=True)
class Break:
    """A break of `duration_s` that must lie wholly inside [window_start, window_end]."""

    window_start: int
    window_end: int
    duration_s: int

    def __post_init__(self) -> None:
        if self.duration_s < 0 or self.window_end - self.window_start < self.duration_s:
            raise ProblemError(
                f"break: window ({self.window_start}, {self.window_end}) cannot hold "
                f"{self.duration_s} s"
            )

    @property
    def latest_start(self) -> int:
        return self.window_end - self.duration_s


@dataclass(frozen=True)
class Vehicle:
    """A crew as the optimizer sees it. Costs are in integer cost units (cents)."""

    id: str
    start_location: int
    end_location: int
    shift_start: int
    shift_end: int
    profile: str
    capacity: tuple[int, ...] = ()
    break_: Break | None = None
    max_visits: int | None = None
    cost_per_km: int = 100
    cost_per_hour: int = 0

    def __post_init__(self) -> None:
        if self.shift_end <= self.shift_start:
            raise ProblemError(f"vehicle {self.id}: shift_end must be after shift_start")
        if any(c < 0 for c in self.capacity):
            raise ProblemError(f"vehicle {self.id}: capacity must be >= 0, got {self.capacity}")
        if self.max_visits is not None and self.max_visits < 0:
            raise ProblemError(f"vehicle {self.id}: max_visits must be >= 0")


@dataclass(frozen=True)
class Precedence:
    """`after` starts no earlier than `before` ends, plus `gap_s` when on different vehicles.

    If `before` is unassigned, `after` must be unassigned too (an installation cannot happen
    before its delivery).

    `max_gap_s`, when set, is the other side: `after` starts no later than `max_gap_s` after
    `before` ends, on whatever vehicles (an installation within so long of its delivery).
    `same_vehicle`: both are served by one vehicle, `after` as the very next stop after
    `before` (one visit by a crew that does both); with `max_gap_s` 0 it starts the moment
    `before` ends. `split_cost` is what serving `after` other than right after `before` on
    the same vehicle costs (a second trip to the same door), in cost units.
    """

    before: int
    after: int
    gap_s: int = 0
    max_gap_s: int | None = None
    same_vehicle: bool = False
    split_cost: int = 0

    def broken(
        self, end: int, v_before: int, start: int, v_after: int, next_stop: bool = True
    ) -> tuple[str, str] | None:
        """The rule this link breaks, as (rule, what; times in seconds), or None.

        `end` and `v_before`: when and on which vehicle `before` ends; `start` and
        `v_after`: when and on which vehicle `after` starts; `next_stop`: `after` is the
        stop right after `before` (read only when `same_vehicle`). Rules, the first broken:
        "precedence" (starts before the end, + the gap on another vehicle), "same_vehicle"
        (not the next stop of the same vehicle), "max_gap" (more than `max_gap_s` after the
        end).
        """
        gap = self.gap_s if v_after != v_before else 0
        if start < end + gap:
            return "precedence", f"starts at {start}, before the end {end} + gap {gap}"
        if self.same_vehicle and (v_after != v_before or not next_stop):
            where = "on another vehicle" if v_after != v_before else "not as the next stop"
            return "same_vehicle", f"is served {where}, not in the same visit"
        if self.max_gap_s is not None and start > end + self.max_gap_s:
            return "max_gap", (
                f"starts at {start}, {start - end} s after the end {end}: more than the "
                f"maximum gap of {self.max_gap_s} s"
            )
        return None


@dataclass(frozen=True)
class Sync:
    """Two visits served together by two different vehicles (a two-person visit).

    `second` starts between `min_delay_s` and `max_delay_s` after `first` starts: (0, 0) is
    a simultaneous start, (900, 1800) "15 to 30 minutes later". Both are served or neither:
    half of a two-person visit is no visit.
    """

    first: int
    second: int
    min_delay_s: int = 0
    max_delay_s: int = 0


@dataclass
class RoutingProblem:
    """Everything the optimizer and the validator need, and nothing else."""

    visits: list[Visit]
    vehicles: list[Vehicle]
    travel: TravelModel
    precedences: list[Precedence] = field(default_factory=list)
    syncs: list[Sync] = field(default_factory=list)

    def __post_init__(self) -> None:  # noqa: C901 - validation on construction: a flat list of checks, each with its own message
        n_loc = self.travel.size
        dims = None
        seen: set[str] = set()
        n_vehicles = len(self.vehicles)
        for v in self.visits:
            if v.id in seen:
                raise ProblemError(f"visit {v.id}: duplicate id")
            seen.add(v.id)
            if not 0 <= v.location < n_loc:
                raise ProblemError(f"visit {v.id}: location {v.location} outside the matrix")
            # bounds by min/max: one pass in C instead of a generator over every vehicle
            if v.allowed_vehicles and (
                min(v.allowed_vehicles) < 0 or max(v.allowed_vehicles) >= n_vehicles
            ):
                raise ProblemError(f"visit {v.id}: allowed_vehicles names an unknown vehicle")
            dims = len(v.demand) if dims is None else dims
            if len(v.demand) != dims:
                raise ProblemError(f"visit {v.id}: demand has {len(v.demand)} dimensions")
        for k in self.vehicles:
            for loc in (k.start_location, k.end_location):
                if not 0 <= loc < n_loc:
                    raise ProblemError(f"vehicle {k.id}: location {loc} outside the matrix")
            if k.profile not in self.travel.profiles:
                raise ProblemError(f"vehicle {k.id}: unknown travel profile {k.profile!r}")
            if dims and k.capacity and len(k.capacity) != dims:
                raise ProblemError(f"vehicle {k.id}: capacity has {len(k.capacity)} dimensions")
        for p in self.precedences:
            for i in (p.before, p.after):
                if not 0 <= i < len(self.visits):
                    raise ProblemError(f"precedence {p}: unknown visit index {i}")
            if p.before == p.after:
                raise ProblemError(f"precedence {p}: a visit cannot precede itself")
            if p.gap_s < 0:
                raise ProblemError(f"precedence {p}: gap_s must be >= 0, got {p.gap_s}")
            if p.max_gap_s is not None and p.max_gap_s < 0:
                raise ProblemError(f"precedence {p}: max_gap_s must be >= 0")
            if p.split_cost < 0:
                raise ProblemError(f"precedence {p}: split_cost must be >= 0")
        for sy in self.syncs:
            for i in (sy.first, sy.second):
                if not 0 <= i < len(self.visits):
                    raise ProblemError(f"sync {sy}: unknown visit index {i}")
            if sy.first == sy.second:
                raise ProblemError(f"sync {sy}: a visit cannot be synchronised with itself")
            if not 0 <= sy.min_delay_s <= sy.max_delay_s:
                raise ProblemError(f"sync {sy}: need 0 <= min_delay_s <= max_delay_s")

    @property
    def demand_dims(self) -> int:
        return len(self.visits[0].demand) if self.visits else 0


@dataclass(frozen=True)
class StopTime:
    """A served visit: arrival at the door, service start and end (seconds)."""

    visit: int
    arrival: int
    start: int
    end: int


@dataclass(frozen=True)
class BreakTime:
    """Where and when a vehicle's break is taken.

    `after_stop` is the position in the route after which it is taken (-1: before the first
    stop, i.e. at the start depot). `before_travel` says whether the break comes before
    driving on (at the last place) or after arriving at the next place, while waiting.
    """

    start: int
    after_stop: int
    before_travel: bool


@dataclass
class RouteSchedule:
    """One vehicle's day: depot departure, timed stops, break, return to the end depot."""

    vehicle: int
    depart: int
    stops: list[StopTime]
    return_arrival: int
    break_: BreakTime | None = None


@dataclass
class RoutingSolution:
    """Routes of the used vehicles plus the indices of the visits left unassigned."""

    routes: list[RouteSchedule]
    unassigned: list[int]
    objective: int = 0
    stats: dict[str, float] = field(default_factory=dict)
