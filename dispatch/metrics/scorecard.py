"""Crew quality scorecards: customer ratings, callbacks, first-time fix, on-time share and
complaints, per crew or for own vs temporary crews, over a period and per ISO week of it.

A service manager asks "which crews bring callbacks, which are rated poorly, do the
temporary crews hired for the peak hold up?" (../shared/docs/domain.md: callback rate under
4 %, ratings good / fair / poor / very poor on the receipt). The exact definitions are in
docs/service-metrics.md, "Crew scorecards", which is the source of truth; in short, for a
period `[from, to]` (both days included):

- **jobs completed**: the crew's jobs completed in the period (`completed_at` on a day of
  it), callbacks included: the cohort of the ratings and callback figures.
- **ratings**: the customer's rating on the `completed` report of the visit that completed
  each of those jobs: counts of good / fair / poor / very poor and unrated; `share_good` is
  good over rated (unrated jobs are not in the denominator).
- **callbacks per 100 installations** (and **per 100 completed jobs**): of the crew's
  installations (jobs) completed in the period, those with at least one non-cancelled
  callback, opened whenever and made by whichever crew: a callback counts against the
  original job's crew (`service_metrics.called_back`, the rule of the service metrics'
  callback rate). Target: strictly under 4 %.
- **first-time fix**: of the crew's repairs and installations completed in the period that
  are not themselves callbacks, those completed on their first visit (`visit` 1: no failed
  visit before) and never called back.
- **on time**: the crew's deliveries and installations received in the period, counted on
  both promise clocks exactly as the service metrics count them
  (`service_metrics.promise_figures`): the customer's clock (calendar hours from the order:
  12 h deliveries, 24 h installations; rural 24 h / 48 h) first, the planning clock beside
  it, each also combined over both kinds (`customer`, `planning`).
- **complaints**: the complaint records about the crew received in the period
  (`api.services.complaints`: the crew complained about, by default the job's), and
  **complaint_jobs**: the crew's jobs of priority `complaint` received in the period, not
  cancelled (the visits a complaint called for).

The module is pure: `api.services.scorecards` reads the facts and passes them in. Jobs count
for the crew of their own row, as in the service metrics; callbacks are passed separately
and unfiltered (`callbacks`), because a callback counts against the original job's crew.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from dispatch.errors import InputError
from dispatch.metrics.service_metrics import (
    PROMISE_SHARES,
    TARGETS,
    JobFact,
    Ratio,
    called_back,
    meets_target,
    promise_figures,
)
from dispatch.models import JobKind, Priority
from dispatch.promise_clocks import CUSTOMER, PLANNING, clock_labels
from dispatch.running.lifecycle import Rating

Period = tuple[date, date]

#: the kinds whose first visit should fix the customer's problem (first-time fix)
FIXING_KINDS = (JobKind.REPAIR, JobKind.INSTALLATION)
#: the two groups of `Group.OWN_TEMPORARY`
OWN = "own"
TEMPORARY = "temporary"


class Group(StrEnum):
    """How `scorecards` groups the jobs: one card per crew, or one for own and one for
    temporary crews."""

    CREW = "crew"
    OWN_TEMPORARY = "own_temporary"


class SortKey(StrEnum):
    """What `scorecards` sorts by; a card without data for the key goes last either way."""

    CREW = "crew"  # crew id (group name for own_temporary)
    CALLBACK_RATE = "callback_rate"  # callbacks per 100 installations
    CALLBACK_RATE_JOBS = "callback_rate_jobs"  # callbacks per 100 completed jobs
    RATING = "rating"  # share of rated jobs rated good
    FIRST_TIME_FIX = "first_time_fix"
    ON_TIME = "on_time"  # on the customer's clock, deliveries and installations together
    COMPLETED = "completed"
    COMPLAINTS = "complaints"


@dataclass(frozen=True)
class CrewFact:
    """One crew as the scorecards see it: no names, no shift, only what a card shows.
    `temporary` is the crew's flag as it is now (a crew hired for the peak)."""

    crew_id: str
    kind: str
    region: str
    temporary: bool
    active: bool = True


