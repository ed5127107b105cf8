"""Season settings: demand curve, execution noise, crews, quality loop and planner limits.

Every setting has a default calibrated as written in `docs/season.md`; a scenario file (JSON)
overrides any of them by section, e.g. ``{"demand": {"peak_days": 15}, "crews":
{"temp_per_week": [0, 20, 40, 20, 0]}}``. `settings_from_dict` refuses unknown keys and
impossible values with an `InputError` naming the setting (``demand.peak_days``), so a typo
never silently runs the default scenario.

Days are season day indexes: day 0 is `start`. Weeks are blocks of seven days from day 0.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from dispatch.errors import InputError

#: orders confirmed per hour of day (relative): late-morning and evening peaks, as on the demo
#: day (`fixtures.shanghai_orders.HOURLY`)
HOURLY: tuple[float, ...] = (1.0, 0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.5, 3.0, 5.0, 7.0, 7.5,
                             6.0, 5.0, 5.0, 5.0, 5.0, 5.5, 6.0, 7.5, 8.0, 7.5, 5.0,
                             2.5)  # fmt: skip

REC = "season settings"


@dataclass(frozen=True)
class Spike:
    """A scenario knob: `days` days from season day `day` with demand multiplied by `factor`."""

    day: int
    days: int = 1
    factor: float = 1.3

    def covers(self, d: int) -> bool:
        return self.day <= d < self.day + self.days


@dataclass(frozen=True)
class DemandSettings:
    """Orders per day and their curve over the season (levels relative to a normal day)."""

    #: a normal (off-peak) day's new orders: sales (delivery, often installation), repair
    #: reports and trade-in pick-ups; at the defaults a normal day plans about 1,500 jobs
    sales_orders_per_day: float = 680.0
    repairs_per_day: float = 360.0
    pickups_per_day: float = 130.0
    #: the air-conditioner peak: plateau days, the ramp before it and the decline after it
    peak_start_day: int = 10
    peak_days: int = 12
    ramp_days: int = 6
    decline_days: int = 4
    #: sales level on the plateau: 2.76 = the 618 promotion's daily AC retail over H1 2023's
    #: average day (11.95 M units in 21 days vs 37.26 M in 181 days, S10 and S11)
    peak_level: float = 2.76
    #: sales level after the peak: 1.45 = April 2023 over the Q1 2023 monthly average (S3)
    after_level: float = 1.45
    #: repair reports at the peak (AC failures in the heat) relative to a normal day
    repair_peak_level: float = 1.5
    heat_waves: tuple[Spike, ...] = ()  # multiply AC sales and repairs
    promotions: tuple[Spike, ...] = ()  # multiply all sales
    hourly: tuple[float, ...] = HOURLY
    #: orders confirmed from the plan time (07:00) until this hour are served the same day
    #: (standing for intraday re-planning); later ones from the next morning
    same_day_cutoff_hour: int = 17
    #: when a same-day order's installation is booked (`dispatch.season.demand`, docs/season.md
    #: "Levers"): "same_day" (today's behaviour) after its delivery the same afternoon;
    #: "next_morning": the delivery today, the installation in a window booked at order time
    #: on the next morning, ending inside the 24 h promise (orders too early in the day for
    #: such a window keep the same-day installation)
    install_slot_policy: str = "same_day"
    #: the deadline installations are planned to: "planning" (the region's policy on service
    #: hours, an order after 18:00 counting from 08:00) or "customer" (the earlier of that
    #: and the promise's end in calendar hours from the order)
    install_deadline_clock: str = "planning"
    #: the latest hour an installation visit may start (its window's end): 19 is the
    #: customers' last slot's end; evening installation shifts offer later visits (20, 21)
    install_until_hour: int = 19
    #: installations that need a second crew (`dispatch.products.needs_assist`: a cabinet
    #: air conditioner, 4th floor or higher, no lift) come with an assisting job, planned
    #: together on two crews (`dispatch.season.demand`); false: the lead crew alone, as
    #: before assisted jobs (a three-person cabinet job then waits for a three-person crew)
    assisted: bool = True


@dataclass(frozen=True)
class ExecutionSettings:
    """How the day really goes compared with the plan."""

    travel_cv: float = 0.15  # lognormal noise on every drive (coefficient of variation)
    service_cv: float = 0.20  # lognormal noise on every job's duration
    overrun_probability: float = 0.05  # a job runs long (hidden damage, extra parts)
    overrun_factor: float = 1.6
    absent_probability: float = 0.04  # customer not at home: the visit fails
    late_tolerance_minutes: int = 60  # a crew later than this past the window is turned away
    max_attempts: int = 3  # failed visits before the order is cancelled
    sick_probability: float = 0.02  # an own crew is off on a given day
    overtime_cap_minutes: int = 90  # no job is started that would end later than this
    failed_visit_minutes: int = 10


@dataclass(frozen=True)
class CrewSettings:
    """Own crews (the city's) and temporary crews hired for the peak."""

    own_productivity: float = 1.0  # planned minutes / actual minutes
    own_callback_probability: float = 0.025
    #: temporary AC installation crews per season week (missing weeks: 0)
    temp_per_week: tuple[int, ...] = ()
    #: optional zone weights for placing temporary crews (default: by the zones' customers)
    temp_zone_weights: dict[str, float] = field(default_factory=dict)
    temp_productivity: float = 0.85
    temp_callback_probability: float = 0.06
    temp_daily_cost: float = 1500.0  # CNY per crew-day (two installers and a van)
    temp_onboarding_cost: float = 2000.0  # CNY per crew hired (training, tools)
    temp_lead_days: int = 3  # a crew hired at season start works from this day on
    overtime_cost_factor: float = 1.5
    #: evening installation shifts (docs/season.md "Levers"): the share of the own
    #: installation crews, and of the temporary crews, working `evening_start_hour` to
    #: `evening_end_hour` instead of their day shift (0: none, today's behaviour)
    evening_share: float = 0.0
    evening_temp_share: float = 0.0
    evening_start_hour: int = 12
    evening_end_hour: int = 21
    #: an evening shift's cost over a day shift's (own crews' hourly cost, temporary crews'
    #: daily cost): an assumption, a shift premium of 20 %, not a published figure
    evening_cost_factor: float = 1.2
    #: the share of temporary crews that are specialist teams: three people with
    #: `electrical`, `plumbing` and `tv_mount` besides the AC skills, so they can do the
    #: installations other hires cannot (water heaters, three-person cabinet units)
    temp_specialist_share: float = 0.0
    #: a specialist team's daily cost over a standard team's: 1.5 = three people instead
    #: of two (an assumption, no published rate)
    temp_specialist_cost_factor: float = 1.5


@dataclass(frozen=True)
class QualitySettings:
    """Follow-up calls and callbacks (repeat visits)."""

    #: the call centre's capacity at scale 1; a season at `scale` gets this times `scale`
    #: (rounded), as its demand and own fleet do
    followup_calls_per_day: int = 1500
    followup_max_age_days: int = 7  # a job not called within this many days is never called
    callback_delay_days: tuple[int, int] = (1, 21)  # when a repeat fault is reported
    #: a follow-up call finds a latent repeat fault with this probability (reported that day)
    followup_detects: float = 0.5


@dataclass(frozen=True)
class PlannerSettings:
    time_limit_s: float = 8.0
    solution_limit: int | None = None  # set for reproducible runs
    workers: int = 0  # planner processes per day; 0: all cores (1 inside parallel replications)
    #: open jobs offered to the planner per day, as a multiple of the crews' job capacity
    pool_factor: float = 1.6
    #: the planner's first-solution strategies (None: its defaults)
    constructions: tuple[str, ...] | None = None
    #: jobs per zone-group solve (None: the planner's 500). Smaller than the service's
    #: default because hired crews double or triple the fleet at the peak, and a group whose
    #: first solution does not come in time leaves all its jobs unplanned (docs/season.md)
    group_size: int | None = 300


@dataclass(frozen=True)
class SeasonSettings:
    start: date = date(2026, 6, 1)
    days: int = 30
    seed: int = 0
    target_share: float = 0.95  # 24 h installation share the recommendation must hold
    #: the clock the recommendation's target is judged on (`dispatch.promise_clocks`):
    #: "planning" (the planner's deadlines, the default so far) or "customer" (calendar
    #: hours from the order, what the customer is promised)
    target_clock: str = "planning"
    #: scale of the city's demand and own fleet (0.25: a quarter-size model for fast sweeps)
    scale: float = 1.0
    demand: DemandSettings = field(default_factory=DemandSettings)
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)
    crews: CrewSettings = field(default_factory=CrewSettings)
    quality: QualitySettings = field(default_factory=QualitySettings)
    planner: PlannerSettings = field(default_factory=PlannerSettings)

    def __post_init__(self) -> None:
        check_settings(self)

    def with_changes(self, **changes: Any) -> SeasonSettings:
        """A copy with top-level fields or sections replaced (`crews=CrewSettings(...)`)."""
        return dataclasses.replace(self, **changes)

    def temp_on_day(self, d: int) -> int:
        """Temporary crews at work on season day `d` (0 before the lead time)."""
        week = d // 7
        per_week = self.crews.temp_per_week
        if d < self.crews.temp_lead_days or week >= len(per_week):
            return 0
        return per_week[week]

    @property
    def weeks(self) -> int:
        return math.ceil(self.days / 7)


