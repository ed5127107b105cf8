"""Tokens in production: each installation signs with a secret of its own (generated on first
start beside the database, owner-only) unless `FIELDROUTE_SECRET_KEY` is set, and the
in-source development secret only when asked for; every role has a longest token lifetime;
sign-out, disabling a user and a new password revoke tokens on the server."""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from api.http.app import create_app
from api.http.auth import issue_token, revocation_list
from api.services.token_revocations import (
    SUBJECT,
    TOKEN,
    RevocationList,
    load_revocations,
    revoke_subject,
    revoke_token,
)
from api.services.users import create_user, disable_user, set_password
from api.settings import DEVELOPMENT_SECRET, SecretKeyError, Settings
from api.storage.models import AuditRow, TokenRevocationRow
from dispatch.errors import InputError
from tests.api_support import TEST_SECRET, make_settings

pytestmark = pytest.mark.api

PASSWORD = "correct horse battery"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _sessions(client: TestClient) -> sessionmaker[Session]:
    return client.app.state.ctx.sessions


def _add_user(client: TestClient, settings: Settings, username: str, role: str) -> None:
    with _sessions(client)() as session, session.begin():
        create_user(session, username, role, PASSWORD, settings.now())


def _sign_in(client: TestClient, username: str) -> str:
    r = client.post("/auth/sign-in", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def _hand_made(secret: str, role: str = "dispatcher", hours: float = 1, **claims) -> str:
    """A token signed by hand: any lifetime, any claims left out (`claim=None`)."""
    now = time.time()
    body: dict[str, object] = {
        "sub": "someone",
        "role": role,
        "iat": now,
        "exp": int(now + hours * 3600),
        "jti": "hand-made-token",
    }
    if role == "driver":
        body["crew"] = "IC001"
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, secret, "HS256")


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No FIELDROUTE_* or DATABASE_URL from the caller's environment, and a working directory
    without a `.env`: settings as a fresh installation has them."""
    for name in list(os.environ):
        if (name.startswith("FIELDROUTE_") and not name.startswith("FIELDROUTE_TEST_")) or (
            name == "DATABASE_URL"
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _installation(root: Path, **values: object) -> Settings:
    """Settings of an installation on a fresh SQLite file under `root`, no secret configured."""
    root.mkdir(parents=True, exist_ok=True)
    return Settings(
        database_url=f"sqlite:///{root / 'fieldroute.db'}",
        background_workers=False,
        **values,  # type: ignore[arg-type]
    )


# ---- the signing secret


def test_first_start_generates_an_owner_only_secret_beside_the_database(
    bare_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _installation(bare_env / "site", environment="production")
    path = bare_env / "site" / "fieldroute.db.secret-key"
    assert settings.secret_file() == path and not path.exists()
    old_umask = os.umask(0)  # the file is 0600 whatever the umask
    try:
        with caplog.at_level(logging.INFO, logger="api"), TestClient(create_app(settings)) as c:
            token = issue_token(settings, "ops", "admin")
            assert c.get("/auth/me", headers=_bearer(token)).status_code == 200
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_text().strip()
    assert len(secret) >= 43 and secret == settings.signing_secret()
    assert jwt.decode(token, secret, algorithms=["HS256"])["sub"] == "ops"
    assert f"generated a new token signing secret in {path}" in caplog.text
    assert not list(path.parent.glob(".*.tmp"))  # the temporary file is gone
    # the next start (a new process: new Settings) reads the same secret, says nothing new
    again = _installation(bare_env / "site", environment="production")
    assert again.signing_secret() == secret
    assert again.signing_secret_origin() == (str(path), False)


def test_two_installations_never_share_a_key(bare_env: Path) -> None:
    one = _installation(bare_env / "one")
    two = _installation(bare_env / "two")
    assert one.signing_secret() != two.signing_secret()
    token = issue_token(one, "admin", "admin")
    with TestClient(create_app(two)) as c:
        r = c.get("/auth/me", headers=_bearer(token))
    assert r.status_code == 401 and "Signature verification failed" in r.text


def test_data_dir_holds_the_secret_and_postgresql_needs_one(bare_env: Path) -> None:
    data = bare_env / "data"
    settings = Settings(database_url="postgresql+psycopg://u@db/x", data_dir=data)
    secret = settings.signing_secret()
    assert (data / "secret-key").read_text().strip() == secret
    assert stat.S_IMODE((data / "secret-key").stat().st_mode) == 0o600
    for url in ("postgresql+psycopg://u@db/x", "sqlite://", "sqlite:///:memory:"):
        with pytest.raises(SecretKeyError, match="FIELDROUTE_SECRET_KEY"):
            Settings(database_url=url).signing_secret()


def test_the_configured_key_overrides_and_must_be_long(bare_env: Path) -> None:
    settings = _installation(bare_env / "site", secret_key=TEST_SECRET)
    assert settings.signing_secret() == TEST_SECRET
    assert not (bare_env / "site" / "fieldroute.db.secret-key").exists()
    with pytest.raises(SecretKeyError, match="at least 32"):
        _installation(bare_env / "site", secret_key="short").signing_secret()


def test_a_secret_file_others_may_read_or_a_broken_one_is_refused(bare_env: Path) -> None:
    settings = _installation(bare_env / "site")
    settings.signing_secret()
    path = settings.secret_file()
    assert path is not None
    path.chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        create_app(_installation(bare_env / "site"))
    path.write_text("too short\n")
    path.chmod(0o600)
    with pytest.raises(SecretKeyError, match="delete it"):
        _installation(bare_env / "site").signing_secret()


def test_processes_starting_at_once_agree_on_one_secret(bare_env: Path) -> None:
    found: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        found.append(_installation(bare_env / "site").signing_secret())

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 8 and len(set(found)) == 1
    path = bare_env / "site" / "fieldroute.db.secret-key"
    assert path.read_text().strip() == found[0]


def test_a_development_secret_token_is_refused_outside_development_mode(bare_env: Path) -> None:
    forged = _hand_made(DEVELOPMENT_SECRET, role="admin")
    for settings in (
        _installation(bare_env / "dev"),  # development environment, not asked for
        _installation(bare_env / "prod", environment="production"),
        make_settings(bare_env),
    ):
        with TestClient(create_app(settings)) as c:
            assert c.get("/auth/me", headers=_bearer(forged)).status_code == 401
            assert c.get("/webhooks", headers=_bearer(forged)).status_code == 401


def test_development_mode_only_when_asked_for_and_warned(
    bare_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _installation(bare_env / "dev", use_development_secret=True)
    with caplog.at_level(logging.WARNING, logger="api"), TestClient(create_app(settings)) as c:
        forged = _hand_made(DEVELOPMENT_SECRET, role="admin")
        assert c.get("/auth/me", headers=_bearer(forged)).status_code == 200
    assert "DEVELOPMENT MODE" in caplog.text and "mint an admin token" in caplog.text
    assert not (bare_env / "dev" / "fieldroute.db.secret-key").exists()
    for environment in ("test", "production"):
        with pytest.raises(SecretKeyError, match="refused outside development"):
            create_app(_installation(bare_env / environment, environment=environment,
                                     use_development_secret=True))  # fmt: skip
        with pytest.raises(SecretKeyError, match="refused outside development"):
            create_app(_installation(bare_env / environment, environment=environment,
                                     secret_key=DEVELOPMENT_SECRET))  # fmt: skip


def test_dispatch_token_signs_with_the_servers_secret(
    bare_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dispatch token` (as the README runs it, here in-process) creates or reads the same
    secret file as `dispatch serve`: its token works on the server."""
    from scripts.cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{bare_env / 'fieldroute.db'}")
    assert main(["token", "--role", "dispatcher"]) == 0
    out = capsys.readouterr()
    assert "generated a new token signing secret" in out.err
    token = out.out.strip()
    assert main(["token", "--role", "driver", "--crew", "IC001", "--ttl-hours", "72"]) == 0
    driver = capsys.readouterr().out.strip()
    with TestClient(create_app(Settings(background_workers=False))) as c:
        me = c.get("/auth/me", headers=_bearer(token))
        assert me.status_code == 200 and me.json()["role"] == "dispatcher"
        assert c.get("/auth/me", headers=_bearer(driver)).json()["crew_id"] == "IC001"
    assert main(["token", "--role", "dispatcher", "--ttl-hours", "13"]) == 2
    err = capsys.readouterr().err
    assert "--ttl-hours" in err and "at most 12 hours" in err


