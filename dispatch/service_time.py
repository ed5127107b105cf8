"""Service-duration estimates from product category, quantity and floor.

Used when a job does not state its own duration. Base minutes per unit come from typical
appliance-chain practice (an indoor+outdoor split AC install takes about 1.5-2 h, a TV wall
mount about 45 min); carrying goods up stairs without a lift adds time per floor above the
second, and work at height on AC outdoor units on high floors adds a fixed safety set-up.
These are defaults: a plan's settings file changes them (`ServiceTimeRules`, read by
`dispatch.files.plan_settings`, which writes the estimates into the jobs before planning).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dispatch.models import Job, JobKind, ProductCategory

#: minutes on site per unit, by job kind and category
BASE_MINUTES: dict[JobKind, dict[ProductCategory, int]] = {
    JobKind.DELIVERY: {c: 15 for c in ProductCategory}
    | {ProductCategory.REFRIGERATOR: 20, ProductCategory.CABINET_AC: 20},
    JobKind.INSTALLATION: {
        ProductCategory.SPLIT_AC: 100,
        ProductCategory.CABINET_AC: 120,
        ProductCategory.WASHING_MACHINE: 30,
        ProductCategory.REFRIGERATOR: 20,
        ProductCategory.TV: 45,
        ProductCategory.WATER_HEATER: 60,
        ProductCategory.RANGE_HOOD: 75,
        ProductCategory.DISHWASHER: 60,
        ProductCategory.OTHER: 45,
    },
    JobKind.REPAIR: {c: 60 for c in ProductCategory}
    | {ProductCategory.SPLIT_AC: 75, ProductCategory.CABINET_AC: 75},
    JobKind.PICKUP: {c: 15 for c in ProductCategory},
}

#: extra minutes per floor above the second when there is no lift (carrying by stairs)
STAIRS_MINUTES_PER_FLOOR = {JobKind.DELIVERY: 3, JobKind.PICKUP: 3, JobKind.INSTALLATION: 1}
#: extra minutes for AC outdoor-unit work at height (harness, anchors) from this floor up
HEIGHT_FLOOR = 3
HEIGHT_MINUTES = 20


@dataclass(frozen=True)
class ServiceTimeRules:
    """The numbers of the estimate: the defaults above, or a plan's settings file
    (`dispatch.files.plan_settings`), which writes the estimates it gives into the jobs."""

    base_minutes: Mapping[JobKind, Mapping[ProductCategory, int]] = field(
        default_factory=lambda: BASE_MINUTES
    )
    stairs_minutes_per_floor: Mapping[JobKind, int] = field(
        default_factory=lambda: STAIRS_MINUTES_PER_FLOOR
    )
    height_floor: int = HEIGHT_FLOOR
    height_minutes: int = HEIGHT_MINUTES


#: the estimate's built-in numbers
DEFAULT_RULES = ServiceTimeRules()


def estimate_minutes(job: Job, rules: ServiceTimeRules = DEFAULT_RULES) -> int:
    """The job's stated service minutes, or an estimate from category, quantity and floor."""
    if job.service_minutes is not None:
        return job.service_minutes
    per_unit = rules.base_minutes[job.kind][job.category]
    minutes = per_unit + (job.quantity - 1) * max(per_unit * 3 // 4, 5)
    if not job.has_lift and job.floor > 2:
        stairs = rules.stairs_minutes_per_floor.get(job.kind, 0)
        minutes += stairs * (job.floor - 2) * job.quantity
    if (
        job.kind is JobKind.INSTALLATION
        and job.category in (ProductCategory.SPLIT_AC, ProductCategory.CABINET_AC)
        and job.floor >= rules.height_floor
    ):
        minutes += rules.height_minutes
    return minutes
