"""Regions on service metrics, zones and depots: `GET /metrics/service?region=`, and what a
region-bound dispatcher (token naming `regions`) sees and may upload.

The seeded demo day has 30 jobs, of which one (`RURAL_JOB`, an installation in zone Z11) is
rural; its published plan, crews and all 12 zones are urban. No job of it is completed, so the
callback rule is checked on a small hand-built database (`callbacks`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.http.auth import issue_token
from api.settings import Settings
from api.storage.models import JobRow, PlanRow
from tests.api_support import publish_demo_plan

pytestmark = pytest.mark.api

JUNE = {"from": "2026-06-01", "to": "2026-06-30"}
RURAL_JOB = "O061800005-I"
JOB_METRICS = (
    "completion_rate",
    "same_day_completion",
    "deliveries_within_12h",
    "installations_within_24h",
    "follow_up_coverage",
    "callback_rate",
    "lateness",
)
SQUARE = [[[121.0, 30.6], [121.1, 30.6], [121.1, 30.7], [121.0, 30.7], [121.0, 30.6]]]


def bound(settings: Settings, *regions: str) -> dict[str, str]:
    """Headers of a dispatcher bound to `regions`."""
    token = issue_token(settings, f"d-{'-'.join(regions)}", "dispatcher", regions=list(regions))
    return {"Authorization": f"Bearer {token}"}


def metrics(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    r = client.get("/metrics/service", params=JUNE | params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def figures(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer without its echoed filters."""
    return {k: v for k, v in answer.items() if k != "filters"}


@pytest.fixture
def published(seeded: TestClient, settings: Settings) -> TestClient:
    publish_demo_plan(seeded, settings)
    return seeded


def test_region_filter_on_the_demo_day(published, auth):
    everything = metrics(published, auth("manager"))
    urban = metrics(published, auth("manager"), region="urban")
    rural = metrics(published, auth("manager"), region="rural")
    assert everything["filters"] == {"zone": None, "crew_id": None, "crew_kind": None}
    assert urban["filters"]["region"] == "urban" and urban["filters"]["regions"] == ["urban"]
    assert rural["filters"]["region"] == "rural" and rural["filters"]["regions"] == ["rural"]

    # the one rural job: an installation due and received in June, not completed
    assert everything["completion_rate"]["denominator"] == 30
    assert rural["completion_rate"] == {
        "numerator": 0,
        "denominator": 1,
        "value": 0.0,
        "unfinished": 1,
    }
    assert rural["same_day_completion"]["denominator"] == 1
    assert rural["installations_within_24h"]["denominator"] == 1
    assert rural["deliveries_within_12h"]["denominator"] == 0
    # urban is everything but that job: each job metric's counts split between the regions
    assert urban["completion_rate"]["denominator"] == 29
    for key in JOB_METRICS:
        for part in ("numerator", "denominator"):
            total = urban[key][part] + rural[key][part]
            assert total == everything[key][part], (key, part)
        if "unfinished" in everything[key]:
            total = urban[key]["unfinished"] + rural[key]["unfinished"]
            assert total == everything[key]["unfinished"], key
    assert urban["deliveries_within_12h"] == everything["deliveries_within_12h"]
    # routes count for their plan's region: the demo plan is urban (the rural job rides on it)
    assert everything["utilisation"]["denominator"] > 0
    assert urban["utilisation"] == everything["utilisation"]
    assert rural["utilisation"] == {"numerator": 0, "denominator": 0, "value": None}


def test_bound_dispatchers(published, settings, auth):
    rural = bound(settings, "rural")
    r = published.get("/metrics/service", params=JUNE | {"region": "urban"}, headers=rural)
    assert r.status_code == 403
    assert "rural" in r.json()["detail"] and "urban" in r.json()["detail"]

    rural_only = metrics(published, auth("manager"), region="rural")
    default = metrics(published, rural)
    assert figures(default) == figures(rural_only)
    assert default["filters"]["regions"] == ["rural"] and "region" not in default["filters"]
    assert figures(metrics(published, rural, region="rural")) == figures(rural_only)

    urban = bound(settings, "urban")
    assert figures(metrics(published, urban)) == figures(
        metrics(published, auth("manager"), region="urban")
    )
    both = metrics(published, bound(settings, "urban", "rural"))
    assert figures(both) == figures(metrics(published, auth("dispatcher")))
    assert both["filters"]["regions"] == ["rural", "urban"]


