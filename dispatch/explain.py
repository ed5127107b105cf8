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
  reach (`dispatch.insertion.REACH_M`, the nearest few crews at least), timed with the real
  travel times and checked with the route validator, as the planner's insertion pass does.
  Each crew's best slot is kept (fewest rules broken, then fewest seconds over a limit); the
  rule most of the `BEST_CANDIDATES` best slots break decides: coming back after the shift
  end -> `SHIFT_END`; missing its own window, pushing another stop out of its window, the
  crew's job limit, vehicle load, lunch break or a linked delivery -> `CREWS_FULL` (the job
  is feasible alone, so a miss of its own window means the crews are busy in it, not that
  the window cannot be reached). If a slot breaks no rule, the planner's bounded search
  missed it: `ROOM_ON_ROUTE` with a `move_to_crew` fix (a `dispatch.overrides.Move`).
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
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from dispatch.insertion import REACH_M
from dispatch.models import CREW_CAN_DO, Crew, CrewKind, Job, JobKind
from dispatch.plan import CrewRoute, Plan, Unassigned, UnassignedReason
from dispatch.problem import DispatchProblem
from dispatch.service_time import estimate_minutes
from dispatch.translate import Translation, build_travel, job_location, translate
from dispatch.zones import locate
from routing.problem import BreakTime, RouteSchedule, RoutingProblem, StopTime
from routing.schedule import build_schedules, earliest_in_windows
from routing.travel import TravelModel
from routing.validate import check_route


class Binding(StrEnum):
    """The constraint that keeps a job off the plan, or makes it late."""

    NO_SKILLED_CREW = "no_skilled_crew"  # no crew on duty with the kind, skills and people
    WINDOW_CLOSED = "window_closed"  # no eligible crew can arrive before its window closes
    CAPACITY = "capacity"  # bigger or heavier than any eligible vehicle
    SHIFT_END = "shift_end"  # a crew could start it but not be back by its shift end
    CREWS_FULL = "crews_full"  # feasible alone, but every eligible crew's day is full
    LINKED_DELIVERY = "linked_delivery"  # its delivery is not planned, or ends too late
    NOT_ON_PLAN_DAY = "not_on_plan_day"
    OUTSIDE_REGION = "outside_region"
    REMOVED_BY_DISPATCHER = "removed_by_dispatcher"
    LATE_ROUTE = "late_route"  # planned, but it ends after its promise deadline
    #: a crew has room for it with every rule kept: the planner's bounded search missed it
    ROOM_ON_ROUTE = "room_on_route"


@dataclass(frozen=True)
class Fix:
    """One thing that would get the job planned (or on time).

    `kind` is one of "add_crew", "widen_window", "move_to_day", "bigger_vehicle",
    "extend_shift", "plan_delivery_first", "move_to_crew"; `details` is JSON-ready.
    """

    kind: str
    message: str
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Explanation:
    """Why one job is unassigned or late, and what would fix it."""

    job_id: str
    status: str  # "unassigned" | "late"
    binding: Binding
    message: str
    fixes: tuple[Fix, ...]
    zone: str | None
    kind: str  # the job kind


@dataclass(frozen=True)
class ZoneShortage:
    """Crews missing in one zone, of one kind with one skill set, in one part of the day."""

    zone: str | None
    crew_kind: str
    skills: tuple[str, ...]
    band: str  # "morning" | "afternoon" | "evening"
    jobs: int
    work_hours: float
    crews_short: int
    message: str


#: windows are widened and shifts extended in steps of this many minutes
STEP_MIN = 30
#: each crew's best slot is kept; the rule most of this many best slots break decides
BEST_CANDIDATES = 5
#: crews tried per job even when none passes within `REACH_M`
MIN_CANDIDATE_CREWS = 3
#: route evaluations (one timing + validation each) per job and per `explain_plan` call
MAX_EVALUATIONS_PER_JOB = 250
MAX_EVALUATIONS = 12_000
#: zone shortages: average travel minutes added to each job's service time
AVG_TRAVEL_MIN = 20
#: zone shortages: productive hours one added crew gives in a day (a 10-hour shift less
#: lunch, the legs to and from its depot and some slack)
CREW_WORK_HOURS = 7.5
#: part of the day by the start of a job's first window: before 12:00, before 17:00, later
BANDS: tuple[tuple[str, int], ...] = (("morning", 12 * 3600), ("afternoon", 17 * 3600))
SHORTAGE_BINDINGS = frozenset({Binding.CREWS_FULL, Binding.SHIFT_END, Binding.NO_SKILLED_CREW})

#: probe rules, most telling first when a slot breaks several counted rules
_COUNTED = ("max_jobs", "capacity", "break", "link", "other")
#: how the closest fits break each probe rule: (several, one)
_RULE_VERBS: dict[str, tuple[str, str]] = {
    "shift": ("end after the shift", "ends after the shift"),
    "window": ("miss the window", "misses the window"),
    "pushes": ("push a stop out of its window", "pushes a stop out of its window"),
    "max_jobs": ("hit the crew's job limit", "hits the crew's job limit"),
    "capacity": ("overload the vehicle", "overloads the vehicle"),
    "break": ("leave no room for lunch", "leaves no room for lunch"),
    "link": ("delay a linked delivery", "delays a linked delivery"),
    "other": ("break another rule", "breaks another rule"),
}


# ---- public entry points


