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
    ("assisted_visits_done", "Two-crew (assisted) installations done", "count"),
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


#: the two clocks of a promise share, the customer's first, as the report names them:
#: (name, suffix of the week keys, label)
CLOCKS: tuple[tuple[str, str, str], ...] = (
    ("customer", "_customer", "customer's clock"),
    ("planning", "", "planning clock"),
)


def peak_week_shares(rec: dict[str, Any], results: Sequence[SeasonResult]) -> list[dict[str, Any]]:
    """Per peak week of a recommendation's plan: the 24 h installation share on both clocks
    (mean, min and max over the replications that back the plan), each labelled with its
    clock, and whether the week holds the target on the clock the target is judged on.

    The recommendation (`dispatch.season.recommend`) gives its shares on its target clock
    only; these are the same weeks of the same runs, read on both clocks."""
    target = rec.get("target_share")
    target_clock = rec.get("target_clock") or "planning"
    rows: list[dict[str, Any]] = []
    for plan in rec.get("per_week") or []:
        w = plan.get("week")
        if not plan.get("peak_week") or not isinstance(w, int):
            continue
        weeks = [r.weeks[w] for r in results if w < len(r.weeks)]
        due = [float(week.get("installs_due") or 0) for week in weeks]
        row: dict[str, Any] = {
            "week": w,
            "temp_crews": plan.get("temp_crews"),
            "installs_due_mean": round(float(np.mean(due)), 1) if due else None,
        }
        for name, suffix, label in CLOCKS:
            values = [week.get(f"share_install_24h{suffix}") for week in weeks]
            s, mean = spread(values), mean_defined(values)
            row[f"{name}_clock"] = {
                "label": label,
                "share_mean": mean,
                "share_min": s["min"] if s else None,
                "share_max": s["max"] if s else None,
            }
        judged = row[f"{target_clock}_clock"]["share_mean"]
        row["target_met"] = (
            None
            if judged is None or not isinstance(target, int | float)
            else judged >= float(target)
        )
        rows.append(row)
    return rows


def mean_defined(values: Iterable[float | int | None]) -> float | None:
    """The mean of the defined values, as the recommendation judges a week (None: none)."""
    defined = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return round(float(np.mean(defined)), 4) if defined else None


#: the levers of `dispatch.season.levers` by the settings they change: (section, setting,
#: "is it on" test, lever id); `chosen_levers` names them in this order
_LEVER_TESTS: tuple[tuple[str, str, Any, str], ...] = (
    ("demand", "install_slot_policy", lambda v: v == "next_morning", "next_morning_slots"),
    ("crews", "evening_share", lambda v: bool(v), "evening_shifts"),
    ("crews", "evening_temp_share", lambda v: bool(v), "evening_shifts"),
    ("crews", "temp_specialist_share", lambda v: bool(v), "specialist_temp_crews"),
    ("demand", "install_deadline_clock", lambda v: v == "customer", "customer_deadlines"),
)


def chosen_levers(
    changes: dict[str, dict[str, Any]] | None, settings: dict[str, Any] | None = None
) -> list[dict[str, str]]:
    """The levers a lever option's settings changes turn on, each as its id and a sentence:
    `[{"lever": "evening_shifts", "description": "evening installation shifts: ..."}]`; an
    empty list for hiring only. `settings` (the season's, as `SeasonResult.settings`) gives
    the shift hours and the premiums' factors where the changes leave them at their
    defaults."""
    changes = changes or {}
    crews = {**((settings or {}).get("crews") or {}), **(changes.get("crews") or {})}
    demand = {**((settings or {}).get("demand") or {}), **(changes.get("demand") or {})}
    ids: list[str] = []
    for section, key, on, lever in _LEVER_TESTS:
        if key in (changes.get(section) or {}) and on(changes[section][key]) and lever not in ids:
            ids.append(lever)
    return [{"lever": lever, "description": _lever_sentence(lever, crews, demand)} for lever in ids]


