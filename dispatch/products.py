"""The appliance catalogue: what each product category asks of the crews and the vehicle.

Category mixes (normal and air-conditioner peak), which delivered products get installed,
packed volume and weight, size variants, the building a customer lives in, and the skills
and people a job needs. The Shanghai demo day (`fixtures.shanghai_orders`) and the season
simulator (`dispatch.season`) draw their orders from these same rules, so a simulated season
and a demo day describe the same business. The rules are documented in
`fixtures/shanghai_orders.py`'s module docstring.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dispatch.models import Job, JobKind, ProductCategory
from dispatch.service_time import estimate_minutes

C = ProductCategory

#: category mixes (must each sum to 1), keyed by (group, peak)
MIX: dict[tuple[str, bool], dict[ProductCategory, float]] = {
    ("delivery", False): {C.SPLIT_AC: 0.17, C.CABINET_AC: 0.05, C.WASHING_MACHINE: 0.17,
                          C.REFRIGERATOR: 0.22, C.TV: 0.16, C.WATER_HEATER: 0.08,
                          C.RANGE_HOOD: 0.06, C.DISHWASHER: 0.04, C.OTHER: 0.05},
    ("delivery", True): {C.SPLIT_AC: 0.42, C.CABINET_AC: 0.14, C.WASHING_MACHINE: 0.09,
                         C.REFRIGERATOR: 0.13, C.TV: 0.08, C.WATER_HEATER: 0.05,
                         C.RANGE_HOOD: 0.04, C.DISHWASHER: 0.02, C.OTHER: 0.03},
    ("install", False): {C.SPLIT_AC: 0.30, C.CABINET_AC: 0.08, C.WASHING_MACHINE: 0.10,
                         C.TV: 0.16, C.WATER_HEATER: 0.15, C.RANGE_HOOD: 0.12,
                         C.DISHWASHER: 0.05, C.OTHER: 0.04},
    ("install", True): {C.SPLIT_AC: 0.50, C.CABINET_AC: 0.16, C.WASHING_MACHINE: 0.05,
                        C.TV: 0.08, C.WATER_HEATER: 0.09, C.RANGE_HOOD: 0.07,
                        C.DISHWASHER: 0.03, C.OTHER: 0.02},
    ("repair", False): {C.SPLIT_AC: 0.22, C.CABINET_AC: 0.05, C.WASHING_MACHINE: 0.20,
                        C.REFRIGERATOR: 0.20, C.TV: 0.10, C.WATER_HEATER: 0.10,
                        C.RANGE_HOOD: 0.05, C.DISHWASHER: 0.03, C.OTHER: 0.05},
    ("repair", True): {C.SPLIT_AC: 0.42, C.CABINET_AC: 0.12, C.WASHING_MACHINE: 0.12,
                       C.REFRIGERATOR: 0.14, C.TV: 0.06, C.WATER_HEATER: 0.06,
                       C.RANGE_HOOD: 0.03, C.DISHWASHER: 0.02, C.OTHER: 0.03},
    ("pickup", False): {C.REFRIGERATOR: 0.30, C.WASHING_MACHINE: 0.25, C.TV: 0.20,
                        C.SPLIT_AC: 0.10, C.WATER_HEATER: 0.05, C.OTHER: 0.10},
}  # fmt: skip
MIX[("pickup", True)] = MIX[("pickup", False)]
#: chance that a delivered product gets a linked installation
NEEDS_INSTALL = {C.SPLIT_AC: 1.0, C.CABINET_AC: 1.0, C.WATER_HEATER: 1.0, C.RANGE_HOOD: 1.0,
                 C.DISHWASHER: 0.7, C.WASHING_MACHINE: 0.6, C.TV: 0.35, C.REFRIGERATOR: 0.0,
                 C.OTHER: 0.1}  # fmt: skip
#: packed volume (l) and weight (kg) of one unit; split/cabinet AC include the outdoor unit
GOODS = {C.SPLIT_AC: (150, 45), C.CABINET_AC: (450, 95), C.WASHING_MACHINE: (350, 70),
         C.REFRIGERATOR: (600, 80), C.TV: (250, 30), C.WATER_HEATER: (120, 28),
         C.RANGE_HOOD: (160, 25), C.DISHWASHER: (250, 50), C.OTHER: (60, 12)}  # fmt: skip
#: size variants (chance, volume factor, weight factor): refrigerators 2-door / multi-door /
#: side-by-side; TVs 55" / 65" / 75" / 85"
VARIANTS = {
    C.REFRIGERATOR: ((0.30, 0.75, 0.75), (0.45, 1.0, 1.0), (0.25, 1.42, 1.44)),
    C.TV: ((0.35, 0.6, 0.6), (0.40, 1.0, 1.0), (0.18, 1.32, 1.4), (0.07, 1.68, 1.83)),
}
AC = frozenset({C.SPLIT_AC, C.CABINET_AC})
BIG = frozenset({C.SPLIT_AC, C.CABINET_AC, C.WASHING_MACHINE, C.REFRIGERATOR, C.DISHWASHER})


def draw_categories(rng: np.random.Generator, group: str, peak: bool, n: int) -> list[C]:
    """`n` categories drawn from the (group, peak) mix."""
    mix = MIX[(group, peak)]
    cats = list(mix)
    p = np.array([mix[c] for c in cats])
    return [cats[k] for k in rng.choice(len(cats), size=n, p=p / p.sum())]


def building_floor(u0: float, u1: float, u2: float, rural: bool) -> tuple[int, bool]:
    """(floor, has lift) from three uniform draws: Shanghai's building stock, or rural houses."""
    if rural:
        if u0 < 0.65:
            return 1 + int(u1 * 3), False
        if u0 < 0.9:
            return 1 + int(u1 * 6), False
        return 1 + int(u1 * 18), True
    if u0 < 0.42:
        return 1 + int(u1 * 6), False  # 6-storey walk-up
    if u0 < 0.48:
        return 1 + int(u1 * 7), bool(u2 < 0.3)  # older 7-storey block
    if u0 < 0.90:
        return 1 + int(u1 * 30), True  # high-rise
    return 1 + int(u1 * 3), False  # low-rise / villa


