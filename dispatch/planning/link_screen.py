"""The screening's part for an order's delivery-installation rules (`dispatch.link_rules`):
which crews the order's crew mode leaves, and which installations a delivery done earlier
has already put out of reach of their maximum gap. Called by
`dispatch.planning.feasibility.screen` after each job was checked alone, before an
installation whose delivery cannot be served is dropped with it.
"""

from __future__ import annotations

from dataclasses import replace

from dispatch.day_problem import DispatchProblem
from dispatch.link_rules import CrewMode, linked_pairs, mode_allows
from dispatch.models import Job
from dispatch.plan import Unassigned, UnassignedReason
from dispatch.translate import clip_windows, delivered_bounds

#: the screening's reasons that a window cut by the maximum gap may have caused
_WINDOW_REASONS = frozenset(
    {
        UnassignedReason.WINDOW_NOT_ON_PLAN_DAY,
        UnassignedReason.WINDOW_UNREACHABLE,
        UnassignedReason.LUNCH_WINDOW,
    }
)


def screen_links(
    problem: DispatchProblem, eligible: dict[str, list[int]], unassigned: list[Unassigned]
) -> None:
    """Narrow the eligible crews of every linked order to its crew mode's (a pair no crew
    of the mode can serve is listed unassigned, `crew_mode`), and give an installation whose
    windows the maximum gap after its earlier delivery cut away (or out of reach) the
    reason `max_link_gap` instead of a window reason."""
    _crew_modes(problem, eligible, unassigned)
    _gap_reasons(problem, unassigned)


def _crew_modes(
    problem: DispatchProblem, eligible: dict[str, list[int]], unassigned: list[Unassigned]
) -> None:
    crews = problem.crews
    for i, d in linked_pairs(problem.jobs).items():
        inst, delivery = problem.jobs[i], problem.jobs[d]
        mode = problem.crew_mode_for(inst)
        if mode is CrewMode.AUTO or inst.id not in eligible or delivery.id not in eligible:
            continue
        kept = {
            j.id: [k for k in eligible[j.id] if mode_allows(mode, crews[k].kind, j.kind)]
            for j in (delivery, inst)
        }
        if mode is CrewMode.COMBINED:
            both = [k for k in kept[delivery.id] if k in set(kept[inst.id])]
            kept = {delivery.id: both, inst.id: list(both)}
            why = (
                f"order {inst.order_id} is to be served in one visit by a combined crew "
                "(crew mode combined); no combined crew may do both its delivery and its "
                "installation"
            )
        else:
            lost = delivery.id if not kept[delivery.id] else inst.id
            why = (
                f"order {inst.order_id} is to be delivered by a delivery truck, then installed "
                f"(crew mode split); no crew but a combined one may do {lost}"
            )
        if all(kept.values()):
            eligible.update(kept)
            continue
        for j in (delivery, inst):
            del eligible[j.id]
            unassigned.append(Unassigned(j.id, UnassignedReason.CREW_MODE, why))


def _gap_reasons(problem: DispatchProblem, unassigned: list[Unassigned]) -> None:
    by_id = problem.jobs_by_id()
    for n, u in enumerate(unassigned):
        job = by_id[u.job_id]
        bounds = delivered_bounds(problem, job)
        if u.reason not in _WINDOW_REASONS or bounds is None or job.delivered_at is None:
            continue
        most = problem.max_link_gap_for(job)
        uncut = clip_windows(problem, _uncut(job))
        if most is None or not uncut or uncut[-1][1] <= bounds[1]:
            continue  # the maximum gap took nothing away: the window reason stands
        latest = problem.from_seconds(bounds[1])
        detail = (
            f"its delivery ended {job.delivered_at:%Y-%m-%d %H:%M}; with the maximum gap of "
            f"{most} min it must start by {latest:%Y-%m-%d %H:%M}"
        )
        if u.reason is not UnassignedReason.WINDOW_NOT_ON_PLAN_DAY:
            detail += f", and then {u.detail}"
        unassigned[n] = Unassigned(u.job_id, UnassignedReason.MAX_LINK_GAP, detail)


def _uncut(job: Job) -> Job:
    """The job as if its delivery's end were unknown (its windows as booked)."""
    return replace(job, delivered_at=None)
