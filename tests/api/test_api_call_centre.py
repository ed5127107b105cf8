"""The call-centre role (issue 20 §1): an agent quotes and books new orders (`POST /quotes`,
`POST /bookings`) in any region, or only in his own when bound to regions like a dispatcher;
the customer's name, phone and address he types go into the jobs, and he reads nothing else:
no job, list, route, plan, board or metric (every other endpoint that needs a token is 403
for him). Users of the role are made like any other (`create_user`, `dispatch seed`) and
sign in to the booking page."""

from __future__ import annotations

import re
from datetime import datetime, time

import pytest

from api.http.auth import issue_token
from api.principals import Role
from api.services.seed import seed_demo_users
from api.services.users import create_user
from api.settings import Settings
from dispatch.errors import InputError
from tests.api_support import DEMO_DAY, Clock

pytestmark = pytest.mark.api

MORNING = datetime.combine(DEMO_DAY, time(6, 0))
ORDER = {
    "lon": 121.45,
    "lat": 31.22,
    "floor": 5,
    "jobs": [
        {"kind": "delivery", "category": "split_ac"},
        {"kind": "installation", "category": "split_ac"},
    ],
    "first_day": DEMO_DAY.isoformat(),
}
CUSTOMER = {
    "address": "12 Call Centre Lane",
    "customer_name": "Li Caller",
    "customer_phone": "13711112222",
}
PASSWORD = "correct horse battery"
#: what a call-centre agent may call besides signing in and out
ALLOWED = {("POST", "/quotes"), ("POST", "/bookings"), ("GET", "/auth/me")}


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock(MORNING)
    monkeypatch.setattr(Settings, "now", lambda self: c.now)
    return c


def region_bound(settings: Settings, *regions: str) -> dict[str, str]:
    token = issue_token(settings, "agent-rural", Role.CALL_CENTRE, regions=list(regions))
    return {"Authorization": f"Bearer {token}"}


def test_a_call_centre_agent_quotes_and_books_and_the_contact_goes_into_the_jobs(
    seeded, auth, clock, caplog
):
    agent = auth("call_centre")
    r = seeded.post("/quotes", json={**ORDER, "order_id": "CC-1"}, headers=agent)
    assert r.status_code == 201, r.text
    quote = r.json()
    option = next(o for o in quote["options"] if o["recommended"])
    booked = seeded.post(
        "/bookings",
        json={"quote_id": quote["quote_id"], "option_id": option["option_id"], **CUSTOMER},
        headers=agent,
    )
    assert booked.status_code == 201, booked.text
    jobs = booked.json()["jobs"]
    assert [j["id"] for j in jobs] == ["CC-1-D", "CC-1-I"]
    # the answer shows him no personal data (he typed it; nothing to read back)
    assert not any(k in j["record"] for j in jobs for k in CUSTOMER)
    # the dispatcher sees the contact on the jobs; the log holds none of it
    stored = seeded.get("/jobs/CC-1-D", headers=auth("dispatcher")).json()["record"]
    assert {k: stored[k] for k in CUSTOMER} == CUSTOMER
    for text in CUSTOMER.values():
        assert text not in caplog.text


def test_a_call_centre_agent_reads_no_jobs_board_or_plans(seeded, auth, clock):
    agent = auth("call_centre")
    for path in (
        "/jobs",
        f"/jobs?due_date={DEMO_DAY.isoformat()}",
        "/jobs/anything",
        "/crews",
        "/plans",
        "/plans/some-plan/board",
        f"/board/days?region=urban&date={DEMO_DAY.isoformat()}",
        "/routes/IC001",
        "/zones",
        "/notices",
        "/simulations",
        f"/metrics/service?from={DEMO_DAY}&to={DEMO_DAY}",
    ):
        r = seeded.get(path, headers=agent)
        assert r.status_code == 403, (path, r.status_code, r.text)
        assert "call_centre" in r.json()["detail"]


