"""The seeded Shanghai demo city (fixtures/shanghai*.py): geography, crews and a day of jobs."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest

from dispatch.day_problem import DispatchProblem
from dispatch.models import CrewKind, DepotKind, JobKind, Priority, ProductCategory
from dispatch.promises import PromiseBook
from dispatch.zones import locate
from fixtures.shanghai import city, crew_counts, demo_problem, generate_jobs

AC = {ProductCategory.SPLIT_AC, ProductCategory.CABINET_AC}
DAY = date(2026, 6, 18)


@pytest.fixture(scope="module")
def normal() -> DispatchProblem:
    """The normal day as drawn (its assisting jobs, added on top, are tested on their own)."""
    return demo_problem(assisted=False)


@pytest.fixture(scope="module")
def peak() -> DispatchProblem:
    return demo_problem(peak=True, assisted=False)


@pytest.mark.parametrize(("peak_day", "helpers"), [(False, 16), (True, 63)])
def test_a_few_per_cent_of_installations_get_an_assisting_crew(peak_day: bool, helpers: int):
    """Cabinet ACs carried up 4+ floors without a lift: one assisting job each, on top of
    the jobs drawn (fixtures/README.md gives the counts), tied to its lead by a sync."""
    drawn = demo_problem(peak=peak_day, assisted=False)
    day = demo_problem(peak=peak_day)
    assisting = [j for j in day.jobs if j.assists]
    assert len(assisting) == helpers == len(day.jobs) - len(drawn.jobs)
    installs = sum(1 for j in drawn.jobs if j.kind is JobKind.INSTALLATION)
    assert 0.02 <= helpers / installs <= 0.04
    leads = day.jobs_by_id()
    for a in assisting:
        lead = leads[a.assists]
        assert (a.order_id, a.location, a.windows, a.kind) == (
            lead.order_id, lead.location, lead.windows, lead.kind)  # fmt: skip
        assert lead.category is ProductCategory.CABINET_AC and not lead.has_lift
        assert lead.floor >= 4 and a.people == 1 and lead.people <= 2
    assert {(s.first, s.second) for s in day.syncs} == {(a.assists, a.id) for a in assisting}
    drawn_ids = [j.id for j in drawn.jobs]
    assert [j.id for j in day.jobs if not j.assists] == drawn_ids  # nothing else changes


def km(a, b) -> float:
    la1, la2 = math.radians(a.lat), math.radians(b.lat)
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin(math.radians(b.lon - a.lon) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def ac_share(problem: DispatchProblem) -> float:
    installs = [j for j in problem.jobs if j.kind is JobKind.INSTALLATION]
    return sum(j.category in AC for j in installs) / len(installs)


def test_same_seed_gives_the_same_problem():
    """Two builds with the same arguments are identical; another seed gives other jobs."""
    a = demo_problem(jobs=400, seed=7)
    b = demo_problem(jobs=400, seed=7)
    assert a.jobs == b.jobs
    assert [(j.address, j.customer_name, j.customer_phone) for j in a.jobs] == [
        (j.address, j.customer_name, j.customer_phone) for j in b.jobs
    ]
    assert a.crews == b.crews
    assert a.depots == b.depots and [z.id for z in a.zones] == [z.id for z in b.zones]
    assert demo_problem(jobs=400, seed=8).jobs != a.jobs


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 33, 150, 1500])
def test_exact_job_count(n):
    """generate_jobs makes exactly the number of jobs asked for, with unique ids."""
    jobs = generate_jobs(DAY, n, seed=1)
    assert len(jobs) == n
    assert len({j.id for j in jobs}) == n


def test_default_sizes(normal, peak):
    """The default day has 1,500 jobs, the peak day 4,000, on 2026-06-18."""
    assert len(normal.jobs) == 1500 and normal.date == DAY
    assert len(peak.jobs) == 4000 and peak.date == DAY


def test_city_depots_and_zones():
    """12 service points each in its own zone Z01..Z12, 3 warehouses; city() is cached."""
    c = city()
    assert c is city()
    sps = [d for d in c.depots if d.kind is DepotKind.SERVICE_POINT]
    whs = [d for d in c.depots if d.kind is DepotKind.WAREHOUSE]
    assert [d.id for d in sps] == [f"SP{k:02d}" for k in range(1, 13)]
    assert [d.id for d in whs] == ["WH1", "WH2", "WH3"]
    assert [z.id for z in c.zones] == [f"Z{k:02d}" for k in range(1, 13)]
    assert locate([d.location for d in sps], c.zones) == [d.zone for d in sps]
    total = sum(z.polygon.area for z in c.zones)
    assert total == pytest.approx(c.outline.area, rel=1e-6)  # zones tile the outline


def test_jobs_inside_zones_and_near_depots(normal, peak):
    """Every job lies in a zone (its `zone` field agrees) and within 80 km of a depot."""
    for problem in (normal, peak):
        zones = locate([j.location for j in problem.jobs], problem.zones)
        assert None not in zones
        assert zones == [j.zone for j in problem.jobs]
        for j in problem.jobs:
            assert min(km(j.location, d.location) for d in problem.depots) <= 80.0


def test_linked_pairs(normal, peak):
    """A delivery's linked installation shares its order and may start once it can arrive."""
    for problem in (normal, peak):
        by_order: dict[str, list] = {}
        for j in problem.jobs:
            by_order.setdefault(j.order_id, []).append(j)
        pairs = [js for js in by_order.values() if len(js) == 2]
        assert len(pairs) > 100
        assert all(len(js) <= 2 for js in by_order.values())
        for js in pairs:
            kinds = {j.kind: j for j in js}
            d, i = kinds[JobKind.DELIVERY], kinds[JobKind.INSTALLATION]
            assert d.id == f"{d.order_id}-D" and i.id == f"{d.order_id}-I"
            assert i.windows[-1].end > d.windows[0].start
            assert i.windows[0].start >= d.windows[0].start
            assert (i.location, i.category, i.quantity) == (d.location, d.category, d.quantity)
            assert d.volume_l > 0 and i.volume_l == 0


