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
  (17:00) is served the same day, from two hours after the order (standing for intraday
  re-planning); later orders book a slot the next day. A job carried over past its first
  day is re-booked on a wide window (`carried_slot`): the customer takes any time.
* **Installation slots** (`demand.install_slot_policy`). "same_day" (the default): a
  same-day order's installation follows its delivery the same afternoon, in a window from
  the delivery's until `install_until_hour` (19:00). "next_morning": the delivery stays
  today, and the installation is booked at order time on the next day, in the window
  `next_morning_window` gives: from 09:00 until the installation's estimated duration and
  half an hour (at least two hours, `NEXT_MORNING_WORK`) before the 24 h promise ends on the
  customer's clock, so an installation started by its window's end ends inside the promise.
  An order whose window would be shorter than an hour (confirmed before about 12:00, or a
  long multi-unit job) keeps the same-day installation. Orders booked for a later day
  (before 07:00, after the cut-off) are unchanged: their delivery slot is chosen to leave
  room for both.
* **Installation deadlines** (`demand.install_deadline_clock`). "planning" (the default):
  the region's policy, on service hours (an order after 18:00 counts from 08:00 next
  morning). "customer": the earlier of that and the promise's end on the customer's clock
  (`install_deadline`), so the planner (and the delivery slot booked with an installation)
  works to what the customer was promised; the planning clock's shares then count against
  that deadline too.
* **Product mix** moves from the normal mix to the peak mix with the AC intensity (0 on a
  normal day, 1 on the plateau): each order draws from the peak mix with that probability.
  A sale is a delivery and, for products that get installed (`dispatch.products`), a linked
  installation of the same order. Skills, people, goods and floors come from
  `dispatch.products`, the same rules as the demo day.
* **Assisted installations** (`demand.assisted`, on by default). An installation that
  `dispatch.products.needs_assist` (a cabinet air conditioner, 4th floor or higher, no lift)
  comes with its assisting job (`Job.assists`, id `<installation>-A`, made by
  `with_assisting_jobs`: a second crew carrying the unit up the stairs with the first), a
  job of the same order with the installation's window, slot and release day. The rule is
  deterministic: it draws no random number, so every other order of the season is drawn as
  without it. About 4 % of the default season's installations get one (2 % on a normal day,
  4 % on the peak plateau, when cabinet units sell more); fixtures/README.md gives the
  measured shares.
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
    needs_assist,
    size_variant,
    skills_people,
    with_assisting_jobs,
)
from dispatch.promise_clocks import CUSTOMER_CLOCK, promise_hours
from dispatch.promises import default_policies
from dispatch.season.city import SLOTS, SeasonCity
from dispatch.season.settings import DemandSettings, SeasonSettings
from dispatch.service_time import estimate_minutes

PLAN_MINUTE = 7 * 60  # the daily plan runs at 07:00
INSTALL_UNTIL = 19 * 60
LAST_LINKED_SLOT = 15 * 60  # latest delivery slot start offered with same-day installation
#: delivery, link gap and installation, minutes: a linked slot must leave this much time
LINKED_WORK_MINUTES = 200
WIDE = (9 * 60, 18 * 60)
#: a next-morning installation window opens at the first slot (09:00) and closes this many
#: minutes before the promise ends: an installation started by then ends inside it
NEXT_MORNING_WORK = 120
#: the shortest next-morning window worth booking; earlier orders keep the same-day slot
NEXT_MORNING_MIN_WINDOW = 60
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


def carried_slot(kind: JobKind, install_until: int = INSTALL_UNTIL) -> tuple[int, int]:
    """The window of a job carried over from an earlier day: the customer, called to re-book,
    takes any time of the day (repairs until 18:00, installations until `install_until`,
    other work until 19:00)."""
    if kind is JobKind.REPAIR:
        return WIDE
    return (WIDE[0], install_until if kind is JobKind.INSTALLATION else INSTALL_UNTIL)


def next_morning_window(
    confirmed_at: datetime, region: str, work_minutes: int = NEXT_MORNING_WORK
) -> tuple[int, int] | None:
    """The next day's installation window booked at order time (module doc), in minutes of
    the next day; None when it would be shorter than `NEXT_MORNING_MIN_WINDOW`.

    It closes `work_minutes` (the installation's estimated duration and half an hour, at
    least `NEXT_MORNING_WORK`) before the promise ends on the customer's clock (calendar
    hours from the order), or at 19:00 when the promise runs past the next day (rural).
    """
    hours = promise_hours(JobKind.INSTALLATION, region)
    if hours is None:
        return None
    due = CUSTOMER_CLOCK.deadline(confirmed_at, hours)
    next_day = datetime.combine(confirmed_at.date() + timedelta(days=1), time(0))
    due_min = (due - next_day).total_seconds() / 60
    end = int(min(INSTALL_UNTIL, due_min - work_minutes))
    if end - WIDE[0] < NEXT_MORNING_MIN_WINDOW:
        return None
    return (WIDE[0], end)


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
    booking = Booking(
        d.install_until_hour * 60,
        d.install_slot_policy == "next_morning",
        d.install_deadline_clock == "customer",
        d.assisted,
    )
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
                booking,
            )
        )
    return orders


