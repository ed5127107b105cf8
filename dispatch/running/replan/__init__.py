"""Re-plan a published day from where it stands: change as little as possible, fast.

The morning plan never survives the day. `replan(plan, state)` takes the published plan and
the day as it stands at `state.at` (`DayState`: visits done and under way, overruns, crews
gone, new and cancelled jobs, the ETAs customers were told) and returns a new, validated plan
plus the diff a dispatcher approves (`dispatch.running.plan_diff`).

What stays where it is
  * **Pinned** (done + in progress) stops keep crew, order and their *actual* times: they
    are facts. The new plan must still pass `validate_plan`, so the re-plan problem states
    the facts in the model's terms: a pinned job's service minutes become its actual
    duration (an in-progress one ends at its expected end, never before `at`; whole minutes,
    rounded up), its windows are widened to contain its actual start, a crew's shift start
    is moved earlier when it began earlier than the travel model allows, its shift end and
    lunch window are moved later when the facts keep it past them, and the link gap between
    a delivery and its installation shrinks to what two pinned visits actually left. A fact
    the travel model cannot reproduce at all (a crew that drove faster than the model says)
    is moved to the earliest time the model allows and counted in `stats["facts_adjusted"]`:
    a re-plan is never refused because of what already happened.
  * **Frozen** stops: per available crew, the leading not-yet-started stops of its planned
    order planned to start by `at + freeze_minutes`, and always the stop the crew is
    already driving to (its last pinned stop is finished, or it has left the depot
    and started nothing yet). They keep crew and order; their times may shift (an overrun
    pushes them). A frozen stop is only released when keeping it would break a hard rule
    (its window can no longer be met); `stats["frozen_released"]` counts them.
  * Every other planned stop is **kept** in its crew's planned order as the starting point.

How the new plan is made
  1. *Re-time* every crew's day (pinned + frozen + kept) with the planner's own timing
     (`routing.schedule`); nothing not pinned starts before `at`, and a crew that has not
     left its depot leaves at `at` at the earliest. Overruns shift what follows. Kept stops
     that now break a rule (window, shift, lunch: the lunch is first tried at another
     position) become orphans, the latest first, as do the not-started stops of a crew
     unavailable from T (all of them if T <= `at`, else those that would start at or after
     T: "stops not started by then are handed over").
  2. *Insert* the orphans and the new jobs (urgent and awaited deliveries first) by a
     disruption-aware cheapest insertion after each available crew's pinned + frozen
     prefix: cost = added metres + `eta_weight_m` for each customer whose ETA moves beyond
     the tolerance + `late_weight_m_per_min` x priority weight for each minute of promise
     lateness added + `move_weight_m` when a job goes to another crew than it had. Bounded
     by a number of evaluations, not by the clock: deterministic.
  3. *Re-optimise* (only when jobs are still unplaced and time is left): one OR-Tools solve
     over the crews near them, each continuing from its prefix, **warm-started from the
     current sequences** (`SolveParams.initial_routes`); kept stops may be re-ordered
     within their ETA tolerance but not given to another crew. A crew's new route is taken
     where it serves an unplaced job and, re-timed for real, breaks no rule; a kept stop
     the solver left out for it must then fit another crew by phase-2 insertion (an
     urgent job can push a normal one to a neighbour, never off the plan).
  Anything still unplaced is unassigned with a reason (`crew_unavailable` for a sick crew's
  jobs, `window_unreachable` when its window closed before `at`, ...). Previously unassigned
  jobs stay unassigned unless `retry_unassigned` (a re-plan changes as little as possible).

Disruption weights (metres-equivalent, `ReplanOptions`): a customer who must be called
again with a new time costs as much as 5 km of extra driving (`eta_weight_m`), a job handed
to another crew (re-briefing, parts in another van, a new face at the door) 10 km
(`move_weight_m`); a minute of promise lateness 1 km per priority weight, about what the
planner's own objective charges (3 cents/s late against about 2-3 CNY/km). So the re-plan
drives a few km more rather than disturb a customer, but not 20 km more.

Model notes. Times follow the planner's model: a crew drives on as soon as a stop ends and
waits at the next door, so a stop's `arrival` can lie well before its start. The ETA a
customer is told is therefore the planned *start* (when the crew rings the bell), not the
arrival: that is what notified ETAs, the tolerance and the diff compare. Phase 3 treats the
ETA tolerance of kept stops as a hard bound (their windows are cut to the ETA told +
tolerance), phase 2 as a cost.

An unchanged state (nothing new, nobody sick, no overrun, facts as planned) re-times every
route to exactly the plan's times: the diff is empty (`state_as_planned` builds one).

Determinism: phases 1-2 are deterministic; phase 3 runs only when jobs are left unplaced and
then, like every OR-Tools solve cut by the clock, is reproducible only with `solution_limit`.

The modules, in the order a re-plan runs them:

    state.py       DayState (the day as it stands), state_as_planned
    pinning.py     which reported events pin a visit (done / in progress); used by the
                   service (api/services/day_state.py) and `dispatch replan` on files
    options.py     ReplanOptions
    refusals.py    ReplanRefused, refuse_bad_state: a state that cannot be right
    problem.py     the re-plan problem: the facts in the model's terms (ReplanProblem)
    sequences.py   the crews' working sequences (CrewSequences) and the Ledger of releases
    settle.py      phase 1: what is fixed (pinned, frozen), crews fitted to the facts,
                   re-timing and releasing what breaks a rule
    insert.py      phase 2: disruption-aware cheapest insertion of orphans and new jobs
    reoptimise.py  phase 3: the warm-started OR-Tools solve for what is still unplaced
    result.py      the new plan, validated, its unassigned reasons, diff and stats
"""