def test_crew_counts_normal_day(normal):
    """For 1,500 jobs each crew kind has 40-150 crews; there are no temporary crews."""
    counts = Counter(c.kind for c in normal.crews)
    assert set(counts) == set(CrewKind)
    assert all(40 <= n <= 150 for n in counts.values()), counts
    assert not any(c.id.startswith("TMP") for c in normal.crews)
    assert crew_counts(1500) == {"DT": 55, "IC": 135, "RT": 45, "CB": 40}


def test_peak_day_hires_temporary_installers(peak):
    """The 4,000-job peak day adds about 60 temporary installation crews (TMP...)."""
    tmp = [c for c in peak.crews if c.id.startswith("TMP")]
    assert 50 <= len(tmp) <= 70
    assert all(c.kind is CrewKind.INSTALLATION_CREW and "ac_install" in c.skills for c in tmp)


def test_tiny_demo_keeps_two_crews_per_kind():
    """A tiny demo still gets at least 2 crews of each kind."""
    counts = Counter(c.kind for c in demo_problem(jobs=10).crews)
    assert all(counts[k] >= 2 for k in CrewKind)


def test_peak_has_more_air_conditioners(normal, peak):
    """ACs are ~40 % of installations on a normal day and 60-75 % at the peak."""
    assert 0.3 <= ac_share(normal) <= 0.5
    assert 0.6 <= ac_share(peak) <= 0.75
    assert ac_share(peak) > ac_share(normal) + 0.15


def test_job_mix(normal, peak):
    """Kinds follow 30/40/22/8 % (normal) and 30/48/16/6 % (peak); ~3 % backlog, ~5 % VIP."""
    for problem, shares in ((normal, (30, 40, 22, 8)), (peak, (30, 48, 16, 6))):
        n = len(problem.jobs)
        kinds = Counter(j.kind for j in problem.jobs)
        expected = dict(zip(JobKind, shares, strict=True))
        assert {k: round(100 * kinds[k] / n) for k in JobKind} == expected
        prio = Counter(j.priority for j in problem.jobs)
        assert 0.02 <= (prio[Priority.COMPLAINT] + prio[Priority.CALLBACK]) / n <= 0.04
        assert 0.03 <= prio[Priority.VIP] / n <= 0.07
        assert 0.04 <= sum(j.region == "rural" for j in problem.jobs) / n <= 0.14


