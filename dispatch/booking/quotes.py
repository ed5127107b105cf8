"""Quotes: the bookable slots of a new order over the next days, and the check a booking
repeats before it takes one.

For each day of the grid (`SlotGrid`) the day's tentative routes (`dispatch.booking.
tentative`) are re-timed with the order's jobs added (`QuoteDay`), and each job is tried in
each slot still offered (`dispatch.booking.insertion`). An option is one slot per job:

* a single job: every slot it fits in;
* a delivery and its installation: a slot for each, the installation's slot starting no
  earlier than the delivery's ends and ending late enough that the installation can start
  in it whenever in its slot the delivery starts (slot end >= delivery slot end + delivery
  service + link gap). On the same day the installation is tried with the delivery placed,
  so the planner's link rule (its start after the delivery's end, + the gap on another
  crew) holds on the tentative routes; on a later day the two are independent.

Each job in an option says whether it keeps its promise **on the customer's clock**
(`dispatch.promise_clocks.CUSTOMER_CLOCK`: calendar hours from the order's confirmation, 12 h
delivery and 24 h installation in town), judged on the latest end the slot allows (its end
plus the service time), so "keeps" holds wherever in the slot the crew arrives. A repair,
promised "same day", keeps it when it can end by the region's closing time (20:00) on the
calendar day the order was confirmed (`customer_deadline`).

Each option carries the driving time its jobs add to their crews' routes; the cheapest few
that keep every promise (of all options, when none does) are `recommended`, so the call
centre can steer customers towards slots that cost the fleet least.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from dispatch.booking.day_quote import QuoteDay, Screenings
from dispatch.booking.insertion import Insertion
from dispatch.booking.order import check_order_jobs
from dispatch.booking.prepared import PreparedDay
from dispatch.booking.slots import Slot, SlotGrid
from dispatch.booking.tentative import TentativeRoutes
from dispatch.day_problem import DispatchProblem
from dispatch.errors import InputError
from dispatch.models import Job, JobKind
from dispatch.promise_clocks import CUSTOMER_CLOCK, promise_hours
from dispatch.promises import RegionPolicy
from dispatch.service_time import estimate_minutes

#: options marked `recommended` by default
RECOMMEND = 3
#: a day as the quote reads it: its problem (stored jobs, crews, depots) and tentative routes,
#: or those prepared once for many quotes (`dispatch.booking.prepared`)
DayInput = tuple[DispatchProblem, TentativeRoutes] | PreparedDay


@dataclass(frozen=True)
class SlotOffer:
    """One job of an option in one slot, with the crew that would take it on the tentative
    day and the driving seconds it adds to that crew's route."""

    job_id: str
    kind: JobKind
    slot: Slot
    latest_end: datetime
    promise_deadline: datetime | None
    keeps_promise: bool | None
    added_drive_s: int
    crew_id: str
    #: the crew's tentative route with the job in it (job ids), and the stop its lunch follows
    route: tuple[str, ...] = ()
    lunch_after: int | None = None


@dataclass(frozen=True)
class QuoteOption:
    """One slot per job of the order (delivery first)."""

    offers: tuple[SlotOffer, ...]
    recommended: bool = False

    @property
    def added_drive_s(self) -> int:
        return sum(o.added_drive_s for o in self.offers)

    @property
    def keeps_promise(self) -> bool | None:
        """False if any job breaks its promise, True if all with one keep it, None if none
        has a promise in hours."""
        kept = [o.keeps_promise for o in self.offers if o.keeps_promise is not None]
        return all(kept) if kept else None

    @property
    def slots(self) -> tuple[Slot, ...]:
        return tuple(o.slot for o in self.offers)


@dataclass(frozen=True)
class DayLoad:
    """What a quoted day held: jobs stored, how many the tentative routes place, and the
    stored jobs they could not place (the day is over-booked for those)."""

    day: date
    jobs: int
    placed: int
    unplaced: tuple[str, ...]


@dataclass
class Quote:
    """Every bookable option, earliest first; notes on jobs no crew may do; the days read."""

    options: list[QuoteOption]
    notes: list[str] = field(default_factory=list)
    days: list[DayLoad] = field(default_factory=list)
    clock_label: str = CUSTOMER_CLOCK.label


