"""Assisted jobs (协助, `Job.assists`) through the service: `POST /jobs` and imports check the
job named (it exists, in the same region, and assists no other itself: 422 naming `assists`),
the stored record carries it, `assist_tolerance_minutes` is a plan setting, and a published
plan's pair shows on both crews' routes and on the board."""

from __future__ import annotations

import json
import uuid

import pytest

from api.http.routers.routes import DriverRouteOut
from api.principals import Principal, Role
from api.services.problem_builder import build_problem
from api.services.publication import publish_plan
from api.storage.models import PlanRow
from dispatch.files.plan_io import plan_to_dict
from dispatch.metrics.kpis import plan_kpis
from dispatch.planning.planner import PlanOptions, make_plan
from tests.api_support import DEMO_DAY

pytestmark = pytest.mark.api

DAY = DEMO_DAY.isoformat()
LEAD = {
    "id": "AC-LEAD",
    "kind": "repair",
    "order_id": "O-AC",
    "confirmed_at": f"{DAY}T07:00",
    "lon": 121.47,
    "lat": 31.23,
    "windows": [{"start": f"{DAY}T09:00", "end": f"{DAY}T17:00"}],
    "category": "cabinet_ac",
    "floor": 18,
    "service_minutes": 60,
    "address": "88 Huaihai Rd, 18F",
    "customer_name": "Wang Fang",
    "customer_phone": "13900000001",
}
HELPER = LEAD | {"id": "AC-HELP", "assists": "AC-LEAD"}


def errors(r) -> list[tuple[str, str]]:
    return [(e["record"], e["field"]) for e in r.json()["errors"]]


def test_a_job_that_assists_a_stored_one_is_stored_with_it(seeded, auth):
    office = auth("dispatcher")
    assert seeded.post("/jobs", json=LEAD, headers=office).status_code == 201
    r = seeded.post("/jobs", json=HELPER, headers=office)
    assert r.status_code == 201, r.text
    assert r.json()["record"]["assists"] == "AC-LEAD"
    assert seeded.get("/jobs/AC-HELP", headers=auth("planner")).json()["record"]["assists"] == (
        "AC-LEAD"
    )
    assert "assists" not in seeded.get("/jobs/AC-LEAD", headers=office).json()["record"]


@pytest.mark.parametrize(
    ("assists", "message"),
    [
        ("NO-SUCH-JOB", "no job 'NO-SUCH-JOB' in region 'urban'"),
        ("RURAL-1", "no job 'RURAL-1' in region 'urban'"),  # another region's
        ("AC-HELP", "assists 'AC-LEAD' itself"),  # an assisting job leads no visit
        ("AC-2", "a job cannot assist itself"),
    ],
)
def test_a_bad_reference_is_422_naming_assists(seeded, auth, assists, message):
    office = auth("dispatcher")
    for body in (LEAD, HELPER, LEAD | {"id": "RURAL-1", "region": "rural"}):
        assert seeded.post("/jobs", json=body, headers=office).status_code == 201
    r = seeded.post("/jobs", json=LEAD | {"id": "AC-2", "assists": assists}, headers=office)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    [(record, field)] = errors(r)
    assert record.startswith("request body") and field == "assists"
    assert message in r.json()["errors"][0]["message"]
    assert seeded.get("/jobs/AC-2", headers=office).status_code == 404  # nothing stored


