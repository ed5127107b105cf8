"""Plan figures a dispatcher reads first: planned share, promise keeping, km, hours, utilisation.

On-time shares count planned jobs whose service ends by their promise deadline, per job kind
(12 h delivery, 24 h installation); unassigned jobs count as not on time in the "of all"
shares, so a plan cannot look good by leaving hard jobs out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from dispatch.models import JobKind
from dispatch.plan import Plan


@dataclass
class PlanKpis:
    jobs: int
    planned: int
    unassigned: int
    unassigned_by_reason: dict[str, int]
    planned_share: float
    on_time_share_by_kind: dict[str, float]  # of planned jobs of that kind
    on_time_of_all_by_kind: dict[str, float]  # of all jobs of that kind (unassigned = missed)
    late_jobs: int
    km: float
    drive_hours: float
    crews_used: int
    crews: int
    utilisation: float  # busy (drive + service) hours / shift hours of used crews
    extra: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def plan_kpis(plan: Plan) -> PlanKpis:
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
    )


def format_kpis(k: PlanKpis) -> str:
    """A plain-text summary table for the terminal."""
    rows = [
        ("jobs", f"{k.jobs}"),
        ("planned", f"{k.planned} ({k.planned_share:.1%})"),
        ("unassigned", f"{k.unassigned}"),
    ]
    rows += [(f"  {reason}", f"{n}") for reason, n in sorted(k.unassigned_by_reason.items())]
    for kind, label in (
        ("delivery", "deliveries within 12 h"),
        ("installation", "installations within 24 h"),
    ):
        if kind in k.on_time_share_by_kind:
            rows.append(
                (
                    label,
                    f"{k.on_time_share_by_kind[kind]:.1%} of planned, "
                    f"{k.on_time_of_all_by_kind[kind]:.1%} of all",
                )
            )
    for kind in ("repair", "pickup"):
        if kind in k.on_time_share_by_kind:
            rows.append((f"{kind}s on promise", f"{k.on_time_share_by_kind[kind]:.1%} of planned"))
    rows += [
        ("late jobs", f"{k.late_jobs}"),
        ("km driven", f"{k.km:,.1f}"),
        ("hours driven", f"{k.drive_hours:,.1f}"),
        ("crews used", f"{k.crews_used} of {k.crews}"),
        ("crew utilisation", f"{k.utilisation:.1%}"),
    ]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{a.ljust(width)}  {b}" for a, b in rows)
