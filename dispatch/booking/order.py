"""A new order as the call centre takes it, and the jobs it becomes.

An order is one job (a delivery, an installation of something delivered earlier, a repair, a
pick-up) or a linked pair: a delivery and the installation that follows it, done by the same
or another crew (the planner's link: the installation starts no earlier than the delivery's
end, plus the link gap on another crew). Each job's needs come from the product rules the
demo city and the season simulator use (`dispatch.products.skills_people`, the packed goods of
`dispatch.products.GOODS`, service minutes from `dispatch.service_time`) unless the order
states them. Where those rules draw at random (a cabinet air conditioner carried up stairs
may need a third person), the quote takes the heavier need: a slot quoted for three people
is honest for two.

Jobs are named `<order>-D`, `-I`, `-R` and `-P` by kind, as the demo city names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from dispatch.errors import InputError
from dispatch.models import GeoPoint, Job, JobKind, Priority, ProductCategory, TimeWindow
from dispatch.products import GOODS, skills_people
from dispatch.record_rules import ID_MAX_LENGTH

#: the job id's suffix per kind
SUFFIX = {
    JobKind.DELIVERY: "D",
    JobKind.INSTALLATION: "I",
    JobKind.REPAIR: "R",
    JobKind.PICKUP: "P",
}
#: the longest order id: its jobs' ids (`<order>-D`) must still be ids
ORDER_ID_MAX_LENGTH = ID_MAX_LENGTH - 2


@dataclass(frozen=True)
class OrderLine:
    """One job of the order: its kind and product, and any need the order states itself
    (None: the product rules decide)."""

    kind: JobKind
    category: ProductCategory = ProductCategory.OTHER
    quantity: int = 1
    service_minutes: int | None = None
    skills: frozenset[str] | None = None
    people: int | None = None
    volume_l: float | None = None
    weight_kg: float | None = None


@dataclass(frozen=True)
class BookingOrder:
    """An order to quote: where, when confirmed, and its one or two jobs."""

    order_id: str
    region: str
    location: GeoPoint
    confirmed_at: datetime
    lines: tuple[OrderLine, ...]
    floor: int = 1
    has_lift: bool = True
    priority: Priority = Priority.NORMAL
    zone: str | None = None

    def __post_init__(self) -> None:
        if not self.order_id or len(self.order_id) > ORDER_ID_MAX_LENGTH:
            raise InputError("order", "order_id", f"must be 1 to {ORDER_ID_MAX_LENGTH} characters")
        self.location.check("order")
        kinds = [line.kind for line in self.lines]
        if len(kinds) == 2 and sorted(kinds) == sorted([JobKind.DELIVERY, JobKind.INSTALLATION]):
            object.__setattr__(
                self, "lines", tuple(sorted(self.lines, key=lambda x: x.kind != JobKind.DELIVERY))
            )
        elif len(kinds) != 1:
            raise InputError(
                "order",
                "jobs",
                "an order is one job, or a delivery and its installation (two jobs)",
            )

    def jobs(self) -> tuple[Job, ...]:
        """The order's jobs, windowed at the confirmation moment until a slot is chosen
        (`in_slot`)."""
        moment = (TimeWindow(self.confirmed_at, self.confirmed_at),)
        return tuple(self._job(line, moment) for line in self.lines)

    def _job(self, line: OrderLine, windows: tuple[TimeWindow, ...]) -> Job:
        skills, people = skills_people(line.kind, line.category, self.floor, self.has_lift, 0.0)
        volume, weight = 0.0, 0.0
        if line.kind in (JobKind.DELIVERY, JobKind.PICKUP):
            unit_volume, unit_weight = GOODS[line.category]
            volume, weight = unit_volume * line.quantity, unit_weight * line.quantity
        return Job(
            id=f"{self.order_id}-{SUFFIX[line.kind]}",
            kind=line.kind,
            order_id=self.order_id,
            confirmed_at=self.confirmed_at,
            location=self.location,
            windows=windows,
            category=line.category,
            quantity=line.quantity,
            volume_l=volume if line.volume_l is None else line.volume_l,
            weight_kg=weight if line.weight_kg is None else line.weight_kg,
            floor=self.floor,
            has_lift=self.has_lift,
            service_minutes=line.service_minutes,
            skills=frozenset(skills) if line.skills is None else line.skills,
            people=people if line.people is None else line.people,
            priority=self.priority,
            region=self.region,
            zone=self.zone,
        )


def check_order_jobs(jobs: Sequence[Job]) -> tuple[Job, ...]:
    """The jobs of one order, delivery first: one job, or a delivery and an installation of
    the same order (`InputError` otherwise)."""
    kinds = sorted(j.kind for j in jobs)
    linked = kinds == sorted([JobKind.DELIVERY, JobKind.INSTALLATION])
    if not (len(jobs) == 1 or (linked and jobs[0].order_id == jobs[1].order_id)):
        raise InputError("order", "jobs", "one job, or a delivery and its installation")
    return tuple(sorted(jobs, key=lambda j: j.kind != JobKind.DELIVERY))


def in_slot(
    job: Job,
    start: datetime,
    end: datetime,
    *,
    address: str | None = None,
    customer_name: str | None = None,
    customer_phone: str | None = None,
) -> Job:
    """The job booked in [start, end], with the customer's address, name and phone where
    given."""
    return replace(
        job,
        windows=(TimeWindow(start, end),),
        address=job.address if address is None else address,
        customer_name=job.customer_name if customer_name is None else customer_name,
        customer_phone=job.customer_phone if customer_phone is None else customer_phone,
    )
