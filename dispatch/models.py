"""The dispatch domain: jobs, crews, depots (warehouses and service points).

Objects validate on construction and raise `InputError` naming the record and the field, so a
bad value never travels further than the line that created it. Times are naive local
datetimes of the region (a region plans in its own clock). Promise deadlines live in
`dispatch.promises`, service-time estimates in `dispatch.service_time`; zones in `dispatch.zones`.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum

from dispatch.errors import InputError
from dispatch.record_rules import CREW_BOUNDS, JOB_BOUNDS


class JobKind(StrEnum):
    DELIVERY = "delivery"
    INSTALLATION = "installation"
    REPAIR = "repair"
    PICKUP = "pickup"  # returns, exchanges and trade-in pick-ups of old appliances


class Priority(StrEnum):
    """Higher priorities cost more when late and are dropped last."""

    NORMAL = "normal"
    VIP = "vip"
    COMPLAINT = "complaint"  # escalated complaint
    CALLBACK = "callback"  # repeat visit for the same problem

    @property
    def weight(self) -> int:
        return {"normal": 1, "vip": 3, "complaint": 4, "callback": 3}[self.value]


class CallbackPolicy(StrEnum):
    """Who serves a callback (a repeat visit for the same fault), a rule per region: the
    original crew preferred (a soft cost: it knows the site and owns its work), or a different
    crew required, certified higher than the original one for the job's kind where that is
    known (`DispatchProblem.callback_policy`)."""

    PREFER_ORIGINAL = "prefer_original"
    DIFFERENT_CREW = "different_crew"


class CrewKind(StrEnum):
    DELIVERY_TRUCK = "delivery_truck"
    INSTALLATION_CREW = "installation_crew"
    REPAIR_TECHNICIAN = "repair_technician"
    COMBINED = "combined"  # delivers and installs


#: the crew kinds whose vehicle carries goods: their capacities matter (and must be given)
GOODS_CREW_KINDS = frozenset({CrewKind.DELIVERY_TRUCK, CrewKind.COMBINED})

#: Which crew kinds may do which job kinds. Deliveries and pick-ups need a vehicle that carries
#: goods; installations need installers; repairs need a technician (installers can repair too).
CREW_CAN_DO: dict[CrewKind, frozenset[JobKind]] = {
    CrewKind.DELIVERY_TRUCK: frozenset({JobKind.DELIVERY, JobKind.PICKUP}),
    CrewKind.INSTALLATION_CREW: frozenset({JobKind.INSTALLATION, JobKind.REPAIR}),
    CrewKind.REPAIR_TECHNICIAN: frozenset({JobKind.REPAIR}),
    CrewKind.COMBINED: frozenset(JobKind),
}


class ProductCategory(StrEnum):
    SPLIT_AC = "split_ac"
    CABINET_AC = "cabinet_ac"
    WASHING_MACHINE = "washing_machine"
    REFRIGERATOR = "refrigerator"
    TV = "tv"
    WATER_HEATER = "water_heater"
    RANGE_HOOD = "range_hood"
    DISHWASHER = "dishwasher"
    OTHER = "other"


def _enum(record: str, name: str, enum: type[StrEnum], value: object) -> StrEnum:
    if isinstance(value, str):  # a value of any other type is none of a StrEnum's values
        with contextlib.suppress(ValueError):
            return enum(value)
    allowed = ", ".join(e.value for e in enum)
    raise InputError(record, name, f"{value!r} is not one of: {allowed}")


@dataclass(frozen=True)
class GeoPoint:
    """WGS84 longitude/latitude in degrees."""

    lon: float
    lat: float

    def check(self, record: str, field_name: str = "location") -> None:
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise InputError(record, f"{field_name}.lon", f"{self.lon} is outside [-180, 180]")
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise InputError(record, f"{field_name}.lat", f"{self.lat} is outside [-90, 90]")


@dataclass(frozen=True)
class TimeWindow:
    """A customer appointment slot: the crew starts work inside [start, end]."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Job:
    """One visit to a customer: delivery, installation, repair or pick-up.

    Jobs of one order share `order_id`; a delivery and an installation of the same order are
    linked (the installation follows the delivery). `service_minutes` is estimated from the
    category, quantity and floor when not given (see `dispatch.service_time`).
    """

    id: str
    kind: JobKind
    order_id: str
    confirmed_at: datetime
    location: GeoPoint
    windows: tuple[TimeWindow, ...]
    category: ProductCategory = ProductCategory.OTHER
    quantity: int = 1
    volume_l: float = 0.0
    weight_kg: float = 0.0
    floor: int = 1
    has_lift: bool = True
    service_minutes: int | None = None
    skills: frozenset[str] = frozenset()
    people: int = 1
    priority: Priority = Priority.NORMAL
    region: str = "urban"
    zone: str | None = None
    deadline: datetime | None = None  # explicit promise deadline; derived when None
    #: the day the job was first due when it has been carried over to a later day (roll-over,
    #: `dispatch.roll_over`); None on its first day. Its age raises its priority.
    first_due: date | None = None
    #: the least certification score (0-100, `Certification`) for its kind a crew must hold,
    #: valid on the job's day; None: none needed. Usually a rule per job kind (plan settings
    #: `certification`), written into the job when the day is planned
    min_certification: int | None = None
    #: a callback's original crew (who did the job this one repeats), and the region's rule
    #: for it, written in by the problem (`DispatchProblem.callback_policy`)
    original_crew: str | None = None
    callback_policy: CallbackPolicy | None = None
    #: the id of the job this one assists (协助): a second crew at the same visit, working
    #: with the first from the same start (within the problem's
    #: `DispatchProblem.assist_tolerance_minutes`), e.g. a cabinet air conditioner carried up
    #: to a high floor. The assisting visit is a job of its own (its own skills, people and
    #: service time; usually the same order, place and windows) so that each crew reports its
    #: own arrival and completion; the pair is planned on two crews or not at all.
    assists: str | None = None
    #: for an installation whose delivery is done and not in the day's problem (delivered
    #: on an earlier day, or planned on one by the horizon): when that delivery ended. The
    #: installation then starts no earlier than this plus the link gap and no later than
    #: this plus its maximum gap (`DispatchProblem.max_link_gap_minutes`)
    delivered_at: datetime | None = None
    address: str = field(default="", repr=False)
    customer_name: str = field(default="", repr=False)
    customer_phone: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        rec = f"job {self.id!r}"
        if not isinstance(self.id, str) or not self.id.strip():
            raise InputError("job", "id", "must be a non-empty string")
        object.__setattr__(self, "kind", _enum(rec, "kind", JobKind, self.kind))
        object.__setattr__(self, "category", _enum(rec, "category", ProductCategory, self.category))
        object.__setattr__(self, "priority", _enum(rec, "priority", Priority, self.priority))
        if self.callback_policy is not None:
            policy = _enum(rec, "callback_policy", CallbackPolicy, self.callback_policy)
            object.__setattr__(self, "callback_policy", policy)
        object.__setattr__(self, "skills", frozenset(self.skills))
        object.__setattr__(self, "has_lift", bool(self.has_lift))
        if not str(self.order_id).strip():
            raise InputError(rec, "order_id", "must not be empty")
        self.location.check(rec)
        if not self.windows:
            raise InputError(rec, "windows", "at least one time window is required")
        ordered = sorted(self.windows, key=lambda w: w.start)
        for k, w in enumerate(ordered):
            if w.end < w.start:
                raise InputError(
                    rec, f"windows[{k}]", f"ends ({w.end}) before it starts ({w.start})"
                )
            if k and w.start <= ordered[k - 1].end:
                raise InputError(rec, f"windows[{k}]", "overlaps the previous window")
        object.__setattr__(self, "windows", tuple(ordered))
        if self.quantity < 1:
            raise InputError(rec, "quantity", f"must be >= 1, got {self.quantity}")
        for name in ("volume_l", "weight_kg"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise InputError(rec, name, f"must be a finite number >= 0, got {value}")
        floor, minutes, people = (JOB_BOUNDS[n] for n in ("floor", "service_minutes", "people"))
        if not floor.low <= self.floor <= floor.high:
            raise InputError(rec, "floor", f"{self.floor} is not a plausible floor")
        if self.service_minutes is not None and not (
            minutes.low <= self.service_minutes <= minutes.high
        ):
            raise InputError(
                rec,
                "service_minutes",
                f"must be in [{minutes.low:.0f}, {minutes.high:.0f}], got {self.service_minutes}",
            )
        if not people.low <= self.people <= people.high:
            raise InputError(
                rec,
                "people",
                f"must be {people.low:.0f} to {people.high:.0f}, got {self.people}",
            )
        if self.deadline is not None and self.deadline < self.confirmed_at:
            raise InputError(
                rec, "deadline", f"{self.deadline} is before the order time {self.confirmed_at}"
            )
        self._check_planning_fields(rec)

    def _check_planning_fields(self, rec: str) -> None:
        """The fields the planning rules write in (roll-over's and certification's), and the
        assisted job's id."""
        if self.first_due is not None and self.first_due > self.windows[0].start.date():
            raise InputError(
                rec,
                "first_due",
                f"{self.first_due} is after the job's first window "
                f"({self.windows[0].start.date()}): a job is carried forward, never back",
            )
        if self.assists is not None and (
            not isinstance(self.assists, str) or not self.assists.strip()
        ):
            raise InputError(rec, "assists", "must be a job id")
        if self.assists == self.id:
            raise InputError(rec, "assists", "a job cannot assist itself")
        if self.delivered_at is not None and self.kind is not JobKind.INSTALLATION:
            raise InputError(rec, "delivered_at", "only an installation waits for a delivery")
        if self.min_certification is not None and not 0 <= self.min_certification <= 100:
            raise InputError(
                rec, "min_certification", f"must be 0 to 100, got {self.min_certification}"
            )

    @property
    def day(self) -> date:
        """The day of the work: its first window's day."""
        return self.windows[0].start.date()


#: the certification scale's bands (`../shared/docs/domain.md`: 70+ compliant, 80+ three-star,
#: 90+ four-star, 95+ five-star), lowest first
CERTIFICATION_BANDS: tuple[tuple[int, str], ...] = (
    (70, "compliant"),
    (80, "three-star"),
    (90, "four-star"),
    (95, "five-star"),
)


@dataclass(frozen=True)
class Certification:
    """A crew's certified score (0-100) for one kind of job, valid up to and including
    `expires` (None: no end)."""

    kind: JobKind
    score: int
    expires: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _enum("certification", "kind", JobKind, self.kind))
        if not 0 <= self.score <= 100:
            raise InputError("certification", "score", f"must be 0 to 100, got {self.score}")

    def valid_on(self, day: date) -> bool:
        return self.expires is None or day <= self.expires


