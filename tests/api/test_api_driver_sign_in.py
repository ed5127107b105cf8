"""Drivers' sign-in on the phone app: a crew PIN set by the office (rules, argon2 hash, audit
without the PIN, who may), sign-in with crew id and PIN (one 401 for every failure, the lock
after 5 failures), a new PIN or none revoking the crew's earlier tokens, the demo PIN of
`dispatch seed`, and migration 0009."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, update

from api.http.auth import issue_token
from api.services.crew_pins import new_pin, pin_problem
from api.services.seed import seed_demo_driver_pin
from api.services.users import MAX_FAILURES
from api.storage.driver_models import CrewPinRow
from api.storage.models import AuditRow, CrewRow, SignInLockRow

pytestmark = pytest.mark.api

CREW = "IC001"
PIN = "274931"
WRONG = "wrong crew id or PIN"


def _set_pin(client: TestClient, headers: dict[str, str], pin: str, crew: str = CREW):
    return client.put(f"/crews/{crew}/pin", json={"pin": pin}, headers=headers)


def _sign_in(client: TestClient, pin: str, crew: str = CREW):
    return client.post("/auth/driver-sign-in", json={"crew_id": crew, "pin": pin})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def with_pin(seeded: TestClient, auth) -> TestClient:
    """The seeded demo city; crew IC001 has the PIN `PIN`."""
    r = _set_pin(seeded, auth("dispatcher"), PIN)
    assert r.status_code == 204, r.text
    return seeded


# ---- setting a PIN


@pytest.mark.parametrize(
    "pin",
    ["12345", "123456789", "12a456", "１２３４５６", "111111", "00000000", "123456", "654321",
     "890123", "3210987"],
)  # fmt: skip
def test_trivial_or_malformed_pins_are_refused_naming_pin(seeded, auth, pin: str) -> None:
    r = _set_pin(seeded, auth("dispatcher"), pin)
    assert r.status_code == 422, r.text
    body = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in body["errors"]] == ["pin"]
    assert pin not in r.text  # never echoed
    with seeded.app.state.ctx.sessions() as session:
        assert session.get(CrewPinRow, CREW) is None


def test_pin_rules_in_words() -> None:
    assert pin_problem("274931") is None and pin_problem("13572468") is None
    assert "repeated" in (pin_problem("999999") or "")
    assert "run" in (pin_problem("45678901") or "")
    assert "digits" in (pin_problem("27493") or "")
    pins = {new_pin() for _ in range(50)}
    assert all(len(p) == 6 and pin_problem(p) is None for p in pins) and len(pins) > 40


def test_pin_is_stored_as_argon2_hash_and_audited_without_it(with_pin, settings) -> None:
    with with_pin.app.state.ctx.sessions() as session:
        row = session.get(CrewPinRow, CREW)
        assert row.pin_hash.startswith("$argon2id$") and PIN not in row.pin_hash
        assert row.set_by == "test-dispatcher"
        entries = session.scalars(select(AuditRow).where(AuditRow.action == "crew_pin_set")).all()
    assert [e.details for e in entries] == [{"crew_id": CREW}]
    assert all(PIN not in json.dumps(e.details) for e in entries)


def test_who_may_set_a_pin(seeded, settings, auth) -> None:
    assert _set_pin(seeded, auth("admin"), PIN).status_code == 204
    for role in ("planner", "manager"):
        assert _set_pin(seeded, auth(role), PIN).status_code == 403
    assert _set_pin(seeded, auth("driver", CREW), PIN).status_code == 403
    rural = _bearer(issue_token(settings, "d-rural", "dispatcher", regions=["rural"]))
    refused = _set_pin(seeded, rural, PIN)
    assert refused.status_code == 403 and "rural" in refused.json()["detail"]
    assert seeded.delete(f"/crews/{CREW}/pin", headers=rural).status_code == 403
    assert _set_pin(seeded, auth("dispatcher"), PIN, crew="NOPE").status_code == 404
    assert seeded.delete("/crews/NOPE/pin", headers=auth("dispatcher")).status_code == 404
    # a number is not a PIN: PINs are strings (leading zeros)
    number = seeded.put(f"/crews/{CREW}/pin", json={"pin": 274931}, headers=auth("dispatcher"))
    assert number.status_code == 422 and number.json()["errors"][0]["field"] == "pin"


# ---- signing in


def test_sign_in_gives_a_driver_token_bound_to_the_crew(with_pin, settings) -> None:
    before = settings.now()
    r = _sign_in(with_pin, PIN)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"token", "token_type", "crew_id", "expires_at"}
    assert body["token_type"] == "bearer" and body["crew_id"] == CREW
    assert r.headers["cache-control"] == "no-store"
    lifetime = timedelta(hours=settings.token_max_hours_driver)
    expires = body["expires_at"]
    assert "+" not in expires and not expires.endswith("Z")  # local time, naive
    at = datetime.fromisoformat(expires)
    assert before + lifetime - timedelta(minutes=1) <= at <= settings.now() + lifetime
    me = with_pin.get("/auth/me", headers=_bearer(body["token"])).json()
    assert me == {"subject": f"crew:{CREW}", "role": "driver", "crew_id": CREW, "regions": None}
    route = with_pin.get("/me/route?date=2026-06-18", headers=_bearer(body["token"]))
    assert route.status_code in (200, 404), route.text  # no plan published: no route yet
    with with_pin.app.state.ctx.sessions() as session:
        signed = session.scalars(select(AuditRow).where(AuditRow.action == "driver_sign_in"))
        assert [(e.actor, e.details) for e in signed] == [(f"crew:{CREW}", {"crew_id": CREW})]


def test_every_failure_answers_the_same_401(with_pin, settings, auth) -> None:
    now = settings.now()
    with with_pin.app.state.ctx.sessions() as session, session.begin():
        session.add(CrewPinRow(crew_id="IC002", pin_hash="x", set_at=now, set_by="t"))
    r = _set_pin(with_pin, auth("dispatcher"), PIN, crew="IC003")
    assert r.status_code == 204
    assert with_pin.delete("/crews/IC003", headers=auth("dispatcher")).status_code == 204
    cases = [
        (CREW, "274932"),  # wrong PIN
        ("NO-SUCH-CREW", PIN),  # unknown crew
        ("DT001", PIN),  # a crew without a PIN
        ("IC002", PIN),  # a corrupt hash
        ("IC003", PIN),  # a retired crew
    ]
    for crew, pin in cases:
        r = _sign_in(with_pin, pin, crew)
        assert r.status_code == 401, (crew, r.text)
        assert r.json()["type"] == "/problems/unauthorized" and r.json()["detail"] == WRONG
        assert r.headers["www-authenticate"] == "Bearer"
    bad = with_pin.post("/auth/driver-sign-in", json={"crew_id": CREW})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "pin"


def test_fifth_failure_locks_the_crew(with_pin, settings, auth) -> None:
    for _ in range(MAX_FAILURES - 1):
        assert _sign_in(with_pin, "274932").status_code == 401
    locked = _sign_in(with_pin, "274932")
    assert locked.status_code == 429, locked.text
    assert locked.json()["type"] == "/problems/too-many-requests"
    assert 540 <= int(locked.headers["retry-after"]) <= 600
    assert "try again in 10 minutes" in locked.json()["detail"]
    # the right PIN is not even looked at while locked; another crew is not locked
    assert _sign_in(with_pin, PIN).status_code == 429
    assert _sign_in(with_pin, PIN, crew="DT002").status_code == 401
    # the lock passes
    with with_pin.app.state.ctx.sessions() as session, session.begin():
        session.execute(
            update(SignInLockRow)
            .where(SignInLockRow.username == f"crew:{CREW}")
            .values(locked_until=settings.now() - timedelta(seconds=1))
        )
    assert _sign_in(with_pin, PIN).status_code == 200
    # a new PIN lifts a lock at once
    for _ in range(MAX_FAILURES):
        _sign_in(with_pin, "274932")
    assert _sign_in(with_pin, PIN).status_code == 429
    assert _set_pin(with_pin, auth("dispatcher"), "918273").status_code == 204
    assert _sign_in(with_pin, "918273").status_code == 200


def test_a_new_pin_revokes_the_crews_earlier_tokens(with_pin, auth, settings) -> None:
    old = _bearer(_sign_in(with_pin, PIN).json()["token"])
    other = _bearer(_sign_in(with_pin, PIN).json()["token"])  # a second phone
    assert with_pin.get("/auth/me", headers=old).status_code == 200
    # a driver with an account of his own keeps his token
    own = _bearer(issue_token(settings, "wang", "driver", CREW))
    assert _set_pin(with_pin, auth("dispatcher"), "918273").status_code == 204
    for headers in (old, other):
        refused = with_pin.get("/auth/me", headers=headers)
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert with_pin.get("/auth/me", headers=own).status_code == 200
    assert _sign_in(with_pin, PIN).status_code == 401
    new = _bearer(_sign_in(with_pin, "918273").json()["token"])
    assert with_pin.get("/auth/me", headers=new).status_code == 200

    # removing the PIN: no sign-in, and the tokens it gave stop working
    assert with_pin.delete(f"/crews/{CREW}/pin", headers=auth("admin")).status_code == 204
    assert with_pin.get("/auth/me", headers=new).status_code == 401
    assert _sign_in(with_pin, "918273").status_code == 401
    assert with_pin.delete(f"/crews/{CREW}/pin", headers=auth("admin")).status_code == 204
    with with_pin.app.state.ctx.sessions() as session:
        actions = session.scalars(
            select(AuditRow.action).where(AuditRow.action.like("crew_pin_%")).order_by(AuditRow.id)
        ).all()
    assert actions == ["crew_pin_set", "crew_pin_set", "crew_pin_removed"]


def test_setting_a_pin_keeps_the_crews_version(with_pin, auth) -> None:
    """The PIN lives beside the crew: a dispatcher's edit of the crew read before is no 409."""
    with with_pin.app.state.ctx.sessions() as session:
        version = session.get(CrewRow, CREW).version
    assert _set_pin(with_pin, auth("dispatcher"), "918273").status_code == 204
    with with_pin.app.state.ctx.sessions() as session:
        assert session.get(CrewRow, CREW).version == version


