"""The report's numbers: headline figures across replications, seeds, and number formats.

Shared by the files (`dispatch.season.report`), the HTML page (`dispatch.season.report_html`)
and the terminal summary (`dispatch.season.report_terminal`).

**Across replications** a headline figure is given as its median and range (`spread`).
Figures that are undefined (a share with nothing due is None) are left out of the medians: an
empty day is not a 0 % day.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from dispatch.season.simulator import SeasonResult

#: headline figures: (summary key, label, kind); kind picks the format (`fmt`). Every promise
#: share names its clock (`dispatch.promise_clocks`): the customer's first, the planning one
#: beside it (rural promises are 24 h delivery and 48 h installation on both).
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("orders", "Orders", "count"),
    ("jobs_done", "Jobs done", "count"),
    ("backlog_end", "Backlog at season end (jobs)", "count"),
    ("share_delivery_12h_customer", "Deliveries within 12 h, customer's clock", "share"),
    ("share_delivery_12h", "Deliveries within 12 h, planning clock", "share"),
    ("share_install_24h_customer", "Installations within 24 h, customer's clock", "share"),
    ("share_install_24h", "Installations within 24 h, planning clock", "share"),
    (
        "share_install_24h_peak_customer",
        "Installations within 24 h, peak plateau days, customer's clock",
        "share",
    ),
    (
        "share_install_24h_peak",
        "Installations within 24 h, peak plateau days, planning clock",
        "share",
    ),
    ("worst_week_install_24h", "Installations within 24 h, worst week, planning clock", "share"),
    ("install_wait_p50_h", "Installation wait, median (p50)", "hours"),
    ("install_wait_p90_h", "Installation wait, p90", "hours"),
    ("utilisation", "Crew utilisation", "share"),
    ("callback_rate", "Callback rate", "share"),
    ("followup_coverage", "Follow-up coverage", "share"),
    ("temp_crew_days", "Temporary crew-days", "count"),
    ("cost_cny", "Cost (CNY)", "cny"),
)


def spread(values: Iterable[float | int | None]) -> dict[str, float] | None:
    """Median, min and max of the defined values (None when none is defined)."""
    defined = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not defined:
        return None
    return {
        "median": round(float(np.median(defined)), 4),
        "min": round(min(defined), 4),
        "max": round(max(defined), 4),
    }


def across_replications(results: Sequence[SeasonResult]) -> dict[str, dict[str, float] | None]:
    """The headline figures (`FIGURES`) as median / min / max over the replications."""
    return {key: spread(r.summary.get(key) for r in results) for key, _, _ in FIGURES}


def seed_of(result: SeasonResult) -> int | None:
    seed = result.settings.get("seed")
    return int(seed) if isinstance(seed, int | float) else None


def seeds_text(results: Sequence[SeasonResult]) -> str:
    """`seed 4`, `seeds 0, 1, 2` or `seeds 0–9` (replication k has seed seed + k)."""
    seeds = [s for s in (seed_of(r) for r in results) if s is not None]
    if not seeds:
        return "seed unknown"
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    if len(seeds) <= 5:
        return "seeds " + ", ".join(str(s) for s in seeds)
    return f"seeds {min(seeds)}–{max(seeds)}"


def fmt(value: float | int | None, kind: str) -> str:
    """A figure as a planner reads it: 12,345 / 95.2 % / 23.7 h / 1,234,567."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if kind == "share":
        return f"{100 * value:.1f} %"
    if kind == "hours":
        return f"{value:.1f} h"
    if kind == "cny":
        return f"{value:,.0f}"
    if kind == "level":
        return f"{value:.2f}"
    return f"{value:,.0f}"


#: the lever search's verdicts (`dispatch.season.levers.choose`) as a planner reads them
VERDICTS = {
    "met": "the cheapest option that holds the target",
    "fallback": "no option holds the target; the cheapest that holds 90 % in every peak week",
    "not met": "no option holds even 90 %; the option with the best worst week",
}


def clock_label(rec: dict[str, Any]) -> str:
    """The clock a recommendation's shares are on, as its figures name it."""
    return "customer's clock" if rec.get("target_clock") == "customer" else "planning clock"
