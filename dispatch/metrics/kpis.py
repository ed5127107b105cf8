"""Plan figures a dispatcher reads first: planned share, promise keeping, km, hours, utilisation.

Promise shares are reported on both clocks of `dispatch.promise_clocks`, each labelled
(`promise_shares`, `promise_clocks`): the customer's clock (calendar hours from the order) first,
the planning clock (the plan's deadlines, by default service hours) beside it. The older
`on_time_share_by_kind` / `on_time_of_all_by_kind` stay for the stored plans and the API that
read them; they are the *planning clock's* shares, for every kind (repairs and pick-ups too).
Unassigned jobs count as not on time in the "of all" shares, so a plan cannot look good by
leaving hard jobs out.

Linked orders (a delivery and its installation in the day's problem) are counted by how they
were served: in one visit by one crew (`combined`) or in two (`truck_then_installers`), with
their shares and the km driven to the door for the second visits (`linked_order_kpis`).

Utilisation is busy (driving + service) time over the shift time of the crews used, i.e. the
crews with at least one stop: an empty route (a crew whose last stop was moved away by an
override or a re-plan) neither adds busy time nor shift time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from dispatch.link_rules import VisitMode
from dispatch.metrics.customer_clock import promise_shares
from dispatch.models import JobKind
from dispatch.plan import Plan
from dispatch.planning.linked_modes import linked_orders
from dispatch.promise_clocks import CUSTOMER, PLANNING, clock_labels
from dispatch.translate import build_travel


@dataclass
class PlanKpis:
    jobs: int
    planned: int
    unassigned: int
    unassigned_by_reason: dict[str, int]
    planned_share: float
    # the planning clock's shares (kept for stored plans and their readers; see module doc)
    on_time_share_by_kind: dict[str, float]  # of planned jobs of that kind
    on_time_of_all_by_kind: dict[str, float]  # of all jobs of that kind (unassigned = missed)
    late_jobs: int
    km: float
    drive_hours: float
    crews_used: int
    crews: int
    utilisation: float  # busy (drive + service) hours / shift hours of used crews
    extra: dict[str, float] = field(default_factory=dict)
    #: {"customer" | "planning": {kind: ShareCount.as_dict()}}, delivery and installation
    promise_shares: dict[str, dict[str, dict]] = field(default_factory=dict)
    #: {"customer" | "planning": the clock's label}
    promise_clocks: dict[str, str] = field(default_factory=dict)
    #: linked orders (a delivery and its installation in the day's problem) with both visits
    #: planned, by how they were served (`dispatch.planning.linked_modes`): "orders",
    #: "combined" (one crew, one visit) and "truck_then_installers" (two visits) with their
    #: shares of "orders", and "second_trip_km" (the km driven to the door for the second
    #: visits; None where the travel model is a road network, which the KPIs do not build)
    linked_orders: dict[str, float | int | None] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def plan_kpis(plan: Plan) -> PlanKpis:
    """The plan's figures (module doc); `utilisation` as its field comment states."""
    problem = plan.problem
    by_id = problem.jobs_by_id()
    crews = {c.id: c for c in problem.crews}
    kinds = Counter(j.kind for j in problem.jobs)
    planned: Counter[JobKind] = Counter()
    on_time: Counter[JobKind] = Counter()
    late = 0
    busy_s = 0
    shift_s = 0
    for r in plan.routes:
        if not r.stops:  # an unused crew: not in the denominator (see `utilisation`)
            continue
        crew = crews[r.crew_id]
        shift_s += (
            crew.shift_end.hour * 60
            + crew.shift_end.minute
            - crew.shift_start.hour * 60
            - crew.shift_start.minute
        ) * 60
        busy_s += r.drive_s
        for s in r.stops:
            kind = by_id[s.job_id].kind
            planned[kind] += 1
            busy_s += int((s.end - s.start).total_seconds())
            if s.end <= s.deadline:
                on_time[kind] += 1
            else:
                late += 1
    n_planned = sum(planned.values())
    n = len(problem.jobs)
    return PlanKpis(
        jobs=n,
        planned=n_planned,
        unassigned=len(plan.unassigned),
        unassigned_by_reason=dict(Counter(u.reason.value for u in plan.unassigned)),
        planned_share=n_planned / n if n else 1.0,
        on_time_share_by_kind={k.value: on_time[k] / planned[k] for k in JobKind if planned[k]},
        on_time_of_all_by_kind={k.value: on_time[k] / kinds[k] for k in JobKind if kinds[k]},
        late_jobs=late,
        km=sum(r.distance_m for r in plan.routes) / 1000,
        drive_hours=sum(r.drive_s for r in plan.routes) / 3600,
        crews_used=sum(1 for r in plan.routes if r.stops),
        crews=len(problem.crews),
        utilisation=busy_s / shift_s if shift_s else 0.0,
        promise_shares={
            clock: {kind: share.as_dict() for kind, share in by_kind.items()}
            for clock, by_kind in promise_shares(plan).items()
        },
        promise_clocks=clock_labels(problem.promises.policies),
        linked_orders=linked_order_kpis(plan),
    )