# ---- the demo PIN, the migration


def test_seed_gives_the_demo_crew_a_pin_once(seeded, settings) -> None:
    sessions = seeded.app.state.ctx.sessions
    first = seed_demo_driver_pin(sessions, settings.precise_now())
    assert first is not None and first[0] == CREW and first[1] is not None
    assert pin_problem(first[1]) is None
    assert _sign_in(seeded, first[1]).status_code == 200
    assert seed_demo_driver_pin(sessions, settings.precise_now()) == (CREW, None)
    assert _sign_in(seeded, first[1]).status_code == 200  # unchanged


def test_seed_command_prints_the_pin(tmp_path: Path, monkeypatch, capsys) -> None:
    from scripts.cli import main
    from tests.api_support import TEST_SECRET

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'seed.db'}")
    monkeypatch.setenv("FIELDROUTE_SECRET_KEY", TEST_SECRET)
    assert main(["seed", "--fixture", "shanghai", "--jobs", "3"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "/driver" in x)
    assert f"crew id {CREW} and PIN " in line and "shown only now" in line
    pin = line.split(" and PIN ")[1].split()[0]
    assert pin_problem(pin) is None
    assert main(["seed", "--fixture", "shanghai", "--jobs", "3"]) == 0
    again = capsys.readouterr().out
    assert pin not in again and "already set, unchanged" in again


def test_migration_0009_downgrades_and_upgrades(tmp_path: Path) -> None:
    from alembic import command

    from api.storage.db import alembic_config, make_engine, migrate
    from tests.api_support import database_url

    engine = make_engine(database_url(tmp_path))
    tables = {"crew_pins", "uploads"}
    try:
        migrate(engine)
        assert tables <= set(inspect(engine).get_table_names())
        command.downgrade(alembic_config(engine), "0008")
        assert not tables & set(inspect(engine).get_table_names())
        migrate(engine)
        assert tables <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
