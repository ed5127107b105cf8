"""The capacity recommendation beyond hiring: levers, each with its own hiring search.

Hiring alone stops helping at about 82-87 % of a peak week's installations within 24 h in
the demo city (docs/season.md, "Why 95 % is out of reach"): the late installations are late
for *when* in the day their work must happen. So the recommendation also searches levers
that change when work can happen, each a set of settings overrides (`LeverOption`):

* **evening installation shifts**: a share of the own installation crews and of the
  temporary crews on a 12:00-21:00 shift, customers visited until 20:00
  (`crews.evening_share`, `crews.evening_temp_share`, `demand.install_until_hour`), at the
  evening premium (`crews.evening_cost_factor`);
* **next-morning installation slots**: a same-day order's installation booked at order time
  on the next morning inside its promise (`demand.install_slot_policy`); no crew cost;
* **specialist temporary teams**: a share of the hires are three-person teams with
  `electrical`, `plumbing` and `tv_mount` (`crews.temp_specialist_share`), at their premium.

`recommend_with_levers` runs, for each option of a small fixed list (`OPTIONS`: hiring only,
each lever alone, the combinations), the hiring search of `dispatch.season.recommend` with the
option's settings, and answers:

1. the cheapest option (mean season cost over the replications, premiums included) whose
   plan holds the target in every peak week (`met`);
2. else the cheapest one whose worst peak week holds `FALLBACK_SHARE` (90 %), with the
   **binding constraint** named (`binding_constraint`);
3. else the option with the best worst week, the binding constraint named likewise.

The binding constraint comes from the chosen plan's weeks: the points of the worst peak
week lost on installations no hire can do (own-only: water heaters, three-person cabinet
units; they need own specialists, or specialist hires) against those lost on installations
hires can do (the timing of same-day installations after their delivery, next-morning
deadlines against booked slots), and whether the search's last rounds still bought share
with crews (saturation).

Options are searched one after the other; each is a full hiring search, so the lever search
costs about `len(options)` times one. Like that search it is by measured steps, not a
proof: a lever setting between the fixed ones might be cheaper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dispatch.errors import InputError
from dispatch.planning.cluster import Cluster
from dispatch.season.city import SeasonCity
from dispatch.season.figures import BOOKINGS
from dispatch.season.recommend import (
    Recommendation,
    clock_suffix,
    peak_weeks,
    recommend_capacity,
)
from dispatch.season.settings import SeasonSettings, settings_from_dict
from dispatch.season.simulator import SeasonResult

#: the bookings of `dispatch.season.figures.booking_of` as the binding constraint names them
BOOKING_NAMES = {
    "same_day": "same-day installations after their delivery",
    "next_morning": "next-morning installations",
    "booked": "installations of orders booked for a later day",
}

#: the share the answer falls back to when no option holds the target (issue 20, section 3)
FALLBACK_SHARE = 0.90

Changes = dict[str, dict[str, Any]]

EVENING: Changes = {
    "crews": {"evening_share": 0.3, "evening_temp_share": 0.3},
    "demand": {"install_until_hour": 20},
}
NEXT_MORNING: Changes = {"demand": {"install_slot_policy": "next_morning"}}
CUSTOMER_DEADLINES: Changes = {"demand": {"install_deadline_clock": "customer"}}
SPECIALISTS: Changes = {"crews": {"temp_specialist_share": 0.2}}


@dataclass(frozen=True)
class LeverOption:
    """One lever setting to try: a name and the settings overrides by section."""

    name: str
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply(self, settings: SeasonSettings) -> SeasonSettings:
        """`settings` with this option's overrides (checked like a scenario file)."""
        return settings_from_dict(self.changes, settings) if self.changes else settings


def combine(name: str, *parts: dict[str, dict[str, Any]]) -> LeverOption:
    """An option made of several levers' overrides (sections merged)."""
    changes: dict[str, dict[str, Any]] = {}
    for part in parts:
        for section, values in part.items():
            changes.setdefault(section, {}).update(values)
    return LeverOption(name, changes)