def linked_order_kpis(plan: Plan) -> dict[str, float | int | None]:
    """The `linked_orders` figures: counts and shares of each crew mode, and the second
    trips' km from the plan's own travel settings when those are computed without a road
    network ("haversine", "matrix"), else None."""
    cheap = plan.problem.travel.provider in ("haversine", "matrix")
    orders = linked_orders(plan)
    two = [o for o in orders if o.mode is VisitMode.TRUCK_THEN_INSTALLERS]
    km: float | None = None
    if cheap:
        km = 0.0
        if two:
            measured = linked_orders(plan, build_travel(plan.problem, lazy=True))
            km = sum(o.second_trip_m or 0 for o in measured) / 1000
    n = len(orders)
    combined = n - len(two)
    return {
        "orders": n,
        "combined": combined,
        "truck_then_installers": len(two),
        "combined_share": combined / n if n else None,
        "truck_then_installers_share": len(two) / n if n else None,
        "second_trip_km": None if km is None else round(km, 1),
    }


def _share_text(share: dict) -> str:
    of_planned, of_all = share.get("of_planned"), share.get("of_all")
    planned = "–" if of_planned is None else f"{of_planned:.1%}"
    every = "–" if of_all is None else f"{of_all:.1%}"
    return f"{planned} of planned, {every} of all"


def _linked_rows(linked: dict[str, float | int | None]) -> list[tuple[str, str]]:
    """The crew-mode lines of the summary (none when no linked order is planned)."""
    if not linked.get("orders"):
        return []
    km = linked.get("second_trip_km")
    rows = [("linked orders (delivery + installation)", f"{linked['orders']}")]
    for mode, label in (
        ("combined", "one visit, one crew"),
        ("truck_then_installers", "two visits"),
    ):
        share = linked.get(f"{mode}_share")
        rows.append((f"  {mode} ({label})", f"{linked[mode]} ({share or 0:.1%})"))
    if km is not None:
        rows.append(("  km to the door for second visits", f"{km:,.1f}"))
    return rows


def format_kpis(k: PlanKpis) -> str:
    """A plain-text summary table for the terminal."""
    rows = [
        ("jobs", f"{k.jobs}"),
        ("planned", f"{k.planned} ({k.planned_share:.1%})"),
        ("unassigned", f"{k.unassigned}"),
    ]
    rows += [(f"  {reason}", f"{n}") for reason, n in sorted(k.unassigned_by_reason.items())]
    customer = k.promise_shares.get(CUSTOMER, {})
    planning = k.promise_shares.get(PLANNING, {})
    for kind in ("delivery", "installation"):
        if kind not in customer:
            continue
        rows.append((str(customer[kind]["title"]), ""))
        rows.append(("  on the customer's clock", _share_text(customer[kind])))
        if kind in planning:
            rows.append(("  on the planning clock", _share_text(planning[kind])))
    for kind in ("repair", "pickup"):
        if kind in k.on_time_share_by_kind:
            rows.append(
                (
                    f"{kind}s on promise (planning clock)",
                    f"{k.on_time_share_by_kind[kind]:.1%} of planned",
                )
            )
    rows += _linked_rows(k.linked_orders)
    rows += [
        ("late jobs (planning clock)", f"{k.late_jobs}"),
        ("km driven", f"{k.km:,.1f}"),
        ("hours driven", f"{k.drive_hours:,.1f}"),
        ("crews used", f"{k.crews_used} of {k.crews}"),
        ("crew utilisation", f"{k.utilisation:.1%}"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{a.ljust(width)}  {b}".rstrip() for a, b in rows]
    if k.promise_clocks:
        lines.append("clocks:")
        lines += [f"  {k.promise_clocks[c]}" for c in (CUSTOMER, PLANNING) if c in k.promise_clocks]
    return "\n".join(lines)