# ---- lifetimes


def test_token_lifetimes_per_role(bare_env: Path) -> None:
    settings = make_settings(bare_env, token_ttl_hours=24)

    def hours(token: str) -> float:
        claims = jwt.decode(token, TEST_SECRET, algorithms=["HS256"])
        return round((claims["exp"] - claims["iat"]) / 3600)

    assert hours(issue_token(settings, "d", "dispatcher")) == 12  # capped by the office max
    assert hours(issue_token(settings, "w", "driver", "IC001")) == 24
    assert hours(issue_token(settings, "w", "driver", "IC001", ttl_hours=72)) == 72
    for role, crew, too_long in (("driver", "IC001", 73), ("admin", None, 12.5)):
        with pytest.raises(InputError) as refused:
            issue_token(settings, "x", role, crew, ttl_hours=too_long)
        assert refused.value.field == "ttl_hours" and "at most" in refused.value.message
    with pytest.raises(ValidationError):
        make_settings(bare_env, token_max_hours_driver=24 * 91)


def test_minting_a_longer_token_is_refused(client: TestClient, auth) -> None:
    def mint(**body: object):
        return client.post("/auth/tokens", json={"subject": "wang", **body}, headers=auth("admin"))

    ok = mint(role="driver", crew_id="IC001", ttl_hours=72)
    assert ok.status_code == 201, ok.text
    assert mint(role="driver", crew_id="IC001", ttl_hours=80).status_code == 422
    refused = mint(role="dispatcher", ttl_hours=24)
    assert refused.status_code == 422 and "ttl_hours" in refused.text
    assert mint(role="dispatcher").status_code == 201  # the default fits every role
    assert mint(role="planner", ttl_hours=24 * 91).status_code == 422