#: the options searched by default, the lever without a crew cost first (module doc).
#: Planning installations to the customer's clock (`CUSTOMER_DEADLINES`) is left out: it
#: made every week worse (docs/season.md, "Levers beyond hiring")
OPTIONS: tuple[LeverOption, ...] = (
    LeverOption("hiring only"),
    combine("next-morning slots", NEXT_MORNING),
    combine("next-morning slots + evening shifts", NEXT_MORNING, EVENING),
    combine(
        "next-morning slots + evening shifts + specialists", NEXT_MORNING, EVENING, SPECIALISTS
    ),
)
#: more options measured (`scripts/bench_season.py levers`), not searched by default
MEASURED: tuple[LeverOption, ...] = (
    combine("evening shifts", EVENING),
    combine("specialists", SPECIALISTS),
    combine("customer deadlines", CUSTOMER_DEADLINES),
    combine("next-morning slots + customer deadlines", NEXT_MORNING, CUSTOMER_DEADLINES),
)


def options_named(names: str | None) -> tuple[LeverOption, ...]:
    """The options of `OPTIONS` named in `names` (comma-separated), in `OPTIONS`' order;
    all of them when `names` is empty. An unknown name is refused, naming the known ones."""
    if not names:
        return OPTIONS
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = [o.name for o in OPTIONS]
    for name in wanted:
        if name not in known:
            raise InputError(
                "arguments", "--lever-options", f"{name!r} is not one of: {'; '.join(known)}"
            )
    return tuple(o for o in OPTIONS if o.name in wanted)


def recommend_with_levers(
    settings: SeasonSettings,
    city: SeasonCity,
    replications: int = 1,
    cluster: Cluster | None = None,
    max_rounds: int = 3,
    progress: Callable[[str], None] | None = None,
    options: Sequence[LeverOption] = OPTIONS,
) -> tuple[dict[str, Any], list[SeasonResult]]:
    """Search hiring under each lever option and choose (module doc).

    Returns the chosen option's recommendation as a dict with a `levers` entry (every
    option's figures, the choice, the verdict, the binding constraint) and the replications
    that back it.
    """
    say = progress or (lambda _m: None)
    tried: list[tuple[LeverOption, Recommendation, list[SeasonResult]]] = []
    for option in options:

        def said(message: str, name: str = option.name) -> None:
            say(f"{name}: {message}")

        trial = option.apply(settings)
        rec, results = recommend_capacity(trial, city, replications, cluster, max_rounds, said)
        tried.append((option, rec, results))
        say(f"{option.name}: worst peak week {_worst(rec):.1%}, cost {rec.cost_cny:,.0f} CNY")
    rows = [_option_row(o, rec) for o, rec, _ in tried]
    k, verdict = choose(rows, settings.target_share)
    option, rec, results = tried[k]
    out = rec.as_dict()
    out["levers"] = {
        "chosen": option.name,
        "changes": option.changes,
        "verdict": verdict,
        "fallback_share": FALLBACK_SHARE,
        "binding_constraint": binding_constraint(option.apply(settings), rec, results),
        "options": rows,
    }
    return out, results


def choose(rows: list[dict[str, Any]], target: float) -> tuple[int, str]:
    """The option to answer (module doc) and the verdict: "met", "fallback" (the worst week
    holds `FALLBACK_SHARE`) or "not met"."""
    met = [k for k, r in enumerate(rows) if r["met"]]
    if met:
        return min(met, key=lambda k: (rows[k]["cost_cny"], k)), "met"
    fallback = min(FALLBACK_SHARE, target)
    held = [k for k, r in enumerate(rows) if r["worst_week_share"] >= fallback]
    if held:
        return min(held, key=lambda k: (rows[k]["cost_cny"], k)), "fallback"
    return max(range(len(rows)), key=lambda k: (rows[k]["worst_week_share"], -k)), "not met"