def explain_plan(
    plan: Plan, travel: TravelModel | None = None, *, max_jobs: int | None = None
) -> list[Explanation]:
    """An explanation for every unassigned job, then every late stop (slack < 0), in plan order.

    `travel` is the problem's travel model (`dispatch.translate.build_travel`), built when not
    given. `max_jobs` caps the number of explanations (the first ones in that order).
    """
    day = _Day.of(plan, travel)
    out: list[Explanation] = []
    for u in plan.unassigned:
        if max_jobs is not None and len(out) >= max_jobs:
            return out
        out.append(day.explain_unassigned(u))
    for route in plan.routes:
        for k, stop in enumerate(route.stops):
            if stop.slack_minutes < 0:
                if max_jobs is not None and len(out) >= max_jobs:
                    return out
                out.append(day.explain_late(route, k))
    return out


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
        label = _kind_label(CrewKind(kind), short)
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


def needed_crew_kind(job: Job) -> CrewKind:
    """The smallest crew kind that does this kind of job (fewest job kinds; enum order on ties)."""
    kinds = [k for k in CrewKind if job.kind in CREW_CAN_DO[k]]
    return min(kinds, key=lambda k: (len(CREW_CAN_DO[k]), list(CrewKind).index(k)))


def band_of(problem: DispatchProblem, job: Job) -> str:
    """The part of the day the job's first window starts in: morning, afternoon or evening."""
    start = problem.to_seconds(job.windows[0].start) % 86_400
    return next((name for name, end in BANDS if start < end), "evening")


# ---- the probes


@dataclass(frozen=True)
class _Alone:
    """One eligible crew serving the job alone: out of its depot at shift start and back."""

    crew: int
    arrival: int
    start: int | None  # None: every window closed before it arrives
    back: int | None

    def ok(self, shift_end: int) -> bool:
        return self.back is not None and self.back <= shift_end


@dataclass(frozen=True)
class _Slot:
    """The job tried at one position of one crew's route."""

    crew: int
    position: int
    start: int
    end: int
    rule: str  # "fits", "window", "pushes", "shift", "late", or one of _COUNTED
    over_s: int  # seconds past the limit of `rule` (0 for counted rules and "fits")
    only: bool  # `rule` is the only rule it breaks
    pushed: int | None  # the stop pushed out of its window ("pushes")
    badness: tuple[int, int, int]  # counted rules broken, seconds over, metres added


