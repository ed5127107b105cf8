"""Capacity recommendation: the fewest temporary crews per week that hold the 24 h promise.

The target: in every week that overlaps the peak (ramp, plateau and decline), the mean over
the seeded replications of the share of installations done within their promise is at
least `target_share` (95 % by default), on the clock `target_clock` names ("planning", the
default: the planner's deadlines; "customer": calendar hours from the order,
`dispatch.promise_clocks`). The spread (min and max over replications) is reported beside
it. Levers other than hiring (evening shifts, next-morning installation slots, specialist
teams) are searched around this search by `dispatch.season.levers`.

The search runs whole seasons (the real planner every day), so it is economical:

1. round 0 runs the given staffing plan (none by default) on every replication;
2. each later round moves every not-yet-settled peak week by a **shortfall step**: the
   installations it missed against the target, divided by what one temporary crew
   completes in a week (measured in the runs: jobs per temporary crew-day, or the own
   installers' rate times the temporary productivity before any is hired), or by the
   **secant step** if larger: the crews that the line through the week's last two plans
   and shares says reach the target (at most doubling the week's crews). The shortfall
   step alone is too timid under a backlog: first-come service makes every job late, so
   the share is not linear in crews (scale 0.1: about 7 crews a week per round, 4 rounds
   without reaching the target). A week that holds the target with room to spare gives
   back, once, half of its surplus the shortfall way or `TRIM_SHARE` of its crews,
   whichever is more. Near saturation the share hardly moves with crews (scale 0.1: 30, 60
   and 40 crews held 83, 82 and 85 % against an 80 % target), so half the surplus came to
   less than one crew and the search never tried a smaller plan. If the smaller plan fails,
   the secant through the two plans brings the week back up;
3. weeks settle in calendar order: a season is causal (week w's figures depend only on
   weeks <= w), so once week w holds the target with the weeks before it fixed, it stays
   fixed and the later weeks are tuned;
4. the answer is the passing plan with the fewest temporary crew-days among the rounds run.

**When the target is out of temporary crews' reach.** Some installations need skills or
people no temporary crew has (a water heater needs `electrical` and `plumbing`, some cabinet
units three people). If, in a week, even every other installation on time would leave the
share below the target (its `share_install_24h_ceiling`), no number of temporary crews
meets it: that week is judged on the installations temporary crews can do instead, the
recommendation says `met: false` with `met_for_temp_capable: true`, and a note names the
week, the own-only share and its ceiling: that gap needs own specialists, not more hires.

**The planner in the search is limited by work, not by the clock.** Unless the settings
name a `planner.solution_limit`, each solve stops after `SEARCH_SOLUTION_LIMIT` solutions
(the clock, at least `SEARCH_TIME_CEILING_S`, is only a guard). Replications run side by
side, one planner process each, so a clock-limited planner gets less search per group the
more replications share the cores, and worse still with every hire (bigger models): the
search then measures the starved planner, not the staffing. At scale 0.1 the same plan (0,
32, 60, 37 temporary crews in weeks 0-3) held 61-68 % per peak week with the 3 s clock on a
two-worker cluster and 83-85 % with 30 solutions; the clock-limited search answered more
crews with lower shares (173 crews in week 2: 42 %).

It is a search by measured steps, not a proof of minimality: a plan one crew smaller in
some week might still pass. The rounds, their plans and worst-week shares are returned so
a planner sees how the answer was reached. Weeks that end before temporary crews can start
(`temp_lead_days`) cannot be helped and are named in the notes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dispatch.planning.cluster import Cluster
from dispatch.season.city import SeasonCity, allocate
from dispatch.season.settings import CrewSettings, SeasonSettings
from dispatch.season.simulator import SeasonResult
from dispatch.season.study import run_replications

#: a week passing with more than this above the target gives crews back
SURPLUS_MARGIN = 0.02
#: a week passing with room to spare gives back at least this share of its crews, once
TRIM_SHARE = 0.25
#: solutions per planner solve in the search, when the settings name none (module doc)
SEARCH_SOLUTION_LIMIT = 30
#: the planner's clock in the search is at least this: a guard, not the limit
SEARCH_TIME_CEILING_S = 60.0


@dataclass
class Recommendation:
    target_share: float
    replications: int
    per_week: list[dict[str, Any]]
    per_zone: list[dict[str, Any]]
    met: bool
    temp_crew_days: int
    cost_cny: float
    extra_cost_cny: float
    rounds: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: every peak week held the target on the installations temporary crews can do
    met_for_temp_capable: bool = False
    #: the clock the shares are on: "planning" or "customer" (`SeasonSettings.target_clock`)
    target_clock: str = "planning"
    #: the part of `cost_cny` that the crew levers' premiums add (evening shifts, specialists)
    lever_cost_cny: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "target_share": self.target_share,
            "target_clock": self.target_clock,
            "replications": self.replications,
            "met": self.met,
            "met_for_temp_capable": self.met_for_temp_capable,
            "per_week": self.per_week,
            "per_zone": self.per_zone,
            "temp_crew_days": self.temp_crew_days,
            "cost_cny": self.cost_cny,
            "extra_cost_cny": self.extra_cost_cny,
            "lever_cost_cny": self.lever_cost_cny,
            "rounds": self.rounds,
            "notes": self.notes,
        }


def peak_weeks(s: SeasonSettings) -> list[int]:
    """Weeks that overlap the ramp, the plateau or the decline of the peak."""
    d = s.demand
    first = d.peak_start_day - d.ramp_days
    last = min(s.days - 1, d.peak_start_day + d.peak_days + d.decline_days - 1)
    return sorted({day // 7 for day in range(max(0, first), last + 1)})


def clock_suffix(s: SeasonSettings) -> str:
    """The suffix of the week keys on the target's clock: "" (planning) or "_customer"."""
    return "_customer" if s.target_clock == "customer" else ""