def quote_order(
    jobs: Sequence[Job],
    days: Mapping[date, DayInput],
    grid: SlotGrid,
    now: datetime,
    recommend: int = RECOMMEND,
) -> Quote:
    """The options of the order `jobs` (one job, or a delivery and its installation) on the
    grid's `days` (each day's problem and tentative routes), slots starting `grid.lead_minutes`
    after `now` (or after the order's confirmation, if later)."""
    order = check_order_jobs(jobs)
    prepared = _prepared(days)
    _check_region(order, prepared)
    after = max(now, order[0].confirmed_at)
    slots: dict[date, list[Slot]] = {d: [] for d in sorted(prepared)}
    for s in grid.offered(min(prepared), after):
        if s.day in slots:
            slots[s.day].append(s)
    notes: list[str] = []
    options: list[QuoteOption] = []
    memo: Screenings = {}  # the order's screenings, shared by days that read the same
    if len(order) == 1:
        for day, day_slots in slots.items():
            if not day_slots:
                continue
            qd = _quote_day(prepared[day], order, grid, day, notes, memo)
            for s in day_slots:
                offer = _offer(qd, order[0], s, qd.place(order[0].id, s))
                if offer is not None:
                    options.append(QuoteOption((offer,)))
    else:
        options = _pair_options(order, prepared, slots, grid, notes, memo)
    options.sort(key=lambda o: o.slots)
    loads = [
        DayLoad(d, len(p.problem.jobs), p.tentative.placed, tuple(sorted(p.tentative.unplaced)))
        for d, p in sorted(prepared.items())
    ]
    return Quote(_recommend(options, recommend), notes, loads)


def check_option(
    jobs: Sequence[Job], days: Mapping[date, DayInput], slots: Sequence[Slot]
) -> QuoteOption | None:
    """The option of `slots` (one per job, delivery first) on the days as they are now, or
    None when it no longer fits: what a booking checks before it takes a quoted slot."""
    order = check_order_jobs(jobs)
    prepared = _prepared(days)
    _check_region(order, prepared)
    if len(slots) != len(order) or any(s.day not in prepared for s in slots):
        return None
    if len(order) == 1 or slots[0].day != slots[1].day:
        offers = []
        for job, s in zip(order, slots, strict=True):
            qd = prepared[s.day].quote_day([job], _span(slots, s.day))
            offer = _offer(qd, job, s, qd.place(job.id, s))
            if offer is None:
                return None
            offers.append(offer)
        return QuoteOption(tuple(offers))
    qd = prepared[slots[0].day].quote_day(order, _span(slots, slots[0].day))
    pair = _same_day_pair(qd, order, slots[0], slots[1])
    return QuoteOption(pair) if pair else None


def _prepared(days: Mapping[date, DayInput]) -> dict[date, PreparedDay]:
    """Each day prepared for quoting (as it is, when it was prepared already)."""
    return {d: x if isinstance(x, PreparedDay) else PreparedDay(*x) for d, x in days.items()}


def _check_region(order: Sequence[Job], days: Mapping[date, PreparedDay]) -> None:
    if not days:
        raise InputError("quote", "days", "at least one day to quote")
    policies = next(iter(days.values())).problem.promises.policies
    region = order[0].region
    if region not in policies:
        known = ", ".join(sorted(policies))
        raise InputError("order", "region", f"{region!r} is not one of: {known}")


def _span(slots: Sequence[Slot], day: date) -> Slot:
    """The span of the slots on `day` (the order's jobs' window before one is chosen)."""
    on = [s for s in slots if s.day == day]
    return Slot(min(s.start for s in on), max(s.end for s in on))


def _quote_day(
    prepared: PreparedDay,
    jobs: Sequence[Job],
    grid: SlotGrid,
    day: date,
    notes: list[str],
    memo: Screenings,
) -> QuoteDay:
    qd = prepared.quote_day(jobs, grid.day_span(day), memo)
    for job in jobs:
        if job.id in qd.refused:
            note = f"{job.kind.value} on {day.isoformat()}: {qd.refused[job.id]}"
            if note not in notes:
                notes.append(note)
    return qd


def _offer(qd: QuoteDay, job: Job, slot: Slot, ins: Insertion | None) -> SlotOffer | None:
    """The offer of `job` in `slot` where it was placed (`ins`; None: it fits nowhere)."""
    if ins is None:
        return None
    latest_end = slot.end + timedelta(minutes=estimate_minutes(job))
    deadline = customer_deadline(job, qd.problem.promises.policies)
    keeps = None if deadline is None else latest_end <= deadline
    brk = ins.route.break_
    return SlotOffer(
        job.id,
        job.kind,
        slot,
        latest_end,
        deadline,
        keeps,
        ins.added_drive_s,
        qd.crew_id(ins),
        tuple(qd.routed.full.job_ids[x] for x in ins.seq),
        brk.after_stop if brk is not None else None,
    )


