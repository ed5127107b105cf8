"""The planner's progress never goes backwards: the phases' own estimates (a solve's share
of its time, groups done, the passes after) are reported through `forward_only`."""

from __future__ import annotations

from dispatch.planning.planner import PlanOptions, forward_only, make_plan
from fixtures.shanghai import demo_problem


def test_forward_only_keeps_the_highest_fraction() -> None:
    seen: list[tuple[str, float]] = []
    report = forward_only(lambda m, f: seen.append((m, f)))
    for message, fraction in (("a", 0.0), ("b", 0.9), ("c", 0.85), ("d", 0.95), ("e", 1.0)):
        report(message, fraction)
    assert seen == [("a", 0.0), ("b", 0.9), ("c", 0.9), ("d", 0.95), ("e", 1.0)]


def test_a_plans_progress_rises_to_done() -> None:
    fractions: list[float] = []
    problem = demo_problem(jobs=40)
    options = PlanOptions(time_limit_s=2, progress=lambda _m, f: fractions.append(f))
    make_plan(problem, options)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and len(fractions) > 4
    assert fractions == sorted(fractions)
