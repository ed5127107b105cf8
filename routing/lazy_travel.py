"""A haversine travel model that computes its entries when they are read.

`haversine_model` builds dense all-pairs matrices: one distance and one duration matrix per
profile. For a 10,000-job day with four crew kinds that is five 10,000 x 10,000 matrices
(2 GB of int32, and several GB more of float64 temporaries while building them), although
a decomposed planner only ever reads three things from the whole-day model:

* the sub-matrices of one zone group (a few hundred locations, dense, for OR-Tools);
* single legs (timing a route, validating it) and short rows (insertion's "is this crew's
  route within reach" test);
* depot-to-job blocks (the up-front screening).

`LazyHaversineModel` keeps the coordinates and computes exactly those, on demand. Its
entries are bit-identical to `haversine_model`'s: the same float64 operations run element
by element on the same inputs (radians, sin, cos, arcsin of the pair's own coordinates), the
same rounding (`rint` to int32 metres, then `ceil(metres * 3.6 / speed - 1e-9)` seconds),
so a plan timed on it re-validates on the dense model exactly (`tests/routing/test_lazy_travel.py`
checks this on the demo city). Legs read one at a time are cached.

`subset(locations)` is what `dispatch.translate.translate` calls for the sub-problem of a
group: up to `dense_below` locations it returns an ordinary dense `TravelModel` (what
OR-Tools needs), above that another lazy model over those points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np

from routing.travel import EARTH_RADIUS_M, Congestion, TravelModel

#: subsets up to this many locations are returned dense (2,500^2 x 5 int32 = 125 MB)
DENSE_BELOW = 2500


class PointMatrix:
    """A read-only, int32, square "matrix" whose entries are computed when indexed.

    Supports the index forms the planner uses: `m[i, j]` (a numpy int32 scalar), `m[i, cols]`
    and `m[rows, j]` with an int, a slice or a 1-D index array, `m[rows, cols]` with slices,
    and `m[np.ix_(rows, cols)]` (a dense block).
    """

    def __init__(self, model: LazyHaversineModel, profile: str | None) -> None:
        self._model = model
        self._profile = profile
        n = model.size
        self.shape = (n, n)
        self.dtype = np.dtype(np.int32)

    def __len__(self) -> int:
        return self.shape[0]

    def _index(self, key: Any) -> tuple[np.ndarray, bool, bool]:
        """(indices, was a scalar, was an np.ix_ column/row array)."""
        if isinstance(key, (int, np.integer)):
            k = int(key)
            if not -self.shape[0] <= k < self.shape[0]:
                raise IndexError(f"index {k} out of range for size {self.shape[0]}")
            return np.array([k % self.shape[0]], dtype=np.int64), True, False
        if isinstance(key, slice):
            return np.arange(self.shape[0])[key], False, False
        arr = np.asarray(key)
        if arr.dtype == bool:
            return np.nonzero(arr)[0], False, False
        return arr.astype(np.int64).reshape(-1), False, arr.ndim == 2

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, tuple) or len(key) != 2:
            raise TypeError("PointMatrix is indexed with [rows, cols]")
        (rows, r_scalar, r_ix), (cols, c_scalar, c_ix) = self._index(key[0]), self._index(key[1])
        if r_scalar and c_scalar:
            return self._model.leg(self._profile, int(rows[0]), int(cols[0]))
        if not (r_scalar or c_scalar or (r_ix and c_ix)) and not (
            isinstance(key[0], slice) or isinstance(key[1], slice)
        ):
            raise TypeError("pairwise fancy indexing is not supported; use np.ix_")
        block = self._model.block(self._profile, rows, cols)
        if r_scalar:
            return block[0]
        if c_scalar:
            return block[:, 0]
        return block


class LazyHaversineModel(TravelModel):
    """`haversine_model`'s travel model, computed on demand: see the module docstring."""

    def __init__(
        self,
        lon: Sequence[float] | np.ndarray,
        lat: Sequence[float] | np.ndarray,
        speeds_kmh: Mapping[str, float],
        detour_factor: float = 1.3,
        congestion: Congestion | None = None,
        dense_below: int = DENSE_BELOW,
    ) -> None:
        if detour_factor < 1.0:
            raise ValueError(f"detour_factor must be >= 1, got {detour_factor}")
        for name, speed in speeds_kmh.items():
            if speed <= 0:
                raise ValueError(f"speed for profile {name!r} must be > 0, got {speed}")
        self._lon = np.asarray(lon, dtype=np.float64)
        self._lat = np.asarray(lat, dtype=np.float64)
        if self._lon.shape != self._lat.shape or self._lon.ndim != 1:
            raise ValueError("lon and lat must be 1-D arrays of the same length")
        # the same element-wise radians and cosines haversine_metres computes
        self._lon_r = np.radians(self._lon)
        self._lat_r = np.radians(self._lat)
        self._cos_lat = np.cos(self._lat_r)
        self._speeds = dict(speeds_kmh)
        self._detour = detour_factor
        self._dense_below = dense_below
        self._legs: dict[tuple[str | None, int, int], Any] = {}
        self.congestion = congestion or Congestion()
        self.settings = {
            "provider": "haversine",
            "detour_factor": detour_factor,
            "speeds_kmh": dict(speeds_kmh),
            "congestion": [list(s) for s in self.congestion.slices],
        }
        # PointMatrix stands in for TravelModel's dense ndarrays: it answers the indexing the
        # planner does on them (see its docstring), not the rest of the ndarray interface
        self.distances = cast(np.ndarray, PointMatrix(self, None))
        self.durations = {name: cast(np.ndarray, PointMatrix(self, name)) for name in speeds_kmh}

    @property
    def size(self) -> int:
        return int(self._lon.shape[0])

    def block(self, profile: str | None, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Distances (profile None) or free-flow seconds from `rows` to `cols`, int32."""
        # haversine_metres, restricted to rows x cols: same operations in the same order
        dlat = self._lat_r[rows][:, None] - self._lat_r[cols][None, :]
        dlon = self._lon_r[rows][:, None] - self._lon_r[cols][None, :]
        h = (
            np.sin(dlat / 2) ** 2
            + self._cos_lat[rows][:, None] * self._cos_lat[cols][None, :] * np.sin(dlon / 2) ** 2
        )
        metres = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        distances = np.rint(metres * self._detour).astype(np.int32)
        return distances if profile is None else self._seconds(distances, profile)

    def _seconds(self, distances: np.ndarray, profile: str) -> np.ndarray:
        """Free-flow seconds from integer metres, exactly as `haversine_model` rounds them."""
        return np.ceil(distances * (3.6 / self._speeds[profile]) - 1e-9).astype(np.int32)

    def leg(self, profile: str | None, i: int, j: int) -> Any:
        """One entry (a numpy int32, as a dense matrix gives), cached."""
        key = (profile, i, j)
        value = self._legs.get(key)
        if value is None:
            value = self.block(profile, np.array([i]), np.array([j]))[0, 0]
            self._legs[key] = value
        return value

    def subset(self, locations: Sequence[int] | np.ndarray) -> TravelModel:
        """The model over `locations` (in that order): dense when small, else lazy."""
        loc = np.asarray(locations, dtype=np.int64)
        if len(loc) > self._dense_below:
            return LazyHaversineModel(
                self._lon[loc],
                self._lat[loc],
                self._speeds,
                self._detour,
                self.congestion,
                self._dense_below,
            )
        distances = self.block(None, loc, loc)
        return TravelModel(
            distances,
            {p: self._seconds(distances, p) for p in self._speeds},
            self.congestion,
            dict(self.settings),
        )


__all__ = ["DENSE_BELOW", "LazyHaversineModel", "PointMatrix"]