def test_a_presented_token_longer_than_its_role_allows_is_refused(
    client: TestClient, settings: Settings
) -> None:
    for role, hours, expected in (
        ("driver", 24 * 90, 401),  # a 90-day driver token signed with the right secret
        ("driver", 72, 200),
        ("dispatcher", 13, 401),
        ("admin", 12, 200),
    ):
        r = client.get("/auth/me", headers=_bearer(_hand_made(TEST_SECRET, role, hours)))
        assert r.status_code == expected, (role, hours, r.text)
        if expected == 401:
            assert "may last at most" in r.text
    lowered = settings.model_copy(update={"token_max_hours_driver": 12})
    with TestClient(create_app(lowered)) as c:  # lowering the maximum refuses longer ones
        long = _hand_made(TEST_SECRET, "driver", 24)
        assert c.get("/auth/me", headers=_bearer(long)).status_code == 401


def test_tokens_without_an_id_or_issue_time_are_refused(client: TestClient) -> None:
    for missing in ("jti", "iat"):
        token = _hand_made(TEST_SECRET, **{missing: None})
        r = client.get("/auth/me", headers=_bearer(token))
        assert r.status_code == 401 and missing in r.text


# ---- revocation


def test_sign_out_revokes_the_token_at_once(client: TestClient, settings: Settings) -> None:
    _add_user(client, settings, "li.na", "dispatcher")
    phone, laptop = _sign_in(client, "li.na"), _sign_in(client, "li.na")
    assert client.get("/auth/me", headers=_bearer(phone)).status_code == 200
    assert client.post("/auth/sign-out", headers=_bearer(phone)).status_code == 204
    # refused at once by this process, whatever the cache's age
    r = client.get("/auth/me", headers=_bearer(phone))
    assert r.status_code == 401 and "revoked" in r.text
    assert client.get("/jobs", headers=_bearer(phone)).status_code == 401
    assert client.post("/auth/sign-out", headers=_bearer(phone)).status_code == 401
    assert client.get("/auth/me", headers=_bearer(laptop)).status_code == 200  # only that one
    claims = jwt.decode(phone, TEST_SECRET, algorithms=["HS256"])
    with _sessions(client)() as session:
        row = session.get(TokenRevocationRow, (TOKEN, claims["jti"]))
        assert row is not None and row.reason == "sign_out" and row.not_before is None
        assert abs(row.expires_at - settings.local_from_timestamp(claims["exp"])) < timedelta(
            seconds=1
        )
        audit = session.scalars(select(AuditRow).where(AuditRow.action == "sign_out")).all()
        assert [(a.actor, a.details) for a in audit] == [("li.na", {"everywhere": False})]
    # a fresh process (another server worker) reads the revocation from the database
    with TestClient(create_app(settings)) as other:
        assert other.get("/auth/me", headers=_bearer(phone)).status_code == 401
        assert other.get("/auth/me", headers=_bearer(laptop)).status_code == 200


