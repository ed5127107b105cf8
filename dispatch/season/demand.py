"""Demand: how many orders each season day brings, when they arrive and what they ask for.

* **Volume curve.** Sales orders follow a level relative to a normal day: 1.0 before the
  air-conditioner ramp, a linear ramp over `ramp_days` to `peak_level` (2.76 by default, the
  618 promotion's daily AC retail against H1 2023's average day), a plateau of `peak_days`,
  a linear decline over `decline_days` to `after_level` (1.45, April against Q1 2023).
  Repairs rise to `repair_peak_level` with the same shape; pick-ups stay flat. Heat waves
  multiply sales and repairs and turn the product mix fully to the peak mix; promotion days
  multiply sales. Counts are Poisson around `level x per-day mean x scale`. The calibration
  is written out in docs/season.md.
* **Arrivals** through the day follow the hourly profile. An order confirmed before the plan
  time (07:00) books a slot that day; one confirmed between 07:00 and the same-day cut-off
  (14:00) is served the same day, from two hours after the order (standing for intraday
  re-planning); later orders book a slot the next day. A job carried over past its first
  day is re-booked on a wide window (`carried_slot`): the customer takes any time.
* **Product mix** moves from the normal mix to the peak mix with the AC intensity (0 on a
  normal day, 1 on the plateau): each order draws from the peak mix with that probability.
  A sale is a delivery and, for products that get installed (`dispatch.products`), a linked
  installation of the same order. Skills, people, goods and floors come from
  `dispatch.products`, the same rules as the demo day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

import numpy as np

from dispatch.models import GeoPoint, Job, JobKind, Priority, ProductCategory, TimeWindow
from dispatch.products import (
    AC,
    GOODS,
    MIX,
    NEEDS_INSTALL,
    building_floor,
    size_variant,
    skills_people,
)
from dispatch.promises import default_policies
from dispatch.season.city import SLOTS, SeasonCity
from dispatch.season.settings import DemandSettings, SeasonSettings

PLAN_MINUTE = 7 * 60  # the daily plan runs at 07:00
INSTALL_UNTIL = 19 * 60
LAST_LINKED_SLOT = 15 * 60  # latest delivery slot start offered with same-day installation
#: delivery, link gap and installation, minutes: a linked slot must leave this much time
LINKED_WORK_MINUTES = 200
WIDE = (9 * 60, 18 * 60)
VIP_SHARE = 0.05
_POLICIES = default_policies()


@dataclass(frozen=True)
class DayLevels:
    sales: float
    repairs: float
    pickups: float
    ac_intensity: float  # 0: normal product mix, 1: peak mix


def sales_curve(d: DemandSettings, day: int) -> float:
    """The sales level of season day `day` before spikes (see module doc)."""
    ramp_start = d.peak_start_day - d.ramp_days
    peak_end = d.peak_start_day + d.peak_days
    if day < ramp_start:
        return 1.0
    if day < d.peak_start_day:
        return 1.0 + (d.peak_level - 1.0) * (day - ramp_start + 1) / (d.ramp_days + 1)
    if day < peak_end:
        return d.peak_level
    if day < peak_end + d.decline_days:
        step = (day - peak_end + 1) / (d.decline_days + 1)
        return d.peak_level + (d.after_level - d.peak_level) * step
    return d.after_level


def day_levels(s: SeasonSettings, day: int) -> DayLevels:
    d = s.demand
    sales = sales_curve(d, day)
    span = d.peak_level - 1.0
    intensity = min(1.0, max(0.0, (sales - 1.0) / span)) if span > 0 else 0.0
    repairs = 1.0 + (d.repair_peak_level - 1.0) * intensity
    for wave in d.heat_waves:
        if wave.covers(day):
            sales *= wave.factor
            repairs *= wave.factor
            intensity = 1.0
    for promo in d.promotions:
        if promo.covers(day):
            sales *= promo.factor
    return DayLevels(sales, repairs, 1.0, intensity)


@dataclass(frozen=True)
class NewJob:
    """A job as ordered: windows on its release day, its slot (time of day) for later days."""

    job: Job
    slot: tuple[int, int]
    release_day: int


def carried_slot(kind: JobKind) -> tuple[int, int]:
    """The window of a job carried over from an earlier day: the customer, called to re-book,
    takes any time of the day (repairs until 18:00, other work until 19:00)."""
    return WIDE if kind is JobKind.REPAIR else (WIDE[0], INSTALL_UNTIL)


def windows_on(slot: tuple[int, int], day: date) -> tuple[TimeWindow, ...]:
    midnight = datetime.combine(day, time(0))
    return (
        TimeWindow(midnight + timedelta(minutes=slot[0]), midnight + timedelta(minutes=slot[1])),
    )


def orders_of_day(
    s: SeasonSettings, city: SeasonCity, day: int, rng: np.random.Generator
) -> list[list[NewJob]]:
    """The orders confirmed on season day `day`, each as its list of jobs (see module doc)."""
    levels = day_levels(s, day)
    d = s.demand
    counts = {
        "delivery": rng.poisson(d.sales_orders_per_day * levels.sales * s.scale),
        "repair": rng.poisson(d.repairs_per_day * levels.repairs * s.scale),
        "pickup": rng.poisson(d.pickups_per_day * levels.pickups * s.scale),
    }
    groups = [g for g, n in counts.items() for _ in range(int(n))]
    n = len(groups)
    if n == 0:
        return []
    hourly = np.array(d.hourly, dtype=float)
    minutes = rng.choice(24, size=n, p=hourly / hourly.sum()) * 60 + rng.integers(0, 60, size=n)
    order = np.argsort(minutes, kind="stable")
    u = rng.random((n, 14))
    site = rng.integers(len(city.sites), size=n)
    normal = {g: _drawer(g, False) for g in counts}
    peak = {g: _drawer(g, True) for g in counts}
    start = s.start + timedelta(days=day)
    midnight = datetime.combine(start, time(0))
    cutoff = d.same_day_cutoff_hour * 60
    orders = []
    for number, i in enumerate(order, start=1):
        group = groups[i]
        ui = u[i]
        mix = peak[group] if ui[12] < levels.ac_intensity else normal[group]
        cat = mix(ui[13])
        conf_min = int(minutes[i])
        release = day + (1 if conf_min >= cutoff else 0)
        same_day = PLAN_MINUTE <= conf_min < cutoff
        orders.append(
            _order_jobs(
                city,
                f"S{day:03d}-{number:05d}",
                group,
                cat,
                midnight + timedelta(minutes=conf_min),
                int(site[i]),
                ui,
                release,
                s.start + timedelta(days=release),
                _same_day_start(conf_min) if same_day else None,
            )
        )
    return orders


def _drawer(group: str, peak: bool):
    mix = MIX[(group, peak)]
    cats = list(mix)
    cum = np.cumsum([mix[c] for c in cats])
    cum /= cum[-1]

    def draw(u: float) -> ProductCategory:
        return cats[min(int(np.searchsorted(cum, u, side="right")), len(cats) - 1)]

    return draw


def _same_day_start(conf_min: int) -> int:
    """Earliest start for a same-day order: two hours after it, on the half hour."""
    return int(math.ceil((conf_min + 120) / 30) * 30)


def _order_jobs(
    city: SeasonCity,
    order_id: str,
    group: str,
    cat: ProductCategory,
    confirmed_at: datetime,
    site: int,
    u: np.ndarray,
    release: int,
    release_date: date,
    same_day_start: int | None,
) -> list[NewJob]:
    sites = city.sites
    rural = bool(sites.rural[site])
    region = "rural" if rural else "urban"
    angle, km = u[10] * 2 * math.pi, 0.1 + 0.1 * u[11]
    lat = float(sites.lat[site]) + km * math.sin(angle) / 110.574
    lon = float(sites.lon[site]) + km * math.cos(angle) / (
        111.320 * math.cos(math.radians(float(sites.lat[site])))
    )
    floor, lift = building_floor(u[0], u[1], u[2], rural)
    quantity = 1
    if cat is ProductCategory.SPLIT_AC and group == "delivery":
        quantity = 3 if u[4] < 0.03 else 2 if u[4] < 0.18 else 1
    fv, fw, big_tv = size_variant(cat, u[6])
    size = (0.9 + 0.2 * u[7]) * quantity
    goods = (round(GOODS[cat][0] * fv * size, 1), round(GOODS[cat][1] * fw * size, 1))
    slot = (int(sites.slot_start[site]), int(sites.slot_end[site]))
    todo: list[tuple[JobKind, str, tuple[int, int]]] = []
    if group == "delivery":
        if same_day_start is not None:
            slot = (same_day_start, max(INSTALL_UNTIL, same_day_start + 60))
        installs = u[9] < NEEDS_INSTALL[cat]
        if installs and same_day_start is None:
            slot = _linked_slot(slot, confirmed_at, region, release_date, u[5])
        todo.append((JobKind.DELIVERY, "D", slot))
        if installs:
            todo.append((JobKind.INSTALLATION, "I", (slot[0], max(INSTALL_UNTIL, slot[0] + 60))))
    elif group == "repair":
        if same_day_start is not None:
            slot = (same_day_start, max(WIDE[1], same_day_start + 60))
        elif u[5] < 0.3:
            slot = WIDE
        todo.append((JobKind.REPAIR, "R", slot))
    else:
        if same_day_start is not None:
            slot = (same_day_start, max(INSTALL_UNTIL, same_day_start + 60))
        elif u[5] < 0.4:
            slot = WIDE
        todo.append((JobKind.PICKUP, "P", slot))
    priority = Priority.VIP if u[3] < VIP_SHARE else Priority.NORMAL
    jobs = []
    for kind, suffix, window in todo:
        skills, people = skills_people(kind, cat, floor, lift, u[8])
        if big_tv and kind is not JobKind.REPAIR:
            people = max(people, 2)
        carries = kind in (JobKind.DELIVERY, JobKind.PICKUP)
        job = Job(
            id=f"{order_id}-{suffix}",
            kind=kind,
            order_id=order_id,
            confirmed_at=confirmed_at,
            location=GeoPoint(round(lon, 6), round(lat, 6)),
            windows=windows_on(window, release_date),
            category=cat,
            quantity=quantity,
            volume_l=goods[0] if carries else 0.0,
            weight_kg=goods[1] if carries else 0.0,
            floor=floor,
            has_lift=lift,
            skills=frozenset(skills),
            people=people,
            priority=priority,
            region=region,
            zone=sites.zone[site],
            deadline=_POLICIES[region].deadline(kind, confirmed_at),
        )
        jobs.append(NewJob(job, window, release))
    return jobs


def _linked_slot(
    slot: tuple[int, int], confirmed_at: datetime, region: str, day: date, u: float
) -> tuple[int, int]:
    """The delivery slot booked with an installation: one that leaves time for both.

    It starts by `LAST_LINKED_SLOT` and early enough that the delivery, the link gap and an
    installation (`LINKED_WORK_MINUTES`) end within the installation's promise; the site's
    own slot when it qualifies, else one of those drawn with `u`, else the earliest slot.
    """
    due = _POLICIES[region].deadline(JobKind.INSTALLATION, confirmed_at)
    due_min = (due - datetime.combine(day, time(0))).total_seconds() / 60
    latest = min(LAST_LINKED_SLOT, due_min - LINKED_WORK_MINUTES)
    if slot[0] <= latest:
        return slot
    fits = [s for s in SLOTS if s[0] <= latest]
    if not fits:
        return SLOTS[0]
    return fits[min(int(u * len(fits)), len(fits) - 1)]


def callback_job(
    original: Job, number: int, reported_at: datetime, release: int, release_date: date, u: float
) -> NewJob:
    """A repeat visit for `original`'s fault: a repair with priority `callback`, same-day promise.

    It is its own order (`<order>-C<n>`) so the original order stays completed; the link to
    the original job is kept by the simulator's records.
    """
    kind = JobKind.REPAIR
    skills, people = skills_people(kind, original.category, original.floor, original.has_lift, u)
    if original.kind is JobKind.INSTALLATION and original.category in AC:
        skills = set(skills) | {"ac_install"}
    order_id = f"{original.order_id}-C{number}"
    slot = WIDE
    job = replace(
        original,
        id=f"{order_id}-R",
        kind=kind,
        order_id=order_id,
        confirmed_at=reported_at,
        windows=windows_on(slot, release_date),
        volume_l=0.0,
        weight_kg=0.0,
        skills=frozenset(skills),
        people=people,
        priority=Priority.CALLBACK,
        service_minutes=None,
        deadline=_POLICIES[original.region].deadline(kind, reported_at),
    )
    return NewJob(job, slot, release)
