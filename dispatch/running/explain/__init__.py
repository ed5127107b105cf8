"""Why is this job not planned, or late? Explanations a dispatcher can act on.

For every unassigned job and every planned stop that ends after its promise deadline,
`explain_plan` names the constraint that binds and what would fix it, in one sentence with
times, crews and skills ("window closes 11:00; the earliest crew with ac_install (IC004) can
arrive 11:40"), plus machine-readable fixes (`Fix.details`, JSON-ready). `zone_shortages`
sums the capacity-shaped ones per zone, crew kind, skills and part of the day ("zone Z04 is
short 1 installation crew (ac_install) this afternoon: 7 jobs, 9.5 h of work").

How a binding is found (the plan's `UnassignedReason` is the starting point, then probes):

* kind, skills, people: no crew on duty could ever do the job -> `NO_SKILLED_CREW`;
* volume/weight against the largest eligible vehicle -> `CAPACITY`;
* the job alone (as the planner's screen does): each eligible crew leaves its start depot at
  shift start; if none arrives before the last window closes -> `WINDOW_CLOSED` (fix: widen
  the window by the minutes missing, rounded up to 30 min); if one arrives in time but cannot
  be back by its shift end -> `SHIFT_END` (fix: extend that crew's shift);
* an installation whose delivery is not planned, or ends too late for its window ->
  `LINKED_DELIVERY` (fix: plan the delivery first / earlier);
* feasible alone: the job is tried in every position of the eligible crews' routes within
  reach (`dispatch.planning.insertion.REACH_M`, the nearest few crews at least), timed with the real
  travel times and checked with the route validator, as the planner's insertion pass does.
  Each crew's best slot is kept (fewest rules broken, then fewest seconds over a limit); the
  rule most of the `BEST_CANDIDATES` best slots break decides: coming back after the shift
  end -> `SHIFT_END`; missing its own window, pushing another stop out of its window, the
  crew's job limit, vehicle load, lunch break or a linked delivery -> `CREWS_FULL` (the job
  is feasible alone, so a miss of its own window means the crews are busy in it, not that
  the window cannot be reached). If a slot breaks no rule, the planner's bounded search
  missed it: `ROOM_ON_ROUTE` with a `move_to_crew` fix (a `dispatch.running.overrides.Move`).
  The probe is bounded by route evaluations (per job and per call), never by the clock, so
  the same plan always gets the same explanations.

Fixes: `add_crew` (smallest crew kind that does the job, its skills and people, the job's zone
and part of the day), `move_to_day` ("tomorrow at HH:MM": the next day at the time of day its
first window starts; tomorrow's capacity is not checked, it is a booking suggestion),
`widen_window`, `extend_shift`, `bigger_vehicle`, `plan_delivery_first` and `move_to_crew`.
A `widen_window` or `extend_shift` fix that comes from a probe slot is exact: that slot broke
only that one rule, by less than the suggested minutes.

Late stops (`LATE_ROUTE`) say which of these makes them late: the promise had already passed
when the day began; the customer's window opens too late for the promise; no eligible crew
could finish in time even from its depot; the stop waits for its linked delivery; or the
crew's earlier stops. Fixes for the last: another crew that can finish it in time
(`move_to_crew`, probed as above), starting the crew's shift earlier (re-timed and validated),
or another crew of its kind in its zone.

The package, in the order a job goes through it (each module says what and why):

* `model`: the results (`Binding`, `Fix`, `Explanation`, `ZoneShortage`) and how a job is
  classed for a fix or a shortage (`needed_crew_kind`, `band_of`);
* `day`: the plan in routing form with its indexes (`Day`, built once per call and passed to
  every step);
* `alone`: which crews may do the job, and each serving it straight from its depot;
* `probe`: the job tried in every slot of the nearby crews' routes (`probe`, `try_slot`);
* `probe_verdict`: what those slots say (`ROOM_ON_ROUTE`, `CREWS_FULL`, `SHIFT_END`);
* `unassigned` and `late`: the reasons, probe by probe; `fixes`: the fixes that stand on
  their own; `wording`: how times, slots and crew kinds are said;
* `shortages`: `zone_shortages`.

The names in `__all__` are the package's interface. The tunables (`STEP_MIN`,
`BEST_CANDIDATES`, `MAX_EVALUATIONS`, ...) are re-exported here to be read; each is used from
the module that defines it.
"""

from __future__ import annotations

from dispatch.plan import Plan
from dispatch.running.explain.day import MAX_EVALUATIONS as MAX_EVALUATIONS
from dispatch.running.explain.day import build_day
from dispatch.running.explain.late import explain_late
from dispatch.running.explain.model import BANDS as BANDS
from dispatch.running.explain.model import (
    Binding,
    Explanation,
    Fix,
    ZoneShortage,
    band_of,
    needed_crew_kind,
)
from dispatch.running.explain.probe import MAX_EVALUATIONS_PER_JOB as MAX_EVALUATIONS_PER_JOB
from dispatch.running.explain.probe import MIN_CANDIDATE_CREWS as MIN_CANDIDATE_CREWS
from dispatch.running.explain.probe_verdict import BEST_CANDIDATES as BEST_CANDIDATES
from dispatch.running.explain.shortages import AVG_TRAVEL_MIN as AVG_TRAVEL_MIN
from dispatch.running.explain.shortages import CREW_WORK_HOURS as CREW_WORK_HOURS
from dispatch.running.explain.shortages import SHORTAGE_BINDINGS as SHORTAGE_BINDINGS
from dispatch.running.explain.shortages import zone_shortages
from dispatch.running.explain.unassigned import explain_unassigned
from dispatch.running.explain.wording import STEP_MIN as STEP_MIN
from routing.travel import TravelModel


def explain_plan(
    plan: Plan, travel: TravelModel | None = None, *, max_jobs: int | None = None
) -> list[Explanation]:
    """An explanation for every unassigned job, then every late stop (slack < 0), in plan order.

    `travel` is the problem's travel model (`dispatch.translate.build_travel`), built when
    not
    given. `max_jobs` caps the number of explanations (the first ones in that order).
    """
    day = build_day(plan, travel)
    out: list[Explanation] = []
    for u in plan.unassigned:
        if max_jobs is not None and len(out) >= max_jobs:
            return out
        out.append(explain_unassigned(day, u))
    for route in plan.routes:
        for k, stop in enumerate(route.stops):
            if stop.slack_minutes < 0:
                if max_jobs is not None and len(out) >= max_jobs:
                    return out
                out.append(explain_late(day, route, k))
    return out


__all__ = [
    "Binding",
    "Explanation",
    "Fix",
    "ZoneShortage",
    "band_of",
    "explain_plan",
    "needed_crew_kind",
    "zone_shortages",
]
