"""The on-demand haversine model gives exactly the dense model's metres and seconds."""

from __future__ import annotations

import numpy as np
import pytest

from dispatch.translate import build_travel
from fixtures.shanghai import demo_problem
from routing.lazy_travel import LazyHaversineModel


@pytest.fixture(scope="module")
def models():
    problem = demo_problem(jobs=1500, seed=3)
    return build_travel(problem), build_travel(problem, lazy=True)


def test_blocks_rows_and_single_legs_are_bit_identical(models):
    dense, lazy = models
    assert isinstance(lazy, LazyHaversineModel)
    assert lazy.size == dense.size and lazy.profiles == dense.profiles
    rng = np.random.default_rng(0)
    rows = rng.choice(dense.size, 300, replace=False)
    cols = rng.choice(dense.size, 400, replace=False)
    for name in (None, *dense.profiles):
        d = dense.distances if name is None else dense.durations[name]
        m = lazy.distances if name is None else lazy.durations[name]
        assert np.array_equal(m[np.ix_(rows, cols)], d[np.ix_(rows, cols)])
        assert np.array_equal(m[int(rows[0]), :15], d[int(rows[0]), :15])
        assert np.array_equal(m[:, int(cols[0])], d[:, int(cols[0])])
        assert np.array_equal(m[int(rows[1]), list(cols[:7])], d[int(rows[1]), list(cols[:7])])
        for i, j in zip(rows[:200], cols[:200], strict=True):
            assert m[int(i), int(j)] == d[int(i), int(j)]
    for t in (0, 8 * 3600, 17 * 3600 + 5):
        for p in dense.profiles:
            assert lazy.travel_time(p, 5, 900, t) == dense.travel_time(p, 5, 900, t)


def test_subsets_are_dense_when_small_and_lazy_when_large(models):
    dense, lazy = models
    locs = np.arange(0, dense.size, 7)
    small = lazy.subset(locs)
    ref = dense.subset(locs)
    assert not isinstance(small, LazyHaversineModel)
    assert np.array_equal(small.distances, ref.distances)
    for p in dense.profiles:
        assert np.array_equal(small.durations[p], ref.durations[p])
    big = LazyHaversineModel(
        lazy._lon,
        lazy._lat,
        lazy.settings["speeds_kmh"],
        lazy.settings["detour_factor"],
        lazy.congestion,
        dense_below=50,
    ).subset(locs)
    assert isinstance(big, LazyHaversineModel)
    assert np.array_equal(big.distances[np.ix_(range(60), range(60))], ref.distances[:60, :60])