def test_jobs_are_valid_and_on_the_plan_day(normal, peak):
    """Every job rebuilt from its fields passes validation; windows are on the plan day."""
    book = PromiseBook()
    plan_start = datetime.combine(DAY, datetime.min.time()) + timedelta(hours=7)
    for problem in (normal, peak):
        for j in problem.jobs:
            type(j)(**{f: getattr(j, f) for f in j.__dataclass_fields__})  # raises InputError
            assert all(w.start.date() == DAY and w.end.date() == DAY for w in j.windows)
            assert j.confirmed_at < plan_start
            assert book.deadline(j) > j.confirmed_at
            assert j.service_minutes is None and j.customer_phone.startswith("1")
            assert len(j.customer_phone) == 11 and j.address and j.customer_name


def test_backlog_is_overdue(normal):
    """Complaint and callback jobs were confirmed 2 (rural: 3) days ago and are overdue."""
    book = PromiseBook()
    backlog = [j for j in normal.jobs if j.priority in (Priority.COMPLAINT, Priority.CALLBACK)]
    assert backlog
    for j in backlog:
        days = 3 if j.region == "rural" else 2
        assert j.confirmed_at.date() == DAY - timedelta(days=days)
        assert book.deadline(j) < datetime.combine(DAY, datetime.min.time())


def test_every_job_has_an_able_crew(normal, peak):
    """Each job's kind, skills and people are offered by at least one crew (Crew.can_do)."""
    for problem in (normal, peak, demo_problem(jobs=20, seed=3)):
        needs = {(j.kind, j.skills, j.people): j for j in problem.jobs}
        for job in needs.values():
            assert any(c.can_do(job) for c in problem.crews), job


def test_crews_start_at_their_depots(normal):
    """Installers and technicians leave from their zone's service point, trucks from a warehouse."""
    depots = {d.id: d for d in normal.depots}
    for c in normal.crews:
        depot = depots[c.start_depot]
        assert c.end_depot == c.start_depot
        if c.kind in (CrewKind.DELIVERY_TRUCK, CrewKind.COMBINED):
            assert depot.kind is DepotKind.WAREHOUSE and c.capacity_volume_l > 0
        else:
            assert depot.kind is DepotKind.SERVICE_POINT and depot.zone == c.home_zone


def test_data_is_read_from_the_package():
    """The LaDe extract and its attribution ship inside fixtures/data."""
    data = resources.files("fixtures").joinpath("data")
    rows = data.joinpath("lade_p_pickup_shanghai.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1286 and rows[0].startswith("order_id,region_id,city,courier_id")
    source = data.joinpath("SOURCE.txt").read_text(encoding="utf-8")
    assert source.startswith("Copied into this project") and "arXiv:2306.10675" in source
    assert len(city().sites) == 1285


def test_peak_problem_builds_fast():
    """A 4,000-job peak problem builds in well under 5 s (geography cached or not)."""
    started = time.perf_counter()
    demo_problem(jobs=4000, peak=True, seed=11)
    assert time.perf_counter() - started < 5.0


DIGEST = """
import hashlib
from fixtures.shanghai import demo_problem
p = demo_problem(jobs=300, seed=5, peak=True)
def canon(o):
    return [(k, sorted(v) if isinstance(v, frozenset) else repr(v)) for k, v in vars(o).items()]
text = repr([canon(j) for j in p.jobs]) + repr([canon(c) for c in p.crews])
print(hashlib.sha256(text.encode()).hexdigest())
"""


def test_same_problem_in_another_process():
    """The problem does not depend on the process (hash seed): two interpreters agree."""
    root = Path(__file__).resolve().parents[2]
    digests = {
        subprocess.run(
            [sys.executable, "-c", DIGEST],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1
