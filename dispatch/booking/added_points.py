"""A day's travel model with a new order's addresses added, without recomputing the day's.

A quote adds one or two jobs to a day of 1,500. Translating the day again with them
(`dispatch.translate.build_travel` and `translate`) builds the routing problem's whole
1,500 x 1,500 matrices again (a tenth of a second per quoted day), although only the rows
and columns of the added addresses are new. `AddedPointsTravel` keeps the prepared day's
model as it is and holds just those: each matrix is the day's, plus the added points'
columns (every location to an added point) and rows (an added point to every location),
the added points last, where `translate` would have put the order's jobs.

The added entries come from `routing.lazy_travel.LazyHaversineModel.block` on the same
coordinates, travel settings and rounding as the day's own model (`build_travel`), so
every entry is the one translating the whole day again would have given (the haversine
provider's entries are computed element by element; `tests/dispatch/test_booking_fast.py`
compares the two). Road providers ("osm", "osrm") and a given matrix have no such per-pair
formula: a quote on them translates the whole day (`dispatch.booking.day_quote`).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from routing.lazy_travel import LazyHaversineModel
from routing.travel import TravelModel


class AddedPointsMatrix:
    """A square int32 "matrix": `base` (n x n, a numpy array or a lazy `PointMatrix`) with k
    points added after it. `to_added[i, j]` is the entry from location i (of all n + k) to
    added point j, `from_added[j, i]` from added point j to location i.

    Indexing as the planner does it on a day's matrices: `m[i, j]` (a numpy int32 scalar),
    `m[rows, j]` and `m[i, cols]` with an int, a slice or a 1-D index array, and
    `m[np.ix_(rows, cols)]` (a block). Indices are non-negative."""

    def __init__(self, base: Any, to_added: np.ndarray, from_added: np.ndarray) -> None:
        self._base = base
        self._n = int(base.shape[0])
        self._to = to_added
        self._from = from_added
        size = self._n + to_added.shape[1]
        self.shape = (size, size)
        self.dtype = np.dtype(np.int32)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> Any:
        i, j = key
        if isinstance(i, (int, np.integer)) and isinstance(j, (int, np.integer)):
            n = self._n
            if j >= n:
                return self._to[i, j - n]
            if i >= n:
                return self._from[i - n, j]
            return self._base[i, j]
        rows, r_scalar = self._index(i)
        cols, c_scalar = self._index(j)
        block = self.block(rows.reshape(-1), cols.reshape(-1))
        if r_scalar:
            return block[0]
        if c_scalar:
            return block[:, 0]
        return block

    def _index(self, key: Any) -> tuple[np.ndarray, bool]:
        if isinstance(key, (int, np.integer)):
            return np.array([int(key)], dtype=np.int64), True
        if isinstance(key, slice):
            return np.arange(self.shape[0])[key], False
        return np.asarray(key, dtype=np.int64), False

    def block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The entries from each of `rows` to each of `cols` (int32)."""
        n = self._n
        out = np.empty((len(rows), len(cols)), dtype=np.int32)
        r_base, c_base = rows < n, cols < n
        if r_base.any() and c_base.any():
            rb, cb = rows[r_base], cols[c_base]
            out[np.ix_(r_base, c_base)] = np.asarray(self._base[np.ix_(rb, cb)])
        if (~c_base).any():
            out[:, ~c_base] = self._to[np.ix_(rows, cols[~c_base] - n)]
        if (~r_base).any() and c_base.any():
            out[np.ix_(~r_base, c_base)] = self._from[np.ix_(rows[~r_base] - n, cols[c_base])]
        return out


class AddedPointsTravel(TravelModel):
    """`base` (the prepared day's routing travel model) with the points `added` appended;
    `coords` knows every point's coordinates (`LazyHaversineModel` over the whole day, the
    added points included) and `where[i]` is location i's point in it."""

    def __init__(
        self, base: TravelModel, coords: LazyHaversineModel, where: np.ndarray, added: np.ndarray
    ) -> None:
        # the base model was checked when it was built; the added entries are haversine's
        # (`TravelModel.__post_init__` would scan every entry of the matrices again)
        every = np.concatenate([where, added]).astype(np.int64)
        self.base = base
        self.coords = coords
        #: each location's point in `coords`
        self.every = every
        #: per profile (None: metres): every location to the added points, and back
        self.to_added: dict[str | None, np.ndarray] = {}
        self.from_added: dict[str | None, np.ndarray] = {}
        for profile in (None, *base.durations):
            self.to_added[profile] = coords.block(profile, every, added)
            self.from_added[profile] = coords.block(profile, added, every)
        self.distances = cast(
            np.ndarray,
            AddedPointsMatrix(base.distances, self.to_added[None], self.from_added[None]),
        )
        self.durations = {
            p: cast(np.ndarray, AddedPointsMatrix(m, self.to_added[p], self.from_added[p]))
            for p, m in base.durations.items()
        }
        self.congestion = base.congestion
        self.settings = base.settings

    def flattened(self) -> TravelModel:
        """The same entries as one plain model: over a dense day, dense matrices (the day's
        with the added rows and columns copied in); over a lazy day, a lazy model over all
        the points. What a day keeps once the order is booked into it
        (`dispatch.booking.prepared.PreparedDay.after_booking`)."""
        if isinstance(self.base, LazyHaversineModel):
            return self.coords.subset(self.every)
        n, size = self.base.size, len(self.every)

        def whole(m: Any, to: np.ndarray, back: np.ndarray) -> np.ndarray:
            out = np.empty((size, size), dtype=np.int32)
            out[:n, :n] = m
            out[:, n:] = to
            out[n:, :n] = back[:, :n]
            return out

        return TravelModel(
            whole(self.base.distances, self.to_added[None], self.from_added[None]),
            {
                p: whole(m, self.to_added[p], self.from_added[p])
                for p, m in self.base.durations.items()
            },
            self.congestion,
            dict(self.settings),
        )

    def subset(self, locations: Any) -> TravelModel:
        """The dense model over `locations` (in that order)."""
        loc = np.asarray(locations, dtype=np.int64)
        dist = cast(AddedPointsMatrix, self.distances).block(loc, loc)
        durations = {
            p: cast(AddedPointsMatrix, m).block(loc, loc) for p, m in self.durations.items()
        }
        return TravelModel(dist, durations, self.congestion, dict(self.settings))
