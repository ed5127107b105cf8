"""The season report: CSV tables, a summary JSON, PNG charts and one self-contained HTML page.

`write_report(out_dir, results, recommendation)` writes, for one or several replications
(`SeasonResult`s of the same settings with seeds seed, seed+1, ...):

* ``days.csv``, ``zones.csv``, ``weeks.csv``, ``install_waits.csv``: every replication's
  rows, led by ``replication`` (its index in `results`) and ``seed``. Columns are the union of
  the rows' keys in first-seen order, so a figure the simulator adds later appears without
  touching this module;
* ``summary.json``: each replication's summary, ledger and timings, the median / min / max
  across replications of the headline figures (`FIGURES`), the settings, and the capacity
  recommendation when one is given;
* six PNG charts (`CHARTS`) and ``report.html``, the page a planner opens: headline figures,
  the recommendation per week and per zone with its cost, the weekly table, the charts, the
  definitions (taken from `dispatch.season.metrics`' docstring, so they never drift from the
  code) and the settings used.

Design choices:

* **Across replications** a daily figure is drawn as the median line with a min-max band; a
  headline figure is given as its median and range. Figures that are undefined on a day
  (a share with nothing due is None) are gaps in the lines and left out of the medians: an
  empty day is not a 0 % day.
* **matplotlib without pyplot**: figures are `matplotlib.figure.Figure` objects printed by the
  Agg canvas. No global state, no GUI backend, nothing to close, safe in a service's worker.
  Names drawn in charts (zones, the city) have ``$`` escaped so that matplotlib never reads
  them as mathematical text.
* **One file to open**: the HTML holds the PNGs as base64 data URIs and its own short CSS, no
  script and nothing fetched, so it can be mailed or served under a strict
  Content-Security-Policy. Every string from the results, the settings or the
  recommendation is HTML-escaped (a zone or a city may be called anything).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dispatch.season import metrics as season_metrics
from dispatch.season.simulator import SeasonResult

#: headline figures: (summary key, label, kind); kind picks the format (`fmt`)
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("orders", "Orders", "count"),
    ("jobs_done", "Jobs done", "count"),
    ("backlog_end", "Backlog at season end (jobs)", "count"),
    ("share_delivery_12h", "Deliveries within 12 h", "share"),
    ("share_install_24h", "Installations within 24 h", "share"),
    ("share_install_24h_peak", "Installations within 24 h, peak plateau days", "share"),
    ("worst_week_install_24h", "Installations within 24 h, worst week", "share"),
    ("install_wait_p50_h", "Installation wait, median (p50)", "hours"),
    ("install_wait_p90_h", "Installation wait, p90", "hours"),
    ("utilisation", "Crew utilisation", "share"),
    ("callback_rate", "Callback rate", "share"),
    ("followup_coverage", "Follow-up coverage", "share"),
    ("temp_crew_days", "Temporary crew-days", "count"),
    ("cost_cny", "Cost (CNY)", "cny"),
)

#: chart file name -> caption (drawn by `_CHART_FUNCTIONS` in this order)
CHARTS: dict[str, str] = {
    "chart_volume.png": "Orders, jobs done and backlog per day",
    "chart_shares.png": "Share of deliveries within 12 h and installations within 24 h per day",
    "chart_waits.png": "Installation waiting time (order to installation done)",
    "chart_crews.png": "Crew utilisation and temporary crews per day",
    "chart_cost.png": "Cost per day",
    "chart_zone_heatmap.png": "Installations within 24 h by zone and day",
}

DPI = 100
BAND_ALPHA = 0.2
PEAK_COLOUR = "#f2c14e"
#: definitions shown when the metrics module carries no docstring (python -OO)
FALLBACK_DEFINITIONS = (
    "The definitions of due day, on-time, shares, callback rate, follow-up coverage and cost "
    "are in the docstring of dispatch/season/metrics.py."
)


# ---- numbers across replications


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


def _fmt_spread(s: dict[str, float] | None, kind: str, several: bool) -> str:
    if s is None:
        return "–"
    text = fmt(s["median"], kind)
    if several:
        text += f" ({fmt(s['min'], kind)} – {fmt(s['max'], kind)})"
    return text


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


# ---- files


def write_report(
    out_dir: Path, results: list[SeasonResult], recommendation: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write the tables, the summary, the charts and report.html (module doc) into `out_dir`.

    Returns file name -> path, e.g. ``paths["report.html"]``.
    """
    if not results:
        raise ValueError("a report needs at least one season result")
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
    for name, draw in _CHART_FUNCTIONS.items():
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


