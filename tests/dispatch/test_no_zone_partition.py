"""Days without zones: automatic areas, and a loud warning for a group with no first solution.

A large day with fewer than two zones used to be one solve whatever its size: an imported
1,512-job day planned 12 % in 25 s, exited 0 and said nothing. Now such a day is cut into
compact areas (`dispatch.planning.partition`), and a group that finds no first solution is
named in `Plan.warnings`, the summary, the service's message and `dispatch plan`'s exit code
(3 unless --allow-unsolved). Kept fast: small demo days, small groups, and the "no first
solution" forced by replacing the group solve (deterministic, no clock involved).
"""

from __future__ import annotations

import dataclasses
import itertools
from types import SimpleNamespace

import pytest
import shapely

from dispatch.day_problem import DispatchProblem
from dispatch.files.plan_io import plan_from_dict, plan_to_dict
from dispatch.models import Job, JobKind
from dispatch.plan import UnassignedReason
from dispatch.planning import planner
from dispatch.planning.decompose import make_groups, neighbours
from dispatch.planning.feasibility import screen
from dispatch.planning.planner import PlanOptions, make_plan
from dispatch.translate import build_travel
from dispatch.zones import Zone
from fixtures.shanghai import demo_problem
from routing.problem import RoutingSolution


def without_zones(p: DispatchProblem) -> DispatchProblem:
    """The day as imported without a zones file: no zones, no job zone, no home zone."""
    return dataclasses.replace(
        p,
        zones=[],
        jobs=[dataclasses.replace(j, zone=None) for j in p.jobs],
        crews=[dataclasses.replace(c, home_zone=None) for c in p.crews],
    )


def _xy(job: Job) -> tuple[float, float]:
    return (job.location.lon, job.location.lat)


@pytest.fixture(scope="module")
def day() -> DispatchProblem:
    return without_zones(demo_problem(jobs=300, seed=5))


@pytest.fixture(scope="module")
def eligible(day) -> dict[str, list[int]]:
    return screen(day, build_travel(day)).eligible


def test_a_large_day_without_zones_is_cut_into_compact_areas(day, eligible):
    groups = make_groups(day, eligible, 100, 80)
    assert len(groups) >= 3
    assert all(g.name.startswith("area ") for g in groups)
    servable = sorted(i for i, j in enumerate(day.jobs) if j.id in eligible)
    assert sorted(i for g in groups for i in g.job_indices) == servable
    assert sorted(k for g in groups for k in g.crew_indices) == list(range(len(day.crews)))
    assert all(len(g.job_indices) <= 1.4 * 80 for g in groups)
    # compact: the hulls of the areas' jobs hardly overlap
    hulls = {
        g.name: shapely.convex_hull(shapely.multipoints([_xy(day.jobs[i]) for i in g.job_indices]))
        for g in groups
    }
    overlap = sum(a.intersection(b).area for a, b in itertools.combinations(hulls.values(), 2))
    assert overlap < 0.1 * sum(h.area for h in hulls.values())
    # territories tile the region: every area touches another, for the neighbour pass
    near = neighbours(groups)
    assert all(near[g.name] for g in groups)


def test_every_job_has_a_crew_that_may_do_it_in_its_area(day, eligible):
    for g in make_groups(day, eligible, 100, 80):
        crews = set(g.crew_indices)
        kinds = {day.crews[k].kind for k in crews}
        assert len(kinds) >= 3, f"{g.name} has crews of {kinds}"
        orders = {
            day.jobs[i].order_id for i in g.job_indices if day.jobs[i].kind is JobKind.DELIVERY
        }
        for i in g.job_indices:
            job = day.jobs[i]
            assert crews & set(eligible[job.id]) or job.order_id in orders


def test_installations_stay_with_their_delivery(day, eligible):
    group_of = {i: g.name for g in make_groups(day, eligible, 100, 80) for i in g.job_indices}
    delivery = {day.jobs[i].order_id: i for i in group_of if day.jobs[i].kind is JobKind.DELIVERY}
    linked = [
        (i, delivery[day.jobs[i].order_id])
        for i in group_of
        if day.jobs[i].kind is JobKind.INSTALLATION and day.jobs[i].order_id in delivery
    ]
    assert linked, "the demo day has delivery + installation orders"
    assert all(group_of[i] == group_of[d] for i, d in linked)


def test_same_day_same_areas(day, eligible):
    def shape(groups):
        return [(g.name, g.job_indices, g.crew_indices, g.territory.wkt) for g in groups]

    assert shape(make_groups(day, eligible, 100, 80)) == shape(make_groups(day, eligible, 100, 80))