def _lever_sentence(lever: str, crews: dict[str, Any], demand: dict[str, Any]) -> str:
    if lever == "next_morning_slots":
        return (
            "next-morning installation slots: a same-day order's installation is booked at "
            "order time on the next morning, inside its 24 h promise (no crew cost)"
        )
    if lever == "evening_shifts":
        start, end = crews.get("evening_start_hour", 12), crews.get("evening_end_hour", 21)
        until = demand.get("install_until_hour")
        return (
            f"evening installation shifts: {_pct(crews.get('evening_share'))} of the own "
            f"installation crews and {_pct(crews.get('evening_temp_share'))} of the temporary "
            f"crews on {start:02d}:00-{end:02d}:00"
            + (f", customers visited until {until:02d}:00" if isinstance(until, int) else "")
            + f" (premium: {crews.get('evening_cost_factor', 1.2)} times the day rate)"
        )
    if lever == "specialist_temp_crews":
        return (
            f"specialist temporary crews: {_pct(crews.get('temp_specialist_share'))} of the "
            "hires are three-person teams with electrical, plumbing and TV-mount skills "
            f"(premium: {crews.get('temp_specialist_cost_factor', 1.5)} times a standard "
            "team's daily cost)"
        )
    return "installations planned to the customer's clock (no crew cost)"


def _pct(value: Any) -> str:
    return f"{100 * float(value):.0f} %" if isinstance(value, int | float) else "?"


def described_recommendation(
    rec: dict[str, Any] | None, results: Sequence[SeasonResult]
) -> dict[str, Any] | None:
    """The recommendation with what the report (and the service's answer) shows beside the
    search's own figures: `peak_week_shares` (`peak_week_shares`, when the plan has peak
    weeks) and, after a lever search, `levers.chosen_levers` (`chosen_levers`). A copy; the
    same when called again."""
    if rec is None:
        return None
    out = dict(rec)
    if results:
        shares = peak_week_shares(rec, results)
        if shares:
            out["peak_week_shares"] = shares
    levers = rec.get("levers")
    if isinstance(levers, dict):
        settings = results[0].settings if results else None
        out["levers"] = {**levers, "chosen_levers": chosen_levers(levers.get("changes"), settings)}
    return out


def lever_choice(
    rec: dict[str, Any],
) -> tuple[dict[str, Any], str, list[dict[str, str]]] | None:
    """After a lever search: its part of the recommendation (`levers`), its verdict in words
    (`VERDICTS`) and the chosen option's levers (`levers.chosen_levers`, or worked out from
    the option's changes for a recommendation `described_recommendation` has not seen);
    None without a lever search."""
    levers = rec.get("levers")
    if not isinstance(levers, dict) or not levers:
        return None
    verdict = VERDICTS.get(levers.get("verdict", ""), str(levers.get("verdict")))
    chosen = levers.get("chosen_levers")
    if chosen is None:
        chosen = chosen_levers(levers.get("changes"))
    return levers, verdict, chosen


def target_reached_text(rec: dict[str, Any]) -> str:
    """Whether a recommendation reached its target, in words, for the report and the
    terminal: the target on its clock, then (after a lever search that missed it) whether
    the 90 % fallback held, with the chosen plan's worst peak week."""
    target = rec.get("target_share")
    target_text = fmt(target, "share") if isinstance(target, int | float) else "?"
    text = (
        f"target {target_text} of installations within 24 h ({clock_label(rec)}) in every "
        f"peak week: {'reached' if rec.get('met') else 'not reached'}"
    )
    levers = rec.get("levers")
    if not isinstance(levers, dict):
        return text
    chosen: dict[str, Any] = next(
        (o for o in levers.get("options") or [] if o.get("name") == levers.get("chosen")), {}
    )
    worst = fmt(chosen.get("worst_week_share"), "share")
    if not rec.get("met"):
        fallback = levers.get("fallback_share")
        held = levers.get("verdict") == "fallback"
        if isinstance(fallback, int | float):
            text += f"; {fmt(fallback, 'share')}: {'reached' if held else 'not reached'}"
    return f"{text} (worst peak week {worst})"
