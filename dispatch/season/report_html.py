"""The report page: one self-contained HTML file, the page a planner opens.

`render_html` writes the headline figures, the capacity recommendation per week and per zone
with its cost, the weekly table, the charts, the definitions (taken from
`dispatch.season.figures`' docstring, so they never drift from the code) and the settings
used.

**One file to open**: the HTML holds the PNGs as base64 data URIs and its own short CSS, no
script and nothing fetched, so it can be mailed or served under a strict
Content-Security-Policy. Every string from the results, the settings or the recommendation
is HTML-escaped (a zone or a city may be called anything).
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from dispatch.season import figures as season_figures
from dispatch.season.report_charts import CHARTS
from dispatch.season.report_numbers import (
    CLOCKS,
    FIGURES,
    across_replications,
    clock_label,
    fmt,
    lever_choice,
    seeds_text,
    spread,
    target_reached_text,
)
from dispatch.season.simulator import SeasonResult

#: definitions shown when the metrics module carries no docstring (python -OO)
FALLBACK_DEFINITIONS = (
    "The definitions of due day, on-time, shares, callback rate, follow-up coverage and cost "
    "are in the docstring of dispatch/season/figures.py."
)


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


def _fmt_spread(s: dict[str, float] | None, kind: str, several: bool) -> str:
    if s is None:
        return "–"
    text = fmt(s["median"], kind)
    if several:
        text += f" ({fmt(s['min'], kind)} – {fmt(s['max'], kind)})"
    return text


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
                col("share_install_24h_customer", "share"),
                col("share_install_24h", "share"),
                col("share_delivery_12h_customer", "share"),
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
        "installations within 24 h, customer's clock",
        "installations within 24 h, planning clock",
        "deliveries within 12 h, customer's clock",
        "deliveries within 12 h, planning clock",
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
        + f" of installations within 24 h ({esc(clock_label(rec))}) in every peak week, as the "
        "mean over "
        + esc(rec.get("replications", "?"))
        + f" replication(s): {verdict}. Temporary crew-days: "
        + esc(fmt(rec.get("temp_crew_days"), "count"))
        + "; season cost "
        + esc(fmt(rec.get("cost_cny"), "cny"))
        + " CNY, extra cost "
        + esc(fmt(rec.get("extra_cost_cny"), "cny"))
        + " CNY; lever premiums (evening shifts, specialist teams) "
        + esc(fmt(rec.get("lever_cost_cny", 0), "cny"))
        + " CNY.</p>",
    ]
    parts.extend(levers_html(rec))
    parts.extend(peak_weeks_html(rec))
    per_week = rec.get("per_week") or []
    if per_week:
        parts.append("<h3>Temporary crews per week</h3>")
        parts.append(
            _table(
                [
                    "week",
                    "temporary crews",
                    f"24 h share, {clock_label(rec)}, mean",
                    "min",
                    "max",
                    "target met",
                ],
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
        header = ["zone", "temporary crews", f"24 h share, {clock_label(rec)}, mean"]
        rows = [
            [z.get("zone"), z.get("temp_crews"), fmt(z.get("share_install_24h_mean"), "share")]
            + ([_yes_no(z.get("below_target"))] if flagged else [])
            for z in per_zone
        ]
        parts.append("<h3>Temporary crews per zone</h3>")
        parts.append(_table(header + (["below target"] if flagged else []), rows))
    rounds = rec.get("rounds") or []
    if rounds:
        round_rows = [
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
                round_rows,
                left=2,
            )
        )
        parts.append("</details>")
    notes = rec.get("notes") or []
    if notes:
        parts.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    return "\n".join(parts)


def levers_html(rec: dict[str, Any]) -> list[str]:
    """The lever search (`dispatch.season.levers`): the option chosen and its levers in
    words, whether the target was reached, the cost with the premiums, the binding
    constraint, then every option searched."""
    choice = lever_choice(rec)
    if choice is None:
        return []
    levers, verdict, chosen = choice
    rows = [
        (
            o.get("name"),
            json.dumps(o.get("changes") or {}, ensure_ascii=False),
            ", ".join(str(n) for n in o.get("temp_per_week") or []),
            fmt(o.get("worst_week_share"), "share"),
            _yes_no(o.get("met")),
            fmt(o.get("cost_cny"), "cny"),
            fmt(o.get("lever_cost_cny"), "cny"),
        )
        for o in levers.get("options") or []
    ]
    reached = '<span class="ok">' if rec.get("met") else '<span class="bad">'
    said = target_reached_text(rec)
    parts = [
        "<h3>Levers beyond hiring</h3>",
        f"<p>Chosen: <strong>{esc(levers.get('chosen'))}</strong> ({esc(verdict)}).</p>",
        f"<p>{reached}{esc(said[:1].upper() + said[1:])}</span>.</p>",
        "<p>Levers in the chosen plan:</p>",
        "<ul>"
        + (
            "".join(f"<li>{esc(c.get('description'))}</li>" for c in chosen)
            or "<li>none: temporary crews only</li>"
        )
        + "</ul>",
        "<p>Cost of the chosen plan: season "
        + esc(fmt(rec.get("cost_cny"), "cny"))
        + " CNY, premiums included, of which lever premiums "
        + esc(fmt(rec.get("lever_cost_cny", 0), "cny"))
        + " CNY; temporary crews per week "
        + esc(", ".join(str(w.get("temp_crews")) for w in rec.get("per_week") or []) or "–")
        + ".</p>",
    ]
    if levers.get("binding_constraint"):
        parts.append(f"<p>Binding constraint: {esc(levers['binding_constraint'])}</p>")
    parts.append("<p>Every option searched (each its own hiring search):</p>")
    parts.append(
        _table(
            [
                "option",
                "settings",
                "temporary crews per week",
                "worst peak week",
                "target met",
                "season cost (CNY)",
                "lever premiums (CNY)",
            ],
            rows,
            left=3,
        )
    )
    return parts


def peak_weeks_html(rec: dict[str, Any]) -> list[str]:
    """The plan's peak weeks on both clocks (`report_numbers.peak_week_shares`)."""
    weeks = rec.get("peak_week_shares") or []
    if not weeks:
        return []
    clocks = [(f"{name}_clock", label) for name, _, label in CLOCKS]

    def share(week: dict[str, Any], clock: str) -> str:
        c = week.get(clock) or {}
        text = fmt(c.get("share_mean"), "share")
        several = isinstance(rec.get("replications"), int) and rec["replications"] > 1
        if several and c.get("share_min") is not None:
            text += f" ({fmt(c.get('share_min'), 'share')} – {fmt(c.get('share_max'), 'share')})"
        return text

    rows = [
        (
            w.get("week"),
            w.get("temp_crews"),
            fmt(w.get("installs_due_mean"), "count"),
            *(share(w, clock) for clock, _ in clocks),
            _yes_no(w.get("target_met")),
        )
        for w in weeks
    ]
    header = [
        "peak week",
        "temporary crews",
        "installations due",
        *(f"within 24 h, {label}" for _, label in clocks),
        f"target met ({clock_label(rec)})",
    ]
    return [
        "<h3>Peak weeks on both clocks</h3>",
        "<p>Installations within 24 h in each peak week of the plan, the mean over the "
        "replications (min – max beside it with several). The target is judged on the "
        + esc(clock_label(rec))
        + ".</p>",
        _table(header, rows),
    ]


def definitions_html() -> str:
    """The metric definitions from `dispatch.season.figures`' docstring, as HTML."""
    doc = season_figures.__doc__
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
    items: list[str] = []
    intro: list[str] = []
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