def test_sign_out_everywhere_revokes_every_earlier_token(
    client: TestClient, settings: Settings
) -> None:
    _add_user(client, settings, "li.na", "dispatcher")
    phone, laptop = _sign_in(client, "li.na"), _sign_in(client, "li.na")
    r = client.post("/auth/sign-out", params={"everywhere": "true"}, headers=_bearer(laptop))
    assert r.status_code == 204
    for token in (phone, laptop):
        assert client.get("/auth/me", headers=_bearer(token)).status_code == 401
    fresh = _sign_in(client, "li.na")  # within the same second: still valid
    assert client.get("/auth/me", headers=_bearer(fresh)).status_code == 200


def test_disabling_a_user_or_a_new_password_revokes_their_tokens(tmp_path: Path) -> None:
    """As `dispatch user disable` / `password` do it: in another session (another process),
    seen by the server at its next re-read (here: every request)."""
    settings = make_settings(tmp_path, token_revocation_cache_s=0)
    with TestClient(create_app(settings)) as client:
        for name in ("wang", "zhao", "other"):
            _add_user(client, settings, name, "planner")
        wang, zhao, other = (_sign_in(client, n) for n in ("wang", "zhao", "other"))
        minted = issue_token(settings, "wang", "planner")  # `dispatch token --subject wang`
        with _sessions(client)() as session, session.begin():
            disable_user(session, "wang", settings.precise_now())
            set_password(session, "zhao", "a brand new password", settings.precise_now())
        for token in (wang, minted, zhao):
            r = client.get("/auth/me", headers=_bearer(token))
            assert r.status_code == 401 and "revoked" in r.text
        assert client.get("/auth/me", headers=_bearer(other)).status_code == 200
        new = client.post(
            "/auth/sign-in", json={"username": "zhao", "password": "a brand new password"}
        )
        assert client.get("/auth/me", headers=_bearer(new.json()["token"])).status_code == 200
        disabled = client.post("/auth/sign-in", json={"username": "wang", "password": PASSWORD})
        assert disabled.status_code == 401