def test_every_other_endpoint_with_a_token_is_refused_to_the_call_centre(client, auth):
    """A sweep of the app's routes: each one that asks for a token (401 without) answers the
    call centre 403, except quoting, booking and who-am-I."""
    agent = auth("call_centre")
    checked = 0
    for template, operations in client.app.openapi()["paths"].items():
        path = re.sub(r"\{[^}]+\}", "x1", template)
        for method in sorted(m.upper() for m in operations):
            if (method, template) in ALLOWED or template.startswith("/auth/sign"):
                continue
            body = {} if method in ("POST", "PUT", "PATCH") else None
            if client.request(method, path, json=body).status_code != 401:
                continue  # public (health, UI settings, tracking links, the metrics scrape)
            r = client.request(method, path, json=body, headers=agent)
            assert r.status_code == 403, (method, template, r.status_code, r.text)
            checked += 1
    assert checked > 50


def test_a_region_bound_agent_books_only_his_regions(seeded, settings, clock):
    rural = region_bound(settings, "rural")
    refused = seeded.post("/quotes", json=ORDER, headers=rural)
    assert refused.status_code == 403 and "rural" in refused.json()["detail"]
    r = seeded.post("/quotes", json={**ORDER, "region": "rural"}, headers=rural)
    assert r.status_code == 201, r.text


def test_a_quote_of_another_region_cannot_be_booked_by_a_bound_agent(seeded, auth, settings, clock):
    quote = seeded.post("/quotes", json=ORDER, headers=auth("call_centre")).json()
    r = seeded.post(
        "/bookings",
        json={"quote_id": quote["quote_id"], "option_id": "o1", **CUSTOMER},
        headers=region_bound(settings, "rural"),
    )
    assert r.status_code == 403


@pytest.mark.parametrize("role", ["planner", "manager", "driver"])
def test_planners_managers_and_drivers_may_not_quote_or_book(seeded, auth, clock, role):
    headers = auth(role, "IC001" if role == "driver" else None)
    assert seeded.post("/quotes", json=ORDER, headers=headers).status_code == 403
    quote = seeded.post("/quotes", json=ORDER, headers=auth("call_centre")).json()
    r = seeded.post(
        "/bookings", json={"quote_id": quote["quote_id"], "option_id": "o1"}, headers=headers
    )
    assert r.status_code == 403


def test_call_centre_users_sign_in_with_their_regions(client, settings: Settings):
    with client.app.state.ctx.sessions() as session, session.begin():
        create_user(session, "agent1", "call_centre", PASSWORD, settings.now())
        create_user(session, "agent2", "call_centre", PASSWORD, settings.now(), regions=["rural"])
    one = client.post("/auth/sign-in", json={"username": "agent1", "password": PASSWORD})
    assert one.status_code == 200, one.text
    assert (one.json()["role"], one.json()["regions"]) == ("call_centre", None)
    two = client.post("/auth/sign-in", json={"username": "agent2", "password": PASSWORD})
    assert (two.json()["role"], two.json()["regions"]) == ("call_centre", ["rural"])
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {two.json()['token']}"})
    assert me.json() == {
        "subject": "agent2",
        "role": "call_centre",
        "crew_id": None,
        "regions": ["rural"],
    }
    # regions stay for dispatchers and call centres only; a call centre has no crew
    with client.app.state.ctx.sessions() as session:
        for role, kw in (("planner", {"regions": ["urban"]}), ("call_centre", {"crew_id": "X"})):
            with pytest.raises(InputError) as refused:
                create_user(session, "u9", role, PASSWORD, settings.now(), **kw)
            assert refused.value.field in ("regions", "crew_id")


def test_the_demo_seed_makes_a_call_centre_user(client, settings: Settings):
    users = seed_demo_users(client.app.state.ctx.sessions, settings.now())
    assert ("call-centre", "call_centre") in {(name, role) for name, role, _ in users}
    password = next(pw for name, _, pw in users if name == "call-centre")
    r = client.post("/auth/sign-in", json={"username": "call-centre", "password": password})
    assert r.status_code == 200 and r.json()["regions"] is None


def test_the_booking_page_is_served_with_the_pages_policy(client):
    r = client.get("/booking")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert (
        r.headers["content-security-policy"]
        == client.get("/board").headers["content-security-policy"]
    )
    assert 'src="/static/js/booking.js"' in r.text
    for path in ("booking.js", "booking-form.js", "booking-grid.js", "booking-map.js"):
        assert client.get(f"/static/js/{path}").status_code == 200
    assert client.get("/static/booking.css").status_code == 200