@dataclass(frozen=True)
class QualityFact:
    """A job with what the scorecards need beyond its `JobFact`: the visit that completed it
    (1 when the first visit did), the customer's rating on that visit's `completed` report
    (a `Rating` value, None when the customer gave none) and its priority."""

    job: JobFact
    visit: int = 1
    rating: str | None = None
    priority: str = Priority.NORMAL.value

    def __post_init__(self) -> None:
        rec = f"job {self.job.job_id!r}"
        if self.visit < 1:
            raise InputError(rec, "visit", f"{self.visit} is not a visit number (1, 2, ...)")
        checks: tuple[tuple[str, type[StrEnum], str | None], ...] = (
            ("rating", Rating, self.rating),
            ("priority", Priority, self.priority),
        )
        for name, enum, value in checks:
            if value is None:
                continue
            try:
                object.__setattr__(self, name, enum(value))
            except ValueError:
                allowed = ", ".join(e.value for e in enum)
                raise InputError(rec, name, f"{value!r} is not one of: {allowed}") from None

    @property
    def complaint(self) -> bool:
        """A complaint job that was not called off."""
        return self.priority == Priority.COMPLAINT and not self.job.cancelled


def check_period(period: Period) -> None:
    """A period ends on or after the day it starts (ValueError otherwise)."""
    start, end = period
    if end < start:
        raise ValueError(f"period ends ({end}) before it starts ({start})")


def iso_weeks(period: Period) -> list[tuple[str, date, date]]:
    """The ISO weeks the period touches, as (`YYYY-Www`, first day, last day), each cut to
    the period: a period from a Wednesday to the next Tuesday has two weeks of 5 and 2 days."""
    check_period(period)
    start, end = period
    weeks = []
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        year, week, _ = monday.isocalendar()
        weeks.append((f"{year}-W{week:02d}", max(monday, start), min(monday + timedelta(6), end)))
        monday += timedelta(days=7)
    return weeks


def _in(day: date, period: Period) -> bool:
    return period[0] <= day <= period[1]


def _per_100(hits: int, cohort: int) -> dict[str, Any]:
    """A callback ratio: numerator, denominator, the share (`value`) and `per_100`."""
    out = Ratio(hits, cohort).as_dict()
    out["per_100"] = 100 * hits / cohort if cohort else None
    return out


