"""Slot quotes and bookings (issue 20 §1) through the service: quotes on the seeded demo day
(pairs for a delivery and its installation, promises on the customer's clock, the cheapest
recommended), a booking creating the jobs with the booked slot as their window, 409 for an
expired quote, a quote booked twice and a sold-out slot, the last place sold once to 50
concurrent bookings, bad input named, roles, nothing personal in the quote or the log, and
the 0011 migration."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from api.settings import Settings
from api.storage.booking_models import BookingDayRow, QuoteRow
from api.storage.models import JobRow
from api.storage.store import new_crew_row, new_depot_row
from dispatch.models import Crew, CrewKind, Depot, DepotKind, GeoPoint
from tests.api_support import DEMO_DAY, Clock, migration_round_trip

pytestmark = pytest.mark.api

MORNING = datetime.combine(DEMO_DAY, time(6, 0))
DAY = DEMO_DAY.isoformat()
AC_ORDER = {
    "lon": 121.45,
    "lat": 31.22,
    "floor": 5,
    "jobs": [
        {"kind": "delivery", "category": "split_ac"},
        {"kind": "installation", "category": "split_ac"},
    ],
    "first_day": DAY,
}
CUSTOMER = {
    "address": "88 Quote Road",
    "customer_name": "Zhang Booker",
    "customer_phone": "13900001111",
}


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock(MORNING)
    monkeypatch.setattr(Settings, "now", lambda self: c.now)
    return c


@pytest.fixture
def one_place(client, clock):
    """A service with one repair technician (08:00-12:00) and nothing booked: a 150-minute
    repair fits the 08-10 slot once, and no other slot."""
    with client.app.state.ctx.sessions() as session, session.begin():
        session.add(new_depot_row(Depot("SP1", DepotKind.SERVICE_POINT, GeoPoint(121.45, 31.22))))
        tech = Crew(
            "RT1", CrewKind.REPAIR_TECHNICIAN, 1, frozenset(), "SP1", "SP1", time(8), time(12)
        )
        session.add(new_crew_row(tech, clock.now, temporary=False, region="urban"))
    return client


def repair_order(n: int) -> dict:
    return {
        "order_id": f"R{n:03d}",
        "lon": 121.46,
        "lat": 31.23,
        "jobs": [{"kind": "repair", "service_minutes": 150}],
        "days": 1,
        "first_day": DAY,
    }


def quote(client, headers, body) -> dict:
    r = client.post("/quotes", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def jobs_of_day(client) -> list[JobRow]:
    with client.app.state.ctx.sessions() as session:
        return list(session.scalars(select(JobRow).where(JobRow.due_date == DEMO_DAY)))


def test_a_quote_on_the_demo_day_pairs_slots_and_labels_promises(seeded, auth, clock):
    body = quote(seeded, auth("dispatcher"), AC_ORDER)
    assert body["promise_clock"] == {
        "clock": "customer",
        "label": "customer's clock: calendar hours from the order's confirmation",
    }
    assert [d["date"] for d in body["days"]] == [DAY, (DEMO_DAY + timedelta(days=1)).isoformat()]
    assert body["days"][0]["jobs"] > 0 and body["days"][0]["placed"] > 0
    options = body["options"]
    assert options and len({o["option_id"] for o in options}) == len(options)
    for option in options:
        delivery, installation = option["slots"]
        assert (delivery["kind"], installation["kind"]) == ("delivery", "installation")
        assert installation["start"] >= delivery["end"]
        assert delivery["start"] >= "2026-06-18T08:00:00"  # the first slot at least an hour ahead
        for slot in option["slots"]:
            keeps = slot["latest_end"] <= slot["promise_deadline"]
            assert slot["keeps_promise"] is keeps and slot["added_drive_minutes"] >= 0
        assert option["keeps_promise"] is (
            delivery["keeps_promise"] and installation["keeps_promise"]
        )
    # confirmed 06:00: delivered by 18:00 (12 h), installed by 06:00 tomorrow (24 h)
    assert {o["slots"][0]["promise_deadline"] for o in options} == {"2026-06-18T18:00:00"}
    assert any(o["keeps_promise"] for o in options) and not all(o["keeps_promise"] for o in options)
    recommended = [o for o in options if o["recommended"]]
    assert 1 <= len(recommended) <= 3 and all(o["keeps_promise"] for o in recommended)
    cheapest = min(o["added_drive_minutes"] for o in options if o["keeps_promise"])
    assert min(o["added_drive_minutes"] for o in recommended) == cheapest
    with seeded.app.state.ctx.sessions() as session:
        row = session.get(QuoteRow, body["quote_id"])
    assert row is not None and row.expires_at == MORNING + timedelta(minutes=15)
    assert body["expires_at"] == "2026-06-18T06:15:00"


def test_booking_a_quoted_slot_creates_the_jobs_with_that_window(seeded, auth, clock, caplog):
    office = auth("dispatcher")
    body = quote(seeded, office, {**AC_ORDER, "order_id": "WEB-1"})
    option = next(o for o in body["options"] if o["recommended"])
    before = len(jobs_of_day(seeded))
    r = seeded.post(
        "/bookings",
        json={"quote_id": body["quote_id"], "option_id": option["option_id"], **CUSTOMER},
        headers=office,
    )
    assert r.status_code == 201, r.text
    booked = r.json()
    assert booked["order_id"] == "WEB-1" and [j["id"] for j in booked["jobs"]] == [
        "WEB-1-D",
        "WEB-1-I",
    ]
    for job, slot in zip(booked["jobs"], option["slots"], strict=True):
        stored = seeded.get(f"/jobs/{job['id']}", headers=office).json()
        assert stored["status"] == "open" and stored["due_date"] == DAY
        assert stored["record"]["windows"] == [
            {"start": slot["start"][:16], "end": slot["end"][:16]}
        ]
        assert stored["record"]["customer_name"] == CUSTOMER["customer_name"]
        assert stored["record"]["confirmed_at"] == "2026-06-18T06:00"
    assert len(jobs_of_day(seeded)) == before + 2
    # planners see the jobs without the customer
    seen = seeded.get("/jobs/WEB-1-D", headers=auth("planner")).json()["record"]
    assert "customer_name" not in seen
    # the quote is booked once
    again = seeded.post(
        "/bookings",
        json={"quote_id": body["quote_id"], "option_id": option["option_id"]},
        headers=office,
    )
    assert again.status_code == 409 and again.json()["current_status"] == "booked"
    # and the order cannot be quoted again
    assert (
        seeded.post("/quotes", json={**AC_ORDER, "order_id": "WEB-1"}, headers=office).status_code
        == 409
    )
    # the quote holds no customer data, the log neither
    with seeded.app.state.ctx.sessions() as session:
        row = session.get(QuoteRow, body["quote_id"])
    assert row is not None and row.status == "booked" and row.booked_option == option["option_id"]
    assert all(not row.jobs[0][k] for k in ("address", "customer_name", "customer_phone"))
    for value in CUSTOMER.values():
        assert value not in caplog.text


def test_an_expired_quote_is_409(one_place, auth, clock):
    office = auth("dispatcher")
    body = quote(one_place, office, repair_order(1))
    clock.move(minutes=16)
    r = one_place.post(
        "/bookings", json={"quote_id": body["quote_id"], "option_id": "o1"}, headers=office
    )
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"] == "/problems/conflict" and problem["field"] == "quote_id"
    assert "expired" in problem["detail"] and jobs_of_day(one_place) == []


def test_a_sold_out_slot_is_409(one_place, auth, clock):
    office = auth("dispatcher")
    first, second = (
        quote(one_place, office, repair_order(1)),
        quote(one_place, office, repair_order(2)),
    )
    for q in (first, second):  # both were told the one place
        assert [o["slots"][0]["start"] for o in q["options"]] == ["2026-06-18T08:00:00"]
    ok = one_place.post(
        "/bookings", json={"quote_id": first["quote_id"], "option_id": "o1"}, headers=office
    )
    assert ok.status_code == 201, ok.text
    late = one_place.post(
        "/bookings", json={"quote_id": second["quote_id"], "option_id": "o1"}, headers=office
    )
    assert late.status_code == 409, late.text
    assert late.json()["field"] == "option_id"
    assert "2026-06-18 08:00-10:00 is no longer available" in late.json()["detail"]
    assert [j.id for j in jobs_of_day(one_place)] == ["R001-R"]
    assert quote(one_place, office, repair_order(3))["options"] == []  # sold out


def test_fifty_concurrent_bookings_of_the_last_place_sell_it_once(one_place, auth, clock):
    office = auth("dispatcher")
    quotes = [quote(one_place, office, repair_order(n)) for n in range(50)]
    assert all(len(q["options"]) == 1 for q in quotes)
    gate = threading.Barrier(len(quotes))

    def book(q: dict) -> int:
        gate.wait()
        body = {"quote_id": q["quote_id"], "option_id": "o1"}
        return one_place.post("/bookings", json=body, headers=office).status_code

    with ThreadPoolExecutor(len(quotes)) as pool:
        codes = Counter(pool.map(book, quotes))
    assert codes == {201: 1, 409: 49}
    assert len(jobs_of_day(one_place)) == 1
    with one_place.app.state.ctx.sessions() as session:
        day = session.get(BookingDayRow, ("urban", DEMO_DAY))
        booked = session.scalar(select(func.count()).where(QuoteRow.status == "booked"))
    assert day is not None and day.bookings == 1  # the refused ones rolled back their count
    assert booked == 1


@pytest.mark.parametrize(
    ("path", "change", "field"),
    [
        ("/quotes", {"lat": 91}, "lat"),
        ("/quotes", {"jobs": []}, "jobs"),
        ("/quotes", {"jobs": [{"kind": "assembly"}]}, "jobs[0].kind"),
        ("/quotes", {"jobs": [{"kind": "delivery"}, {"kind": "repair"}]}, "jobs"),
        ("/quotes", {"days": 8}, "days"),
        ("/quotes", {"region": "mars"}, "region"),
        ("/quotes", {"first_day": "2026-06-17"}, "first_day"),
        ("/quotes", {"order_id": "x" * 63}, "order_id"),
        ("/bookings", {"quote_id": "nope"}, "quote_id"),
        ("/bookings", {"option_id": "first"}, "option_id"),
        ("/bookings", {"option_id": "o77"}, "option_id"),
    ],
)
def test_bad_input_is_422_naming_the_field(one_place, auth, clock, path, change, field):
    office = auth("dispatcher")
    body = {**repair_order(1), **change}
    if path == "/bookings":
        q = quote(one_place, office, repair_order(1))
        body = {"quote_id": q["quote_id"], "option_id": "o1", **change}
    r = one_place.post(path, json=body, headers=office)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]


def test_who_may_quote_and_book(one_place, auth, clock):
    assert (
        one_place.post("/quotes", json=repair_order(1), headers=auth("planner")).status_code == 403
    )
    assert (
        one_place.post("/quotes", json=repair_order(1), headers=auth("driver", "RT1")).status_code
        == 403
    )
    q = quote(one_place, auth("admin"), repair_order(1))
    r = one_place.post(
        "/bookings", json={"quote_id": q["quote_id"], "option_id": "o1"}, headers=auth("manager")
    )
    assert r.status_code == 403
    unknown = one_place.post(
        "/bookings", json={"quote_id": "0" * 32, "option_id": "o1"}, headers=auth("admin")
    )
    assert unknown.status_code == 404


def test_migration_0011_downgrades_and_upgrades(tmp_path) -> None:
    migration_round_trip(tmp_path, "0010", {"quotes", "booking_days"}, kept="tracking_links")