def _week_shares(
    results: list[SeasonResult], week: int, key: str = "share_install_24h"
) -> list[float]:
    return [r.weeks[week][key] for r in results if r.weeks[week].get(key) is not None]


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 1.0


def _judged(
    results: list[SeasonResult], weeks: list[int], target: float, clock: str = ""
) -> tuple[dict[int, float], dict[int, float], set[int]]:
    """Per week: the share the search judges, the installations due it is judged on, and the
    weeks out of temporary crews' reach (module doc); shares on the clock whose key suffix
    is `clock` (`clock_suffix`)."""
    judged: dict[int, float] = {}
    due: dict[int, float] = {}
    beyond: set[int] = set()
    for w in weeks:
        ceiling = _mean(_week_shares(results, w, f"share_install_24h_ceiling{clock}"))
        all_due = float(np.mean([r.weeks[w]["installs_due"] for r in results]))
        if ceiling < target:
            beyond.add(w)
            judged[w] = _mean(_week_shares(results, w, f"share_install_24h_temp_capable{clock}"))
            own = float(np.mean([r.weeks[w].get("own_only_installs_due", 0) for r in results]))
            due[w] = all_due - own
        else:
            judged[w] = _mean(_week_shares(results, w, f"share_install_24h{clock}"))
            due[w] = all_due
    return judged, due, beyond


def _crew_week_output(results: list[SeasonResult], s: SeasonSettings) -> float:
    """Jobs one temporary crew completes in a week (measured; see module doc, step 2)."""
    temp_days = sum(row["temp_crews"] for r in results for row in r.days)
    temp_jobs = sum(row["temp_jobs_done"] for r in results for row in r.days)
    if temp_days and temp_jobs:
        per_day = temp_jobs / temp_days
    else:
        crews = sum(row["install_crews"] for r in results for row in r.days)
        jobs = sum(row["install_crew_jobs"] for r in results for row in r.days)
        per_day = (jobs / crews if crews else 3.0) * s.crews.temp_productivity
    return max(0.5, per_day) * 7


