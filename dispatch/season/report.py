"""The season report: CSV tables, a summary JSON, PNG charts and one self-contained HTML page.

`write_report(out_dir, results, recommendation)` writes, for one or several replications
(`SeasonResult`s of the same settings with seeds seed, seed+1, ...):

* ``days.csv``, ``zones.csv``, ``weeks.csv``, ``install_waits.csv``: every replication's
  rows, led by ``replication`` (its index in `results`) and ``seed``. Columns are the union of
  the rows' keys in first-seen order, so a figure the simulator adds later appears without
  touching this module;
* ``summary.json`` (`summary_dict`): each replication's summary, ledger and timings, the
  median / min / max across replications of the headline figures
  (`dispatch.season.report_numbers.FIGURES`), the settings, and the capacity recommendation
  when one is given, with its peak weeks on both clocks and, after a lever search, the
  levers chosen in words (`dispatch.season.report_numbers.described_recommendation`);
* six PNG charts (`dispatch.season.report_charts.CHARTS`) and ``report.html``
  (`dispatch.season.report_html`), the page a planner opens.

The report is kept apart from the model: its modules import the simulator's results and the
metrics' definitions, and no model module imports them.

* `report` (this module): the files, and the calls that draw and render the rest;
* `report_numbers`: headline figures across replications, seeds, number formats;
* `report_charts`: the matplotlib figures;
* `report_html`: the one-file HTML page;
* `report_terminal`: the summary `dispatch simulate` prints.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dispatch.season.report_charts import CHART_FUNCTIONS, png_bytes
from dispatch.season.report_html import render_html
from dispatch.season.report_numbers import (
    across_replications,
    described_recommendation,
    seed_of,
)
from dispatch.season.simulator import SeasonResult


def write_report(
    out_dir: Path, results: list[SeasonResult], recommendation: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write the tables, the summary, the charts and report.html (module doc) into `out_dir`.

    Returns file name -> path, e.g. ``paths["report.html"]``.
    """
    if not results:
        raise ValueError("a report needs at least one season result")
    recommendation = described_recommendation(recommendation, results)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}

    def rows_of(attr: str) -> list[dict[str, Any]]:
        return [
            {"replication": k, "seed": seed_of(r), **row}
            for k, r in enumerate(results)
            for row in getattr(r, attr)
        ]

    for name, attr in (("days.csv", "days"), ("zones.csv", "zones"), ("weeks.csv", "weeks")):
        paths[name] = _write_csv(out_dir / name, rows_of(attr))
    waits = [
        {"replication": k, "seed": seed_of(r), "wait_h": w}
        for k, r in enumerate(results)
        for w in r.install_waits_h
    ]
    paths["install_waits.csv"] = _write_csv(
        out_dir / "install_waits.csv", waits, ["replication", "seed", "wait_h"]
    )
    summary = summary_dict(results, recommendation)
    paths["summary.json"] = out_dir / "summary.json"
    paths["summary.json"].write_text(
        json.dumps(summary, indent=2, ensure_ascii=False, default=_json_default) + "\n",
        encoding="utf-8",
    )
    images: dict[str, bytes] = {}
    for name, draw in CHART_FUNCTIONS.items():
        images[name] = png_bytes(draw(results))
        paths[name] = out_dir / name
        paths[name].write_bytes(images[name])
    paths["report.html"] = out_dir / "report.html"
    paths["report.html"].write_text(
        render_html(results, recommendation, images, summary["across"]), encoding="utf-8"
    )
    return paths


def summary_dict(
    results: Sequence[SeasonResult], recommendation: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What summary.json holds (module doc); plain JSON values."""
    first = results[0]
    out: dict[str, Any] = {
        "city": first.city,
        "replications": len(results),
        "seeds": [seed_of(r) for r in results],
        "across": across_replications(results),
        "per_replication": [
            {
                "replication": k,
                "seed": seed_of(r),
                "summary": r.summary,
                "ledger": r.ledger,
                "timings": r.timings,
            }
            for k, r in enumerate(results)
        ],
        "settings": first.settings,
    }
    if recommendation is not None:
        out["recommendation"] = recommendation
    return out


def _write_csv(path: Path, rows: list[dict[str, Any]], header: list[str] | None = None) -> Path:
    columns = header or list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns, restval="", extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)


__all__ = ["summary_dict", "write_report"]
