"""Crew levers: evening installation shifts and specialist temporary teams.

Two of the levers the capacity recommendation searches beside hiring (docs/season.md,
"Levers beyond hiring") change the crews on duty, not their number:

* **Evening installation shifts** (`crews.evening_share`, `crews.evening_temp_share`): that
  share of the own installation crews (kind `installation_crew`) and of the temporary crews
  works `evening_start_hour`-`evening_end_hour` (12:00-21:00) instead of its day shift, with
  a 45-minute break between 16:00 and 18:00 (four to six hours into the shift). The crews
  chosen are spread evenly over the crews in id order (`spread`), so over the zones as
  the ids are. They cost `evening_cost_factor` times their day rate: the own crews' hourly
  cost, the temporary crews' daily cost. Evening shifts only help if customers may be
  visited later: see `demand.install_until_hour`.
* **Specialist temporary teams** (`crews.temp_specialist_share`): that share of the
  temporary crews are three-person teams that also hold `SPECIALIST_SKILLS`, so they can
  do the installations other hires cannot (water heaters need `electrical` and `plumbing`,
  cabinet units three people, TV mounts `tv_mount`). They cost
  `temp_specialist_cost_factor` times a standard team's daily cost.

The crews' costs are not changed on the `Crew` (the planner plans every crew as before); the
premium is a factor per crew id that the day's cost (`dispatch.season.state.DayCrewStats`)
applies. Everything here is deterministic: the same settings give the same crews.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import time

from dispatch.models import Crew, CrewKind, LunchBreak
from dispatch.season.city import SPECIALIST_SKILLS, SeasonCity
from dispatch.season.settings import CrewSettings

#: the evening shift's break: this long, between 4 and 6 hours into the shift
EVENING_BREAK_MINUTES = 45


def spread(n: int, share: float) -> list[bool]:
    """Which of `n` crews (in order) take a lever with `share`: round(n x share) of them,
    evenly spaced (crew i is chosen when floor((i + 1) x share + 1/2) passes an integer)."""
    if share <= 0 or n <= 0:
        return [False] * n
    return [math.floor((i + 1) * share + 0.5) > math.floor(i * share + 0.5) for i in range(n)]


def evening_shift(crew: Crew, c: CrewSettings) -> Crew:
    """`crew` on the evening shift (module doc)."""
    start = c.evening_start_hour
    return dataclasses.replace(
        crew,
        shift_start=time(start, 0),
        shift_end=time(c.evening_end_hour, 0),
        lunch=LunchBreak(
            time(min(start + 4, c.evening_end_hour - 1), 0),
            time(min(start + 6, c.evening_end_hour), 0),
            EVENING_BREAK_MINUTES,
        ),
    )


def specialist(crew: Crew) -> Crew:
    """A temporary crew as a specialist team: three people, `SPECIALIST_SKILLS` added."""
    return dataclasses.replace(crew, people=3, skills=crew.skills | SPECIALIST_SKILLS)


def own_crews(city: SeasonCity, c: CrewSettings) -> tuple[tuple[Crew, ...], set[str]]:
    """The city's own crews with `evening_share` of the installation crews on the evening
    shift, and the ids of those (the crews keep their order, so the daily sickness draw
    meets the same crews)."""
    installers = [k for k, crew in enumerate(city.own_crews) if _installs(crew)]
    picks = spread(len(installers), c.evening_share)
    chosen = {k for k, pick in zip(installers, picks, strict=True) if pick}
    crews = tuple(
        evening_shift(crew, c) if k in chosen else crew for k, crew in enumerate(city.own_crews)
    )
    return crews, {crews[k].id for k in chosen}


def temporary_crews(
    city: SeasonCity, count: int, weights: dict[str, float], c: CrewSettings
) -> tuple[list[Crew], dict[str, float]]:
    """`count` temporary crews (`SeasonCity.temporary_crews`) with the levers applied, and
    each one's cost factor over a standard team's daily cost (1.0 for a standard team)."""
    crews = city.temporary_crews(count, weights)
    special = spread(len(crews), c.temp_specialist_share)
    evening = spread(len(crews), c.evening_temp_share)
    out: list[Crew] = []
    factor: dict[str, float] = {}
    for crew, is_special, is_evening in zip(crews, special, evening, strict=True):
        f = 1.0
        if is_special:
            crew = specialist(crew)
            f *= c.temp_specialist_cost_factor
        if is_evening:
            crew = evening_shift(crew, c)
            f *= c.evening_cost_factor
        out.append(crew)
        factor[crew.id] = f
    return out, factor


def _installs(crew: Crew) -> bool:
    return crew.kind is CrewKind.INSTALLATION_CREW
