"""Where the benchmark scripts write their results: one CSV row per run and a Markdown table."""

from __future__ import annotations

import csv
from pathlib import Path


def write_results(out: Path, rows: list[dict], columns: list[str], md: str) -> tuple[Path, Path]:
    """Write OUT/results.csv (`columns` in order) and OUT/results.md; both paths back."""
    csv_path, md_path = out / "results.csv", out / "results.md"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    md_path.write_text(md, encoding="utf-8")
    return csv_path, md_path
