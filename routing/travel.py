"""Travel distances and times: precomputed integer numpy matrices, time-of-day aware.

A `TravelModel` holds one distance matrix (metres) and, per travel profile (crew kind), a
free-flow duration matrix (seconds). Congestion is a piecewise-constant factor over the day
(`Congestion`), applied to the departure time of each leg, so a leg that starts in the evening
rush is slower. The exact rule, shared by the optimizer's bound and the validator, is
`travel_time(base, depart) = ceil(base * factor_permille(depart) / 1000)`.

OR-Tools needs time-independent arc times. `conservative_durations` gives, for each arc i->j,
`base * max factor over [earliest departure from i, latest arrival at j]`: every departure that
can still reach j in time lies in that range, so the solver's times are never shorter than the
real ones, and any schedule it finds stays feasible when replayed with the real, time-dependent
times (see docs/routing.md). The matrices are numpy arrays and are handed to OR-Tools whole
(`RegisterTransitMatrix`): no per-arc Python callback runs during the search.

Providers (`haversine_model`, and road-network providers later) build a `TravelModel` from
coordinates; nothing here knows about geometry libraries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np

DAY_S = 86_400
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Congestion:
    """Piecewise-constant travel-time factor over the day, in per-mille (1000 = free flow).

    `slices` are (start_s, end_s, factor_permille) within one day; outside them the factor is
    1000. Times past midnight wrap (a plan day's horizon may exceed 24 h).
    """

    slices: tuple[tuple[int, int, int], ...] = ()

    def __post_init__(self) -> None:
        for start, end, factor in self.slices:
            if not 0 <= start < end <= DAY_S:
                raise ValueError(f"congestion slice ({start}, {end}) must lie within one day")
            if factor < 1000:
                raise ValueError(f"congestion factor {factor} must be >= 1000 (free flow)")

    def _breakpoints(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted slice starts over one day and the factor that holds from each."""
        points = {0}
        for start, end, _ in self.slices:
            points.update((start, end))
        starts = np.array(sorted(p for p in points if p < DAY_S), dtype=np.int64)
        factors = np.array([self.factor_at(int(s)) for s in starts], dtype=np.int64)
        return starts, factors

    def factor_at(self, t: int) -> int:
        tod = t % DAY_S
        best = 1000
        for start, end, factor in self.slices:
            if start <= tod < end:
                best = max(best, factor)
        return best

    def max_factor(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Element-wise maximum factor over the closed ranges [lo, hi] (vectorised)."""
        lo = np.asarray(lo, dtype=np.int64)
        hi = np.asarray(hi, dtype=np.int64)
        if not self.slices:
            return np.full(np.broadcast(lo, hi).shape, 1000, dtype=np.int64)
        starts, factors = self._breakpoints()
        k = len(starts)
        # Ranges of a day or more see every slice.
        out = np.full(np.broadcast(lo, hi).shape, int(factors.max()), dtype=np.int64)
        short = (hi - lo) < DAY_S
        lo_b, hi_b = np.broadcast_arrays(lo, hi)
        lo_s, hi_s = lo_b[short], hi_b[short]
        a = np.searchsorted(starts, lo_s % DAY_S, side="right") - 1
        b = np.searchsorted(starts, hi_s % DAY_S, side="right") - 1
        wraps = (hi_s // DAY_S) > (lo_s // DAY_S)
        # table[i, j] = max factor over breakpoint indices i..j (i <= j), built once (k is tiny).
        table = np.zeros((k, k), dtype=np.int64)
        for i in range(k):
            table[i, i:] = np.maximum.accumulate(factors[i:])
        no_wrap = table[a, np.maximum(a, b)]
        wrap = np.maximum(table[a, k - 1], table[0, b])
        out[short] = np.where(wraps, wrap, no_wrap)
        return out


@overload
def apply_factor(base: int, factor_permille: int) -> int: ...
@overload
def apply_factor(base: np.ndarray, factor_permille: np.ndarray | int) -> np.ndarray: ...
@overload
def apply_factor(base: np.ndarray | int, factor_permille: np.ndarray) -> np.ndarray: ...
def apply_factor(base: np.ndarray | int, factor_permille: np.ndarray | int) -> np.ndarray | int:
    """ceil(base * factor / 1000) in integers: the single rounding rule used everywhere."""
    return (base * factor_permille + 999) // 1000


@dataclass
class TravelModel:
    """Distances (metres) and free-flow durations per profile (seconds) between locations."""

    distances: np.ndarray
    durations: Mapping[str, np.ndarray]
    congestion: Congestion = field(default_factory=Congestion)
    settings: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.distances.shape[0]
        if self.distances.shape != (n, n):
            raise ValueError("distance matrix must be square")
        for name, m in self.durations.items():
            if m.shape != (n, n):
                raise ValueError(f"duration matrix {name!r} must be {n}x{n}")
            if (m < 0).any():
                raise ValueError(f"duration matrix {name!r} has negative entries")
        if (self.distances < 0).any():
            raise ValueError("distance matrix has negative entries")

    @property
    def size(self) -> int:
        return int(self.distances.shape[0])

    @property
    def profiles(self) -> tuple[str, ...]:
        return tuple(self.durations)

    def subset(self, locations: Sequence[int] | np.ndarray) -> TravelModel:
        """The model over `locations` (indices, in that order): what a sub-problem sees.

        Dense here; `routing.lazy_travel.LazyHaversineModel` computes it from coordinates.
        """
        loc = np.asarray(locations, dtype=np.int64)
        return TravelModel(
            self.distances[np.ix_(loc, loc)],
            {p: m[np.ix_(loc, loc)] for p, m in self.durations.items()},
            self.congestion,
            self.settings,
        )

    def travel_time(self, profile: str, i: int, j: int, depart: int) -> int:
        """Real travel time of leg i->j leaving at `depart` (seconds since plan-day midnight)."""
        base = int(self.durations[profile][i, j])
        return int(apply_factor(base, self.congestion.factor_at(depart)))

    def conservative_durations(
        self,
        profile: str,
        locations: Sequence[int] | np.ndarray,
        earliest_depart: np.ndarray,
        latest_arrival: np.ndarray,
    ) -> np.ndarray:
        """Arc times between the given nodes that bound every real leg that can be on time."""
        loc = np.asarray(locations, dtype=np.int64)
        base = self.durations[profile][np.ix_(loc, loc)].astype(np.int64)
        factor = self.congestion.max_factor(
            np.asarray(earliest_depart)[:, None], np.asarray(latest_arrival)[None, :]
        )
        return apply_factor(base, factor)


def haversine_metres(
    lon: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Great-circle distances between all pairs of points, in metres (float)."""
    lon_r = np.radians(np.asarray(lon, dtype=np.float64))
    lat_r = np.radians(np.asarray(lat, dtype=np.float64))
    dlat = lat_r[:, None] - lat_r[None, :]
    dlon = lon_r[:, None] - lon_r[None, :]
    h = (
        np.sin(dlat / 2) ** 2
        + np.cos(lat_r)[:, None] * np.cos(lat_r)[None, :] * np.sin(dlon / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def haversine_model(
    lon: Sequence[float] | np.ndarray,
    lat: Sequence[float] | np.ndarray,
    speeds_kmh: Mapping[str, float],
    detour_factor: float = 1.3,
    congestion: Congestion | None = None,
) -> TravelModel:
    """The default provider: great-circle distance x detour factor, at a speed per profile.

    Road distance is approximated as `detour_factor` times the great-circle distance (1.3 is a
    common figure for dense urban grids); each profile (crew kind) drives at its own free-flow
    speed, slowed by `congestion` at rush hours.
    """
    if detour_factor < 1.0:
        raise ValueError(f"detour_factor must be >= 1, got {detour_factor}")
    for name, speed in speeds_kmh.items():
        if speed <= 0:
            raise ValueError(f"speed for profile {name!r} must be > 0, got {speed}")
    road_m = haversine_metres(lon, lat) * detour_factor
    distances = np.rint(road_m).astype(np.int32)
    # Seconds from the integer metres, so a whole number of seconds stays whole (the 1e-9
    # absorbs float noise such as 13000 * 3.6 / 26 = 1800.0000000000002).
    durations = {
        name: np.ceil(distances * (3.6 / speed) - 1e-9).astype(np.int32)
        for name, speed in speeds_kmh.items()
    }
    settings = {
        "provider": "haversine",
        "detour_factor": detour_factor,
        "speeds_kmh": dict(speeds_kmh),
        "congestion": [list(s) for s in (congestion or Congestion()).slices],
    }
    return TravelModel(distances, durations, congestion or Congestion(), settings)