@dataclass(frozen=True)
class Booking:
    """How installations are booked (`demand.install_until_hour`, `install_slot_policy`)."""

    install_until: int = INSTALL_UNTIL  # minutes of the day: the latest installation start
    next_morning: bool = False
    customer_deadlines: bool = False  # installations planned to the customer's clock
    #: an installation that needs a second crew comes with its assisting job (module doc)
    assisted: bool = True


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
    booking: Booking = Booking(),
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
    # (kind, id suffix, window, days after the order's release day)
    todo: list[tuple[JobKind, str, tuple[int, int], int]] = []
    if group == "delivery":
        installs = bool(u[9] < NEEDS_INSTALL[cat])
        todo = _sale(
            slot, same_day_start, installs, confirmed_at, region, release_date, u[5], booking
        )
    elif group == "repair":
        if same_day_start is not None:
            slot = (same_day_start, max(WIDE[1], same_day_start + 60))
        elif u[5] < 0.3:
            slot = WIDE
        todo.append((JobKind.REPAIR, "R", slot, 0))
    else:
        if same_day_start is not None:
            slot = (same_day_start, max(INSTALL_UNTIL, same_day_start + 60))
        elif u[5] < 0.4:
            slot = WIDE
        todo.append((JobKind.PICKUP, "P", slot, 0))
    priority = Priority.VIP if u[3] < VIP_SHARE else Priority.NORMAL
    jobs: list[NewJob] = []
    for kind, suffix, window, later in todo:
        skills, people = skills_people(kind, cat, floor, lift, u[8])
        deadline = _POLICIES[region].deadline(kind, confirmed_at)
        if kind is JobKind.INSTALLATION:
            deadline = install_deadline(confirmed_at, region, booking.customer_deadlines)
        if big_tv and kind is not JobKind.REPAIR:
            people = max(people, 2)
        carries = kind in (JobKind.DELIVERY, JobKind.PICKUP)
        job = Job(
            id=f"{order_id}-{suffix}",
            kind=kind,
            order_id=order_id,
            confirmed_at=confirmed_at,
            location=GeoPoint(round(lon, 6), round(lat, 6)),
            windows=windows_on(window, release_date + timedelta(days=later)),
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
            deadline=deadline,
        )
        if later:  # booked next morning: leave the installation's own duration before the end
            window, later = _fit_next_morning(job, todo[0][2], booking)
            job = replace(job, windows=windows_on(window, release_date + timedelta(days=later)))
        if booking.assisted and needs_assist(job):
            # the installation (its people capped) and its assisting job: one visit, one slot
            jobs.extend(NewJob(j, window, release + later) for j in with_assisting_jobs([job]))
        else:
            jobs.append(NewJob(job, window, release + later))
    return jobs


def _sale(
    slot: tuple[int, int],
    same_day_start: int | None,
    installs: bool,
    confirmed_at: datetime,
    region: str,
    release_date: date,
    u: float,
    booking: Booking,
) -> list[tuple[JobKind, str, tuple[int, int], int]]:
    """A sale's jobs as (kind, id suffix, window, days after the release day): the delivery
    and, when the product is installed, its installation (module doc, installation slots)."""
    if same_day_start is not None:
        slot = (same_day_start, max(INSTALL_UNTIL, same_day_start + 60))
    elif installs:
        due = install_deadline(confirmed_at, region, booking.customer_deadlines)
        slot = _linked_slot(slot, due, release_date, u)
    todo = [(JobKind.DELIVERY, "D", slot, 0)]
    if not installs:
        return todo
    booked = None
    if booking.next_morning and same_day_start is not None:
        booked = next_morning_window(confirmed_at, region)
    if booked is not None:
        todo.append((JobKind.INSTALLATION, "I", booked, 1))
    else:
        todo.append((JobKind.INSTALLATION, "I", _after_delivery(slot, booking), 0))
    return todo


def _after_delivery(delivery: tuple[int, int], booking: Booking) -> tuple[int, int]:
    """A same-day installation's window: from its delivery's start to the latest visit."""
    return (delivery[0], max(booking.install_until, delivery[0] + 60))


def _fit_next_morning(
    job: Job, delivery: tuple[int, int], booking: Booking
) -> tuple[tuple[int, int], int]:
    """A next-morning installation's window with its own estimated duration and half an hour
    left before the promise ends, and 1 (the next day); or, when that leaves no hour, the
    same-day window after its delivery and 0."""
    work = max(NEXT_MORNING_WORK, estimate_minutes(job) + 30)
    fits = next_morning_window(job.confirmed_at, job.region, work)
    if fits is None:
        return _after_delivery(delivery, booking), 0
    return fits, 1


def install_deadline(confirmed_at: datetime, region: str, customer: bool) -> datetime:
    """An installation's deadline: the region's policy (the planning clock: an order after
    18:00 counts from 08:00), or with `customer` (`demand.install_deadline_clock`) the
    earlier of that and the promise's end on the customer's clock (calendar hours from the
    order), so the planner plans to what the customer was promised."""
    deadline = _POLICIES[region].deadline(JobKind.INSTALLATION, confirmed_at)
    hours = promise_hours(JobKind.INSTALLATION, region)
    if customer and hours is not None:
        deadline = min(deadline, CUSTOMER_CLOCK.deadline(confirmed_at, hours))
    return deadline


def _linked_slot(slot: tuple[int, int], due: datetime, day: date, u: float) -> tuple[int, int]:
    """The delivery slot booked with an installation: one that leaves time for both.

    It starts by `LAST_LINKED_SLOT` and early enough that the delivery, the link gap and an
    installation (`LINKED_WORK_MINUTES`) end within the installation's promise (`due`); the
    site's own slot when it qualifies, else one of those drawn with `u`, else the earliest.
    """
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