def test_a_malformed_assists_is_422(seeded, auth):
    r = seeded.post("/jobs", json=LEAD | {"assists": "AC LEAD"}, headers=auth("dispatcher"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"][-1] == "assists"


def test_an_import_may_hold_both_jobs_of_a_pair(seeded, auth):
    """The assisting job first, its assisted job later in the same file: accepted."""
    office = auth("dispatcher")
    rows = [HELPER, LEAD]
    files = {"file": ("jobs.json", json.dumps({"jobs": rows}), "application/json")}
    r = seeded.post("/jobs/import", files=files, headers=office)
    assert r.status_code == 201, r.text
    assert seeded.get("/jobs/AC-HELP", headers=office).json()["record"]["assists"] == "AC-LEAD"


def test_an_import_naming_a_missing_job_stores_nothing(seeded, auth):
    office = auth("dispatcher")
    csv = (
        "id,kind,confirmed_at,lon,lat,windows,assists\n"
        f"P1,repair,{DAY}T07:00,121.47,31.23,{DAY}T09:00/{DAY}T17:00,\n"
        f"P2,repair,{DAY}T07:00,121.47,31.23,{DAY}T09:00/{DAY}T17:00,P1\n"
        f"P3,repair,{DAY}T07:00,121.47,31.23,{DAY}T09:00/{DAY}T17:00,GONE\n"
    )
    files = {"file": ("jobs.csv", csv, "text/csv")}
    r = seeded.post("/jobs/import", files=files, headers=office)
    assert r.status_code == 422, r.text
    assert errors(r) == [("job 'P3'", "assists")]
    assert seeded.get("/jobs/P1", headers=office).status_code == 404


@pytest.mark.parametrize("value", [-5, 241, "15"])
def test_the_tolerance_setting_is_checked(seeded, auth, value):
    body = {"date": DAY, "settings": {"assist_tolerance_minutes": value}}
    office = auth("dispatcher")
    r = seeded.post("/plans", json=body, headers=office)
    if value == "15":  # a number as text reads as the number, as in a settings file
        assert r.status_code == 202, r.text
        row = seeded.get(f"/plans/{r.json()['id']}", headers=office).json()
        assert row["options"]["settings"] == {"assist_tolerance_minutes": 15}
        return
    assert r.status_code == 422, r.text
    assert errors(r) == [("request body", "settings.assist_tolerance_minutes")]


def _publish_the_day(client, settings) -> tuple[str, dict[str, str]]:
    """The seeded day with the pair, planned from the tables and published; (plan id, job id
    -> crew id)."""
    sessions = client.app.state.ctx.sessions
    with sessions() as session:
        problem = build_problem(session, "urban", DEMO_DAY)
    assert [(s.first, s.second) for s in problem.syncs] == [("AC-LEAD", "AC-HELP")]
    plan = make_plan(problem, PlanOptions(time_limit_s=5, solution_limit=30))
    crews = {s.job_id: r.crew_id for r in plan.routes for s in r.stops}
    now = settings.now()
    plan_id = str(uuid.uuid4())
    with sessions() as session, session.begin():
        row = PlanRow(
            id=plan_id, region="urban", day=DEMO_DAY, zones=[], status="succeeded",
            progress=1.0, message="done", options={}, result=plan_to_dict(plan),
            kpis=plan_kpis(plan).as_dict(), created_by="test", created_at=now, finished_at=now,
        )  # fmt: skip
        session.add(row)
        session.flush()
        publish_plan(session, row, now, Principal("test", Role.DISPATCHER))
    return plan_id, crews


def test_both_crews_see_the_pair_and_the_board_marks_it(seeded, auth, settings):
    office = auth("dispatcher")
    for body in (LEAD, HELPER):
        assert seeded.post("/jobs", json=body, headers=office).status_code == 201
    plan_id, crews = _publish_the_day(seeded, settings)
    lead_crew, help_crew = crews["AC-LEAD"], crews["AC-HELP"]
    assert lead_crew != help_crew

    def stop(crew_id: str, job_id: str, role: str = "driver") -> dict:
        headers = auth(role, crew_id) if role == "driver" else auth(role)
        r = seeded.get(f"/routes/{crew_id}", params={"date": DAY}, headers=headers)
        assert r.status_code == 200, r.text
        DriverRouteOut.model_validate(r.json())  # the documented schema holds `assist`
        return next(s for s in r.json()["stops"] if s["job_id"] == job_id)

    lead, helper = stop(lead_crew, "AC-LEAD"), stop(help_crew, "AC-HELP")
    assert lead["assist"] == {
        "role": "assisted",
        "meet": lead["start"],
        "partners": [{"job_id": "AC-HELP", "crew_id": help_crew}],
    }
    assert helper["assist"] == {
        "role": "assisting",
        "meet": lead["start"],
        "partners": [{"job_id": "AC-LEAD", "crew_id": lead_crew}],
    }
    assert lead["start"] <= helper["start"]  # within the default 15 minutes
    assert helper["customer_phone"] == "13900000001"  # the crew's own customer, as ever
    assert stop(help_crew, "AC-HELP", "planner")["assist"] == helper["assist"]

    board = seeded.get(f"/plans/{plan_id}/board", headers=office).json()
    jobs = {j["id"]: j for j in board["jobs"]}
    assert jobs["AC-HELP"]["assists"] == "AC-LEAD"
    assert "assists" not in jobs["AC-LEAD"]
    assert board["plan"]["status"] == "published"