def test_one_zone_is_partitioned_too_and_small_days_stay_whole(day, eligible):
    region = shapely.convex_hull(shapely.multipoints([_xy(j) for j in day.jobs])).buffer(0.05)
    one_zone = dataclasses.replace(day, zones=[Zone("Z1", "all", region)])
    assert len(make_groups(one_zone, eligible, 100, 80)) >= 3
    small = make_groups(day, eligible, len(day.jobs), 80)
    assert [g.name for g in small] == ["all"]


# ---- a group that finds no first solution


def _no_solution_for(monkeypatch, name_part: str = "") -> None:
    """Make every group solve whose jobs include a job of a group named `name_part` (all
    groups when empty) return no solution at all, as a solve cut by its clock does."""
    real = planner.solve_group
    failed = {"ids": set()}

    def solve(translation, params, search):
        if failed["ids"] and not set(translation.job_ids) & failed["ids"]:
            return real(translation, params, search)
        return RoutingSolution([], list(range(len(translation.routing.visits))), 0, {})

    real_make_groups = planner.make_groups

    def groups(*args, **kw):
        made = real_make_groups(*args, **kw)
        target = next(g for g in made if name_part in g.name)
        problem = args[0]
        failed["ids"] = {problem.jobs[i].id for i in target.job_indices}
        return made

    monkeypatch.setattr(planner, "solve_group", solve)
    if name_part:
        monkeypatch.setattr(planner, "make_groups", groups)


def test_a_group_with_no_first_solution_is_a_loud_warning(monkeypatch, day):
    _no_solution_for(monkeypatch, "area 2")
    options = PlanOptions(
        time_limit_s=20, solution_limit=2, decompose_above=100, group_size=80, workers=1
    )
    plan = make_plan(day, options)
    assert plan.stats["unsolved_groups"] == 1
    assert len(plan.warnings) == 1
    warning = plan.warnings[0]
    size = int(plan.stats["unsolved_jobs"])
    assert "'area 2'" in warning and f"({size} jobs)" in warning
    assert "no first solution in its" in warning and " s of search" in warning
    unsolved = [u for u in plan.unassigned if u.reason is UnassignedReason.NOT_SOLVED_IN_TIME]
    assert unsolved and all("area 2" in u.detail for u in unsolved)
    assert f"{len(unsolved)} of its jobs are unassigned" in warning
    # the warning travels with the saved plan
    assert plan_from_dict(plan_to_dict(plan)).warnings == plan.warnings


def test_a_plan_with_every_group_solved_has_no_warning(day):
    plan = make_plan(day, PlanOptions(time_limit_s=20, solution_limit=1, workers=1))
    assert plan.warnings == [] and plan.stats["unsolved_groups"] == 0
    assert "warnings" not in plan_to_dict(plan)


def test_dispatch_plan_exits_3_on_an_unsolved_group_unless_allowed(monkeypatch, tmp_path, capsys):
    from scripts.cli import EXIT_UNSOLVED, _parser, main

    _no_solution_for(monkeypatch)
    args = ["plan", "--fixture", "shanghai", "--jobs", "20", "--seed", "2", "--workers", "1"]
    args += ["--time-limit", "5", "--solution-limit", "1"]
    assert main([*args, "--out", str(tmp_path / "a")]) == EXIT_UNSOLVED == 3
    out = capsys.readouterr()
    assert out.out.startswith("plan for") and "WARNING: group 'all' (" in out.out
    assert "exit 3" in out.err
    summary = (tmp_path / "a" / "summary.txt").read_text(encoding="utf-8")
    assert summary.startswith("WARNING: group 'all'")
    assert (tmp_path / "a" / "plan.json").exists()
    assert main([*args, "--allow-unsolved", "--out", str(tmp_path / "b")]) == 0
    assert "WARNING: group 'all'" in capsys.readouterr().out
    plan_help = " ".join(
        _parser()._subparsers._group_actions[0].choices["plan"].format_help().split()
    )
    assert "--allow-unsolved" in plan_help and "3 a group of jobs" in plan_help


def test_the_service_plan_message_carries_the_warning(monkeypatch):
    from api.background.plan_worker import _solve_plan
    from dispatch.files.problem_io import problem_to_dict

    _no_solution_for(monkeypatch)
    snapshot = problem_to_dict(demo_problem(jobs=20, seed=2))
    settings = SimpleNamespace(plan_time_limit_s=5.0, plan_solution_limit=1, plan_workers=1)
    task = SimpleNamespace(id="P1", settings=settings, progress=lambda _f, _m: None)
    row = _solve_plan(task, snapshot, {})  # type: ignore[arg-type]
    assert row["status"] == "succeeded"
    assert row["message"].startswith("done, WARNING; group 'all' (")
    assert row["result"]["warnings"] == [row["message"].split("; ", 1)[1]]