def recommend_capacity(  # noqa: PLR0915 - the capacity search's round loop; split in the architecture issue
    settings: SeasonSettings,
    city: SeasonCity,
    replications: int = 3,
    cluster: Cluster | None = None,
    max_rounds: int = 5,
    progress: Callable[[str], None] | None = None,
) -> tuple[Recommendation, list[SeasonResult]]:
    """Search the staffing plan (module doc); returns it and the replications that back it."""
    say = progress or (lambda _m: None)
    settings, planner_note = work_limited(settings)
    clock = clock_suffix(settings)
    weeks = peak_weeks(settings)
    lead = settings.crews.temp_lead_days
    helpable = {w for w in weeks if 7 * w + 6 >= lead}
    given = list(settings.crews.temp_per_week)
    plan = given + [0] * (settings.weeks - len(given))
    rounds: list[dict[str, Any]] = []
    # (temporary crew-days, plan, results, passed overall, weeks beyond temporary crews' reach)
    best: tuple[int, list[int], list[SeasonResult], bool, set[int]] | None = None
    baseline_cost: float | None = None
    settled = -1  # weeks[: settled + 1] are fixed
    trimmed: set[int] = set()  # weeks that already gave back surplus once
    results: list[SeasonResult] = []
    seen: dict[int, list[tuple[int, float]]] = {w: [] for w in weeks}  # (crews, judged share)
    ran = list(plan)
    for n in range(max_rounds):
        ran = list(plan)  # `plan` becomes the next round's below
        trial = settings.with_changes(crews=_with_plan(settings, plan))
        say(f"round {n}: temporary crews per week {plan}")
        results = run_replications(trial, city, replications, cluster)
        overall = {w: _mean(_week_shares(results, w, f"share_install_24h{clock}")) for w in weeks}
        means, due_judged, beyond = _judged(results, weeks, settings.target_share, clock)
        cost = float(np.mean([r.summary["cost_cny"] for r in results]))
        if baseline_cost is None:
            baseline_cost = cost
        passed = all(means[w] >= settings.target_share for w in weeks if w in helpable)
        strict = passed and all(overall[w] >= settings.target_share for w in helpable)
        crew_days = sum(trial.temp_on_day(d) for d in range(settings.days))
        rounds.append(
            {
                "per_week": list(plan),
                "week_share_mean": {str(w): round(overall[w], 4) for w in weeks},
                "week_share_judged": {str(w): round(means[w], 4) for w in weeks},
                "beyond_temp_reach": sorted(beyond),
                "worst_week_share": round(min(overall.values()), 4) if overall else None,
                "passed": passed,
                "passed_overall": strict,
                "temp_crew_days": crew_days,
                "cost_cny": round(cost, 0),
            }
        )
        if passed and (best is None or crew_days < best[0]):
            best = (crew_days, list(plan), results, strict, beyond)
        # settle passing weeks in calendar order; a week with room to spare first gives
        # back some crews once (module doc, 2)
        while settled + 1 < len(weeks) and _settles(
            weeks[settled + 1], means, settings.target_share, helpable, plan, trimmed
        ):
            settled += 1
        per_crew = _crew_week_output(results, settings)
        changed = False
        for w in weeks[settled + 1 :]:
            if w not in helpable:
                continue
            gap = (settings.target_share - means[w]) * due_judged[w]
            seen[w].append((plan[w], means[w]))
            if means[w] < settings.target_share:
                step = max(1, math.ceil(gap / per_crew), _secant_step(seen[w], settings))
            elif w in trimmed or plan[w] == 0 or means[w] - settings.target_share <= SURPLUS_MARGIN:
                continue
            else:
                trimmed.add(w)
                step = min(-math.floor(-gap / per_crew / 2), -math.ceil(plan[w] * TRIM_SHARE))
            new = max(0, plan[w] + step)
            changed |= new != plan[w]
            plan[w] = new
        if not changed:
            break
    notes = [planner_note] if planner_note else []
    unhelpable = [w for w in weeks if w not in helpable]
    if unhelpable:
        notes.append(
            f"week(s) {unhelpable} end before temporary crews can start (lead time {lead} days)"
        )
    if best is None:
        notes.append(
            f"no plan within {max_rounds} rounds held {settings.target_share:.0%} in every peak "
            "week: the last round is shown; run more rounds or check own capacity"
        )
        chosen_plan, chosen, strict, beyond = ran, results, False, set(beyond)
    else:
        _, chosen_plan, chosen, strict, beyond = best
    notes.extend(_beyond_notes(chosen, sorted(beyond), settings.target_share, clock))
    rec = _describe(settings, city, weeks, chosen_plan, chosen, rounds, notes, baseline_cost)
    rec.met = strict
    rec.met_for_temp_capable = best is not None
    return rec, chosen


def work_limited(settings: SeasonSettings) -> tuple[SeasonSettings, str]:
    """The settings the search runs with: a solution-limited planner (module doc), and a
    note saying so when that changed the settings."""
    p = settings.planner
    if p.solution_limit is not None:
        return settings, ""
    planner = dataclasses.replace(
        p,
        solution_limit=SEARCH_SOLUTION_LIMIT,
        time_limit_s=max(p.time_limit_s, SEARCH_TIME_CEILING_S),
    )
    note = (
        f"planner limited to {SEARCH_SOLUTION_LIMIT} solutions per solve (clock ceiling "
        f"{planner.time_limit_s:.0f} s) so that replications sharing the cores are judged "
        "alike; set planner.solution_limit to choose another"
    )
    return settings.with_changes(planner=planner), note