from __future__ import annotations

import time as clock

from dispatch.plan import Plan
from dispatch.running.replan.insert import insert, screen_new
from dispatch.running.replan.options import ReplanOptions
from dispatch.running.replan.problem import build_problem
from dispatch.running.replan.refusals import ReplanRefused, refuse_bad_state
from dispatch.running.replan.reoptimise import reoptimise
from dispatch.running.replan.result import ReplanResult, build_result
from dispatch.running.replan.sequences import Ledger
from dispatch.running.replan.settle import initial_sequences, settle, settle_pinned
from dispatch.running.replan.state import DayState, state_as_planned

#: seconds kept back from the time limit for the final timing and validation
FINAL_RESERVE_S = 1.0


def replan(plan: Plan, state: DayState, options: ReplanOptions | None = None) -> ReplanResult:
    """Re-plan `plan` from `state` (see the module docstring); raises `ReplanRefused`."""
    options = options or ReplanOptions()
    started = clock.monotonic()
    refuse_bad_state(plan, state)
    rp = build_problem(plan, state, options, started)
    ledger = Ledger()
    # phase 1: what is fixed, and what no longer fits
    day = initial_sequences(rp, ledger)
    settle_pinned(rp, day, ledger)
    settle(rp, day, ledger)
    t1 = clock.monotonic()
    ledger.stats["retime_s"] = round(t1 - started, 2)
    # phase 2: the orphans and the new jobs, inserted
    screened = screen_new(rp)
    orphans = sorted(ledger.origin)
    orphans += [rp.job_pos[j.id] for j in state.new_jobs if j.id not in screened]
    if options.retry_unassigned:
        orphans += sorted(rp.job_pos[u.job_id] for u in plan.unassigned if u.job_id in rp.job_pos)
    inserted = insert(rp, day, ledger, orphans)
    left = [v for v in orphans if v not in set(inserted)]
    t2 = clock.monotonic()
    ledger.stats["insertion_s"] = round(t2 - t1, 2)
    # phase 3: a warm-started solve for what is still unplaced
    placed_by_solver: list[int] = []
    budget = options.time_limit_s - (t2 - started) - FINAL_RESERVE_S
    if left and options.reoptimise and budget > 0.2:
        placed_by_solver = reoptimise(rp, day, ledger, left, budget)
    ledger.stats["reoptimise_s"] = round(clock.monotonic() - t2, 2)
    return build_result(rp, day, ledger, screened, orphans, inserted, placed_by_solver)


__all__ = [
    "DayState",
    "ReplanOptions",
    "ReplanRefused",
    "ReplanResult",
    "refuse_bad_state",
    "replan",
    "state_as_planned",
]
