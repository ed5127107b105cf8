"""Up-front checks: which jobs can never be served today, and why.

A job that fails here is reported unassigned with its reason instead of being handed to the
optimizer, so the reason a dispatcher reads is the real one ("no crew has skill
work_at_height"), not just "dropped".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from dispatch.day_problem import DispatchProblem
from dispatch.models import CREW_CAN_DO, CallbackPolicy, Crew, Job, JobKind
from dispatch.plan import Unassigned, UnassignedReason
from dispatch.planning.link_screen import screen_links
from dispatch.record_rules import format_number
from dispatch.translate import (
    clip_windows,
    job_location,
    out_of_range,
    seconds_of,
    service_seconds,
)
from routing.travel import TravelModel, apply_factor


@dataclass
class Screening:
    """Eligible crew indices per servable job, and the unservable jobs with reasons."""

    eligible: dict[str, list[int]]
    unassigned: list[Unassigned]


def _missing(job: Job, crews: list[Crew]) -> str:
    kinds = [c for c in crews if job.kind in CREW_CAN_DO[c.kind]]
    if not kinds:
        return f"no crew kind does {job.kind.value} jobs"
    skilled = [c for c in kinds if job.skills <= c.skills]
    if not skilled:
        have = set().union(*(c.skills for c in kinds))
        lacking = sorted(job.skills - have) or sorted(job.skills)
        return f"no {job.kind.value} crew has skill(s) {', '.join(lacking)} together"
    staffed = [c for c in skilled if c.people >= job.people]
    if staffed and all(c.barred_from(job) for c in staffed):
        return (
            f"a callback to be served by a crew other than its original one ({job.original_crew}, "
            "the region's callback policy); no other crew can do it"
        )
    staffed = [c for c in staffed if not c.barred_from(job)]
    if not staffed:
        most = max(c.people for c in skilled)
        return f"needs {job.people} people; the largest eligible crew has {most}"
    held = [c.certification_for(job.kind) for c in staffed]
    valid = [h.score for h in held if h is not None and h.valid_on(job.day)]
    best = f"the best valid one on {job.day} is {max(valid)}" if valid else "none holds a valid one"
    return (
        f"needs certification of {job.min_certification} or more for {job.kind.value} jobs; {best}"
    )


def screen(problem: DispatchProblem, travel: TravelModel) -> Screening:
    """Check every job against every crew: kind/skills/people, capacity, region, windows.

    First of all, a job whose values the planner cannot compute with (`out_of_range`: a
    problem built in code, past the record rules) is listed unassigned, so one such job
    never fails the day.

    Vectorised so it stays a few seconds at 10,000 jobs x 1,800 crews: crews that share a
    travel profile, depots and shift have the same reachability for a job, and crews that
    share kind, skills, people and capacity the same ability, so both are computed per such
    class (reachability with numpy over all jobs at once) and combined per job. The rules and
    the travel times are exactly those of the route validator (`TravelModel.travel_time`).
    """
    eligible: dict[str, list[int]] = {}
    unassigned: list[Unassigned] = []
    n_dep = len(problem.depots)
    max_m = problem.max_km_from_depot * 1000
    crews = problem.crews
    n_jobs = len(problem.jobs)
    job_locs = np.array([job_location(problem, i) for i in range(n_jobs)], dtype=np.int64)
    if n_dep and n_jobs:
        nearest = np.asarray(travel.distances[np.ix_(job_locs, np.arange(n_dep))]).min(axis=1)
    else:
        nearest = np.zeros(n_jobs, dtype=np.int64)
    windows = [clip_windows(problem, job) for job in problem.jobs]
    beyond_range = [out_of_range(job) for job in problem.jobs]
    reach = _reachability(problem, travel, job_locs, windows)  # (timing class, job)
    timing_class = reach.crew_class
    # ability classes: crews alike in what they may do and carry
    # (certifications only matter when a job needs one: else they would split the classes)
    certified = any(j.min_certification is not None for j in problem.jobs)
    ability_key = [
        (
            c.kind,
            c.skills,
            c.people,
            c.capacity_volume_l,
            c.capacity_weight_kg,
            c.certifications if certified else (),
        )
        for c in crews
    ]
    ability_classes = sorted(set(ability_key), key=repr)
    ability_of = np.array([ability_classes.index(k) for k in ability_key], dtype=np.int64)
    class_crew = [crews[int(np.argmax(ability_of == a))] for a in range(len(ability_classes))]
    crew_index = np.arange(len(crews))
    crew_pos = {c.id: k for k, c in enumerate(crews)}
    for i, job in enumerate(problem.jobs):
        beyond = beyond_range[i]
        if beyond is not None:
            unassigned.append(Unassigned(job.id, UnassignedReason.OUT_OF_RANGE, beyond))
            continue
        if nearest[i] > max_m:
            unassigned.append(
                Unassigned(
                    job.id,
                    UnassignedReason.OUTSIDE_REGION,
                    f"{int(nearest[i]) / 1000:.0f} km from the nearest depot",
                )
            )
            continue
        if not windows[i]:
            unassigned.append(
                Unassigned(
                    job.id, UnassignedReason.WINDOW_NOT_ON_PLAN_DAY, f"no window on {problem.date}"
                )
            )
            continue
        # a class shares everything `can_do` reads but the crew's id: a callback barred from
        # its original crew is judged without the bar, which is then applied to that crew
        barred = job.original_crew if job.callback_policy is CallbackPolicy.DIFFERENT_CREW else None
        ruled = dataclasses.replace(job, callback_policy=None) if barred else job
        can = np.array([c.can_do(ruled) for c in class_crew], dtype=bool)
        able = can[ability_of]
        if barred in crew_pos:
            able[crew_pos[barred]] = False
        if not able.any():
            unassigned.append(
                Unassigned(job.id, UnassignedReason.NO_ELIGIBLE_CREW, _missing(job, crews))
            )
            continue
        if job.kind in (JobKind.DELIVERY, JobKind.PICKUP):
            fits = np.array(
                [
                    job.volume_l <= c.capacity_volume_l and job.weight_kg <= c.capacity_weight_kg
                    for c in class_crew
                ],
                dtype=bool,
            )
            able &= fits[ability_of]
            if not able.any():
                unassigned.append(
                    Unassigned(
                        job.id,
                        UnassignedReason.EXCEEDS_CAPACITY,
                        f"{format_number(round(job.volume_l))} l / "
                        f"{format_number(round(job.weight_kg))} kg is more than any eligible "
                        "vehicle holds",
                    )
                )
                continue
        reachable = crew_index[able & reach.ok_lunch[timing_class, i]]
        if not len(reachable):
            in_time = crew_index[able & reach.ok[timing_class, i]]
            unassigned.append(
                Unassigned(job.id, UnassignedReason.LUNCH_WINDOW, _lunch_clash(problem, i, in_time))
                if len(in_time)
                else Unassigned(
                    job.id,
                    UnassignedReason.WINDOW_UNREACHABLE,
                    "no eligible crew can arrive within a window and be back by its shift end",
                )
            )
            continue
        eligible[job.id] = reachable.tolist()
    screen_links(problem, eligible, unassigned)  # crew modes, earlier deliveries' gaps
    _drop_orphan_installations(problem, eligible, unassigned)
    _drop_broken_pairs(problem, eligible, unassigned)
    return Screening(eligible, unassigned)


def _lunch_clash(problem: DispatchProblem, i: int, in_time: np.ndarray) -> str:
    """The detail of a job that eligible crews reach in time but not with their lunch."""
    job = problem.jobs[i]
    crew = problem.crews[int(in_time[0])]
    assert crew.lunch is not None  # a crew without lunch that reaches it in time would fit
    lunch = crew.lunch
    latest = seconds_of(lunch.window_end) - lunch.minutes * 60
    window = ", ".join(f"{w.start:%H:%M}-{w.end:%H:%M}" for w in job.windows)
    by = f"{latest // 3600:02d}:{latest % 3600 // 60:02d}"
    return (
        f"{service_seconds(job) // 60} min of work starting in its window {window} leaves no "
        f"eligible crew room for its lunch: {crew.id} must start its {lunch.minutes} min "
        f"lunch between {lunch.window_start:%H:%M} and {by}"
    )


@dataclass
class _Reach:
    crew_class: np.ndarray  # crew index -> timing class
    ok: np.ndarray  # (timing class, job): can arrive within a window and be back in time
    #: (timing class, job): as `ok`, and the crew's lunch fits inside its lunch window too
    ok_lunch: np.ndarray


def _reachability(
    problem: DispatchProblem,
    travel: TravelModel,
    job_locs: np.ndarray,
    windows: list[tuple[tuple[int, int], ...]],
) -> _Reach:
    """For each class of crews with the same profile, depots, shift and lunch, and each job:
    can such a crew leave at shift start, start the job within one of its windows and be back
    at its end depot by shift end (`ok`), and take its lunch inside the lunch window as well
    (`ok_lunch`)? (The same rules, leg for leg, as timing the one-job route.)"""
    depot_pos = {d.id: k for k, d in enumerate(problem.depots)}
    keys = [
        (
            c.kind.value,
            depot_pos[c.start_depot],
            depot_pos[c.end_depot],
            seconds_of(c.shift_start),
            seconds_of(c.shift_end),
            (
                (seconds_of(c.lunch.window_start), seconds_of(c.lunch.window_end), c.lunch.minutes)
                if c.lunch is not None
                else None
            ),
        )
        for c in problem.crews
    ]
    classes = sorted(set(keys), key=repr)
    class_of = {k: n for n, k in enumerate(classes)}
    n_jobs = len(job_locs)
    n_win = max((len(w) for w in windows), default=0)
    # windows padded with closed ones (b = -1: nothing is <= -1 after a non-negative time)
    win_a = np.zeros((n_win, n_jobs), dtype=np.int64)
    win_b = np.full((n_win, n_jobs), -1, dtype=np.int64)
    for i, ws in enumerate(windows):
        for w, (a, b) in enumerate(ws):
            win_a[w, i], win_b[w, i] = a, b

    def earliest(t: np.ndarray) -> np.ndarray:
        """The first window still open at t: the start in it, -1 if all have closed."""
        start = np.full(n_jobs, -1, dtype=np.int64)
        for w in range(n_win - 1, -1, -1):
            start = np.where(t <= win_b[w], np.maximum(t, win_a[w]), start)
        return start

    service = np.array([service_seconds(j) for j in problem.jobs], dtype=np.int64)
    congestion = travel.congestion
    ok = np.zeros((len(classes), n_jobs), dtype=bool)
    ok_lunch = np.zeros((len(classes), n_jobs), dtype=bool)
    for n, (profile, start_loc, end_loc, shift_start, shift_end, lunch) in enumerate(classes):
        if not n_jobs:
            break
        durations = travel.durations[profile]
        base_out = np.asarray(durations[start_loc, job_locs], dtype=np.int64)
        base_back = np.asarray(durations[job_locs, end_loc], dtype=np.int64)

        def back_from(done: np.ndarray, base: np.ndarray = base_back) -> np.ndarray:
            return done + apply_factor(base, congestion.max_factor(done, done))

        out = shift_start + apply_factor(base_out, congestion.factor_at(shift_start))
        start = earliest(out)
        ok[n] = (start >= 0) & (back_from(start + service) <= shift_end)
        if lunch is None:
            ok_lunch[n] = ok[n]
            continue
        lunch_from, lunch_to, minutes = lunch
        dur = minutes * 60
        latest = lunch_to - dur
        # lunch at the depot before driving out
        b = max(shift_start, lunch_from)
        dep = b + dur
        s = earliest(dep + apply_factor(base_out, congestion.factor_at(dep)))
        fits = (b <= latest) & (s >= 0) & (back_from(s + service) <= shift_end)
        # lunch on arrival, before the job
        b_arr = np.maximum(out, lunch_from)
        s = earliest(b_arr + dur)
        fits |= (b_arr <= latest) & (s >= 0) & (back_from(s + service) <= shift_end)
        # lunch after the job, before driving back, or at the end depot
        done = start + service
        b_done = np.maximum(done, lunch_from)
        fits |= (b_done <= latest) & (back_from(b_done + dur) <= shift_end)
        b_home = np.maximum(back_from(done), lunch_from)
        fits |= (b_home <= latest) & (b_home + dur <= shift_end)
        ok_lunch[n] = ok[n] & fits
    return _Reach(np.array([class_of[k] for k in keys], dtype=np.int64), ok, ok_lunch)


def _drop_orphan_installations(
    problem: DispatchProblem, eligible: dict[str, list[int]], unassigned: list[Unassigned]
) -> None:
    """An installation whose delivery (in this problem) cannot be served cannot be either."""
    failed_deliveries = {
        j.order_id for j in problem.jobs if j.kind is JobKind.DELIVERY and j.id not in eligible
    }
    for job in problem.jobs:
        if (
            job.kind is JobKind.INSTALLATION
            and job.order_id in failed_deliveries
            and job.id in eligible
        ):
            del eligible[job.id]
            unassigned.append(
                Unassigned(
                    job.id,
                    UnassignedReason.LINKED_JOB_UNASSIGNED,
                    f"the delivery of order {job.order_id} cannot be planned today",
                )
            )


def _drop_broken_pairs(
    problem: DispatchProblem, eligible: dict[str, list[int]], unassigned: list[Unassigned]
) -> None:
    """A two-crew visit (`DispatchProblem.syncs`, an assisted job and its assisting job) is
    planned whole or not at all: when one half cannot be planned, or no two different crews
    may do the halves, every servable half is listed unassigned (`assist_pair_unplanned`)
    with the reason. An assisting job whose assisted job is not in the problem (or assists
    another itself) cannot be planned either."""
    by_id = problem.jobs_by_id()
    for job in problem.jobs:
        if job.assists is None or job.id not in eligible:
            continue
        lead = by_id.get(job.assists)
        why = None
        if lead is None:
            why = f"the job it assists, {job.assists}, is not in this day's problem"
        elif lead.assists is not None:
            why = f"the job it assists, {lead.id}, assists {lead.assists} itself"
        if why is not None:
            del eligible[job.id]
            unassigned.append(Unassigned(job.id, UnassignedReason.ASSIST_PAIR, why))
    failed = {u.job_id: u for u in unassigned}
    changed = True
    while changed:  # a visit synced with two others: one failure spreads to all of them
        changed = False
        for sy in problem.syncs:
            pair = (sy.first, sy.second)
            lost = [j for j in pair if j not in eligible]
            if not lost:
                crews = {k for j in pair for k in eligible[j]}
                if len(crews) >= 2:
                    continue
                why = (
                    f"{sy.first} and {sy.second} need two different crews at once; only "
                    f"{problem.crews[crews.pop()].id} may do either"
                )
                for j in pair:
                    del eligible[j]
                    failed[j] = Unassigned(j, UnassignedReason.ASSIST_PAIR, why)
                    unassigned.append(failed[j])
                changed = True
                continue
            for j in pair:
                if j in eligible:
                    other = lost[0]
                    cause = failed[other].reason.value if other in failed else "unknown"
                    del eligible[j]
                    failed[j] = Unassigned(
                        j,
                        UnassignedReason.ASSIST_PAIR,
                        f"its partner in the two-crew visit, {other}, cannot be planned ({cause})",
                    )
                    unassigned.append(failed[j])
                    changed = True
