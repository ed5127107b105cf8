"""The rules between an order's delivery and its installation, set per product category and
region: the maximum gap from the delivery's end to the installation's start, and the crew
mode (one combined crew for both, or a truck then installers).

A rule is a mapping from a key to a value (`DispatchProblem.max_link_gap_minutes`,
`DispatchProblem.crew_mode`, and the plan settings of the same names). A key is one of:

* `"*"`: every linked order;
* a product category (`"split_ac"`, `ProductCategory`): its installations;
* `"@"` and a region (`"@rural"`): the installations in that region;
* both (`"cabinet_ac@rural"`).

The installation's own category and region choose the value, most specific first: category
and region, then the category alone, then the region alone, then `"*"`. So a per-category
rule wins over a per-region one: the product decides how soon it must be installed (an air
conditioner bought in a heat wave), the region only stands in for every product there. No
key that matches: no maximum gap, crew mode `auto`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TypeVar

from dispatch.errors import InputError
from dispatch.models import CrewKind, Job, JobKind, ProductCategory
from dispatch.record_rules import check_id

V = TypeVar("V")

#: the largest maximum gap (minutes): a week, the longest horizon plans 7 days
MAX_LINK_GAP_MINUTES = 7 * 24 * 60
#: the most a second visit to one customer may be priced at (CNY)
MAX_SECOND_VISIT_CNY = 10_000.0
#: the key of a rule for every linked order
EVERY = "*"


class CrewMode(StrEnum):
    """How an order's delivery and installation are served (`DispatchProblem.crew_mode`).

    `auto`: the planner chooses, the second trip priced (`DispatchProblem.second_visit_cny`
    on top of its km); `combined`: one combined crew does both in one visit, the
    installation right after the delivery (送装一体), or the order waits; `split`: a
    delivery truck delivers, the installation is a second visit (an installation crew, or a
    combined crew working as installers).

    `split` leaves the installation to combined crews too on purpose: with them taken off
    every installation of the 1,500-job demo day, OR-Tools' parallel cheapest insertion
    took 10 s instead of 0.6 s for a zone group's first solution (8.4 s with the deliveries
    off trucks too, 0.6 s with only the deliveries restricted), and two of the five groups
    found none in their time.
    """

    AUTO = "auto"
    COMBINED = "combined"
    SPLIT = "split"


class VisitMode(StrEnum):
    """How a planned linked order was served, as a plan reports it (`linked_modes`)."""

    #: one crew did both back to back: the installation is the stop right after the
    #: delivery on the same route, at the same place (no drive between them)
    COMBINED = "combined"
    #: two visits: two crews, or one crew that left between the two
    TRUCK_THEN_INSTALLERS = "truck_then_installers"


def rule_key_parts(key: str) -> tuple[ProductCategory | None, str | None]:
    """The category and region a key names (None: any); `ValueError` if malformed."""
    if key == EVERY:
        return None, None
    category, at, region = key.partition("@")
    cat = None
    if category:
        try:
            cat = ProductCategory(category)
        except ValueError:
            known = ", ".join(c.value for c in ProductCategory)
            raise ValueError(
                f"{category!r} is not a product category ({known}); a region is written "
                f"'@region', both 'category@region', every order '{EVERY}'"
            ) from None
    if at:
        check_id(region)  # raises ValueError with the reason
    elif not category:
        raise ValueError(f"an empty key; write '{EVERY}' for every order")
    return cat, (region if at else None)


def rule_key(rule: Mapping[str, object], job: Job) -> str | None:
    """The key of `rule` that decides for the job (its category and region; most specific
    first), or None when none matches."""
    if not rule:
        return None
    for key in (f"{job.category}@{job.region}", str(job.category), f"@{job.region}", EVERY):
        if key in rule:
            return key
    return None


def rule_for(rule: Mapping[str, V], job: Job) -> V | None:
    """The value `rule` gives the job (`rule_key`), or None."""
    key = rule_key(rule, job)
    return None if key is None else rule[key]


def check_rule(
    rule: Mapping[str, V], record: str, field: str, check: Callable[[V], str | None]
) -> None:
    """Raise `InputError` for the first bad key or value (`check` gives the problem)."""
    for key, value in rule.items():
        try:
            rule_key_parts(str(key))
        except ValueError as exc:
            raise InputError(record, f"{field}.{key}", str(exc)) from None
        problem = check(value)
        if problem is not None:
            raise InputError(record, f"{field}.{key}", problem)


def mode_allows(mode: CrewMode, crew_kind: CrewKind, job_kind: JobKind) -> bool:
    """May a crew of this kind serve this visit (a delivery or an installation) of a linked
    order in this mode? `combined`: only a combined crew; `split`: a delivery truck delivers
    (so the installation is always a second visit, by installers or by a combined crew
    working as installers)."""
    if mode is CrewMode.COMBINED:
        return crew_kind is CrewKind.COMBINED
    if mode is CrewMode.SPLIT and job_kind is JobKind.DELIVERY:
        return crew_kind is not CrewKind.COMBINED
    return True


def linked_pairs(jobs: list[Job]) -> dict[int, int]:
    """Installation index -> the index of its order's delivery, for the orders with both
    in `jobs` (the last delivery of an order, as `dispatch.translate` links them)."""
    deliveries: dict[str, int] = {}
    for k, j in enumerate(jobs):
        if j.kind is JobKind.DELIVERY:
            deliveries[j.order_id] = k
    return {
        k: deliveries[j.order_id]
        for k, j in enumerate(jobs)
        if j.kind is JobKind.INSTALLATION and j.order_id in deliveries
    }
