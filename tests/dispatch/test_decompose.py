"""Large days decomposed: zone sectors, valid merged plans, the Dask path, rebalancing.

Kept fast with small days and solution limits, so every solve stops on its solution count
(reproducible) long before its time limit.
"""

from __future__ import annotations

import pytest
from shapely.geometry import box

from dispatch.models import CrewKind
from dispatch.plan_validator import validate_plan
from dispatch.planning.cluster import Cluster
from dispatch.planning.decompose import make_groups, neighbours
from dispatch.planning.feasibility import screen
from dispatch.planning.planner import PlanOptions, make_plan
from dispatch.translate import build_travel
from dispatch.zones import Zone
from fixtures.shanghai import demo_problem
from tests.factories import KM_DEG, LAT, LON0, crew, depot, job, problem

#: a 300-job demo day cut into groups of about 40 jobs: zones are split into sectors
#: (the time limit is only a ceiling with a solution limit, but the neighbour pass finds its
#: one solution and then searches to it: 10 s keeps the test short)
SMALL = {"decompose_above": 100, "group_size": 40, "solution_limit": 2, "time_limit_s": 10}


def _routes(plan):
    return [(r.crew_id, [(s.job_id, s.start) for s in r.stops]) for r in plan.routes]


@pytest.fixture(scope="module")
def day():
    return demo_problem(jobs=300, seed=11)


@pytest.fixture(scope="module")
def serial_plan(day):
    return make_plan(day, PlanOptions(cluster=Cluster("serial"), **SMALL))


def test_big_zones_are_cut_into_sectors_with_their_own_crews(day):
    eligible = screen(day, build_travel(day)).eligible
    groups = make_groups(day, eligible, 100, 40)
    assert any("/" in g.name for g in groups), "some zone was cut into sectors"
    jobs = [i for g in groups for i in g.job_indices]
    crews = [k for g in groups for k in g.crew_indices]
    assert sorted(jobs) == sorted(i for i, j in enumerate(day.jobs) if j.id in eligible)
    assert sorted(crews) == list(range(len(day.crews)))
    assert all(len(g.job_indices) <= 2 * 40 for g in groups)
    for g in groups:  # each job has an eligible crew in its group, or follows its delivery
        orders = {
            day.jobs[i].order_id for i in g.job_indices if day.jobs[i].kind.value == "delivery"
        }
        for i in g.job_indices:
            j = day.jobs[i]
            assert set(eligible[j.id]) & set(g.crew_indices) or j.order_id in orders
    near = neighbours(groups)
    assert all(near[g.name] for g in groups)


@pytest.mark.slow  # plans a 300-job day in 8 groups (about 10 s)
def test_decomposed_plan_is_valid_and_accounts_for_every_job(day, serial_plan):
    plan = serial_plan
    assert plan.stats["groups"] > 4
    assert validate_plan(plan) == []
    planned = [s.job_id for r in plan.routes for s in r.stops]
    unassigned = [u.job_id for u in plan.unassigned]
    assert sorted(planned + unassigned) == sorted(j.id for j in day.jobs)
    assert len(planned) >= 0.85 * len(day.jobs)  # 2 solutions per solve: little search


@pytest.mark.service  # a local Dask cluster
def test_same_plan_from_a_local_dask_cluster(day, serial_plan):
    plan = make_plan(day, PlanOptions(cluster=Cluster("local", workers=2), **SMALL))
    assert validate_plan(plan) == []
    assert _routes(plan) == _routes(serial_plan)


def test_a_crew_helps_the_zone_next_door():
    """Zone W has one technician for eight jobs (it may do three); zone E's technicians
    have spare time: the second pass gives them W's leftovers."""

    def zone(id: str, west_km: float, east_km: float) -> Zone:
        return Zone(
            id, id, box(LON0 + west_km * KM_DEG, LAT - 0.1, LON0 + east_km * KM_DEG, LAT + 0.1)
        )

    tech = CrewKind.REPAIR_TECHNICIAN
    crews = [
        crew("W1", tech, people=1, start_depot="DW", end_depot="DW", home_zone="W", max_jobs=3),
        crew("E1", tech, people=1, start_depot="DE", end_depot="DE", home_zone="E", max_jobs=8),
        crew("E2", tech, people=1, start_depot="DE", end_depot="DE", home_zone="E", max_jobs=8),
    ]
    jobs = [job(f"W{k}", -float(k), zone="W") for k in range(1, 9)]
    jobs += [job("E1", 3.0, zone="E"), job("E2", 6.0, zone="E")]
    p = problem(
        jobs,
        crews,
        [depot("DW", -5.0), depot("DE", 5.0)],
        zones=[zone("W", -20, 0), zone("E", 0, 20)],
    )
    options = PlanOptions(decompose_above=5, group_size=8, solution_limit=5, workers=1)
    plan = make_plan(p, options)
    assert plan.stats["groups"] == 2
    assert validate_plan(plan) == []
    assert not plan.unassigned
    crew_of = {s.job_id: r.crew_id for r in plan.routes for s in r.stops}
    helped = [j for j, c in crew_of.items() if j.startswith("W") and c.startswith("E")]
    assert len(helped) >= 5
    assert plan.stats["rebalanced"] >= 5