#: settings that take one of a few words: (section or "", name) -> the words
CHOICES: dict[str, tuple[str, ...]] = {
    "target_clock": ("planning", "customer"),
    "demand.install_slot_policy": ("same_day", "next_morning"),
    "demand.install_deadline_clock": ("planning", "customer"),
}

SECTIONS: dict[str, type] = {
    "demand": DemandSettings,
    "execution": ExecutionSettings,
    "crews": CrewSettings,
    "quality": QualitySettings,
    "planner": PlannerSettings,
}


def settings_from_dict(raw: dict[str, Any], base: SeasonSettings | None = None) -> SeasonSettings:
    """Scenario JSON (sections of overrides) on top of `base` (defaults). See module doc."""
    base = base or SeasonSettings()
    if not isinstance(raw, dict):
        raise InputError(REC, "(root)", "must be a JSON object of settings")
    top = {f.name for f in fields(SeasonSettings)}
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in top:
            raise InputError(REC, key, f"unknown setting; known: {', '.join(sorted(top))}")
        if key in SECTIONS:
            changes[key] = _section(key, value, getattr(base, key))
        elif key == "start":
            try:
                changes[key] = date.fromisoformat(str(value))
            except ValueError:
                raise InputError(REC, key, f"{value!r} is not a date (YYYY-MM-DD)") from None
        elif key in CHOICES:
            changes[key] = _choice(key, value)
        else:
            changes[key] = _number(key, value, getattr(base, key))
    return base.with_changes(**changes)


