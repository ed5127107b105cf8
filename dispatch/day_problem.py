"""A day's dispatch problem: everything the planner needs, and what a saved plan carries.

The problem is embedded in every saved plan (JSON) so anyone can re-validate the plan
standalone, with the same travel-time settings, without the database it came from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from dispatch.errors import InputError
from dispatch.link_rules import (
    MAX_LINK_GAP_MINUTES,
    MAX_SECOND_VISIT_CNY,
    CrewMode,
    check_rule,
    rule_for,
)
from dispatch.models import CallbackPolicy, Crew, Depot, Job, JobKind
from dispatch.promises import PromiseBook
from dispatch.zones import Zone

#: default free-flow speeds per crew kind (km/h): trucks are slower in city traffic
DEFAULT_SPEEDS_KMH: dict[str, float] = {
    "delivery_truck": 25.0,
    "installation_crew": 30.0,
    "repair_technician": 32.0,
    "combined": 25.0,
}
#: default rush hours: +40 % travel time in the morning, +50 % in the evening
DEFAULT_RUSH_HOURS: tuple[tuple[str, str, float], ...] = (
    ("07:00", "09:30", 1.4),
    ("17:00", "19:30", 1.5),
)


@dataclass(frozen=True)
class TravelSettings:
    """How travel times are computed: the provider and its parameters.

    Providers: "haversine" (great circle x `detour_factor`), "osm" (shortest road paths in the
    OpenStreetMap extract `osm_file`, .osm or .osm.pbf) and "osrm" (the `table` service at
    `osrm_url`). For the road providers `detour_factor` is unused and `speeds_kmh` is relative:
    the fastest crew kind drives the road's free-flow time, slower kinds proportionally longer
    (`routing.road_network.profile_durations`).

    "matrix" takes the travel seconds as given in `matrix_s` (rows and columns: the depots,
    then the jobs, in the problem's order), the same for every crew kind: for benchmark
    instances that ship their own matrix. It carries times only, so distances count as 0 m.
    """

    provider: str = "haversine"
    detour_factor: float = 1.3
    speeds_kmh: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SPEEDS_KMH))
    rush_hours: tuple[tuple[str, str, float], ...] = DEFAULT_RUSH_HOURS
    osm_file: str = ""
    osrm_url: str = ""
    matrix_s: tuple[tuple[int, ...], ...] = ()

    def __post_init__(self) -> None:
        if self.provider not in ("haversine", "osm", "osrm", "matrix"):
            raise InputError("travel settings", "provider", f"unknown provider {self.provider!r}")
        if self.provider == "osm" and not self.osm_file:
            raise InputError("travel settings", "osm_file", "provider 'osm' needs an OSM file")
        if self.provider == "osrm" and not self.osrm_url.startswith(("http://", "https://")):
            raise InputError("travel settings", "osrm_url", "provider 'osrm' needs an http(s) URL")
        if self.provider == "matrix":
            n = len(self.matrix_s)
            if not n or any(len(row) != n for row in self.matrix_s):
                raise InputError(
                    "travel settings", "matrix_s", "provider 'matrix' needs a square matrix"
                )
            if any(not isinstance(x, int) or x < 0 for row in self.matrix_s for x in row):
                raise InputError("travel settings", "matrix_s", "entries must be integers >= 0")
        if self.detour_factor < 1:
            raise InputError("travel settings", "detour_factor", "must be >= 1")
        for kind, speed in self.speeds_kmh.items():
            if speed <= 0:
                raise InputError("travel settings", f"speeds_kmh.{kind}", "must be > 0")
        for k, (start, end, factor) in enumerate(self.rush_hours):
            if factor < 1 or time.fromisoformat(end) <= time.fromisoformat(start):
                raise InputError(
                    "travel settings", f"rush_hours[{k}]", "need start < end, factor >= 1"
                )


#: what `travel_from_spec` accepts, for help texts and error messages
TRAVEL_SPECS = "haversine, osm:FILE (.osm or .osm.pbf) or osrm:URL"


def travel_from_spec(
    spec: str,
    base: TravelSettings | None = None,
    *,
    record: str = "arguments",
    field: str = "--travel",
) -> TravelSettings:
    """The travel settings a one-line choice names: "haversine", "osm:FILE" or "osrm:URL".

    Speeds and rush hours (and the detour factor, for haversine) come from `base`, so a road
    provider changes where the times come from, not the crews' relative speeds. Errors name
    `record` and `field` (the command-line flag, or the service setting).
    """
    base = base or TravelSettings()
    provider, _, target = spec.strip().partition(":")
    provider = provider.lower()
    if provider == "haversine" and not target:
        return dataclasses.replace(base, provider="haversine", osm_file="", osrm_url="")
    if provider == "osm" and target:
        path = Path(target).expanduser()
        if not path.is_file():
            raise InputError(record, field, f"no OSM file at {target!r}")
        return dataclasses.replace(base, provider="osm", osm_file=str(path), osrm_url="")
    if provider == "osrm" and target.startswith(("http://", "https://")):
        return dataclasses.replace(base, provider="osrm", osrm_url=target, osm_file="")
    raise InputError(record, field, f"{spec!r} is not one of {TRAVEL_SPECS}")


@dataclass(frozen=True)
class JobSync:
    """Two jobs at one customer done by two crews together: a two-person visit.

    `second` starts between `min_delay_minutes` and `max_delay_minutes` after `first` starts;
    (0, 0) is a simultaneous start. Both are planned or neither, on two different crews.
    """

    first: str
    second: str
    min_delay_minutes: int = 0
    max_delay_minutes: int = 0
    #: derived from an assisting job (`Job.assists`) by the problem, not given: derived
    #: again whenever the problem is made (a copy with other jobs or another tolerance) and
    #: not written to the problem file
    assist: bool = field(default=False, compare=False)


@dataclass
class DispatchProblem:
    """The jobs and crews of one region and day, with the rules they are planned under."""

    date: date
    jobs: list[Job]
    crews: list[Crew]
    depots: list[Depot]
    zones: list[Zone] = field(default_factory=list)
    promises: PromiseBook = field(default_factory=PromiseBook)
    travel: TravelSettings = field(default_factory=TravelSettings)
    #: minimum minutes between a delivery's end and its installation by another crew
    link_gap_minutes: int = 30
    #: jobs farther than this from every depot are rejected as outside the region
    max_km_from_depot: float = 80.0
    name: str = ""
    #: two-person visits (see `JobSync`): those given here (the home-healthcare benchmark's,
    #: `dispatch.benchmarks.hhcrsp`) and one per assisting job (`Job.assists`), derived when
    #: the problem is made. Every pass of the planner keeps a pair whole: both on two crews
    #: within the delays, or neither
    syncs: list[JobSync] = field(default_factory=list)
    #: how many minutes after the assisted crew starts the assisting crew may start
    #: (`Job.assists`): 0 is "at the same minute"; a plan setting
    assist_tolerance_minutes: int = 15
    #: the least certification score per job kind (`Crew.certifications`), the plan settings'
    #: `certification`: written into the jobs of that kind that state none
    #: (`Job.min_certification`, which is what eligibility and the validator read)
    certification: Mapping[JobKind, int] = field(default_factory=dict)

    #: who serves a callback, per region (`CallbackPolicy`; a region left out: the original
    #: crew preferred): written into each callback that names its `original_crew`
    callback_policy: Mapping[str, CallbackPolicy] = field(default_factory=dict)

    #: the most minutes from a delivery's end to its installation's start, per product
    #: category and/or region (`dispatch.link_rules` has the keys and which one wins; no
    #: key that matches: no limit). Held in the model, the later passes, the validator and
    #: across days (`Job.delivered_at`). Each at least `link_gap_minutes`
    max_link_gap_minutes: Mapping[str, int] = field(default_factory=dict)
    #: one combined crew or a truck then installers, per product category and/or region
    #: (`dispatch.link_rules.CrewMode`; no key that matches: `auto`)
    crew_mode: Mapping[str, CrewMode] = field(default_factory=dict)
    #: what serving a linked order in two visits costs beyond the second trip's km and
    #: driving (the customer's second appointment), in CNY: the price of the choice in the
    #: `auto` crew mode; 0 leaves the choice to the km and hours alone
    second_visit_cny: float = 0.0

    def __post_init__(self) -> None:
        self._check_link_rules()
        for kind, score in self.certification.items():
            if not 0 <= score <= 100:
                raise InputError(
                    "problem", f"certification.{kind}", f"must be 0 to 100, got {score}"
                )
        self.jobs = [self._ruled(j) for j in self.jobs]
        check_unique("job", [j.id for j in self.jobs])
        check_unique("crew", [c.id for c in self.crews])
        check_unique("depot", [d.id for d in self.depots])
        check_unique("zone", [z.id for z in self.zones])
        depot_ids = {d.id for d in self.depots}
        for crew in self.crews:
            for name in ("start_depot", "end_depot"):
                if getattr(crew, name) not in depot_ids:
                    raise InputError(
                        f"crew {crew.id!r}", name, f"unknown depot {getattr(crew, name)!r}"
                    )
        if self.link_gap_minutes < 0:
            raise InputError("problem", "link_gap_minutes", "must be >= 0")
        if not 0 <= self.assist_tolerance_minutes <= 240:
            raise InputError(
                "problem",
                "assist_tolerance_minutes",
                f"must be 0 to 240, got {self.assist_tolerance_minutes}",
            )
        self.syncs = [*(s for s in self.syncs if not s.assist), *self._assist_syncs()]
        job_ids = {j.id for j in self.jobs}
        for k, sync in enumerate(self.syncs):
            for name in ("first", "second"):
                if getattr(sync, name) not in job_ids:
                    raise InputError(f"sync {k}", name, f"unknown job {getattr(sync, name)!r}")
            if sync.first == sync.second:
                raise InputError(f"sync {k}", "second", "must differ from first")
            if not 0 <= sync.min_delay_minutes <= sync.max_delay_minutes:
                raise InputError(
                    f"sync {k}", "max_delay_minutes", "need 0 <= min_delay_minutes <= max"
                )

    def _assist_syncs(self) -> list[JobSync]:
        """One two-crew visit per assisting job whose assisted job is in the problem and
        assists no other itself, unless given already (a problem file of an older writer,
        which wrote them). Any other assisting job stays unsynced and the screening lists
        it unassigned with the reason (`dispatch.planning.feasibility`): one bad link loses
        nothing else. Made afresh each time, so a copy of the problem with fewer jobs (a
        zone, a re-plan) or another tolerance never keeps a stale pair."""
        by_id = self.jobs_by_id()
        have = {(s.first, s.second) for s in self.syncs if not s.assist}
        out = []
        for job in self.jobs:
            lead = by_id.get(job.assists) if job.assists else None
            if lead is None or lead.assists is not None or (lead.id, job.id) in have:
                continue
            out.append(JobSync(lead.id, job.id, 0, self.assist_tolerance_minutes, assist=True))
        return out

    def _check_link_rules(self) -> None:
        """The delivery-installation rules' keys and values (`dispatch.link_rules`)."""
        self.crew_mode = {k: _crew_mode(v) for k, v in self.crew_mode.items()}
        least = self.link_gap_minutes

        def gap_problem(minutes: int) -> str | None:
            if not isinstance(minutes, int) or isinstance(minutes, bool):
                return f"must be whole minutes, got {minutes!r}"
            if not least <= minutes <= MAX_LINK_GAP_MINUTES:
                return (
                    f"must be from the link gap ({least} min) to {MAX_LINK_GAP_MINUTES}, "
                    f"got {minutes}"
                )
            return None

        check_rule(self.max_link_gap_minutes, "problem", "max_link_gap_minutes", gap_problem)
        check_rule(self.crew_mode, "problem", "crew_mode", lambda _m: None)
        if not 0 <= self.second_visit_cny <= MAX_SECOND_VISIT_CNY:
            raise InputError(
                "problem",
                "second_visit_cny",
                f"must be 0 to {MAX_SECOND_VISIT_CNY:g}, got {self.second_visit_cny}",
            )

    def max_link_gap_for(self, job: Job) -> int | None:
        """The most minutes from the delivery's end to this installation's start (None: no
        limit; `max_link_gap_minutes`)."""
        return rule_for(self.max_link_gap_minutes, job)

    def crew_mode_for(self, job: Job) -> CrewMode:
        """The crew mode of this installation's order (`crew_mode`)."""
        return rule_for(self.crew_mode, job) or CrewMode.AUTO

    def jobs_by_id(self) -> dict[str, Job]:
        return {j.id: j for j in self.jobs}

    def _ruled(self, job: Job) -> Job:
        """The job with the day's rules written in where it states none of its own: the
        certification for its kind, and for a callback the region's callback policy (a
        different crew required: certified above the original one, when it is on duty and
        holds a valid score for the kind)."""
        changes: dict[str, Any] = {}
        level = job.min_certification
        if level is None and job.kind in self.certification:
            level = changes["min_certification"] = self.certification[job.kind]
        if job.original_crew is not None and job.callback_policy is None:
            policy = self.callback_policy.get(job.region, CallbackPolicy.PREFER_ORIGINAL)
            changes["callback_policy"] = policy
            original = next((c for c in self.crews if c.id == job.original_crew), None)
            held = original.certification_for(job.kind) if original else None
            if policy is CallbackPolicy.DIFFERENT_CREW and held and held.valid_on(job.day):
                changes["min_certification"] = max(level or 0, min(100, held.score + 1))
        return dataclasses.replace(job, **changes) if changes else job

    def at(self, t: time) -> datetime:
        return datetime.combine(self.date, t)

    def to_seconds(self, moment: datetime) -> int:
        """Seconds since the plan day's midnight (negative before, > 86400 after)."""
        return int((moment - datetime.combine(self.date, time(0))).total_seconds())

    def from_seconds(self, seconds: int) -> datetime:
        from datetime import timedelta

        return datetime.combine(self.date, time(0)) + timedelta(seconds=int(seconds))


def check_unique(kind: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise InputError(f"{kind} {i!r}", "id", "duplicate id")
        seen.add(i)


def _crew_mode(value: object) -> CrewMode:
    known = [m.value for m in CrewMode]
    if isinstance(value, str) and value in known:
        return CrewMode(value)
    raise InputError("problem", "crew_mode", f"{value!r} is not one of: {', '.join(known)}")