def _worst(rec: Recommendation) -> float:
    shares = [w["share_mean"] for w in rec.per_week if w["peak_week"]]
    return min((s for s in shares if s is not None), default=1.0)


def _option_row(option: LeverOption, rec: Recommendation) -> dict[str, Any]:
    return {
        "name": option.name,
        "changes": option.changes,
        "met": rec.met,
        "met_for_temp_capable": rec.met_for_temp_capable,
        "worst_week_share": round(_worst(rec), 4),
        "week_share_mean": {
            str(w["week"]): w["share_mean"] for w in rec.per_week if w["peak_week"]
        },
        "temp_per_week": [w["temp_crews"] for w in rec.per_week],
        "temp_crew_days": rec.temp_crew_days,
        "cost_cny": rec.cost_cny,
        "lever_cost_cny": rec.lever_cost_cny,
        "rounds": len(rec.rounds),
    }


def binding_constraint(
    settings: SeasonSettings, rec: Recommendation, results: list[SeasonResult]
) -> str:
    """What holds the chosen plan's worst peak week below the target (module doc)."""
    weeks = [w for w in peak_weeks(settings) if any(r.weeks[w]["installs_due"] for r in results)]
    if not weeks or not results:
        return "no peak week with installations due"
    clock = clock_suffix(settings)
    key = f"share_install_24h{clock}"

    def mean(w: int, name: str) -> float:
        values = [r.weeks[w].get(name) for r in results]
        return float(np.mean([v for v in values if v is not None] or [0.0]))

    worst = min(weeks, key=lambda w: mean(w, key))
    share = mean(worst, key)
    if share >= settings.target_share:
        return "none: every peak week holds the target"
    due = mean(worst, "installs_due")
    own_due = mean(worst, "own_only_installs_due")
    own_share = mean(worst, f"share_install_24h_own_only{clock}") if own_due else 1.0
    lost_own = own_due * (1 - own_share) / due if due else 0.0
    lost_other = max(0.0, 1 - share - lost_own)
    clock_name = "customer's clock" if clock else "planning clock"
    if own_due:
        own_text = (
            f"{lost_own * 100:.1f} points are lost on installations no hire can do "
            f"({own_due / due:.0%} of the week's, own crews kept {own_share:.0%} of them)"
        )
    else:
        own_text = "every installation is one some hire can do (specialist teams included)"
    text = (
        f"week {worst} ({clock_name}) holds {share:.1%}: {own_text}, "
        f"{lost_other * 100:.1f} points on installations hires can do"
    )
    if lost_own >= lost_other:
        text += (
            "; binding: own specialist capacity (water heaters, three-person cabinet units)"
            " - more own specialists or specialist hires, not more standard hires"
        )
    else:
        text += (
            "; binding: when installations can happen (same-day installations after their "
            "delivery, next-morning deadlines against booked slots), not the number of crews"
        )
        if _saturated(rec, worst):
            text += " (the search's rounds with more crews did not raise the week's share)"
    late = {b: mean(worst, f"late_installs_{b}{clock}") for b in BOOKINGS}
    if due and any(late.values()):
        text += "; late installations by booking: " + ", ".join(
            f"{BOOKING_NAMES[b]} {late[b] / due * 100:.1f} points"
            for b in sorted(BOOKINGS, key=lambda b: -late[b])
        )
    return text


def _saturated(rec: Recommendation, week: int) -> bool:
    """Did a search round with more crews in `week` hold it less than a point above a round
    with fewer (more crews, no more share)?"""
    seen = sorted(
        (r["per_week"][week], r["week_share_mean"][str(week)])
        for r in rec.rounds
        if week < len(r["per_week"]) and r["week_share_mean"].get(str(week)) is not None
    )
    return any(c1 > c0 and s1 - s0 < 0.01 for c0, s0 in seen for c1, s1 in seen)
