"""The driver's view of a route, on a hand-worked day (tests/factories.py: 1 km = 100 s).

Truck T1 delivers order O1 at 10 km (window 09:00-10:00, 15 min), then R at 12 km; installer
I1 installs O1 at the same door after the delivery's end + 30 min gap. Crew IDLE has no route.

T1: leaves 08:43:20, O1-D 09:00-09:15, R (200 s on) 09:18:20-09:48:20, home 10:08:20, 24 km.
I1: O1-I 09:45-10:45 (arrives 09:45: it leaves as late as it can), home 11:01:40, 20 km.
"""

from __future__ import annotations

import json

import pytest

from dispatch.files.plan_io import plan_from_dict, plan_to_dict
from dispatch.models import CrewKind, Depot, DepotKind, JobKind
from dispatch.running.driver_route import driver_route
from tests.factories import crew, job, planned, point, problem

CONTACT = {"address": "1 Huaihai Rd", "customer_name": "Li Lei", "customer_phone": "13800000000"}


def _plan():
    jobs = [
        job("O1-D", 10, window=(9, 10), kind=JobKind.DELIVERY, minutes=15, order_id="O1",
            category="split_ac", volume_l=120.5, weight_kg=40, **CONTACT),
        job("O1-I", 10, window=(9, 18), kind=JobKind.INSTALLATION, minutes=60, order_id="O1",
            category="split_ac", skills=frozenset({"ac_install", "electrical"}), people=2,
            floor=7, has_lift=False, priority="vip", **CONTACT),
        job("R", 12, kind=JobKind.DELIVERY),
    ]  # fmt: skip
    crews = [
        crew("T1", CrewKind.DELIVERY_TRUCK),
        crew("I1", CrewKind.INSTALLATION_CREW, skills=frozenset({"ac_install", "electrical"})),
        crew("IDLE", CrewKind.REPAIR_TECHNICIAN, end_depot="W"),
    ]
    depots = [
        Depot("D", DepotKind.SERVICE_POINT, point(0), name="Xuhui service point"),
        Depot("W", DepotKind.WAREHOUSE, point(5), name="Minhang warehouse"),
    ]
    return planned(problem(jobs, crews, depots), {"T1": ["O1-D", "R"], "I1": ["O1-I"]})


def test_installer_sees_his_stop_and_the_delivery_he_waits_for():
    view = driver_route(_plan(), "I1")
    assert view["crew_id"] == "I1"
    assert view["date"] == "2026-06-18"
    assert (view["depart"], view["return_at"]) == ("2026-06-18T09:28", "2026-06-18T11:01")
    assert view["start_depot"] == {
        "id": "D",
        "name": "Xuhui service point",
        "lon": point(0).lon,
        "lat": point(0).lat,
    }
    assert view["lunch"] is None
    assert view["distance_km"] == 20.0
    (stop,) = view["stops"]
    assert stop == {
        "seq": 1,
        "job_id": "O1-I",
        "kind": "installation",
        "order_id": "O1",
        "eta": "2026-06-18T09:45",
        "start": "2026-06-18T09:45",
        "end": "2026-06-18T10:45",
        "window": {"start": "2026-06-18T09:00", "end": "2026-06-18T18:00"},
        "lon": point(10).lon,
        "lat": point(10).lat,
        "floor": 7,
        "has_lift": False,
        "bring": {
            "category": "split_ac",
            "quantity": 1,
            "volume_l": 0.0,
            "weight_kg": 0.0,
            "people": 2,
            "skills": ["ac_install", "electrical"],
        },
        "priority": "vip",
        "linked": [
            {"job_id": "O1-D", "kind": "delivery", "crew_id": "T1", "end": "2026-06-18T09:15"}
        ],
        **CONTACT,
    }


def test_truck_route_times_are_cut_to_the_minute():
    """R starts 09:18:20 and ends 09:48:20: shown as 09:18 and 09:48."""
    view = driver_route(_plan(), "T1")
    assert [s["seq"] for s in view["stops"]] == [1, 2]
    assert [(s["job_id"], s["start"], s["end"]) for s in view["stops"]] == [
        ("O1-D", "2026-06-18T09:00", "2026-06-18T09:15"),
        ("R", "2026-06-18T09:18", "2026-06-18T09:48"),
    ]
    assert view["stops"][0]["linked"] == [
        {"job_id": "O1-I", "kind": "installation", "crew_id": "I1", "end": "2026-06-18T10:45"}
    ]
    assert view["stops"][0]["bring"]["volume_l"] == 120.5
    assert view["stops"][1]["linked"] == []
    assert view["distance_km"] == 24.0


def test_contact_can_be_left_out_entirely():
    plan = _plan()
    view = driver_route(plan, "I1", include_contact=False)
    for key in CONTACT:
        assert key not in view["stops"][0]
    text = json.dumps(view)
    assert all(value not in text for value in CONTACT.values())
    assert set(driver_route(plan, "I1")["stops"][0]) - set(view["stops"][0]) == set(CONTACT)


def test_crew_without_a_route_gets_no_stops():
    view = driver_route(_plan(), "IDLE")
    assert view["stops"] == []
    assert (view["depart"], view["return_at"], view["distance_km"]) == (None, None, 0.0)
    assert view["end_depot"]["id"] == "W"
    assert view["end_depot"]["name"] == "Minhang warehouse"


def test_unknown_crew_is_a_key_error():
    with pytest.raises(KeyError):
        driver_route(_plan(), "NOPE")


def test_same_plan_same_bytes():
    """Twice from one plan, and once more from the plan read back from its JSON file."""
    plan = _plan()
    again = plan_from_dict(json.loads(json.dumps(plan_to_dict(plan))))
    dumps = [
        json.dumps(driver_route(p, c), sort_keys=True)
        for p in (plan, plan, again)
        for c in ("T1", "I1", "IDLE")
    ]
    assert dumps[:3] == dumps[3:6] == dumps[6:]