@dataclass(frozen=True)
class LunchBreak:
    """A break of `minutes` taken wholly inside [window_start, window_end]."""

    window_start: time
    window_end: time
    minutes: int


@dataclass(frozen=True)
class Crew:
    """A crew and its vehicle for the day. Costs in CNY per hour / per km."""

    id: str
    kind: CrewKind
    people: int
    skills: frozenset[str]
    start_depot: str
    end_depot: str
    shift_start: time = time(8, 0)
    shift_end: time = time(18, 0)
    capacity_volume_l: float = 0.0
    capacity_weight_kg: float = 0.0
    lunch: LunchBreak | None = None
    max_jobs: int | None = None
    cost_per_hour: float = 60.0
    cost_per_km: float = 2.0
    home_zone: str | None = None
    #: scores per job kind (at most one per kind); a job with `min_certification` needs one
    certifications: tuple[Certification, ...] = ()

    def __post_init__(self) -> None:
        rec = f"crew {self.id!r}"
        kinds = [c.kind for c in self.certifications]
        if len(set(kinds)) < len(kinds):
            raise InputError(rec, "certifications", "at most one certification per job kind")
        if not isinstance(self.id, str) or not self.id.strip():
            raise InputError("crew", "id", "must be a non-empty string")
        object.__setattr__(self, "kind", _enum(rec, "kind", CrewKind, self.kind))
        object.__setattr__(self, "skills", frozenset(self.skills))
        people = CREW_BOUNDS["people"]
        if not people.low <= self.people <= people.high:
            raise InputError(
                rec, "people", f"must be {people.low:.0f}..{people.high:.0f}, got {self.people}"
            )
        if self.shift_end <= self.shift_start:
            raise InputError(rec, "shift_end", f"{self.shift_end} is not after {self.shift_start}")
        for name in ("capacity_volume_l", "capacity_weight_kg", "cost_per_hour", "cost_per_km"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise InputError(rec, name, f"must be a finite number >= 0, got {value}")
        if self.max_jobs is not None and self.max_jobs < 0:
            raise InputError(rec, "max_jobs", f"must be >= 0, got {self.max_jobs}")
        if self.lunch is not None:
            lunch = self.lunch
            span = (lunch.window_end.hour * 60 + lunch.window_end.minute) - (
                lunch.window_start.hour * 60 + lunch.window_start.minute
            )
            if lunch.minutes < 0 or span < lunch.minutes:
                raise InputError(rec, "lunch", "the lunch window cannot hold the break")

    @property
    def carries_goods(self) -> bool:
        return self.kind in GOODS_CREW_KINDS

    def can_do(self, job: Job) -> bool:
        """Kind, skills, people, certification and the callback rule: may this crew do this
        job at all?"""
        return (
            job.kind in CREW_CAN_DO[self.kind]
            and job.skills <= self.skills
            and self.people >= job.people
            and self.certified_for(job)
            and not self.barred_from(job)
        )

    def barred_from(self, job: Job) -> bool:
        """Is this the original crew of a callback that must go to a different one?"""
        return job.callback_policy is CallbackPolicy.DIFFERENT_CREW and job.original_crew == self.id

    def certification_for(self, kind: JobKind) -> Certification | None:
        return next((c for c in self.certifications if c.kind == kind), None)

    def certified_for(self, job: Job) -> bool:
        """Does the crew hold the certification the job needs, valid on the job's day?"""
        if job.min_certification is None:
            return True
        held = self.certification_for(job.kind)
        return held is not None and held.score >= job.min_certification and held.valid_on(job.day)


class DepotKind(StrEnum):
    WAREHOUSE = "warehouse"
    SERVICE_POINT = "service_point"


@dataclass(frozen=True)
class Depot:
    """A warehouse (deliveries load here) or an after-sales service point."""

    id: str
    kind: DepotKind
    location: GeoPoint
    name: str = ""
    zone: str | None = None

    def __post_init__(self) -> None:
        rec = f"depot {self.id!r}"
        if not isinstance(self.id, str) or not self.id.strip():
            raise InputError("depot", "id", "must be a non-empty string")
        object.__setattr__(self, "kind", _enum(rec, "kind", DepotKind, self.kind))
        self.location.check(rec)