def skills_people(kind: JobKind, cat: C, floor: int, lift: bool, u: float) -> tuple[set, int]:
    """(skills, people) a job of this kind and category needs at this floor."""
    if kind is JobKind.INSTALLATION:
        if cat in AC:
            skills = {"ac_install"} | ({"work_at_height"} if floor >= 3 else set())
            if cat is C.CABINET_AC:
                skills.add("electrical")
                return skills, 3 if (not lift and floor >= 4 and u < 0.6) else 2
            return skills, 2
        return {
            C.WATER_HEATER: ({"electrical", "plumbing"}, 1),
            C.RANGE_HOOD: ({"electrical"}, 1),
            C.DISHWASHER: ({"plumbing"}, 1),
            C.TV: ({"tv_mount"}, 1),
        }.get(cat, (set(), 1))
    if kind is JobKind.REPAIR:
        if cat in AC or cat is C.REFRIGERATOR:
            return {"refrigeration"}, 2 if (cat is C.CABINET_AC and u < 0.3) else 1
        return ({"electrical"} if cat in (C.WATER_HEATER, C.RANGE_HOOD) else set()), 1
    heavy = cat is C.REFRIGERATOR or (kind is JobKind.DELIVERY and cat is C.CABINET_AC)
    return ({"heavy_lifting"} if heavy else set()), 2 if cat in BIG else 1


def size_variant(cat: C, u: float) -> tuple[float, float, bool]:
    """(volume factor, weight factor, big TV?) of the unit's size variant."""
    acc = 0.0
    for k, (p, fv, fw) in enumerate(VARIANTS.get(cat, ())):
        acc += p
        if u < acc or k == len(VARIANTS[cat]) - 1:
            return fv, fw, cat is C.TV and k >= 2
    return 1.0, 1.0, False


#: the suffix of an assisting job's id: the assisted job's id + this
ASSIST_SUFFIX = "-A"


def needs_assist(job: Job) -> bool:
    """Does this job need a second crew to assist (协助)? A cabinet air conditioner installed
    on the 4th floor or higher of a building without a lift is carried up the stairs by two
    crews: about 3 % of the demo city's installations (fixtures/README.md)."""
    return (
        job.kind is JobKind.INSTALLATION
        and job.category is C.CABINET_AC
        and not job.has_lift
        and job.floor >= 4
        and job.assists is None
    )


def with_assisting_jobs(jobs: list[Job]) -> list[Job]:
    """`jobs`, each one that `needs_assist` followed by its assisting job (`Job.assists`):
    id `<job id>-A`, one person (the lead crew keeps at most two: three people on the stairs
    in all), `work_at_height` from the 3rd floor, the lead's windows, customer and service
    time, so both crews are on site together. Deterministic: no draw."""
    out: list[Job] = []
    for job in jobs:
        if not needs_assist(job):
            out.append(job)
            continue
        lead = dataclasses.replace(job, people=min(job.people, 2))
        out.append(lead)
        out.append(
            dataclasses.replace(
                lead,
                id=f"{job.id}{ASSIST_SUFFIX}",
                people=1,
                skills=frozenset({"work_at_height"} if job.floor >= 3 else ()),
                service_minutes=estimate_minutes(lead),
                assists=job.id,
            )
        )
    return out
