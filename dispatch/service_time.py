"""Service-duration estimates from product category, quantity and floor.

Used when a job does not state its own duration. Base minutes per unit come from typical
appliance-chain practice (an indoor+outdoor split AC install takes about 1.5-2 h, a TV wall
mount about 45 min); carrying goods up stairs without a lift adds time per floor above the
second, and work at height on AC outdoor units on high floors adds a fixed safety set-up.
"""

from __future__ import annotations

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


def estimate_minutes(job: Job) -> int:
    """The job's stated service minutes, or an estimate from category, quantity and floor."""
    if job.service_minutes is not None:
        return job.service_minutes
    per_unit = BASE_MINUTES[job.kind][job.category]
    minutes = per_unit + (job.quantity - 1) * max(per_unit * 3 // 4, 5)
    if not job.has_lift and job.floor > 2:
        minutes += STAIRS_MINUTES_PER_FLOOR.get(job.kind, 0) * (job.floor - 2) * job.quantity
    if (
        job.kind is JobKind.INSTALLATION
        and job.category in (ProductCategory.SPLIT_AC, ProductCategory.CABINET_AC)
        and job.floor >= HEIGHT_FLOOR
    ):
        minutes += HEIGHT_MINUTES
    return minutes