def _combined(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Promise shares of several kinds added up (hits, cohorts and unfinished jobs)."""
    parts = list(parts)
    out = Ratio(sum(p["numerator"] for p in parts), sum(p["denominator"] for p in parts)).as_dict()
    out["unfinished"] = sum(p["unfinished"] for p in parts)
    return out


def crew_figures(
    jobs: Sequence[QualityFact],
    repeated: AbstractSet[str],
    period: Period,
    complaint_days: Sequence[date] = (),
) -> dict[str, Any]:
    """The figures of `jobs` (one crew's, or a group's) in `period`; `repeated` holds the ids
    of every job that has a callback (`service_metrics.called_back`); `complaint_days` the
    days the complaints about the crew (or group) were received. Each figure picks its own
    cohort by its own date (module doc), so passing more jobs than the period needs is
    harmless."""
    done_all = [
        q
        for q in jobs
        if q.job.completed and q.job.completed_at and _in(q.job.completed_at.date(), period)
    ]
    # an assisting visit (a second crew at another crew's installation) is the crew's work
    # but not an installation of its own: no rating, callback, fix or promise of its own
    finished = [q for q in done_all if not q.job.assisting]
    done = [q.job for q in finished]
    counts = {r.value: sum(1 for q in finished if q.rating == r) for r in Rating}
    installs = [j for j in done if j.kind == JobKind.INSTALLATION]
    fixing = [q for q in finished if q.job.kind in FIXING_KINDS and q.job.callback_of is None]
    received = [
        q
        for q in jobs
        if not q.job.cancelled and not q.job.assisting and _in(q.job.received_at.date(), period)
    ]
    shares = promise_figures([q.job for q in received])
    by_install = _per_100(sum(1 for j in installs if j.job_id in repeated), len(installs))
    by_job = _per_100(sum(1 for j in done if j.job_id in repeated), len(done))
    return {
        "jobs_completed": len(done_all),
        "ratings": {
            **counts,
            "unrated": sum(1 for q in finished if q.rating is None),
            "share_good": Ratio(counts[Rating.GOOD], sum(counts.values())).as_dict(),
        },
        "callbacks_per_100_installations": by_install,
        "callbacks_per_100_jobs": by_job,
        "first_time_fix": Ratio(
            sum(1 for q in fixing if q.visit == 1 and q.job.job_id not in repeated), len(fixing)
        ).as_dict(),
        "on_time": {
            clock: _combined(shares[k] for k, (_, c) in PROMISE_SHARES.items() if c == clock)
            for clock in (CUSTOMER, PLANNING)
        }
        | shares,
        "complaints": sum(1 for d in complaint_days if _in(d, period)),
        "complaint_jobs": sum(1 for q in received if q.complaint),
        "meets_targets": {
            "callbacks_per_100_installations": meets_target(by_install, "callback_rate_max", -1),
            "callbacks_per_100_jobs": meets_target(by_job, "callback_rate_max", -1),
        },
    }


def _card(
    jobs: Sequence[QualityFact],
    repeated: AbstractSet[str],
    period: Period,
    weeks: bool,
    complaint_days: Sequence[date] = (),
) -> dict[str, Any]:
    """`figures` of the period and, with `weeks`, the same figures per ISO week of it."""
    card: dict[str, Any] = {"figures": crew_figures(jobs, repeated, period, complaint_days)}
    if weeks:
        card["weeks"] = [
            {
                "week": name,
                "from": first.isoformat(),
                "to": last.isoformat(),
                "figures": crew_figures(jobs, repeated, (first, last), complaint_days),
            }
            for name, first, last in iso_weeks(period)
        ]
    return card


def _crew_head(crew: CrewFact) -> dict[str, Any]:
    return {
        "crew_id": crew.crew_id,
        "kind": crew.kind,
        "region": crew.region,
        "temporary": crew.temporary,
        "active": crew.active,
    }


def answer_context(period: Period) -> dict[str, Any]:
    """What every scorecard answer carries beside the cards: the period, the clocks' labels
    (and which clock each on-time key is on) and the callback target."""
    check_period(period)
    shares = {key: clock for key, (_, clock) in PROMISE_SHARES.items()}
    return {
        "period": {"from": period[0].isoformat(), "to": period[1].isoformat()},
        "promise_clocks": {
            **clock_labels(),
            "shares": {CUSTOMER: CUSTOMER, PLANNING: PLANNING, **shares},
        },
        "targets": {"callback_rate_max": TARGETS["callback_rate_max"]},
    }


def scorecard(
    crew: CrewFact,
    jobs: Sequence[QualityFact],
    callbacks: Sequence[JobFact],
    period: Period,
    *,
    weeks: bool = True,
    complaints: Mapping[str, Sequence[date]] | None = None,
) -> dict[str, Any]:
    """One crew's scorecard: its head (id, kind, region, own or temporary), `figures` of the
    period and `weeks` (the figures per ISO week). `jobs`: the jobs received or completed in
    the period (other crews' are left out here); `callbacks`: every callback of a job
    completed in the period, unfiltered; `complaints`: per crew, the days its complaints were
    received."""
    check_period(period)
    repeated = called_back([q.job for q in jobs], callbacks)
    own = [q for q in jobs if q.job.crew_id == crew.crew_id]
    days = (complaints or {}).get(crew.crew_id, ())
    return _crew_head(crew) | _card(own, repeated, period, weeks, days)


def split_own_temporary(
    jobs: Sequence[QualityFact], temporary: Mapping[str, bool]
) -> dict[str, list[QualityFact]]:
    """The jobs of own and of temporary crews (`temporary`: crew id -> flag); jobs without a
    crew, or of a crew not in `temporary`, are in neither."""
    groups: dict[str, list[QualityFact]] = {OWN: [], TEMPORARY: []}
    for q in jobs:
        flag = temporary.get(q.job.crew_id) if q.job.crew_id is not None else None
        if flag is not None:
            groups[TEMPORARY if flag else OWN].append(q)
    return groups


def scorecards(
    crews: Sequence[CrewFact],
    jobs: Sequence[QualityFact],
    callbacks: Sequence[JobFact],
    period: Period,
    *,
    group: Group = Group.CREW,
    sort: SortKey = SortKey.CREW,
    descending: bool = False,
    weeks: bool = False,
    complaints: Mapping[str, Sequence[date]] | None = None,
) -> list[dict[str, Any]]:
    """The cards of `crews` (group `crew`: one per crew, with its head) or of own and
    temporary crews (group `own_temporary`: `{"group": "own" | "temporary", "crews": n}`),
    sorted by `sort`. Jobs of crews not in `crews` count for none of them (a callback still
    counts against its original job, whoever made it)."""
    check_period(period)
    repeated = called_back([q.job for q in jobs], callbacks)
    days_of = complaints or {}
    if group is Group.OWN_TEMPORARY:
        flags = {c.crew_id: c.temporary for c in crews}
        split = split_own_temporary(jobs, flags)
        days = {
            name: [
                d
                for c in crews
                if c.temporary == (name == TEMPORARY)
                for d in days_of.get(c.crew_id, ())
            ]
            for name in (OWN, TEMPORARY)
        }
        items = [
            {"group": name, "crews": sum(1 for c in crews if c.temporary == (name == TEMPORARY))}
            | _card(split[name], repeated, period, weeks, days[name])
            for name in (OWN, TEMPORARY)
        ]
    else:
        by_crew: dict[str, list[QualityFact]] = {c.crew_id: [] for c in crews}
        for q in jobs:
            if q.job.crew_id in by_crew:
                by_crew[q.job.crew_id].append(q)
        items = [
            _crew_head(c)
            | _card(by_crew[c.crew_id], repeated, period, weeks, days_of.get(c.crew_id, ()))
            for c in crews
        ]
    return sort_cards(items, sort, descending=descending)


def _sort_value(card: dict[str, Any], key: SortKey) -> float | None:
    f = card["figures"]
    values: dict[SortKey, float | None] = {
        SortKey.CALLBACK_RATE: f["callbacks_per_100_installations"]["value"],
        SortKey.CALLBACK_RATE_JOBS: f["callbacks_per_100_jobs"]["value"],
        SortKey.RATING: f["ratings"]["share_good"]["value"],
        SortKey.FIRST_TIME_FIX: f["first_time_fix"]["value"],
        SortKey.ON_TIME: f["on_time"][CUSTOMER]["value"],
        SortKey.COMPLETED: f["jobs_completed"],
        SortKey.COMPLAINTS: f["complaints"],
    }
    return values[key]


def sort_cards(
    cards: Sequence[dict[str, Any]], key: SortKey, *, descending: bool = False
) -> list[dict[str, Any]]:
    """Cards by `key` (ties by name, ascending); cards without data for it (a rate with
    nothing to divide by) last, by name, whichever the direction."""

    def name(card: dict[str, Any]) -> str:
        return str(card.get("crew_id") or card.get("group") or "")

    by_name = sorted(cards, key=name)
    if key is SortKey.CREW:
        return list(reversed(by_name)) if descending else by_name
    known = [c for c in by_name if _sort_value(c, key) is not None]
    unknown = [c for c in by_name if _sort_value(c, key) is None]
    known.sort(key=lambda c: float(_sort_value(c, key) or 0.0), reverse=descending)
    return known + unknown


def own_temporary_summary(
    jobs: Sequence[QualityFact],
    callbacks: Sequence[JobFact],
    period: Period,
    temporary: Mapping[str, bool],
) -> dict[str, Any]:
    """The service metrics' `crews_own_temporary`: for own and for temporary crews, the jobs
    completed in the period, the callback rate (per completed job, the service metrics'
    definition, and per installation) and the share of rated jobs rated good, with the
    callback target met or not. Same cohorts and rules as the scorecards."""
    check_period(period)
    repeated = called_back([q.job for q in jobs], callbacks)
    out: dict[str, Any] = {}
    for name, group in split_own_temporary(jobs, temporary).items():
        f = crew_figures(group, repeated, period)
        out[name] = {
            "jobs_completed": f["jobs_completed"],
            "callback_rate": f["callbacks_per_100_jobs"],
            "callbacks_per_100_installations": f["callbacks_per_100_installations"],
            "share_good": f["ratings"]["share_good"],
            "meets_targets": {"callback_rate": f["meets_targets"]["callbacks_per_100_jobs"]},
        }
    return out