def _choice(path: str, value: Any) -> str:
    words = CHOICES[path]
    if value not in words:
        raise InputError(REC, path, f"{value!r} is not one of: {', '.join(words)}")
    return str(value)


def _section(name: str, raw: Any, current: Any) -> Any:
    if not isinstance(raw, dict):
        raise InputError(REC, name, "must be an object of settings")
    known = {f.name: f for f in fields(current)}
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        path = f"{name}.{key}"
        if key not in known:
            raise InputError(REC, path, f"unknown setting; known: {', '.join(sorted(known))}")
        old = getattr(current, key)
        if key in ("heat_waves", "promotions"):
            if not isinstance(value, list | tuple):
                raise InputError(REC, path, "must be a list of {day, days, factor}")
            changes[key] = tuple(_spike(f"{path}[{k}]", s) for k, s in enumerate(value))
        elif key == "constructions":
            changes[key] = _constructions(path, value)
        elif path in CHOICES:
            changes[key] = _choice(path, value)
        elif key == "temp_zone_weights":
            if not isinstance(value, dict):
                raise InputError(REC, path, "must map zone ids to weights")
            changes[key] = {str(z): _number(f"{path}.{z}", w, 1.0) for z, w in value.items()}
        elif isinstance(old, bool):
            if not isinstance(value, bool):
                raise InputError(REC, path, f"{value!r} is not true or false")
            changes[key] = value
        elif isinstance(old, tuple):
            if not isinstance(value, list | tuple):
                raise InputError(REC, path, "must be a list")
            sample = old[0] if old else 0
            changes[key] = tuple(_number(f"{path}[{k}]", v, sample) for k, v in enumerate(value))
        else:
            changes[key] = _number(path, value, old)
    return dataclasses.replace(current, **changes)