def customer_deadline(job: Job, policies: Mapping[str, RegionPolicy]) -> datetime | None:
    """The latest end that keeps the job's promise on the customer's clock: the promise
    hours of its kind in its region in calendar hours from the confirmation; for a repair
    promised "same day", the region's closing time on the day it was confirmed (calendar
    day, no cut-off); None for a kind without a promise."""
    hours = promise_hours(job.kind, job.region, policies)
    if hours is not None:
        return CUSTOMER_CLOCK.deadline(job.confirmed_at, hours)
    policy = policies.get(job.region)
    if job.kind is JobKind.REPAIR and policy is not None:
        return datetime.combine(CUSTOMER_CLOCK.start(job.confirmed_at).date(), policy.closing)
    return None


def _pair_allowed(delivery: Job, d: Slot, i: Slot, gap_minutes: int) -> bool:
    """May the installation be booked in slot i after the delivery in slot d?"""
    if i.day != d.day:
        return i.day > d.day
    ready = d.end + timedelta(minutes=estimate_minutes(delivery) + gap_minutes)
    return i.start >= d.end and i.end >= ready


def _same_day_pair(
    qd: QuoteDay, order: Sequence[Job], d: Slot, i: Slot
) -> tuple[SlotOffer, SlotOffer] | None:
    """The delivery in d and its installation in i on one day, or None."""
    delivery, installation = order
    if not _pair_allowed(delivery, d, i, qd.problem.link_gap_minutes):
        return None
    placed = qd.place(delivery.id, d)
    if placed is None:
        return None
    first = _offer(qd, delivery, d, placed)
    second = _offer(qd, installation, i, qd.place(installation.id, i, qd.with_placed(placed)))
    return (first, second) if first and second else None


def _pair_options(
    order: Sequence[Job],
    days: Mapping[date, PreparedDay],
    slots: Mapping[date, list[Slot]],
    grid: SlotGrid,
    notes: list[str],
    memo: Screenings,
) -> list[QuoteOption]:
    """Options of a delivery and its installation: same-day pairs, and pairs over days."""
    delivery, installation = order
    options: list[QuoteOption] = []
    alone_d: list[SlotOffer] = []  # the delivery's offers, each day
    alone_i: dict[date, list[SlotOffer]] = {}  # the installation's, on days after the first
    first_day = min(slots)
    for day, day_slots in slots.items():
        if not day_slots:
            continue
        qd = _quote_day(days[day], order, grid, day, notes, memo)
        gap = qd.problem.link_gap_minutes
        for d in day_slots:
            placed = qd.place(delivery.id, d)
            d_offer = _offer(qd, delivery, d, placed)
            if placed is None or d_offer is None:
                continue
            alone_d.append(d_offer)
            with_delivery = qd.with_placed(placed)
            for i in day_slots:
                if _pair_allowed(delivery, d, i, gap):
                    i_placed = qd.place(installation.id, i, with_delivery)
                    i_offer = _offer(qd, installation, i, i_placed)
                    if i_offer is not None:
                        options.append(QuoteOption((d_offer, i_offer)))
        if day != first_day:
            qi = _quote_day(days[day], [installation], grid, day, notes, memo)
            tried = [_offer(qi, installation, s, qi.place(installation.id, s)) for s in day_slots]
            alone_i[day] = [o for o in tried if o is not None]
    for d_offer in alone_d:
        for day, i_offers in alone_i.items():
            if day > d_offer.slot.day:
                options += [QuoteOption((d_offer, i_offer)) for i_offer in i_offers]
    return options


def _recommend(options: list[QuoteOption], n: int) -> list[QuoteOption]:
    """`options` with the `n` cheapest (added driving) of those keeping every promise marked
    recommended; of all options when none keeps them."""
    keeping = [o for o in options if o.keeps_promise is not False]
    pool = keeping or options
    best = sorted(pool, key=lambda o: (o.added_drive_s, o.slots))[: max(0, n)]
    chosen = {id(o) for o in best}
    return [replace(o, recommended=True) if id(o) in chosen else o for o in options]