# ---- charts


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
    _line(ax, x, results, "share_delivery_12h", "deliveries within 12 h", "#1f77b4", 100)
    _line(ax, x, results, "share_install_24h", "installations within 24 h", "#9467bd", 100)
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


_CHART_FUNCTIONS: dict[str, Callable[[Sequence[SeasonResult]], Figure]] = {
    "chart_volume.png": chart_volume,
    "chart_shares.png": chart_shares,
    "chart_waits.png": chart_waits,
    "chart_crews.png": chart_crews,
    "chart_cost.png": chart_cost,
    "chart_zone_heatmap.png": chart_zone_heatmap,
}


# ---- HTML

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;
padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}
.meta{color:#555;margin-top:0}table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:right;font-variant-numeric:tabular-nums}
th{background:#f4f4f4}td.l,th.l{text-align:left}.ok{color:#176b2c;font-weight:600}
.bad{color:#a31515;font-weight:600}figure{margin:1rem 0}img{max-width:100%;height:auto}
figcaption{color:#555;font-size:.9rem}pre{background:#f7f7f7;padding:1rem;overflow:auto;
font-size:.8rem}code{background:#f2f2f2;padding:0 .2rem}details{margin:1rem 0}
"""


def esc(value: Any) -> str:
    """Any value as escaped HTML text (quotes too: safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], left: int = 1) -> str:
    """An HTML table; the first `left` columns are left-aligned text. Cells are escaped."""
    head = "".join(
        f'<th class="l">{esc(h)}</th>' if k < left else f"<th>{esc(h)}</th>"
        for k, h in enumerate(header)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="l">{esc(c)}</td>' if k < left else f"<td>{esc(c)}</td>"
            for k, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _yes_no(value: Any) -> str:
    if value is None:
        return "–"
    return "yes" if value else "no"


def render_html(
    results: Sequence[SeasonResult],
    recommendation: dict[str, Any] | None,
    images: dict[str, bytes],
    across: dict[str, dict[str, float] | None] | None = None,
) -> str:
    """The self-contained report page (module doc)."""
    first = results[0]
    settings = first.settings
    across = across if across is not None else across_replications(results)
    several = len(results) > 1
    title = f"Peak-season simulation: {first.city}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        '<p class="meta">'
        + esc(
            f"{len(first.days)} days from {settings.get('start', '?')}, "
            f"{len(results)} replication{'s' if several else ''} ({seeds_text(results)}), "
            f"demand scale {settings.get('scale', '?')}; "
            f"report written {datetime.now().strftime('%Y-%m-%d %H:%M')}"
        )
        + "</p>",
        "<h2>Headline figures</h2>",
    ]
    header = ["figure", "median (min – max)"] if several else ["figure", "value"]
    parts.append(
        _table(
            header,
            [(label, _fmt_spread(across.get(key), kind, several)) for key, label, kind in FIGURES],
        )
    )
    if recommendation is not None:
        parts.append(recommendation_html(recommendation))
    parts.append("<h2>Weeks</h2>")
    parts.append(weeks_html(results))
    parts.append("<h2>Charts</h2>")
    for name, caption in CHARTS.items():
        data = images.get(name)
        if data is None:
            continue
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        parts.append(
            f'<figure><img src="{uri}" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )
    parts.append("<h2>Definitions</h2>")
    parts.append(definitions_html())
    parts.append("<details><summary>Settings used</summary>")
    parts.append(_table(["setting", "value"], settings_rows(settings), left=2))
    parts.append("</details>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def settings_rows(settings: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Settings as (dotted name, JSON value) rows, sections flattened: `demand.peak_days`."""
    rows: list[tuple[str, str]] = []
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and not prefix:
            rows.extend(settings_rows(value, f"{name}."))
        else:
            rows.append((name, json.dumps(value, ensure_ascii=False, default=str)))
    return rows


def weeks_html(results: Sequence[SeasonResult]) -> str:
    """The weekly table: calendar and staffing from the settings, outcomes across replications."""
    several = len(results) > 1
    rows = []
    for w, week in enumerate(results[0].weeks):

        def col(key: str, kind: str, w: int = w) -> str:
            values = (r.weeks[w].get(key) if w < len(r.weeks) else None for r in results)
            return _fmt_spread(spread(values), kind, several)

        rows.append(
            (
                week.get("week", w),
                f"{week.get('first_day')}–{week.get('last_day')}",
                week.get("peak_days"),
                fmt(week.get("max_sales_level"), "level"),
                week.get("temp_crews"),
                col("installs_due", "count"),
                col("share_install_24h", "share"),
                col("share_delivery_12h", "share"),
                col("backlog_end", "count"),
                col("cost_cny", "cny"),
            )
        )
    header = [
        "week",
        "days",
        "peak days",
        "max sales level",
        "temporary crews",
        "installations due",
        "installations within 24 h",
        "deliveries within 12 h",
        "backlog at week end",
        "cost (CNY)",
    ]
    note = (
        "<p>Outcomes: median over the replications, (min – max) beside it.</p>" if several else ""
    )
    return note + _table(header, rows, left=2)


def recommendation_html(rec: dict[str, Any]) -> str:
    """The capacity recommendation: headline, per week, per zone, search rounds, notes."""
    target = rec.get("target_share")
    met = rec.get("met")
    verdict = (
        '<span class="ok">met</span>'
        if met
        else '<span class="bad">not met</span>'
        if met is not None
        else "–"
    )
    if not met and rec.get("met_for_temp_capable"):
        verdict += (
            " (met on the installations temporary crews can do: the rest needs own "
            "specialists, see the notes)"
        )
    parts = [
        "<h2>Capacity recommendation</h2>",
        "<p>Target: "
        + esc(fmt(target, "share") if isinstance(target, int | float) else "–")
        + " of installations within 24 h in every peak week, as the mean over "
        + esc(rec.get("replications", "?"))
        + f" replication(s): {verdict}. Temporary crew-days: "
        + esc(fmt(rec.get("temp_crew_days"), "count"))
        + "; season cost "
        + esc(fmt(rec.get("cost_cny"), "cny"))
        + " CNY, extra cost "
        + esc(fmt(rec.get("extra_cost_cny"), "cny"))
        + " CNY.</p>",
    ]
    per_week = rec.get("per_week") or []
    if per_week:
        parts.append("<h3>Temporary crews per week</h3>")
        parts.append(
            _table(
                ["week", "temporary crews", "24 h share, mean", "min", "max", "target met"],
                [
                    (
                        w.get("week"),
                        w.get("temp_crews"),
                        fmt(w.get("share_mean"), "share"),
                        fmt(w.get("share_min"), "share"),
                        fmt(w.get("share_max"), "share"),
                        _yes_no(w.get("met")),
                    )
                    for w in per_week
                ],
            )
        )
    per_zone = rec.get("per_zone") or []
    if per_zone:
        flagged = any("below_target" in z for z in per_zone)
        header = ["zone", "temporary crews", "24 h share, mean"]
        rows = [
            [z.get("zone"), z.get("temp_crews"), fmt(z.get("share_install_24h_mean"), "share")]
            + ([_yes_no(z.get("below_target"))] if flagged else [])
            for z in per_zone
        ]
        parts.append("<h3>Temporary crews per zone</h3>")
        parts.append(_table(header + (["below target"] if flagged else []), rows))
    rounds = rec.get("rounds") or []
    if rounds:
        rows = [
            (
                k,
                ", ".join(str(n) for n in (r.get("per_week") or [])),
                fmt(r.get("worst_week_share"), "share"),
                _yes_no(r.get("passed")),
                fmt(r.get("temp_crew_days"), "count"),
                fmt(r.get("cost_cny"), "cny"),
            )
            for k, r in enumerate(rounds)
        ]
        parts.append(f"<details><summary>Search rounds ({len(rounds)})</summary>")
        parts.append(
            _table(
                [
                    "round",
                    "temporary crews per week",
                    "worst week share",
                    "passed",
                    "temp crew-days",
                    "cost (CNY)",
                ],
                rows,
                left=2,
            )
        )
        parts.append("</details>")
    notes = rec.get("notes") or []
    if notes:
        parts.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    return "\n".join(parts)


def definitions_html() -> str:
    """The metric definitions from `dispatch.season.metrics`' docstring, as HTML."""
    doc = season_metrics.__doc__
    if not doc:
        return f"<p>{esc(FALLBACK_DEFINITIONS)}</p>"
    paragraphs: list[list[str]] = [[]]
    for line in doc.strip().splitlines()[1:]:
        stripped = line.strip()
        if not stripped:
            paragraphs.append([])
        elif stripped.startswith("* "):
            paragraphs.append([stripped])
        else:
            paragraphs[-1].append(stripped)
    items, intro = [], []
    for p in paragraphs:
        if not p:
            continue
        text = _inline(" ".join(p).removeprefix("* "))
        (items if p[0].startswith("* ") else intro).append(text)
    out = "".join(f"<p>{t}</p>" for t in intro)
    if items:
        out += "<ul>" + "".join(f"<li>{t}</li>" for t in items) + "</ul>"
    return out


def _inline(text: str) -> str:
    """Escape, then render the docstring's **bold** and `code`."""
    text = esc(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


# ---- terminal


def summary_text(results: list[SeasonResult], recommendation: dict[str, Any] | None = None) -> str:
    """The terminal summary: headline figures (median and range) and the recommendation."""
    if not results:
        return "no season results"
    first = results[0]
    several = len(results) > 1
    lines = [
        f"Peak season: {first.city}, {len(first.days)} days from "
        f"{first.settings.get('start', '?')}, {len(results)} replication"
        f"{'s' if several else ''} ({seeds_text(results)})",
    ]
    across = across_replications(results)
    width = max(len(label) for _, label, _ in FIGURES) + 2
    if several:
        lines.append(f"{'':{width}}{'median':>14}   min – max")
    for key, label, kind in FIGURES:
        s = across.get(key)
        if s is None:
            lines.append(f"{label:{width}}{'–':>14}")
            continue
        line = f"{label:{width}}{fmt(s['median'], kind):>14}"
        if several:
            line += f"   {fmt(s['min'], kind)} – {fmt(s['max'], kind)}"
        lines.append(line)
    if recommendation is not None:
        lines.append("")
        lines.extend(recommendation_lines(recommendation))
    return "\n".join(lines)


def recommendation_lines(rec: dict[str, Any]) -> list[str]:
    """The capacity recommendation in a few terminal lines."""
    target = rec.get("target_share")
    met = rec.get("met")
    verdict = "met" if met else "NOT met" if met is not None else "unknown"
    if not met and rec.get("met_for_temp_capable"):
        verdict += " (met on the installations temporary crews can do; see the notes)"
    target_text = fmt(target, "share") if isinstance(target, int | float) else "?"
    lines = [
        f"Capacity recommendation: {target_text} of installations within 24 h in every peak "
        f"week (mean of {rec.get('replications', '?')} replications): {verdict}"
    ]
    per_week = rec.get("per_week") or []
    if per_week:
        lines.append(
            "  temporary crews per week: "
            + ", ".join(f"w{w.get('week')}: {w.get('temp_crews')}" for w in per_week)
        )
        lines.append(
            "  24 h share per week (mean, min – max): "
            + "; ".join(
                f"w{w.get('week')} {fmt(w.get('share_mean'), 'share')} "
                f"({fmt(w.get('share_min'), 'share')} – {fmt(w.get('share_max'), 'share')})"
                for w in per_week
            )
        )
    per_zone = [z for z in rec.get("per_zone") or [] if z.get("temp_crews")]
    if per_zone:
        lines.append(
            "  by zone: " + ", ".join(f"{z.get('zone')}: {z.get('temp_crews')}" for z in per_zone)
        )
    lines.append(
        f"  temporary crew-days {fmt(rec.get('temp_crew_days'), 'count')}, season cost "
        f"{fmt(rec.get('cost_cny'), 'cny')} CNY (extra {fmt(rec.get('extra_cost_cny'), 'cny')} "
        "CNY)"
    )
    rounds = rec.get("rounds") or []
    if rounds:
        lines.append(f"  search rounds: {len(rounds)}")
    lines.extend(f"  note: {n}" for n in rec.get("notes") or [])
    return lines


__all__ = [
    "CHARTS",
    "FIGURES",
    "across_replications",
    "render_html",
    "summary_dict",
    "summary_text",
    "write_report",
]