def _constructions(path: str, value: Any) -> tuple[str, ...] | None:
    from routing.ortools_model import FIRST_SOLUTIONS

    if value is None:
        return None
    if not isinstance(value, list | tuple) or not value:
        raise InputError(REC, path, "must be a non-empty list of strategy names")
    for k, name in enumerate(value):
        if name not in FIRST_SOLUTIONS:
            known = ", ".join(sorted(FIRST_SOLUTIONS))
            raise InputError(REC, f"{path}[{k}]", f"{name!r} is not one of: {known}")
    return tuple(value)


def _spike(path: str, raw: Any) -> Spike:
    if not isinstance(raw, dict) or set(raw) - {"day", "days", "factor"} or "day" not in raw:
        raise InputError(REC, path, "must be an object {day, days, factor}")
    return Spike(
        day=_number(f"{path}.day", raw["day"], 0),
        days=_number(f"{path}.days", raw.get("days", 1), 0),
        factor=_number(f"{path}.factor", raw.get("factor", 1.3), 0.0),
    )


def _number(path: str, value: Any, like: Any) -> Any:
    """`value` as the type of the default `like` (int, float or None-able)."""
    if value is None and like is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(REC, path, f"{value!r} is not a number")
    if isinstance(value, int) and abs(value) > 10**12:
        raise InputError(REC, path, f"{value} is out of range")
    if isinstance(like, int) and not isinstance(like, bool) and like is not None:
        if float(value) != int(value):
            raise InputError(REC, path, f"{value!r} must be a whole number")
        return int(value)
    if like is None:
        return int(value)
    if not math.isfinite(float(value)):
        raise InputError(REC, path, f"{value!r} is not a finite number")
    return float(value)