def test_the_cli_disable_revokes_tokens(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scripts.cli import main

    _add_user(client, settings, "wang", "planner")
    token = _sign_in(client, "wang")
    assert client.get("/auth/me", headers=_bearer(token)).status_code == 200
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    assert main(["user", "disable", "wang"]) == 0
    revocation_list(client.app)._loaded_at = None  # the 5 s re-read, without waiting for it
    assert client.get("/auth/me", headers=_bearer(token)).status_code == 401


def test_revocations_are_pruned_after_expiry(client: TestClient, settings: Settings) -> None:
    now = settings.precise_now()
    with _sessions(client)() as session, session.begin():
        revoke_token(session, "old", now - timedelta(minutes=1), now - timedelta(hours=2))
        revoke_token(session, "live", now + timedelta(hours=1), now)
        revoke_subject(session, "gone", now - timedelta(days=91), "disabled")
    with _sessions(client)() as session:
        live = load_revocations(session, now)
        assert live.tokens == {"live"} and live.subjects == {}
    with _sessions(client)() as session, session.begin():
        revoke_subject(session, "wang", now, "password")  # a write prunes what has expired
    with _sessions(client)() as session:
        keys = set(session.execute(select(TokenRevocationRow.kind, TokenRevocationRow.value)))
    assert keys == {(TOKEN, "live"), (SUBJECT, "wang")}


def test_the_revocation_list_rereads_only_when_stale(
    client: TestClient, settings: Settings
) -> None:
    clock = [100.0]
    revoked = RevocationList(_sessions(client), settings.now, 5.0, lambda: clock[0])
    now = settings.precise_now()
    assert revoked.stale()
    revoked.refresh()
    assert not revoked.stale() and not revoked.refuses("t1", "wang", now)
    with _sessions(client)() as session, session.begin():  # another process revokes
        revoke_token(session, "t1", now + timedelta(hours=1), now)
        revoke_subject(session, "wang", now, "disabled")
    revoked.refresh()  # fresh: nothing re-read
    assert not revoked.refuses("t1", "x", now)
    clock[0] += 5.0
    assert revoked.stale()
    revoked.refresh()
    assert revoked.refuses("t1", "x", now)
    assert revoked.refuses("t2", "wang", now - timedelta(microseconds=1))
    assert not revoked.refuses("t2", "wang", now)  # issued at (or after) the revocation
    revoked.note_token("t3")  # this process's own sign-out: at once
    assert revoked.refuses("t3", "x", now)
    clock[0] += 5.0
    with revoked._lock:  # another thread is re-reading: requests use the copy they have
        assert revoked.stale() and not revoked.should_refresh()
    assert revoked.should_refresh()


def test_the_token_check_does_not_query_per_request(client: TestClient, settings: Settings) -> None:
    """The route fetch is a hot path: requests within the re-read interval run no query for
    the revocations (the copy is in memory)."""
    token = issue_token(settings, "ops", "admin")
    assert client.get("/auth/me", headers=_bearer(token)).status_code == 200  # first read
    statements: list[str] = []
    engine = client.app.state.ctx.engine

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(20):
            assert client.get("/auth/me", headers=_bearer(token)).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []


def test_migration_0005_downgrades_and_upgrades(tmp_path: Path) -> None:
    from alembic import command

    from api.storage.db import alembic_config, make_engine, migrate
    from tests.api_support import database_url

    engine = make_engine(database_url(tmp_path))
    try:
        migrate(engine)
        assert "token_revocations" in inspect(engine).get_table_names()
        indexes = {i["name"] for i in inspect(engine).get_indexes("token_revocations")}
        assert "ix_token_revocations_expires_at" in indexes
        command.downgrade(alembic_config(engine), "0004")
        assert "token_revocations" not in inspect(engine).get_table_names()
        assert "users" in inspect(engine).get_table_names()
        migrate(engine)
        assert "token_revocations" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_issue_times_are_precise_enough_to_tell_apart(settings: Settings) -> None:
    token = issue_token(settings, "x", "planner")
    iat = jwt.decode(token, TEST_SECRET, algorithms=["HS256"])["iat"]
    assert isinstance(iat, float)
    assert abs(settings.local_from_timestamp(iat) - datetime.now(settings.tz).replace(
        tzinfo=None)) < timedelta(seconds=5)  # fmt: skip


@pytest.mark.service  # real `dispatch serve` and `dispatch token` processes
def test_serve_and_token_as_the_readme_runs_them(tmp_path: Path) -> None:
    """No secret configured: the first `dispatch serve` makes the installation's secret and
    says where; `dispatch token` signs with it; a restart keeps it; a development-secret
    token is refused; the development secret only with FIELDROUTE_USE_DEVELOPMENT_SECRET=1,
    and then the server warns."""
    import httpx

    from scripts.live_server import Server, dispatch

    env = {
        k: v
        for k, v in os.environ.items()
        if k != "DATABASE_URL"
        and not (k.startswith("FIELDROUTE_") and not k.startswith("FIELDROUTE_TEST_"))
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'fieldroute.db'}"
    secret_file = tmp_path / "fieldroute.db.secret-key"
    log = tmp_path / "server.log"
    server = Server(env, log)
    server.start()
    try:
        assert f"token signing secret: generated a new one in {secret_file}" in log.read_text()
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        token = dispatch(["token", "--role", "dispatcher"], env).strip()
        me = httpx.get(f"{server.base}/auth/me", headers=_bearer(token), timeout=30)
        assert me.status_code == 200, me.text
        forged = _hand_made(DEVELOPMENT_SECRET, role="admin")
        assert httpx.get(f"{server.base}/auth/me", headers=_bearer(forged)).status_code == 401
        server.stop()
        server.start()  # the same secret after a restart
        assert f"token signing secret: from {secret_file}" in log.read_text()
        assert httpx.get(f"{server.base}/auth/me", headers=_bearer(token)).status_code == 200
        out = httpx.post(f"{server.base}/auth/sign-out", headers=_bearer(token))
        assert out.status_code == 204
        assert httpx.get(f"{server.base}/auth/me", headers=_bearer(token)).status_code == 401
    finally:
        server.stop()
    assert "DEVELOPMENT MODE" not in log.read_text()

    dev_env = {
        **env,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}",
        "FIELDROUTE_USE_DEVELOPMENT_SECRET": "1",
    }
    dev_log = tmp_path / "dev.log"
    dev = Server(dev_env, dev_log)
    dev.start()
    try:
        assert httpx.get(f"{dev.base}/auth/me", headers=_bearer(forged)).status_code == 200
        assert "DEVELOPMENT MODE" in dev_log.read_text()
        assert not (tmp_path / "dev.db.secret-key").exists()
    finally:
        dev.stop()
    refused = Server({**dev_env, "FIELDROUTE_ENVIRONMENT": "production"}, tmp_path / "p.log")
    with pytest.raises(AssertionError, match="refused outside development"):
        refused.start()
