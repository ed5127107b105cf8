"""Users and sign-in: `POST /auth/sign-in` issues the service's JWTs for users with argon2
passwords; wrong credentials answer alike whether the user exists or not; 5 failures in 10
minutes lock a name for 10 minutes; `dispatch user ...` and `dispatch seed` manage users."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from api.services.users import (
    LOCK,
    MAX_FAILURES,
    WINDOW,
    AccountLocked,
    WrongCredentials,
    authenticate,
    create_user,
    disable_user,
    set_password,
    verify_password,
)
from api.settings import Settings
from api.storage.models import AuditRow, CrewRow, SignInLockRow, UserRow
from dispatch.errors import InputError
from tests.api_support import TEST_SECRET

pytestmark = pytest.mark.api

PASSWORD = "correct horse battery"
WRONG = "wrong user name or password"


def _sessions(client: TestClient) -> sessionmaker[Session]:
    return client.app.state.ctx.sessions


def _add_user(client: TestClient, settings: Settings, username: str, role: str, **kw) -> None:
    with _sessions(client)() as session, session.begin():
        create_user(session, username, role, kw.pop("password", PASSWORD), settings.now(), **kw)


def _add_crew(client: TestClient, settings: Settings, crew_id: str = "IC001") -> None:
    now = settings.now()
    with _sessions(client)() as session, session.begin():
        session.add(
            CrewRow(
                id=crew_id,
                kind="installation_crew",
                record={"id": crew_id},
                created_at=now,
                updated_at=now,
            )
        )


def _sign_in(client: TestClient, username: str, password: str) -> httpx.Response:
    return client.post("/auth/sign-in", json={"username": username, "password": password})


# ---- sign-in


def test_sign_in_issues_a_token_that_works(client: TestClient, settings: Settings) -> None:
    """200 with the token in the body only (no redirect, no Location, not cached); the token
    is one of the service's JWTs and `/auth/me` answers for it."""
    _add_user(client, settings, "wang.li@example", "dispatcher")
    r = _sign_in(client, "wang.li@example", PASSWORD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "token",
        "token_type",
        "subject",
        "role",
        "crew_id",
        "regions",
        "expires_at",
    }
    assert body["token_type"] == "bearer"
    assert (body["subject"], body["role"], body["crew_id"], body["regions"]) == (
        "wang.li@example",
        "dispatcher",
        None,
        None,
    )
    assert "location" not in r.headers and r.headers["cache-control"] == "no-store"
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (settings.now() + timedelta(hours=settings.token_ttl_hours))) < timedelta(
        minutes=1
    )
    claims = jwt.decode(body["token"], TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "wang.li@example" and "regions" not in claims

    me = client.get("/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200, me.text
    assert me.json() == {
        "subject": "wang.li@example",
        "role": "dispatcher",
        "crew_id": None,
        "regions": None,
    }
    with _sessions(client)() as session:
        user = session.scalar(select(UserRow).where(UserRow.username == "wang.li@example"))
        assert user is not None and user.last_sign_in_at is not None
        audit = session.scalars(select(AuditRow).where(AuditRow.action == "sign_in")).all()
        assert [(a.actor, a.role) for a in audit] == [("wang.li@example", "dispatcher")]
        assert PASSWORD not in str(audit[0].details)


def test_region_bound_dispatcher_token_carries_its_regions(
    client: TestClient, settings: Settings
) -> None:
    _add_user(client, settings, "rural-desk", "dispatcher", regions=["rural", "hills"])
    r = _sign_in(client, "rural-desk", PASSWORD)
    assert r.status_code == 200, r.text
    assert r.json()["regions"] == ["hills", "rural"]
    assert jwt.decode(r.json()["token"], TEST_SECRET, algorithms=["HS256"])["regions"] == [
        "hills",
        "rural",
    ]
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
    assert me.json()["regions"] == ["hills", "rural"]


def test_driver_sign_in_names_the_crew(client: TestClient, settings: Settings) -> None:
    _add_crew(client, settings, "IC001")
    _add_user(client, settings, "driver-IC001", "driver", crew_id="IC001")
    r = _sign_in(client, "driver-IC001", PASSWORD)
    assert r.status_code == 200, r.text
    assert (r.json()["role"], r.json()["crew_id"]) == ("driver", "IC001")
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
    assert me.json()["crew_id"] == "IC001"


def test_me_shows_regions_of_a_minted_token(client: TestClient, settings: Settings) -> None:
    from api.http.auth import issue_token

    token = issue_token(settings, "x", "dispatcher", regions=["urban"])
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["regions"] == ["urban"]


def test_wrong_password_and_unknown_user_answer_alike(
    client: TestClient, settings: Settings
) -> None:
    _add_user(client, settings, "planner1", "planner")
    wrong = _sign_in(client, "planner1", "not the password")
    unknown = _sign_in(client, "nobody-here", "not the password")
    odd = _sign_in(client, "not a user name!", "not the password")
    for r in (wrong, unknown, odd):
        assert r.status_code == 401, r.text
        assert r.json() == {
            "type": "/problems/unauthorized",
            "title": "Authentication required",
            "status": 401,
            "detail": WRONG,
        }
    assert "token" not in wrong.text


def test_disabled_user_cannot_sign_in(client: TestClient, settings: Settings) -> None:
    _add_user(client, settings, "leaver", "manager")
    assert _sign_in(client, "leaver", PASSWORD).status_code == 200
    with _sessions(client)() as session, session.begin():
        disable_user(session, "leaver", settings.now())
    r = _sign_in(client, "leaver", PASSWORD)
    assert r.status_code == 401 and r.json()["detail"] == WRONG


def test_sign_in_refuses_bad_bodies(client: TestClient) -> None:
    assert client.post("/auth/sign-in", json={"username": "x"}).status_code == 422
    assert client.post("/auth/sign-in", json={"username": "", "password": "x"}).status_code == 422
    assert (
        client.post("/auth/sign-in", json={"username": "x" * 101, "password": "x"}).status_code
        == 422
    )


def test_sign_out_is_204_and_audited(client: TestClient, settings: Settings, auth) -> None:
    _add_user(client, settings, "admin1", "admin")
    token = _sign_in(client, "admin1", PASSWORD).json()["token"]
    r = client.post("/auth/sign-out", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 204 and r.content == b""
    assert client.post("/auth/sign-out").status_code == 401
    assert client.post("/auth/sign-out", headers=auth("planner")).status_code == 204
    with _sessions(client)() as session:
        actors = session.scalars(
            select(AuditRow.actor).where(AuditRow.action == "sign_out").order_by(AuditRow.id)
        ).all()
    assert actors == ["admin1", "test-planner"]


# ---- lockout


def test_fifth_failure_locks_for_ten_minutes(client: TestClient, settings: Settings) -> None:
    """Failures 1-4 are 401; the 5th is already 429 with Retry-After; then even the right
    password is 429; once the lock has passed, the right password works and clears it."""
    _add_user(client, settings, "dispatcher2", "dispatcher")
    for _ in range(MAX_FAILURES - 1):
        assert _sign_in(client, "dispatcher2", "guess-guess").status_code == 401
    fifth = _sign_in(client, "dispatcher2", "guess-guess")
    assert fifth.status_code == 429, fifth.text
    retry = int(fifth.headers["retry-after"])
    assert LOCK.total_seconds() - 60 < retry <= LOCK.total_seconds()
    assert fifth.json() == {
        "type": "/problems/too-many-requests",
        "title": "Too many requests",
        "status": 429,
        "detail": "too many failed sign-ins for this account: try again in 10 minutes",
    }
    right = _sign_in(client, "dispatcher2", PASSWORD)
    assert right.status_code == 429 and "token" not in right.text
    assert int(right.headers["retry-after"]) <= retry

    # the lock passes (set back in the database rather than waiting ten minutes)
    with _sessions(client)() as session, session.begin():
        lock = session.get(SignInLockRow, "dispatcher2")
        assert lock is not None and lock.failures == MAX_FAILURES
        lock.locked_until = settings.now() - timedelta(seconds=1)
    assert _sign_in(client, "dispatcher2", PASSWORD).status_code == 200
    with _sessions(client)() as session:
        assert session.get(SignInLockRow, "dispatcher2") is None


def test_unknown_names_are_locked_the_same_way(client: TestClient) -> None:
    answers = [_sign_in(client, "ghost", "guess-guess").status_code for _ in range(6)]
    assert answers == [401, 401, 401, 401, 429, 429]


def test_lockout_rule_in_time(client: TestClient, settings: Settings) -> None:
    """`authenticate` with an explicit clock: the window starts at the first failure and a
    failure after it starts a new count; a success resets the count; while locked the
    password is not looked at and nothing is counted; the lock lasts `LOCK` from the 5th."""
    _add_user(client, settings, "clocked", "planner")
    sessions = _sessions(client)
    t0 = datetime(2026, 6, 18, 9, 0)

    def attempt(at: datetime, password: str = "guess-guess") -> str:
        with sessions() as session:
            try:
                authenticate(session, "clocked", password, at)
            except WrongCredentials:
                return "wrong"
            except AccountLocked as exc:
                return f"locked {exc.seconds_left}"
            return "ok"

    # four failures, then the window (from the first) is over: the count starts again
    for k in range(4):
        assert attempt(t0 + timedelta(minutes=k)) == "wrong"
    assert attempt(t0 + WINDOW) == "wrong"  # failure 1 of a new window
    for k in range(1, 4):
        assert attempt(t0 + WINDOW + timedelta(minutes=k)) == "wrong"  # failures 2-4
    # a success resets the count: four more failures do not lock
    assert attempt(t0 + WINDOW + timedelta(minutes=4), PASSWORD) == "ok"
    t1 = t0 + timedelta(hours=1)
    for k in range(4):
        assert attempt(t1 + timedelta(seconds=k)) == "wrong"
    # the fifth within the window locks, for LOCK from that failure
    t5 = t1 + timedelta(minutes=9)
    assert attempt(t5) == f"locked {int(LOCK.total_seconds())}"
    assert attempt(t5 + timedelta(minutes=4), PASSWORD) == "locked 360"
    assert attempt(t5 + LOCK - timedelta(seconds=1), PASSWORD) == "locked 1"
    with sessions() as session:
        assert session.get(SignInLockRow, "clocked").failures == MAX_FAILURES  # not counted
    # lock over: a wrong password starts a new count (no immediate re-lock) ...
    assert attempt(t5 + LOCK) == "wrong"
    with sessions() as session:
        assert session.get(SignInLockRow, "clocked").failures == 1
    # ... and the right one works
    assert attempt(t5 + LOCK + timedelta(seconds=1), PASSWORD) == "ok"


def test_concurrent_wrong_guesses_are_all_counted(client: TestClient, settings: Settings) -> None:
    """Twelve wrong guesses at once: exactly four get 401 and the rest 429, because each
    failure is counted in the database (not read-modify-written), so no update is lost and
    racing requests cannot slip past the lock."""
    import threading

    _add_user(client, settings, "raced", "planner")
    sessions, now, answers = _sessions(client), settings.now(), []

    def guess() -> None:
        with sessions() as session:
            try:
                authenticate(session, "raced", "guess-guess", now)
            except WrongCredentials:
                answers.append(401)
            except AccountLocked:
                answers.append(429)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [401] * (MAX_FAILURES - 1) + [429] * (13 - MAX_FAILURES)
    with sessions() as session:
        # guesses that found the lock already set were not counted
        assert MAX_FAILURES <= session.get(SignInLockRow, "raced").failures <= 12


def test_new_password_lifts_the_lock(client: TestClient, settings: Settings) -> None:
    _add_user(client, settings, "forgetful", "planner")
    for _ in range(MAX_FAILURES):
        _sign_in(client, "forgetful", "guess-guess")
    assert _sign_in(client, "forgetful", PASSWORD).status_code == 429
    with _sessions(client)() as session, session.begin():
        set_password(session, "forgetful", "a brand new one", settings.now())
    assert _sign_in(client, "forgetful", PASSWORD).status_code == 401
    assert _sign_in(client, "forgetful", "a brand new one").status_code == 200


# ---- users and passwords


def test_passwords_are_stored_as_argon2_hashes_only(client: TestClient, settings: Settings) -> None:
    _add_user(client, settings, "hashed", "admin")
    with _sessions(client)() as session:
        user = session.scalar(select(UserRow).where(UserRow.username == "hashed"))
        assert user is not None
        assert user.password_hash != PASSWORD and user.password_hash.startswith("$argon2id$")
        assert verify_password(user.password_hash, PASSWORD)
        assert not verify_password(user.password_hash, PASSWORD + "x")
        assert not verify_password("not a hash", PASSWORD)
        # no column of any users row holds the password
        columns = [c.key for c in inspect(UserRow).columns]
        for row in session.scalars(select(UserRow)):
            for column in columns:
                assert PASSWORD not in str(getattr(row, column))


def test_user_rules_name_the_field(client: TestClient, settings: Settings) -> None:
    _add_crew(client, settings, "IC001")
    now = settings.now()
    cases = [
        (("a b", "planner", PASSWORD), {}, "username"),
        (("-x", "planner", PASSWORD), {}, "username"),
        (("x" * 101, "planner", PASSWORD), {}, "username"),
        (("u1", "boss", PASSWORD), {}, "role"),
        (("u1", "driver", PASSWORD), {}, "crew_id"),
        (("u1", "driver", PASSWORD), {"crew_id": "NOPE"}, "crew_id"),
        (("u1", "planner", PASSWORD), {"crew_id": "IC001"}, "crew_id"),
        (("u1", "planner", PASSWORD), {"regions": ["urban"]}, "regions"),
        (("u1", "dispatcher", PASSWORD), {"regions": []}, "regions"),
        (("u1", "dispatcher", PASSWORD), {"regions": ["no spaces"]}, "regions"),
        (("u1", "planner", "short"), {}, "password"),
    ]
    for args, kw, field in cases:
        with _sessions(client)() as session, pytest.raises(InputError) as refused:
            create_user(session, *args, now, **kw)
        assert refused.value.field == field, (args, kw)
    _add_user(client, settings, "u1", "planner")
    with _sessions(client)() as session, pytest.raises(InputError) as twice:
        create_user(session, "u1", "admin", PASSWORD, now)
    assert twice.value.field == "username" and "already exists" in twice.value.message


def test_migration_0004_downgrades_and_upgrades(tmp_path: Path) -> None:
    from alembic import command

    from api.storage.db import alembic_config, make_engine, migrate
    from tests.api_support import database_url

    engine = make_engine(database_url(tmp_path))
    try:
        migrate(engine)
        assert {"users", "sign_in_locks"} <= set(inspect(engine).get_table_names())
        command.downgrade(alembic_config(engine), "0003")
        assert not {"users", "sign_in_locks"} & set(inspect(engine).get_table_names())
        migrate(engine)
        assert {"users", "sign_in_locks"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


# ---- command line


def _dispatch(db: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        input=stdin,
        check=False,
    )


def _db_sessions(db: Path) -> tuple[Engine, sessionmaker[Session]]:
    from api.storage.db import make_engine, session_factory

    engine = make_engine(f"sqlite:///{db}")
    return engine, session_factory(engine)


@pytest.mark.service  # dispatch CLI processes
def test_cli_user_add_disable_list(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    added = _dispatch(db, "user", "add", "li.na", "--role", "dispatcher", "--regions", "rural")
    assert added.returncode == 0, added.stderr
    printed = re.search(r"password: (\S+)", added.stdout)
    assert printed is not None and len(printed.group(1)) >= 8

    piped = _dispatch(
        db, "user", "add", "zhao", "--role", "planner", "--name", "Zhao Min",
        "--password-stdin", stdin="from stdin 123\n",
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert "password:" not in piped.stdout and "from stdin" not in piped.stdout

    listed = _dispatch(db, "user", "list")
    assert listed.returncode == 0, listed.stderr
    assert "li.na" in listed.stdout and "rural" in listed.stdout and "Zhao Min" in listed.stdout
    assert "argon2" not in listed.stdout and printed.group(1) not in listed.stdout

    engine, sessions = _db_sessions(db)
    now = datetime(2026, 6, 18, 9, 0)
    try:
        with sessions() as session:
            user = authenticate(session, "li.na", printed.group(1), now)
            assert user.regions == ["rural"]
            assert authenticate(session, "zhao", "from stdin 123", now).display_name == "Zhao Min"

        assert _dispatch(db, "user", "disable", "zhao").returncode == 0
        with sessions() as session, pytest.raises(WrongCredentials):
            authenticate(session, "zhao", "from stdin 123", now)
        assert re.search(r"zhao\s+planner\s+-\s+-\s+no", _dispatch(db, "user", "list").stdout)

        changed = _dispatch(db, "user", "password", "li.na", "--password-stdin", stdin="newpass99")
        assert changed.returncode == 0, changed.stderr
        with sessions() as session:
            authenticate(session, "li.na", "newpass99", now)
    finally:
        engine.dispose()


@pytest.mark.service  # dispatch CLI processes
def test_cli_user_errors_exit_2_naming_the_field(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    driver = _dispatch(db, "user", "add", "d1", "--role", "driver")
    assert driver.returncode == 2 and "--crew" in driver.stderr
    regions = _dispatch(db, "user", "add", "p1", "--role", "planner", "--regions", "urban")
    assert regions.returncode == 2 and "--regions" in regions.stderr
    short = _dispatch(db, "user", "add", "p1", "--role", "planner", "--password-stdin", stdin="x")
    assert short.returncode == 2 and "password" in short.stderr
    role = _dispatch(db, "user", "add", "p1", "--role", "boss")
    assert role.returncode == 2 and "--role" in role.stderr
    missing = _dispatch(db, "user", "disable", "nobody")
    assert missing.returncode == 2 and "username" in missing.stderr
    assert _dispatch(db, "user", "add", "p1", "--role", "planner").returncode == 0
    again = _dispatch(db, "user", "add", "p1", "--role", "planner")
    assert again.returncode == 2 and "already exists" in again.stderr


@pytest.mark.service  # dispatch CLI processes
def test_seed_prints_demo_users_once_and_keeps_their_passwords(tmp_path: Path) -> None:
    db = tmp_path / "seed.db"
    first = _dispatch(db, "seed", "--fixture", "shanghai", "--jobs", "5")
    assert first.returncode == 0, first.stderr
    assert "http://127.0.0.1:8000/" in first.stdout and "shown only now" in first.stdout
    demo = [
        "dispatcher", "dispatcher-rural", "planner", "manager", "admin", "call-centre",
        "driver-IC001",
    ]  # fmt: skip
    passwords: dict[str, str] = {}
    for name in demo:
        lines = [line for line in first.stdout.splitlines() if line.split()[:1] == [name]]
        assert len(lines) == 1, (name, first.stdout)
        passwords[name] = lines[0].split()[-1]
    assert len(set(passwords.values())) == len(demo)

    engine, sessions = _db_sessions(db)
    now = datetime(2026, 6, 18, 9, 0)
    try:
        with sessions() as session:
            hashes = dict(session.execute(select(UserRow.username, UserRow.password_hash)).all())
            assert set(hashes) == set(demo)
            rural = authenticate(session, "dispatcher-rural", passwords["dispatcher-rural"], now)
            assert rural.regions == ["rural"]
            assert authenticate(session, "dispatcher", passwords["dispatcher"], now).regions is None
            driver = authenticate(session, "driver-IC001", passwords["driver-IC001"], now)
            assert driver.crew_id == "IC001"

        second = _dispatch(db, "seed", "--fixture", "shanghai", "--jobs", "5")
        assert second.returncode == 0, second.stderr
        for name in demo:
            assert passwords[name] not in second.stdout
            assert re.search(rf"^{re.escape(name)}\s.*already exists, password unchanged$",
                             second.stdout, re.M)  # fmt: skip
        with sessions() as session:
            after = dict(session.execute(select(UserRow.username, UserRow.password_hash)).all())
        assert after == hashes
    finally:
        engine.dispose()