@dataclass
class _Day:
    """The plan seen as routing data, shared by all probes of one `explain_plan` call."""

    plan: Plan
    problem: DispatchProblem
    travel: TravelModel
    full: Translation
    job_pos: dict[str, int]
    crew_pos: dict[str, int]
    seqs: dict[int, list[int]]
    breaks: dict[int, int]
    routes: dict[int, RouteSchedule]
    ends: dict[int, tuple[int, int]]  # planned visit -> (end, crew)
    before_of: dict[int, tuple[int, int]]  # installation visit -> (delivery visit, gap s)
    awaited: set[int]  # deliveries whose installation waits on another crew
    evaluations_left: int = MAX_EVALUATIONS
    cache: dict[str, Explanation] = field(default_factory=dict)
    zones: dict[str, str | None] = field(default_factory=dict)

    @staticmethod
    def of(plan: Plan, travel: TravelModel | None) -> _Day:
        problem = plan.problem
        travel = travel or build_travel(problem)
        deadlines = {j.id: problem.promises.deadline(j) for j in problem.jobs}
        full = translate(
            problem, travel, deadlines, range(len(problem.jobs)), range(len(problem.crews))
        )
        job_pos = {j.id: i for i, j in enumerate(problem.jobs)}
        crew_pos = {c.id: k for k, c in enumerate(problem.crews)}
        seqs: dict[int, list[int]] = {}
        breaks: dict[int, int] = {}
        routes: dict[int, RouteSchedule] = {}
        ends: dict[int, tuple[int, int]] = {}
        sec = problem.to_seconds
        for r in plan.routes:
            k = crew_pos[r.crew_id]
            seqs[k] = [job_pos[s.job_id] for s in r.stops]
            brk = None
            if r.lunch is not None:
                breaks[k] = r.lunch.after_stop
                brk = BreakTime(sec(r.lunch.start), r.lunch.after_stop, r.lunch.before_travel)
            stops = [
                StopTime(job_pos[s.job_id], sec(s.arrival), sec(s.start), sec(s.end))
                for s in r.stops
            ]
            routes[k] = RouteSchedule(k, sec(r.depart), stops, sec(r.return_at), brk)
            ends.update({s.visit: (s.end, k) for s in stops})
        before_of = {p.after: (p.before, p.gap_s) for p in full.routing.precedences}
        awaited = {
            b
            for a, (b, _) in before_of.items()
            if a in ends and b in ends and ends[a][1] != ends[b][1]
        }
        return _Day(
            plan=plan,
            problem=problem,
            travel=travel,
            full=full,
            job_pos=job_pos,
            crew_pos=crew_pos,
            seqs=seqs,
            breaks=breaks,
            routes=routes,
            ends=ends,
            before_of=before_of,
            awaited=awaited,
        )

    # -- small helpers

    def clock(self, seconds: int) -> str:
        """HH:MM on the plan day; other days with their date."""
        moment = self.problem.from_seconds(seconds)
        return self.moment(moment)

    def moment(self, moment: datetime) -> str:
        if moment.date() == self.problem.date:
            return moment.strftime("%H:%M")
        return moment.strftime("%Y-%m-%d %H:%M")

    def windows_text(self, v: int) -> str:
        return ", ".join(
            f"{self.clock(a)}-{self.clock(b)}" for a, b in self.full.routing.visits[v].windows
        )

    def zone_of(self, job: Job) -> str | None:
        if job.zone is not None or not self.problem.zones:
            return job.zone
        if job.id not in self.zones:
            self.zones[job.id] = locate([job.location], self.problem.zones)[0]
        return self.zones[job.id]

    def crew(self, k: int) -> Crew:
        return self.problem.crews[k]

    def able(self, job: Job) -> list[int]:
        """Crews that may do the job at all and whose vehicle holds it."""
        out = []
        for k, c in enumerate(self.problem.crews):
            if not c.can_do(job):
                continue
            if job.kind in (JobKind.DELIVERY, JobKind.PICKUP) and (
                job.volume_l > c.capacity_volume_l or job.weight_kg > c.capacity_weight_kg
            ):
                continue
            out.append(k)
        return out

    def alone(self, v: int, crews: Sequence[int]) -> list[_Alone]:
        """Each crew serving the job alone, timed as the planner's screen times it."""
        p = self.full.routing
        visit = p.visits[v]
        out = []
        for k in crews:
            veh = p.vehicles[k]
            tt = p.travel.travel_time
            arrival = veh.shift_start + tt(
                veh.profile, veh.start_location, visit.location, veh.shift_start
            )
            start = earliest_in_windows(arrival, visit.windows)
            back = None
            if start is not None:
                done = start + visit.service_s
                back = done + tt(veh.profile, visit.location, veh.end_location, done)
            out.append(_Alone(k, arrival, start, back))
        return out

    def where(self, k: int, position: int) -> str:
        """Where in crew k's day a slot lies: "after J12" or "as its first stop"."""
        seq = self.seqs.get(k, [])
        if not seq:
            return "in its empty day"
        if position == 0:
            return "as its first stop"
        return f"after {self.full.job_ids[seq[position - 1]]}"

    def slot_text(self, slot: _Slot) -> str:
        return f"{self.crew(slot.crew).id} {self.where(slot.crew, slot.position)}"

    # -- the insertion probe

    def probe(
        self, v: int, crews: Sequence[int], deadline_s: int | None = None
    ) -> tuple[list[_Slot], int]:
        """Each crew's best slot for visit v (best first), and how many crews were tried.

        Crews whose route passes within `REACH_M` of the job, nearest first, at least the
        `MIN_CANDIDATE_CREWS` nearest; with `deadline_s`, a slot ending later breaks "late".
        """
        p = self.full.routing
        loc = p.visits[v].location

        def reach(k: int) -> int:
            veh = p.vehicles[k]
            near = [veh.start_location, *(p.visits[x].location for x in self.seqs.get(k, []))]
            return int(p.travel.distances[loc, near].min())

        order = sorted((reach(k), k) for k in crews)
        chosen = [k for n, (m, k) in enumerate(order) if m <= REACH_M or n < MIN_CANDIDATE_CREWS]
        budget = min(MAX_EVALUATIONS_PER_JOB, self.evaluations_left)
        best: dict[int, _Slot] = {}
        tried = 0
        for k in chosen:
            if budget <= 0:
                break
            tried += 1
            seq = self.seqs.get(k, [])
            starts = [s.start for s in self.routes[k].stops] if k in self.routes else []
            for pos in range(len(seq) + 1):
                if budget <= 0:
                    break
                if pos and starts[pos - 1] > p.visits[v].latest_start and k in best:
                    break  # later positions start later still
                budget -= 1
                self.evaluations_left -= 1
                slot = self.try_slot(v, k, pos, deadline_s)
                if k not in best or slot.badness < best[k].badness:
                    best[k] = slot
        slots = sorted(best.values(), key=lambda s: (s.badness, s.crew, s.position))
        return slots, tried

    def try_slot(self, v: int, k: int, pos: int, deadline_s: int | None) -> _Slot:  # noqa: C901 - times one trial insertion and names its worst broken rule; explain.py's _Day is split in the architecture issue
        """Time crew k's route with v inserted at `pos` and name the rule it breaks worst."""
        p = self.full.routing
        veh = p.vehicles[k]
        seq = self.seqs.get(k, [])
        new_seq = [*seq[:pos], v, *seq[pos:]]
        brk = self.breaks.get(k)
        if brk is not None and pos <= brk:
            brk += 1
        hints = {k: brk} if brk is not None else {}
        on_route = set(new_seq)
        fixed = {}
        for x in new_seq:
            if x in self.before_of:
                b = self.before_of[x][0]
                if b not in on_route and b in self.ends:
                    fixed[b] = self.ends[b]
        route = build_schedules(p, [(k, new_seq)], hints, fixed)[0]
        rules = {x.rule for x in check_route(p, route)}
        old_ends = {s.visit: s.end for s in self.routes[k].stops} if k in self.routes else {}
        counted = []
        if "max_visits" in rules:
            counted.append("max_jobs")
        if "capacity" in rules:
            counted.append("capacity")
        if "break" in rules:
            counted.append("break")
        # a delivery another crew's installation waits for must not end later than planned
        # (this route's own stops, or v itself when a planned stop is tried on another crew)
        if v in self.ends:
            old_ends.setdefault(v, self.ends[v][0])
        if any(
            s.visit in self.awaited and s.end > old_ends.get(s.visit, s.end) for s in route.stops
        ):
            counted.append("link")
        if rules - {"max_visits", "capacity", "break", "window", "shift"}:
            counted.append("other")
        me = next(s for s in route.stops if s.visit == v)
        own = max(0, me.start - p.visits[v].latest_start)
        pushed, pushed_s = None, 0
        for s in route.stops:
            over = s.start - p.visits[s.visit].latest_start
            if s.visit != v and over > pushed_s:
                pushed, pushed_s = s.visit, over
        shift = max(0, route.return_arrival - veh.shift_end) if "shift" in rules else 0
        if "shift" in rules:
            shift = max(shift, 1)
        late = 0
        if deadline_s is not None and not counted and not (own or pushed_s or shift):
            late = max(0, me.end - deadline_s)
        amounts = {"window": own, "pushes": pushed_s, "shift": shift, "late": late}
        if counted:
            rule, over = counted[0], 0
        else:
            rule, over = max(amounts.items(), key=lambda kv: kv[1])
            if over == 0:
                rule = "fits"
        broken = len(counted) + sum(1 for a in amounts.values() if a > 0)
        locs = [veh.start_location, *(p.visits[x].location for x in seq), veh.end_location]
        a, b = locs[pos], locs[pos + 1]
        d = p.travel.distances
        metres = int(d[a, p.visits[v].location]) + int(d[p.visits[v].location, b]) - int(d[a, b])
        return _Slot(
            k,
            pos,
            me.start,
            me.end,
            rule,
            over,
            broken == 1,
            pushed if rule == "pushes" else None,
            (len(counted), sum(amounts.values()), metres),
        )

    # -- unassigned jobs

    def explain_unassigned(self, u: Unassigned) -> Explanation:
        if u.job_id in self.cache:
            return self.cache[u.job_id]
        job = self.problem.jobs[self.job_pos[u.job_id]]
        binding, message, fixes = self._unassigned(job, u)
        e = Explanation(
            job.id, "unassigned", binding, message, tuple(fixes), self.zone_of(job), job.kind.value
        )
        self.cache[u.job_id] = e
        return e

    def _unassigned(self, job: Job, u: Unassigned) -> tuple[Binding, str, list[Fix]]:
        reason = u.reason
        v = self.job_pos[job.id]
        if reason is UnassignedReason.OUTSIDE_REGION:
            return Binding.OUTSIDE_REGION, self._outside(job, u), []
        if reason is UnassignedReason.WINDOW_NOT_ON_PLAN_DAY:
            return self._not_on_day(job)
        linked = self._linked(job, v)
        if linked is not None:
            return linked
        able = self.able(job)
        if not any(c.can_do(job) for c in self.problem.crews):
            return self._no_skilled_crew(job)
        if not able:
            return self._capacity(job)
        alone = self.alone(v, able)
        if not any(a.ok(self.full.routing.vehicles[a.crew].shift_end) for a in alone):
            return self._unreachable(job, v, alone)
        late_link = self._delivery_too_late(job, v, able)
        if late_link is not None:
            return late_link
        slots, tried = self.probe(
            v, [a.crew for a in alone if a.ok(self.full.routing.vehicles[a.crew].shift_end)]
        )
        if reason is UnassignedReason.REMOVED_BY_DISPATCHER:
            return self._removed(job, u, slots)
        prefix = ""
        if reason is UnassignedReason.NOT_SOLVED_IN_TIME:
            prefix = "the optimizer found no solution for its zone in time; "
        elif reason is UnassignedReason.CREW_UNAVAILABLE:  # handed over by a re-plan
            prefix = "its crew went off duty and nobody took it over; "
        return self._full(job, v, slots, tried, prefix)

    def _outside(self, job: Job, u: Unassigned) -> str:
        n_dep = len(self.problem.depots)
        loc = job_location(self.problem, self.job_pos[job.id])
        k = int(self.travel.distances[loc, :n_dep].argmin())
        km = int(self.travel.distances[loc, k]) / 1000
        return (
            f"{km:.0f} km from the nearest depot ({self.problem.depots[k].id}); the region "
            f"serves jobs within {self.problem.max_km_from_depot:.0f} km"
        )

    def _not_on_day(self, job: Job) -> tuple[Binding, str, list[Fix]]:
        first = job.windows[0]
        day = self.problem.date
        message = (
            f"its window {self.moment(first.start)}-{self.moment(first.end)} is not on the "
            f"plan day {day.isoformat()}"
        )
        fix = Fix(
            "move_to_day",
            f"plan it on {first.start.date().isoformat()} at {first.start:%H:%M}, its window's day",
            {"date": first.start.date().isoformat(), "time": f"{first.start:%H:%M}"},
        )
        return Binding.NOT_ON_PLAN_DAY, message, [fix]

    def _delivery_of(self, job: Job) -> int | None:
        """The delivery of the installation's order in this problem (visit index), if any."""
        v = self.job_pos[job.id]
        if v in self.before_of:
            return self.before_of[v][0]
        return None

    def _linked(self, job: Job, v: int) -> tuple[Binding, str, list[Fix]] | None:
        """An installation whose delivery is not on any route."""
        d = self._delivery_of(job) if job.kind is JobKind.INSTALLATION else None
        if d is None or d in self.ends:
            return None
        delivery = self.problem.jobs[d]
        u = next((x for x in self.plan.unassigned if x.job_id == delivery.id), None)
        why = ""
        first_fix = None
        if u is not None:
            de = self.explain_unassigned(u)
            why = f": {de.message}"
            first_fix = de.fixes[0] if de.fixes else None
        message = f"its delivery {delivery.id} (order {job.order_id}) is not planned{why}"
        details = {"delivery_job_id": delivery.id}
        text = f"plan delivery {delivery.id} first"
        if first_fix is not None:
            details["delivery_fix"] = first_fix.kind
            text += f" ({first_fix.message})"
        return Binding.LINKED_DELIVERY, message, [Fix("plan_delivery_first", text, details)]

    def _delivery_too_late(
        self, job: Job, v: int, able: Sequence[int]
    ) -> tuple[Binding, str, list[Fix]] | None:
        """An installation whose planned delivery ends too late for any crew to start it."""
        d = self._delivery_of(job) if job.kind is JobKind.INSTALLATION else None
        if d is None or d not in self.ends:
            return None
        end, crew = self.ends[d]
        gap = self.before_of[v][1]
        windows = self.full.routing.visits[v].windows
        if any(earliest_in_windows(end + (0 if k == crew else gap), windows) for k in able):
            return None
        delivery = self.full.job_ids[d]
        last = windows[-1][1]
        message = (
            f"its delivery {delivery} ends {self.clock(end)} on {self.crew(crew).id}; with the "
            f"{gap // 60} min gap no installer can start before its window closes "
            f"{self.clock(last)}"
        )
        by = last - gap
        fix = Fix(
            "plan_delivery_first",
            f"deliver {delivery} by {self.clock(by)}",
            {
                "delivery_job_id": delivery,
                "deliver_by": self.clock(by),
                "crew_id": self.crew(crew).id,
            },
        )
        return Binding.LINKED_DELIVERY, message, [fix, *self._day_fixes(job)]

    def _no_skilled_crew(self, job: Job) -> tuple[Binding, str, list[Fix]]:
        crews = self.problem.crews
        kinds = [c for c in crews if job.kind in CREW_CAN_DO[c.kind]]
        if not kinds:
            message = f"no crew on duty does {job.kind.value} jobs"
        else:
            skilled = [c for c in kinds if job.skills <= c.skills]
            if not skilled:
                have = set().union(*(c.skills for c in kinds))
                lacking = sorted(job.skills - have)
                if lacking:
                    message = f"no crew that does {job.kind.value} jobs has {', '.join(lacking)}"
                else:
                    message = (
                        f"no crew that does {job.kind.value} jobs has "
                        f"{' + '.join(sorted(job.skills))} together"
                    )
            else:
                most = max(skilled, key=lambda c: (c.people, c.id))
                message = (
                    f"it needs {job.people} people; the largest crew with its skills "
                    f"({most.id}) has {most.people}"
                )
        return Binding.NO_SKILLED_CREW, message, [self._add_crew(job)]

    def _capacity(self, job: Job) -> tuple[Binding, str, list[Fix]]:
        kinds = [c for c in self.problem.crews if c.can_do(job)]
        vol = max(c.capacity_volume_l for c in kinds)
        kg = max(c.capacity_weight_kg for c in kinds)
        largest = max(kinds, key=lambda c: (c.capacity_volume_l, c.capacity_weight_kg, c.id))
        message = (
            f"{job.volume_l:,.0f} l / {job.weight_kg:,.0f} kg is more than any eligible vehicle "
            f"holds (largest: {largest.id}, {largest.capacity_volume_l:,.0f} l / "
            f"{largest.capacity_weight_kg:,.0f} kg)"
        )
        fix = Fix(
            "bigger_vehicle",
            f"send a vehicle that holds {job.volume_l:,.0f} l and {job.weight_kg:,.0f} kg, "
            "or split the order",
            {
                "volume_l": job.volume_l,
                "weight_kg": job.weight_kg,
                "largest_volume_l": vol,
                "largest_weight_kg": kg,
            },
        )
        return Binding.CAPACITY, message, [fix]

    def _unreachable(self, job: Job, v: int, alone: list[_Alone]) -> tuple[Binding, str, list[Fix]]:
        """Window closed before any eligible crew arrives, or no way back by shift end."""
        p = self.full.routing
        visit = p.visits[v]
        label = _skills_label(job)
        in_time = [a for a in alone if a.start is not None]
        if in_time:
            a = min(in_time, key=lambda a: (a.back - p.vehicles[a.crew].shift_end, a.crew))
            assert a.back is not None and a.start is not None
            end = p.vehicles[a.crew].shift_end
            over = a.back - end
            minutes = _step(over)
            crew = self.crew(a.crew)
            message = (
                f"the nearest crew {label} that can start it in its window ({crew.id}, at "
                f"{self.clock(a.start)}) would be back at its depot {self.clock(a.back)}, "
                f"{_minutes(over)} min after its shift ends {self.clock(end)}"
            )
            fix = Fix(
                "extend_shift",
                f"extend {crew.id}'s shift by {minutes} min to {self.clock(end + minutes * 60)}",
                {"crew_id": crew.id, "minutes": minutes, "new_end": self.clock(end + minutes * 60)},
            )
            return Binding.SHIFT_END, message, [fix, *self._day_fixes(job)]
        last = visit.windows[-1][1]

        def back_if_widened(a: _Alone) -> int:
            veh = p.vehicles[a.crew]
            done = a.arrival + visit.service_s
            back = done + p.travel.travel_time(veh.profile, visit.location, veh.end_location, done)
            return back - veh.shift_end

        fitting = [a for a in alone if back_if_widened(a) <= 0] or alone
        a = min(fitting, key=lambda a: (a.arrival, a.crew))
        over = a.arrival - last
        minutes = _step(over)
        crew = self.crew(a.crew)
        closes = "window closes" if len(visit.windows) == 1 else "last window closes"
        message = (
            f"{closes} {self.clock(last)}; the nearest crew {label} ({crew.id}) can arrive "
            f"{self.clock(a.arrival)} at the earliest, leaving its depot at shift start "
            f"{self.clock(p.vehicles[a.crew].shift_start)}"
        )
        new_end = self.clock(last + minutes * 60)
        fixes = [
            Fix(
                "widen_window",
                f"a window {minutes} min longer (to {new_end}) lets {crew.id} take it",
                {"minutes": minutes, "new_end": new_end, "crew_id": crew.id},
            )
        ]
        nearer = self._nearer_depot(job, v, alone)
        if nearer is not None:
            fixes.append(nearer)
        return Binding.WINDOW_CLOSED, message, fixes

    def _nearer_depot(self, job: Job, v: int, alone: list[_Alone]) -> Fix | None:
        """add_crew at the depot nearest the job, when a crew from there would be in time."""
        problem = self.problem
        n_dep = len(problem.depots)
        loc = job_location(problem, v)
        d = int(self.travel.distances[loc, :n_dep].argmin())
        kind = needed_crew_kind(job)
        earliest = min(self.full.routing.vehicles[a.crew].shift_start for a in alone)
        profile = kind.value if kind.value in self.travel.profiles else self.travel.profiles[0]
        arrival = earliest + self.travel.travel_time(profile, d, loc, earliest)
        visit = self.full.routing.visits[v]
        if earliest_in_windows(arrival, visit.windows) is None:
            return None
        depot = problem.depots[d]
        fix = self._add_crew(job)
        details = dict(fix.details, depot=depot.id, arrival=self.clock(arrival))
        return Fix(
            "add_crew",
            f"{fix.message}, based at {depot.id}: it could arrive {self.clock(arrival)}",
            details,
        )

    def _removed(
        self, job: Job, u: Unassigned, slots: list[_Slot]
    ) -> tuple[Binding, str, list[Fix]]:
        detail = f" ({u.detail})" if u.detail else ""
        room = [s for s in slots if s.rule == "fits"]
        if room:
            s = room[0]
            message = (
                f"taken off its route by the dispatcher{detail}; {self.slot_text(s)} has room "
                f"for it at {self.clock(s.start)}"
            )
            return Binding.REMOVED_BY_DISPATCHER, message, [self._move_fix(job, s)]
        message = (
            f"taken off its route by the dispatcher{detail}; no eligible crew has room for it now"
        )
        return Binding.REMOVED_BY_DISPATCHER, message, list(self._day_fixes(job))

    def _full(
        self, job: Job, v: int, slots: list[_Slot], tried: int, prefix: str
    ) -> tuple[Binding, str, list[Fix]]:
        """Feasible alone: the probe's verdict on the eligible crews' days."""
        label = _skills_label(job)
        windows = self.windows_text(v)
        if not slots:
            message = (
                f"{prefix}feasible alone, but the eligible crews' days were not probed (the "
                "explanation's evaluation budget is spent)"
            )
            return Binding.CREWS_FULL, message, list(self._day_fixes(job))
        room = [s for s in slots if s.rule == "fits"]
        if room:
            s = room[0]
            message = (
                f"{prefix}{self.slot_text(s)} has room for it at {self.clock(s.start)} with "
                "every rule kept; the planner's bounded search did not place it"
            )
            return Binding.ROOM_ON_ROUTE, message, [self._move_fix(job, s)]
        top = slots[:BEST_CANDIDATES]
        counts = Counter(s.rule for s in top)
        rule = max(
            counts, key=lambda r: (counts[r], -next(i for i, s in enumerate(top) if s.rule == r))
        )
        best = next(s for s in top if s.rule == rule)
        veh = self.full.routing.vehicles[best.crew]
        share = ""
        if len(top) > 1:
            plural, singular = _RULE_VERBS[rule]
            verb = singular if counts[rule] == 1 else plural
            share = f" ({counts[rule]} of the {len(top)} closest fits {verb})"
        if tried == 1:
            crews = f"nearest crew {label} is"
            days = f"day of the nearest crew {label} is"
        else:
            crews = f"{tried} nearest crews {label} are"
            days = f"days of the {tried} nearest crews {label} are"
        fixes: list[Fix] = []
        if rule == "shift":
            end = veh.shift_end
            back = end + best.over_s
            message = (
                f"{prefix}feasible alone, but the {days} full: "
                f"at best {self.slot_text(best)} would be back at its depot {self.clock(back)}, "
                f"{_minutes(best.over_s)} min after its shift ends {self.clock(end)}{share}"
            )
            if best.only:
                minutes = _step(best.over_s)
                new_end = self.clock(end + minutes * 60)
                fixes.append(
                    Fix(
                        "extend_shift",
                        f"extend {self.crew(best.crew).id}'s shift by {minutes} min to "
                        f"{new_end} and put it {self.where(best.crew, best.position)}",
                        {
                            "crew_id": self.crew(best.crew).id,
                            "minutes": minutes,
                            "new_end": new_end,
                            "position": best.position,
                        },
                    )
                )
            return Binding.SHIFT_END, message, [*fixes, *self._day_fixes(job)]
        if rule == "window":
            last = self.full.routing.visits[v].windows[-1][1]
            what = (
                f"at best {self.slot_text(best)} could start it {self.clock(best.start)}, "
                f"{_minutes(best.over_s)} min after it closes{share}"
            )
            if best.only:
                minutes = _step(best.over_s)
                new_end = self.clock(last + minutes * 60)
                fixes.append(
                    Fix(
                        "widen_window",
                        f"a window {minutes} min longer (to {new_end}) lets "
                        f"{self.slot_text(best)} take it",
                        {
                            "minutes": minutes,
                            "new_end": new_end,
                            "crew_id": self.crew(best.crew).id,
                            "position": best.position,
                        },
                    )
                )
        elif rule == "pushes":
            assert best.pushed is not None
            what = (
                f"fitting it {self.slot_text(best)} would push {self.full.job_ids[best.pushed]} "
                f"{_minutes(best.over_s)} min past its window{share}"
            )
        elif rule == "max_jobs":
            limit = self.crew(best.crew).max_jobs
            what = (
                f"{self.crew(best.crew).id} already has its maximum of {limit} "
                f"job{'s' if limit != 1 else ''}{share}"
            )
        elif rule == "capacity":
            what = (
                f"{self.crew(best.crew).id}'s vehicle has no room left for "
                f"{job.volume_l:,.0f} l / {job.weight_kg:,.0f} kg{share}"
            )
        elif rule == "break":
            what = f"fitting it {self.slot_text(best)} leaves no room for the lunch break{share}"
        elif rule == "link":
            what = (
                f"fitting it {self.slot_text(best)} would delay a delivery that another "
                f"crew's installation waits for{share}"
            )
        else:
            what = f"the closest fit, {self.slot_text(best)}, breaks a hard rule{share}"
        message = f"{prefix}feasible alone, but the {crews} busy in its window {windows}: {what}"
        return Binding.CREWS_FULL, message, [*fixes, *self._day_fixes(job)]

    def _move_fix(self, job: Job, s: _Slot) -> Fix:
        crew = self.crew(s.crew)
        return Fix(
            "move_to_crew",
            f"put {job.id} on {self.slot_text(s)} (start {self.clock(s.start)}, ends "
            f"{self.clock(s.end)})",
            {
                "crew_id": crew.id,
                "position": s.position,
                "start": self.clock(s.start),
                "end": self.clock(s.end),
            },
        )

    def _add_crew(self, job: Job) -> Fix:
        kind = needed_crew_kind(job)
        zone = self.zone_of(job)
        band = band_of(self.problem, job)
        skills = sorted(job.skills)
        with_skills = f" with {', '.join(skills)}" if skills else ""
        people = f" ({job.people} people)" if job.people > 1 else ""
        where = f" in zone {zone}" if zone else ""
        return Fix(
            "add_crew",
            f"add {_article(kind)} {_kind_label(kind, 1)}{with_skills}{people}{where} this {band}",
            {
                "crew_kind": kind.value,
                "skills": skills,
                "people": job.people,
                "zone": zone,
                "band": band,
            },
        )

    def _tomorrow(self, job: Job) -> Fix:
        v = self.job_pos[job.id]
        first = self.full.routing.visits[v].windows[0][0]
        tod = first % 86_400
        day = self.problem.date + timedelta(days=1)
        hhmm = f"{tod // 3600:02d}:{tod % 3600 // 60:02d}"
        return Fix(
            "move_to_day",
            f"book it tomorrow ({day.isoformat()}) at {hhmm}, the time of day its window starts "
            "(tomorrow's capacity not checked)",
            {"date": day.isoformat(), "time": hhmm},
        )

    def _day_fixes(self, job: Job) -> tuple[Fix, ...]:
        return (self._add_crew(job), self._tomorrow(job))

    # -- late stops

    def explain_late(self, route: CrewRoute, k: int) -> Explanation:
        stop = route.stops[k]
        job = self.problem.jobs[self.job_pos[stop.job_id]]
        binding = Binding.LATE_ROUTE
        message, fixes = self._late(job, route, k)
        return Explanation(
            job.id, "late", binding, message, tuple(fixes), self.zone_of(job), job.kind.value
        )

    def _late(self, job: Job, route: CrewRoute, k: int) -> tuple[str, list[Fix]]:
        p = self.full.routing
        v = self.job_pos[job.id]
        visit = p.visits[v]
        stop = route.stops[k]
        crew_k = self.crew_pos[route.crew_id]
        sec = self.problem.to_seconds
        end, deadline = sec(stop.end), sec(stop.deadline)
        late = end - deadline
        head = (
            f"{route.crew_id} ends it {self.clock(end)}, {_minutes(late)} min after its promise "
            f"deadline {self.moment(stop.deadline)}"
        )
        if deadline < 0:
            return f"{head}: the promise had passed before the plan day began", []
        first = visit.windows[0][0]
        if first + visit.service_s > deadline:
            new_start = (deadline - visit.service_s) // (STEP_MIN * 60) * STEP_MIN * 60
            minutes = (first - new_start) // 60
            fix = Fix(
                "widen_window",
                f"offer a window from {self.clock(new_start)} ({minutes} min earlier)",
                {"minutes": minutes, "new_start": self.clock(new_start), "direction": "earlier"},
            )
            return (
                f"{head}: its window opens {self.clock(first)}, and {visit.service_s // 60} min "
                "of work started then cannot end by the deadline",
                [fix],
            )
        able = self.able(job)
        alone = [a for a in self.alone(v, able) if a.ok(p.vehicles[a.crew].shift_end)]
        if alone:
            soonest = min(alone, key=lambda a: (a.start, a.crew))
            assert soonest.start is not None
            if soonest.start + visit.service_s > deadline:
                return (
                    f"{head}: even the nearest crew ({self.crew(soonest.crew).id}), straight "
                    f"from its depot, could finish it {self.clock(soonest.start + visit.service_s)}"
                    " at the earliest",
                    [self._add_crew(job)],
                )
        if v in self.before_of and self.before_of[v][0] in self.ends:
            d, gap = self.before_of[v]
            d_end, d_crew = self.ends[d]
            bound = d_end + (0 if d_crew == crew_k else gap)
            if sec(stop.start) <= bound:
                by = deadline - visit.service_s - (0 if d_crew == crew_k else gap)
                delivery = self.full.job_ids[d]
                fix = Fix(
                    "plan_delivery_first",
                    f"deliver {delivery} by {self.clock(by)}",
                    {"delivery_job_id": delivery, "deliver_by": self.clock(by)},
                )
                return (
                    f"{head}: it waits for its delivery {delivery}, which "
                    f"{self.crew(d_crew).id} ends {self.clock(d_end)}",
                    [fix],
                )
        if k == 0:
            message = (
                f"{head}: it is the crew's first stop, and leaving at {route.depart:%H:%M} it "
                f"arrives {stop.arrival:%H:%M}"
            )
        else:
            message = (
                f"{head}: the crew's {k} earlier stop{'s' if k != 1 else ''} since it left at "
                f"{route.depart:%H:%M} bring{'s' if k == 1 else ''} it there only at "
                f"{stop.arrival:%H:%M}"
            )
        fixes: list[Fix] = []
        others = [a.crew for a in alone if a.crew != crew_k]
        if others:
            slots, _ = self.probe(v, others, deadline)
            room = [s for s in slots if s.rule == "fits"]
            if room:
                fixes.append(self._move_fix(job, room[0]))
        earlier = self._earlier_start(crew_k, v, deadline, late)
        if earlier is not None:
            fixes.append(earlier)
        fixes.append(self._add_crew(job))
        return message, fixes

    def _earlier_start(self, k: int, v: int, deadline: int, late: int) -> Fix | None:
        """extend_shift (earlier start) if re-timing the route with it ends v by its deadline."""
        p = self.full.routing
        route = self.routes[k]
        veh = p.vehicles[k]
        if route.depart > veh.shift_start:
            return None  # it already leaves later than it could: earlier does not help
        seq = self.seqs[k]
        fixed = {}
        for x in seq:
            if x in self.before_of:
                b = self.before_of[x][0]
                if b not in seq and b in self.ends:
                    fixed[b] = self.ends[b]
        hints = {k: self.breaks[k]} if k in self.breaks else {}
        base = _step(late)
        for minutes in (base, base + STEP_MIN, base + 2 * STEP_MIN):
            start = veh.shift_start - minutes * 60
            if start < 5 * 3600:
                break
            vehicles = list(p.vehicles)
            vehicles[k] = dataclasses.replace(veh, shift_start=start)
            trial = RoutingProblem(p.visits, vehicles, p.travel, p.precedences)
            timed = build_schedules(trial, [(k, seq)], hints, fixed)[0]
            me = next(s for s in timed.stops if s.visit == v)
            if me.end <= deadline and not check_route(trial, timed):
                crew = self.crew(k)
                return Fix(
                    "extend_shift",
                    f"start {crew.id}'s shift {minutes} min earlier, at {self.clock(start)}",
                    {"crew_id": crew.id, "minutes": minutes, "new_start": self.clock(start)},
                )
        return None


# ---- wording


def _step(seconds: int) -> int:
    """Minutes to add, rounded up to whole `STEP_MIN` steps (at least one step)."""
    return max(1, math.ceil(seconds / (STEP_MIN * 60))) * STEP_MIN


def _minutes(seconds: int) -> int:
    """Whole minutes over a limit, rounded up (a second late is a minute late)."""
    return max(1, math.ceil(seconds / 60))


def _kind_label(kind: CrewKind, n: int) -> str:
    label = kind.value.replace("_", " ")
    if kind is CrewKind.COMBINED:
        label = "combined crew"
    return label + ("s" if n != 1 else "")


def _article(kind: CrewKind) -> str:
    return "an" if _kind_label(kind, 1)[0] in "aeiou" else "a"


def _skills_label(job: Job) -> str:
    if job.skills:
        return f"with {', '.join(sorted(job.skills))}"
    return f"for {job.kind.value} jobs"


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