def test_bad_region_is_422(client, settings, auth):
    for headers in (auth("manager"), bound(settings, "rural")):
        r = client.get("/metrics/service", params=JUNE | {"region": "suburban"}, headers=headers)
        assert r.status_code == 422
        detail = r.json()["errors"][0]
        assert detail["field"] == "region" and "rural, urban" in detail["message"]


def job(
    job_id: str,
    region: str,
    status: str,
    completed: str | None = None,
    callback_of: str | None = None,
    kind: str = "repair",
    record: dict[str, Any] | None = None,
) -> JobRow:
    received = datetime(2026, 6, 10, 8, 0)
    return JobRow(
        id=job_id,
        due_date=date(2026, 6, 10),
        kind=kind,
        status=status,
        region=region,
        zone="Z1",
        priority="callback" if callback_of else "normal",
        order_id=f"O-{job_id}",
        received_at=received,
        record=record or {},
        callback_of=callback_of,
        crew_id=None,
        completed_at=datetime.fromisoformat(f"2026-{completed}") if completed else None,
        created_at=received,
        updated_at=received,
    )


def plan(plan_id: str, region: str, crew_id: str, drive_s: int) -> PlanRow:
    created = datetime(2026, 6, 9, 6, 0)
    return PlanRow(
        id=plan_id,
        region=region,
        day=date(2026, 6, 10),
        zones=[],
        status="published",
        progress=1.0,
        message="",
        options={},
        result={
            "problem": {"crews": [{"id": crew_id, "shift_start": "08:00", "shift_end": "16:00"}]},
            "routes": [{"crew_id": crew_id, "drive_s": drive_s, "stops": []}],
            "unassigned": [],
        },
        kpis={},
        created_by="test",
        created_at=created,
    )


@pytest.fixture
def callbacks(client: TestClient) -> TestClient:
    """June: rural RO and urban UO, UO2 completed; RO's callback UC is urban, UO's callback RC
    is rural (both opened in July, open); one published plan per region on 06-10."""
    with client.app.state.ctx.sessions() as session, session.begin():
        session.add_all(
            [
                job("RO", "rural", "completed", "06-10T12:00"),
                job("UO", "urban", "completed", "06-10T12:00"),
                job("UO2", "urban", "completed", "06-10T13:00"),
            ]
        )
        session.flush()
        session.add_all(
            [job("UC", "urban", "open", None, "RO"), job("RC", "rural", "open", None, "UO")]
        )
        session.add_all([plan("PU", "urban", "CU", 4800), plan("PR", "rural", "CR", 2400)])
    return client


def test_a_callback_counts_for_the_original_jobs_region(callbacks, settings, auth):
    everything = metrics(callbacks, auth("manager"))
    assert everything["callback_rate"] == {"numerator": 2, "denominator": 3, "value": 2 / 3}
    urban = metrics(callbacks, auth("manager"), region="urban")
    assert urban["callback_rate"] == {"numerator": 1, "denominator": 2, "value": 0.5}  # UO by RC
    rural = metrics(callbacks, auth("manager"), region="rural")
    assert rural["callback_rate"] == {"numerator": 1, "denominator": 1, "value": 1.0}  # RO by UC
    assert figures(metrics(callbacks, bound(settings, "rural"))) == figures(rural)
    # routes by their plan's region: 480-minute shifts, 80 and 40 minutes of driving
    assert urban["utilisation"] == {"numerator": 80, "denominator": 480, "value": 80 / 480}
    assert rural["utilisation"] == {"numerator": 40, "denominator": 480, "value": 40 / 480}
    assert everything["utilisation"]["denominator"] == 960


EXPLICIT = {"deadline": "2026-06-10T09:00"}


def test_promise_shares_use_the_jobs_region_and_explicit_deadline(client, auth):
    """Received 06-10 08:00. RD, rural delivery done 18 h later: within its 24 h on both
    clocks. UD, urban delivery done 2 h later but with an explicit deadline of 09:00 in its
    record: kept on the customer's clock, missed on the planning clock."""
    with client.app.state.ctx.sessions() as session, session.begin():
        session.add_all(
            [
                job("RD", "rural", "completed", "06-11T02:00", kind="delivery"),
                job("UD", "urban", "completed", "06-10T10:00", kind="delivery", record=EXPLICIT),
            ]
        )
    got = metrics(client, auth("manager"))
    assert got["deliveries_within_12h"]["numerator"] == 2
    assert got["deliveries_by_planning_deadline"]["numerator"] == 1  # RD only
    assert got["deliveries_by_planning_deadline"]["denominator"] == 2
    assert got["promise_clocks"]["shares"]["deliveries_within_12h"] == "customer"
    assert got["promise_clocks"]["customer"].startswith("customer's clock")


