"""Zone shortages: the capacity-shaped explanations summed per zone, crew kind, skills and band.

A dispatcher adding crews for tomorrow asks where they are short, not why one job is
unplanned: "zone Z04 is short 1 installation crew (ac_install) this afternoon: 7 jobs,
9.5 h of work". Works on the explanations alone (and the plan's jobs), so it costs nothing
once `explain_plan` has run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dispatch.models import CrewKind, Job
from dispatch.plan import Plan
from dispatch.running.explain.model import (
    Binding,
    Explanation,
    ZoneShortage,
    band_of,
    needed_crew_kind,
)
from dispatch.running.explain.wording import kind_label
from dispatch.service_time import estimate_minutes

#: zone shortages: average travel minutes added to each job's service time
AVG_TRAVEL_MIN = 20
#: zone shortages: productive hours one added crew gives in a day (a 10-hour shift less
#: lunch, the legs to and from its depot and some slack)
CREW_WORK_HOURS = 7.5
SHORTAGE_BINDINGS = frozenset({Binding.CREWS_FULL, Binding.SHIFT_END, Binding.NO_SKILLED_CREW})


def zone_shortages(plan: Plan, explanations: Sequence[Explanation]) -> list[ZoneShortage]:
    """Unassigned jobs short of crews, summed per (zone, crew kind, skills, band).

    Counts `CREWS_FULL`, `SHIFT_END` and `NO_SKILLED_CREW` unassigned jobs. The crew kind is
    the smallest kind that does the job (`needed_crew_kind`), the band the part of the day
    its first window starts in. `work_hours` = sum of (service minutes + `AVG_TRAVEL_MIN`) / 60;
    `crews_short` = ceil(work_hours / `CREW_WORK_HOURS`), at least 1. Bands are counted
    apart, so one added crew working all day may cover two bands' shortages: across bands the
    sum is an upper bound. Largest shortage first.
    """
    problem = plan.problem
    jobs = problem.jobs_by_id()
    groups: dict[tuple[str | None, str, tuple[str, ...], str], list[Job]] = {}
    for e in explanations:
        if e.status != "unassigned" or e.binding not in SHORTAGE_BINDINGS:
            continue
        job = jobs[e.job_id]
        key = (
            e.zone,
            needed_crew_kind(job).value,
            tuple(sorted(job.skills)),
            band_of(problem, job),
        )
        groups.setdefault(key, []).append(job)
    out = []
    for (zone, kind, skills, band), members in groups.items():
        minutes = sum(estimate_minutes(j) + AVG_TRAVEL_MIN for j in members)
        hours = minutes / 60
        short = max(1, math.ceil(hours / CREW_WORK_HOURS - 1e-9))
        label = kind_label(CrewKind(kind), short)
        with_skills = f" ({', '.join(skills)})" if skills else ""
        where = f"zone {zone}" if zone else "the area outside every zone"
        n = len(members)
        out.append(
            ZoneShortage(
                zone,
                kind,
                skills,
                band,
                n,
                round(hours, 2),
                short,
                f"{where} is short {short} {label}{with_skills} this {band}: "
                f"{n} job{'s' if n != 1 else ''}, {hours:.1f} h of work",
            )
        )
    band_order = {"morning": 0, "afternoon": 1, "evening": 2}
    out.sort(
        key=lambda s: (
            -s.crews_short,
            -s.work_hours,
            s.zone or "~",
            band_order[s.band],
            s.crew_kind,
            s.skills,
        )
    )
    return out
