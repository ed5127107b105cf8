"""The report in a terminal: the summary `dispatch simulate` prints when a run ends."""

from __future__ import annotations

from typing import Any

from dispatch.season.report_numbers import (
    CLOCKS,
    FIGURES,
    across_replications,
    clock_label,
    described_recommendation,
    fmt,
    lever_choice,
    seeds_text,
    target_reached_text,
)
from dispatch.season.simulator import SeasonResult


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
    recommendation = described_recommendation(recommendation, results)
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
    clock = clock_label(rec)
    lines = [
        f"Capacity recommendation: {target_text} of installations within 24 h ({clock}) "
        f"in every peak week (mean of {rec.get('replications', '?')} replications): {verdict}"
    ]
    lines.extend(lever_lines(rec))
    lines.extend(peak_week_lines(rec))
    per_week = rec.get("per_week") or []
    if per_week:
        lines.append(
            "  temporary crews per week: "
            + ", ".join(f"w{w.get('week')}: {w.get('temp_crews')}" for w in per_week)
        )
        lines.append(
            f"  24 h share per week, {clock} (mean, min – max): "
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
        f"CNY; lever premiums {fmt(rec.get('lever_cost_cny', 0), 'cny')} CNY)"
    )
    rounds = rec.get("rounds") or []
    if rounds:
        lines.append(f"  search rounds: {len(rounds)}")
    lines.extend(f"  note: {n}" for n in rec.get("notes") or [])
    return lines


def lever_lines(rec: dict[str, Any]) -> list[str]:
    """The lever search (`dispatch.season.levers`): the choice and its levers, whether the
    target was reached, the cost with the premiums, each option, the binding constraint."""
    choice = lever_choice(rec)
    if choice is None:
        return []
    levers, verdict, chosen = choice
    lines = [f"  levers: {levers.get('chosen')} ({verdict})"]
    lines.extend(f"    - {c.get('description')}" for c in chosen)
    if not chosen:
        lines.append("    - none: temporary crews only")
    lines.append(f"  {target_reached_text(rec)}")
    lines.append(
        f"  cost of the chosen plan: {fmt(rec.get('cost_cny'), 'cny')} CNY, premiums included "
        f"(lever premiums {fmt(rec.get('lever_cost_cny', 0), 'cny')} CNY)"
    )
    for o in levers.get("options") or []:
        lines.append(
            f"    option {o.get('name')}: worst peak week {fmt(o.get('worst_week_share'), 'share')}"
            f", temporary crews {o.get('temp_per_week')}, cost {fmt(o.get('cost_cny'), 'cny')} "
            f"CNY (lever premiums {fmt(o.get('lever_cost_cny'), 'cny')})"
            + (", meets the target" if o.get("met") else "")
        )
    if levers.get("binding_constraint"):
        lines.append(f"  binding constraint: {levers['binding_constraint']}")
    return lines


def peak_week_lines(rec: dict[str, Any]) -> list[str]:
    """The plan's peak weeks on both clocks (`report_numbers.peak_week_shares`), one line."""
    weeks = rec.get("peak_week_shares") or []
    if not weeks:
        return []
    parts = []
    for w in weeks:
        shares = ", ".join(
            f"{label} {fmt((w.get(f'{name}_clock') or {}).get('share_mean'), 'share')}"
            for name, _, label in CLOCKS
        )
        parts.append(f"w{w.get('week')} {shares}")
    return ["  peak weeks, installations within 24 h (mean): " + "; ".join(parts)]
