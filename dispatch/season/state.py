"""What a running season keeps: each job's life, each day's crews, the orders and queues.

`SeasonState` is the simulator's working memory (`dispatch.season.simulator` fills it day by
day); `dispatch.season.figures` turns the finished state into the season's tables. Two kinds
of record live in it:

* `JobRecord`: one job from its release to done, cancelled or still open, with its visits'
  outcome, the crew that did it, a callback drawn, the follow-up call;
* `DayCrewStats`: one day's crews per zone (shift, working and overtime time, kilometres,
  cost, jobs done by temporary and installation crews), taken when the day is executed, as
  the day's execution is not kept. Costs follow the definition in `dispatch.season.figures`.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from dispatch.models import Crew, CrewKind, Job
from dispatch.season.city import SeasonCity
from dispatch.season.demand import NewJob
from dispatch.season.offer import ClassKey
from dispatch.season.settings import SeasonSettings
from dispatch.season.shifts import own_crews

if TYPE_CHECKING:
    from dispatch.season.execution import DayExecution


@dataclass
class JobRecord:
    """One job's life in the season (what the metrics are computed from)."""

    job: Job
    slot: tuple[int, int]
    release_day: int
    status: str = "open"  # open | done | cancelled
    attempts: int = 0
    excused: bool = False  # a visit failed because the customer was absent
    done_day: int | None = None
    done_at: datetime | None = None
    crew_id: str = ""
    temp: bool = False
    callback_drawn: bool = False
    callback_of: str = ""
    called_day: int | None = None

    @property
    def deadline(self) -> datetime:
        """The job's promise deadline (the season's demand gives every job one)."""
        assert self.job.deadline is not None, f"season job {self.job.id} has no deadline"
        return self.job.deadline


@dataclass
class ZoneCrewStats:
    crews: int = 0
    temp: int = 0
    shift_s: float = 0.0
    worked_s: float = 0.0
    overtime_s: float = 0.0
    km: float = 0.0
    cost: float = 0.0
    temp_jobs: int = 0  # jobs done by temporary crews
    install_crews: int = 0  # installation crews (own and temporary) on duty
    install_crew_jobs: int = 0  # jobs they did
    lever_cost: float = 0.0  # the part of `cost` the levers' premiums add (in it already)


@dataclass
class DayCrewStats:
    day: int
    jobs_offered: int
    zones: dict[str, ZoneCrewStats] = field(default_factory=dict)
    onboarding_cost: float = 0.0

    @classmethod
    def of(
        cls,
        day: int,
        jobs_offered: int,
        crews: list[Crew],
        temp_ids: set[str],
        execution: DayExecution,
        state: SeasonState,
        s: SeasonSettings,
        premium: dict[str, float] | None = None,
    ) -> DayCrewStats:
        """The day's figures per zone; `premium` holds each crew's cost factor over its day
        rate where a lever adds one (evening shifts, specialist teams)."""
        premium = premium or {}
        out = cls(day, jobs_offered)
        on_duty = {c.id for c in crews}
        factor = s.crews.overtime_cost_factor
        for c in crews:
            z = out.zones.setdefault(c.home_zone or "-", ZoneCrewStats())
            cd = execution.crews[c.id]
            z.crews += 1
            z.temp += c.id in temp_ids
            z.shift_s += cd.shift_s
            z.worked_s += cd.worked_s
            z.overtime_s += cd.overtime_s
            z.km += cd.km
            if c.id in temp_ids:
                z.temp_jobs += cd.jobs_done
            if c.kind is CrewKind.INSTALLATION_CREW:
                z.install_crews += 1
                z.install_crew_jobs += cd.jobs_done
            own = c.cost_per_hour * cd.shift_s / 3600
            base = s.crews.temp_daily_cost if c.id in temp_ids else own
            z.lever_cost += base * (premium.get(c.id, 1.0) - 1.0)
            base *= premium.get(c.id, 1.0)
            z.cost += base + cd.km * c.cost_per_km + cd.overtime_s / 3600 * c.cost_per_hour * factor
        for c in state.own_crews:  # off sick: still paid
            if c.id not in on_duty:
                z = out.zones.setdefault(c.home_zone or "-", ZoneCrewStats())
                shift = (c.shift_end.hour - c.shift_start.hour) + (
                    c.shift_end.minute - c.shift_start.minute
                ) / 60
                z.cost += c.cost_per_hour * shift * premium.get(c.id, 1.0)
                z.lever_cost += c.cost_per_hour * shift * (premium.get(c.id, 1.0) - 1.0)
        out.onboarding_cost = state.temp_hires[-1] * s.crews.temp_onboarding_cost
        return out


class SeasonState:
    """Jobs, orders and queues of one running season."""

    def __init__(self, settings: SeasonSettings, city: SeasonCity) -> None:
        self.s = settings
        self.city = city
        #: the own crews with the evening-shift lever applied (`dispatch.season.shifts`), and
        #: the cost factor of those on the evening shift
        self.own_crews, evening = own_crews(city, settings.crews)
        self.own_premium = {crew_id: settings.crews.evening_cost_factor for crew_id in evening}
        self.jobs: dict[str, JobRecord] = {}
        self.orders: dict[str, list[str]] = {}
        self.order_kind: dict[str, str] = {}
        self.order_day: dict[str, int] = {}
        self.callbacks_due: dict[int, list[str]] = defaultdict(list)  # day -> original job ids
        self.callback_count: dict[str, int] = defaultdict(int)  # order -> callbacks so far
        self.followups: deque[tuple[str, int]] = deque()
        self.crew_days: list[DayCrewStats] = []
        self.backlog: list[dict[str, int]] = []  # per day: zone -> open released jobs
        self.hired = 0
        self.temp_hires: list[int] = []
        self.jobs_created = 0
        self.orders_created = 0
        self.jobs_lost = 0  # offered to the planner but neither planned nor unassigned
        #: per day: two-crew visits (`Job.assists` pairs) offered whole, and planned whole
        self.assist_pairs: list[tuple[int, int]] = []
        #: per crew class: planned on-site minutes per working minute (`offer.learn_fill`)
        self.fill: dict[ClassKey, float] = {}

    def add(self, new: NewJob, kind: str, day: int, callback_of: str = "") -> None:
        job = new.job
        if job.id in self.jobs:
            raise RuntimeError(f"job id {job.id!r} created twice")
        self.jobs[job.id] = JobRecord(job, new.slot, new.release_day, callback_of=callback_of)
        self.jobs_created += 1
        if job.order_id not in self.orders:
            self.orders_created += 1
        self.orders.setdefault(job.order_id, []).append(job.id)
        self.order_kind[job.order_id] = kind
        self.order_day[job.order_id] = day
