"""`dispatch bench quotes` (scripts/bench_quotes.py) on a small day: it seeds the service's
store, times cold and warm quotes, HTTP and bookings, writes its JSON, and two runs with the
same seed answer the same quotes."""

from __future__ import annotations

import json

from scripts.bench_quotes import figures, main


def test_the_quote_benchmark_runs_and_answers_the_same_twice(tmp_path, capsys):
    args = ["--jobs", "40", "--days", "1", "--quotes", "4", "--http", "1", "--book", "1"]
    for label in ("a", "b"):
        assert main([*args, "--label", label, "--out", str(tmp_path)]) == 0
    a, b = (json.loads((tmp_path / f"{x}.json").read_text()) for x in "ab")
    assert a["answers_sha256"] == b["answers_sha256"]
    assert a["cold_ms"] > 0 and a["warm"]["n"] == 4 and a["http"]["n"] == 1
    assert set(a["warm_by_kind"]) <= {"delivery", "delivery+installation", "repair"}
    assert "warm p50" in capsys.readouterr().out


def test_percentiles_are_nearest_rank():
    got = figures([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert (got["p50_ms"], got["p90_ms"], got["p99_ms"], got["max_ms"]) == (50, 90, 99, 100)
    assert figures([]) == {}
