"""The report's PNG charts: matplotlib figures of one or several replications.

Design choices:

* **Across replications** a daily figure is drawn as the median line with a min-max band.
  Figures that are undefined on a day (a share with nothing due is None) are gaps in the
  lines and left out of the medians: an empty day is not a 0 % day.
* **matplotlib without pyplot**: figures are `matplotlib.figure.Figure` objects printed by the
  Agg canvas. No global state, no GUI backend, nothing to close, safe in a service's worker.
  Names drawn in charts (zones, the city) have ``$`` escaped so that matplotlib never reads
  them as mathematical text.

`CHART_FUNCTIONS` draws the charts `CHARTS` names, in that order; `png_bytes` prints one.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dispatch.season.simulator import SeasonResult

#: chart file name -> caption (drawn by `CHART_FUNCTIONS` in this order)
CHARTS: dict[str, str] = {
    "chart_volume.png": "Orders, jobs done and backlog per day",
    "chart_shares.png": "Share of deliveries within 12 h and installations within 24 h per day, "
    "on the customer's clock and the planning clock",
    "chart_waits.png": "Installation waiting time (order to installation done)",
    "chart_crews.png": "Crew utilisation and temporary crews per day",
    "chart_cost.png": "Cost per day",
    "chart_zone_heatmap.png": "Installations within 24 h by zone and day (planning clock)",
}

DPI = 100
BAND_ALPHA = 0.2
PEAK_COLOUR = "#f2c14e"


def _series(results: Sequence[SeasonResult], key: str) -> np.ndarray:
    """replications x days of a daily figure, NaN where undefined."""
    n = max(len(r.days) for r in results)
    out = np.full((len(results), n), np.nan)
    for k, r in enumerate(results):
        for d, row in enumerate(r.days):
            value = row.get(key)
            if value is not None:
                out[k, d] = float(value)
    return out


def _bands(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column: median, min and max of the finite values (NaN where none is)."""
    n = values.shape[1]
    med, lo, hi = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    for j in range(n):
        col = values[:, j]
        col = col[np.isfinite(col)]
        if len(col):
            med[j], lo[j], hi[j] = np.median(col), col.min(), col.max()
    return med, lo, hi


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes (Agg canvas: no screen, no pyplot)."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def chart_text(text: str) -> str:
    """A name safe to draw: matplotlib would read text between two `$` as mathtext."""
    return str(text).replace("$", r"\$")


def _figure(
    title: str,
    results: Sequence[SeasonResult],
    size: tuple[float, float] = (9.0, 4.2),
    band: bool = True,
) -> tuple[Figure, Any]:
    """A figure with one axes, titled with what is drawn and the city above it."""
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.add_subplot()
    n = len(results)
    suffix = ""
    if n > 1:
        suffix = f" — median of {n} replications" + (", band min–max" if band else "")
    ax.set_title(chart_text(f"{title}{suffix}"), fontsize=10)
    fig.suptitle(chart_text(results[0].city), fontsize=9, color="#555555")
    return fig, ax


def _days_axis(ax: Any, results: Sequence[SeasonResult]) -> np.ndarray:
    n = max(len(r.days) for r in results)
    start = results[0].settings.get("start", "")
    ax.set_xlabel(chart_text(f"season day (day 0 = {start})"))
    ax.set_xlim(-0.5, n - 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    return np.arange(n)


def _line(
    ax: Any,
    x: np.ndarray,
    results: Sequence[SeasonResult],
    key: str,
    label: str,
    colour: str,
    scale: float = 1.0,
    step: bool = False,
) -> None:
    """The median line (and a min-max band with several replications); NaN days are gaps."""
    med, lo, hi = (a * scale for a in _bands(_series(results, key)))
    if len(results) > 1:
        ax.fill_between(
            x, lo, hi, color=colour, alpha=BAND_ALPHA, linewidth=0, step="mid" if step else None
        )
    if step:
        ax.step(x, med, where="mid", color=colour, label=label)
    else:
        ax.plot(x, med, color=colour, label=label, marker="o", markersize=3)


def _shade_peak(ax: Any, results: Sequence[SeasonResult]) -> None:
    """Shade runs of days with sales level above a normal day (1.0)."""
    levels = [row.get("sales_level") or 0.0 for row in results[0].days]
    labelled = False
    d = 0
    while d < len(levels):
        if levels[d] > 1.0:
            end = d
            while end + 1 < len(levels) and levels[end + 1] > 1.0:
                end += 1
            ax.axvspan(
                d - 0.5,
                end + 0.5,
                color=PEAK_COLOUR,
                alpha=0.25,
                linewidth=0,
                label=None if labelled else "peak days (sales level > 1)",
            )
            labelled = True
            d = end + 1
        else:
            d += 1


def chart_volume(results: Sequence[SeasonResult]) -> Figure:
    fig, ax = _figure("Orders, jobs done and backlog per day", results)
    x = _days_axis(ax, results)
    _line(ax, x, results, "orders", "orders", "#1f77b4")
    _line(ax, x, results, "jobs_done", "jobs done", "#2ca02c")
    _line(ax, x, results, "backlog", "backlog (open jobs at day end)", "#d62728")
    ax.set_ylabel("orders, jobs")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def chart_shares(results: Sequence[SeasonResult]) -> Figure:
    fig, ax = _figure("On-time shares per due day", results)
    x = _days_axis(ax, results)
    _shade_peak(ax, results)
    for key, label, colour in (
        ("share_delivery_12h_customer", "deliveries within 12 h, customer's clock", "#17becf"),
        ("share_delivery_12h", "deliveries within 12 h, planning clock", "#1f77b4"),
        ("share_install_24h_customer", "installations within 24 h, customer's clock", "#e377c2"),
        ("share_install_24h", "installations within 24 h, planning clock", "#9467bd"),
    ):
        _line(ax, x, results, key, label, colour, 100)
    target = results[0].settings.get("target_share")
    if isinstance(target, int | float):
        ax.axhline(
            100 * target,
            color="#d62728",
            linestyle="--",
            linewidth=1,
            label=f"target {100 * target:.0f} %",
        )
    ax.set_ylabel("% of jobs due that day")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8, loc="lower left")
    return fig