def check_settings(s: SeasonSettings) -> None:  # noqa: C901 - a flat list of range checks, one `need` per setting
    """Impossible settings, each named: see `tests/test_season_settings.py`."""
    d, x, c, q, p = s.demand, s.execution, s.crews, s.quality, s.planner

    def need(ok: bool, path: str, message: str) -> None:
        if not ok:
            raise InputError(REC, path, message)

    need(1 <= s.days <= 366, "days", f"must be 1..366, got {s.days}")
    need(0 <= s.seed < 2**32, "seed", f"must be 0..2^32-1, got {s.seed}")
    share = s.target_share
    need(0 < share <= 1, "target_share", f"must be in (0, 1] (at most 100 %), got {share}")
    need(0 < s.scale <= 4, "scale", f"must be in (0, 4], got {s.scale}")
    for name in ("sales_orders_per_day", "repairs_per_day", "pickups_per_day"):
        need(getattr(d, name) >= 0, f"demand.{name}", "must be >= 0")
    for name in ("peak_level", "after_level", "repair_peak_level"):
        need(getattr(d, name) >= 0, f"demand.{name}", "must be >= 0")
    for name in ("peak_start_day", "peak_days", "ramp_days", "decline_days"):
        need(getattr(d, name) >= 0, f"demand.{name}", "must be >= 0")
    need(
        d.peak_start_day + d.peak_days <= s.days,
        "demand.peak_days",
        f"the peak (days {d.peak_start_day}..{d.peak_start_day + d.peak_days - 1}) does not fit "
        f"in a {s.days}-day season",
    )
    need(d.ramp_days <= d.peak_start_day, "demand.ramp_days", "the ramp starts before day 0")
    for name in ("heat_waves", "promotions"):
        for k, spike in enumerate(getattr(d, name)):
            need(0 <= spike.day < s.days, f"demand.{name}[{k}].day", "is outside the season")
            need(spike.days >= 1, f"demand.{name}[{k}].days", "must be >= 1")
            need(spike.factor >= 0, f"demand.{name}[{k}].factor", "must be >= 0")
    need(
        len(d.hourly) == 24 and min(d.hourly) >= 0 and sum(d.hourly) > 0,
        "demand.hourly",
        "needs 24 non-negative weights, not all zero",
    )
    need(8 <= d.same_day_cutoff_hour <= 18, "demand.same_day_cutoff_hour", "must be 8..18")
    for path, words in CHOICES.items():
        value = getattr(s, path) if "." not in path else getattr(d, path.split(".")[1])
        need(value in words, path, f"{value!r} is not one of: {', '.join(words)}")
    need(
        12 <= d.install_until_hour <= 23,
        "demand.install_until_hour",
        f"must be 12..23, got {d.install_until_hour}",
    )
    for name in ("travel_cv", "service_cv", "overrun_factor"):
        need(getattr(x, name) >= 0, f"execution.{name}", "must be >= 0")
    for name in ("overrun_probability", "absent_probability", "sick_probability"):
        need(0 <= getattr(x, name) <= 1, f"execution.{name}", "must be a probability in [0, 1]")
    need(x.max_attempts >= 1, "execution.max_attempts", "must be >= 1")
    for name in ("late_tolerance_minutes", "overtime_cap_minutes", "failed_visit_minutes"):
        need(getattr(x, name) >= 0, f"execution.{name}", "must be >= 0")
    for name in ("own_productivity", "temp_productivity"):
        need(getattr(c, name) > 0, f"crews.{name}", "must be > 0")
    for name in ("own_callback_probability", "temp_callback_probability"):
        need(0 <= getattr(c, name) <= 1, f"crews.{name}", "must be a probability in [0, 1]")
    for k, n in enumerate(c.temp_per_week):
        need(n >= 0, f"crews.temp_per_week[{k}]", f"negative capacity {n}")
    need(len(c.temp_per_week) <= s.weeks, "crews.temp_per_week", f"more weeks than {s.weeks}")
    for zone, w in c.temp_zone_weights.items():
        need(w >= 0, f"crews.temp_zone_weights.{zone}", "must be >= 0")
    for name in ("temp_daily_cost", "temp_onboarding_cost", "temp_lead_days"):
        need(getattr(c, name) >= 0, f"crews.{name}", "must be >= 0")
    need(c.overtime_cost_factor >= 1, "crews.overtime_cost_factor", "must be >= 1")
    for name in ("evening_share", "evening_temp_share", "temp_specialist_share"):
        need(0 <= getattr(c, name) <= 1, f"crews.{name}", "must be a share in [0, 1]")
    need(
        6 <= c.evening_start_hour < c.evening_end_hour <= 23,
        "crews.evening_start_hour",
        f"the evening shift must lie in 06:00..23:00 and end after it starts, got "
        f"{c.evening_start_hour}:00-{c.evening_end_hour}:00",
    )
    span = c.evening_end_hour - c.evening_start_hour
    need(span >= 4, "crews.evening_end_hour", "an evening shift needs at least 4 hours")
    for name in ("evening_cost_factor", "temp_specialist_cost_factor"):
        need(getattr(c, name) >= 1, f"crews.{name}", "must be >= 1 (a premium, not a discount)")
    need(q.followup_calls_per_day >= 0, "quality.followup_calls_per_day", "negative capacity")
    need(q.followup_max_age_days >= 0, "quality.followup_max_age_days", "must be >= 0")
    need(len(q.callback_delay_days) == 2, "quality.callback_delay_days", "needs [first, last]")
    lo, hi = q.callback_delay_days
    need(1 <= lo <= hi <= 180, "quality.callback_delay_days", "needs 1 <= first <= last <= 180")
    need(0 <= q.followup_detects <= 1, "quality.followup_detects", "must be in [0, 1]")
    need(p.time_limit_s > 0, "planner.time_limit_s", "must be > 0")
    need(p.solution_limit is None or p.solution_limit > 0, "planner.solution_limit", "> 0")
    need(p.workers >= 0, "planner.workers", "must be >= 0")
    need(p.pool_factor > 0, "planner.pool_factor", "must be > 0")


def settings_as_dict(s: SeasonSettings) -> dict[str, Any]:
    """JSON-ready settings (what a report records next to its figures)."""
    out = dataclasses.asdict(s)
    out["start"] = s.start.isoformat()
    return out