def _beyond_notes(
    results: list[SeasonResult], weeks: list[int], target: float, clock: str = ""
) -> list[str]:
    notes = []
    for w in weeks:
        own_due = float(np.mean([r.weeks[w].get("own_only_installs_due", 0) for r in results]))
        due = float(np.mean([r.weeks[w]["installs_due"] for r in results]))
        own = _mean(_week_shares(results, w, f"share_install_24h_own_only{clock}"))
        ceiling = _mean(_week_shares(results, w, f"share_install_24h_ceiling{clock}"))
        if not due:
            continue
        notes.append(
            f"week {w}: {own_due / due:.0%} of installations need skills or people no "
            f"temporary crew has (water heaters, three-person cabinet units...); own crews did "
            f"{own:.0%} of them within 24 h, so the week can reach at most {ceiling:.0%} "
            f"whatever is hired; the plan is sized to hold {target:.0%} of the installations "
            "temporary crews can do, and the rest needs own specialist capacity"
        )
    return notes


def _secant_step(seen: list[tuple[int, float]], s: SeasonSettings) -> int:
    """Crews to add so the line through the week's last two different plans reaches the
    target; 0 without two such plans or a rising share. At most doubles the week's crews
    (and at least allows 10): the response flattens near the ceiling, so a long
    extrapolation would overshoot."""
    crews, share = seen[-1]
    earlier = [(c, v) for c, v in seen[:-1] if c != crews]
    if not earlier:
        return 0
    c0, v0 = earlier[-1]
    slope = (share - v0) / (crews - c0)
    if slope <= 0:
        return 0
    return min(math.ceil((s.target_share - share) / slope), max(crews, 10))


def _settles(
    w: int,
    means: dict[int, float],
    target: float,
    helpable: set[int],
    plan: list[int],
    trimmed: set[int],
) -> bool:
    if w not in helpable:
        return True
    snug = means[w] - target <= SURPLUS_MARGIN
    return means[w] >= target and (snug or plan[w] == 0 or w in trimmed)


def _with_plan(settings: SeasonSettings, plan: list[int]) -> CrewSettings:
    return dataclasses.replace(settings.crews, temp_per_week=tuple(plan))


def _describe(
    settings: SeasonSettings,
    city: SeasonCity,
    weeks: list[int],
    plan: list[int],
    results: list[SeasonResult],
    rounds: list[dict[str, Any]],
    notes: list[str],
    baseline_cost: float | None,
) -> Recommendation:
    clock = clock_suffix(settings)
    per_week = []
    for w in range(settings.weeks):
        shares = _week_shares(results, w, f"share_install_24h{clock}")
        per_week.append(
            {
                "week": w,
                "first_day": 7 * w,
                "peak_week": w in weeks,
                "temp_crews": plan[w],
                "share_mean": round(float(np.mean(shares)), 4) if shares else None,
                "share_min": round(min(shares), 4) if shares else None,
                "share_max": round(max(shares), 4) if shares else None,
                "met": (not shares) or float(np.mean(shares)) >= settings.target_share,
            }
        )
    weights = city.zone_weights(settings.crews.temp_zone_weights)
    top = max(plan) if plan else 0
    placed = allocate(top, [weights[z.id] for z in city.zones]) if top else [0] * len(city.zones)
    peak_days = {d for w in weeks for d in range(7 * w, min(settings.days, 7 * w + 7))}
    per_zone: list[dict[str, Any]] = []
    for zone, n in zip(city.zones, placed, strict=True):
        due = on_time = 0
        for r in results:
            for row in r.zones:
                if row["zone"] == zone.id and row["day"] in peak_days:
                    due += row["installs_due"]
                    on_time += row["installs_due"] * (row[f"share_install_24h{clock}"] or 0)
        share = round(on_time / due, 4) if due else None
        per_zone.append(
            {
                "zone": zone.id,
                "temp_crews": n,
                "share_install_24h_mean": share,
                "below_target": share is not None and share < settings.target_share,
            }
        )
    below = [z["zone"] for z in per_zone if z["below_target"]]
    if below:
        notes.append(
            "zones below the target through the peak even with this plan: "
            + ", ".join(below)
            + " (give them more of the temporary crews with crews.temp_zone_weights)"
        )
    cost = float(np.mean([r.summary["cost_cny"] for r in results])) if results else 0.0
    crew_days = int(np.mean([r.summary["temp_crew_days"] for r in results])) if results else 0
    levers = [r.summary.get("lever_cost_cny", 0.0) or 0.0 for r in results]
    return Recommendation(
        target_share=settings.target_share,
        replications=len(results),
        per_week=per_week,
        per_zone=per_zone,
        met=False,
        temp_crew_days=crew_days,
        cost_cny=round(cost, 0),
        extra_cost_cny=round(cost - (baseline_cost or cost), 0),
        rounds=rounds,
        notes=notes,
        target_clock=settings.target_clock,
        lever_cost_cny=round(float(np.mean(levers)), 0) if levers else 0.0,
    )