def chart_waits(results: Sequence[SeasonResult]) -> Figure:
    title = "Installation waiting time" + (", all replications pooled" if len(results) > 1 else "")
    fig, ax = _figure(title, results, band=False)
    ax.set_title(chart_text(title), fontsize=10)
    waits = np.array([w for r in results for w in r.install_waits_h], dtype=float)
    ax.set_xlabel("hours from order to installation done")
    ax.set_ylabel("installations")
    ax.grid(True, alpha=0.3)
    if len(waits) == 0:
        ax.text(
            0.5,
            0.5,
            "no installation was completed",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        return fig
    bins = int(min(60, max(10, math.sqrt(len(waits)))))
    ax.hist(waits, bins=bins, color="#9467bd", alpha=0.8)
    for q, style in ((50, "-"), (90, "--")):
        value = float(np.percentile(waits, q))
        ax.axvline(
            value, color="#d62728", linestyle=style, linewidth=1.2, label=f"p{q} = {value:.1f} h"
        )
    ax.legend(fontsize=8)
    return fig


def chart_crews(results: Sequence[SeasonResult]) -> Figure:
    fig, ax = _figure("Crew utilisation and temporary crews", results)
    x = _days_axis(ax, results)
    _line(ax, x, results, "utilisation", "utilisation (driving + working / shift)", "#2ca02c", 100)
    ax.set_ylabel("utilisation, % of shift time")
    ax.set_ylim(0, 105)
    right = ax.twinx()
    _line(right, x, results, "temp_crews", "temporary crews on duty", "#ff7f0e", step=True)
    right.set_ylabel("temporary crews")
    right.set_ylim(bottom=0)
    right.yaxis.set_major_locator(MaxNLocator(integer=True))
    handles = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize=8, loc="lower left")
    return fig


def chart_cost(results: Sequence[SeasonResult]) -> Figure:
    fig, ax = _figure("Cost per day", results)
    x = _days_axis(ax, results)
    _line(ax, x, results, "cost_cny", "cost per day", "#8c564b", 1 / 1000)
    ax.set_ylabel("thousand CNY")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def zone_matrix(
    results: Sequence[SeasonResult], key: str = "share_install_24h"
) -> tuple[list[str], np.ndarray]:
    """Zones (sorted) and the zones x days median of a zone figure (NaN where undefined)."""
    zones = sorted({str(row["zone"]) for r in results for row in r.zones})
    n = max(len(r.days) for r in results)
    index = {z: k for k, z in enumerate(zones)}
    values = np.full((len(results), len(zones), n), np.nan)
    for k, r in enumerate(results):
        for row in r.zones:
            value = row.get(key)
            if value is not None and 0 <= row["day"] < n:
                values[k, index[str(row["zone"])], row["day"]] = float(value)
    out = np.full((len(zones), n), np.nan)
    for i in range(len(zones)):
        out[i] = _bands(values[:, i, :])[0]
    return zones, out


def chart_zone_heatmap(results: Sequence[SeasonResult]) -> Figure:
    zones, matrix = zone_matrix(results)
    n_days = matrix.shape[1]
    width = min(18.0, max(7.0, 2.5 + 0.25 * n_days))
    height = min(22.0, max(3.5, 1.5 + 0.28 * len(zones)))
    fig, ax = _figure(
        "Installations within 24 h by zone and due day", results, (width, height), band=False
    )
    if not zones:
        ax.text(0.5, 0.5, "no zone figures", ha="center", va="center", transform=ax.transAxes)
        return fig
    cmap: Colormap = _colormap()
    image = ax.imshow(
        np.ma.masked_invalid(matrix * 100),
        aspect="auto",
        cmap=cmap,
        vmin=0,
        vmax=100,
        interpolation="nearest",
    )
    ax.set_yticks(range(len(zones)))
    ax.set_yticklabels([chart_text(z[:24]) for z in zones], fontsize=7 if len(zones) > 30 else 8)
    step = max(1, math.ceil(n_days / 30))
    ax.set_xticks(range(0, n_days, step))
    start = results[0].settings.get("start", "")
    ax.set_xlabel(chart_text(f"season day (day 0 = {start}); grey: no installation due"))
    ax.set_ylabel("zone")
    bar = fig.colorbar(image, ax=ax, shrink=0.9)
    bar.set_label("% installed within 24 h")
    return fig


def _colormap() -> Colormap:
    from matplotlib import colormaps

    return colormaps["RdYlGn"].with_extremes(bad="#dddddd")


CHART_FUNCTIONS: dict[str, Callable[[Sequence[SeasonResult]], Figure]] = {
    "chart_volume.png": chart_volume,
    "chart_shares.png": chart_shares,
    "chart_waits.png": chart_waits,
    "chart_crews.png": chart_crews,
    "chart_cost.png": chart_cost,
    "chart_zone_heatmap.png": chart_zone_heatmap,
}