# --- zones and depots -------------------------------------------------------------------------


def zones(zone_id: str, region: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"id": zone_id, "name": f"zone {zone_id}"}
    if region is not None:
        props["region"] = region
    feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": SQUARE}}
    return {"type": "FeatureCollection", "features": [feature | {"properties": props}]}


def depots(*features: tuple[str, str | None]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [121.05, 30.65]},
                "properties": {"id": d, "kind": "service_point", "name": d, "zone": zone},
            }
            for d, zone in features
        ],
    }


def ids(client: TestClient, path: str, headers: dict[str, str], **params: str) -> list[str]:
    r = client.get(path, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return [f["properties"]["id"] for f in r.json()["features"]]


def test_zones_and_depots_listed_by_region(seeded, settings, auth):
    rural, urban = bound(settings, "rural"), bound(settings, "urban")
    all_zones = ids(seeded, "/zones", auth("dispatcher"))
    all_depots = ids(seeded, "/depots", auth("dispatcher"))
    assert len(all_zones) == 12 and len(all_depots) == 15
    assert ids(seeded, "/zones", urban) == all_zones
    assert ids(seeded, "/depots", urban) == all_depots
    assert ids(seeded, "/zones", rural) == [] and ids(seeded, "/depots", rural) == []
    assert ids(seeded, "/zones", rural, region="urban") == []

    r = seeded.put("/zones", json=zones("RZ1", "rural"), headers=rural)
    assert r.status_code == 200, r.text
    r = seeded.put("/depots", json=depots(("RSP1", "RZ1")), headers=rural)
    assert r.status_code == 200, r.text
    assert ids(seeded, "/zones", rural) == ["RZ1"]
    assert ids(seeded, "/depots", rural) == ["RSP1"]
    assert ids(seeded, "/zones", urban) == all_zones
    assert ids(seeded, "/depots", urban) == all_depots
    assert ids(seeded, "/zones", auth("planner")) == sorted([*all_zones, "RZ1"])
    assert "RSP1" in ids(seeded, "/depots", auth("manager"))


def test_bound_dispatcher_uploads_only_his_regions(seeded, settings, auth):
    rural = bound(settings, "rural")
    assert seeded.put("/zones", json=zones("RZ2"), headers=rural).status_code == 403  # urban
    r = seeded.put("/zones", json=zones("Z11", "rural"), headers=rural)  # an urban zone
    assert r.status_code == 403 and "urban" in r.json()["detail"]
    both = zones("RZ3", "rural")
    both["features"] += zones("RZ4", "urban")["features"]
    assert seeded.put("/zones", json=both, headers=rural).status_code == 403
    listed = ids(seeded, "/zones", auth("dispatcher"))
    assert "RZ3" not in listed and "RZ4" not in listed  # refused whole
    zone = seeded.get("/zones", headers=auth("dispatcher")).json()["features"]
    assert {z["properties"]["region"] for z in zone} == {"urban"}

    assert seeded.put("/zones", json=zones("RZ1", "rural"), headers=rural).status_code == 200
    for refused in (
        depots(("RSP2", "Z01")),  # an urban zone
        depots(("RSP2", None)),  # no zone: no region
        depots(("RSP2", "NOPE")),  # a zone that is not stored
        depots(("SP01", "RZ1")),  # moving an urban zone's depot
        depots(("RSP2", "RZ1"), ("RSP3", "Z01")),
    ):
        assert seeded.put("/depots", json=refused, headers=rural).status_code == 403, refused
    assert ids(seeded, "/depots", rural) == []
    assert "RSP2" not in ids(seeded, "/depots", auth("dispatcher"))

    # unbound dispatchers are not affected
    office = auth("dispatcher")
    assert seeded.put("/zones", json=zones("RZ5", "rural"), headers=office).status_code == 200
    assert seeded.put("/depots", json=depots(("WH9", None)), headers=office).status_code == 200
    urban = bound(settings, "urban")
    assert seeded.put("/zones", json=zones("Z12", "urban"), headers=urban).status_code == 200
    assert seeded.put("/depots", json=depots(("SP12", "Z12")), headers=urban).status_code == 200
