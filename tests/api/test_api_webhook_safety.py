"""Webhooks in production: targets limited to global addresses (at registration and, after a
fresh look-up, before every delivery, never connecting to a refused one), and signing secrets
encrypted at rest (Fernet, key from the settings or derived from the signing secret), with the
0006 -> 0007 migration that encrypts plain rows and its downgrade that decrypts them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.background.webhook_sender import deliver_due, sign
from api.http.app import create_app
from api.services import webhook_targets
from api.services.outbox import enqueue
from api.settings import Settings
from api.storage.models import OutboxRow, WebhookRow
from api.storage.webhook_secrets import HKDF_INFO, PREFIX, SecretBox, fernet_key, secret_box
from tests.api_support import bearer, database_url, make_settings
from tests.signed_receiver import SignedReceiver

pytestmark = pytest.mark.api

REFUSED = [
    "http://127.0.0.1/hook",
    "http://127.0.0.1:8080/hook",
    "http://localhost:8080/hook",
    "http://api.localhost/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.9/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",  # shared (carrier-grade NAT)
    "http://169.254.169.254/latest/meta-data",  # cloud metadata
    "http://[::1]/hook",
    "http://[fd00::1]/hook",  # unique local
    "http://[fe80::1]/hook",
    "http://[::ffff:10.0.0.1]/hook",  # IPv4 in IPv6
    "http://0.0.0.0/hook",
    "http://[::]/hook",
    "http://224.0.0.1/hook",
    "http://2130706433/hook",  # 127.0.0.1 written as a number
]


@pytest.fixture
def strict(tmp_path: Path) -> Settings:
    """The production defaults: no private targets."""
    return make_settings(tmp_path, webhook_allow_private=False)


@pytest.fixture
def strict_client(strict: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(strict)) as client:
        yield client


def post_hook(client: TestClient, settings: Settings, url: str) -> httpx.Response:
    return client.post(
        "/webhooks", json={"url": url, "events": ["*"]}, headers=bearer(settings, "admin")
    )


def queue(client: TestClient) -> None:
    ctx = client.app.state.ctx
    with ctx.sessions() as session, session.begin():
        enqueue(session, "callback.opened", {"job_id": "J1"}, ctx.settings.now())


def rows(client: TestClient) -> list[OutboxRow]:
    with client.app.state.ctx.sessions() as session:
        return list(session.query(OutboxRow).order_by(OutboxRow.id))


def set_url(client: TestClient, webhook_id: int, url: str) -> None:
    """Point a stored webhook elsewhere, past the registration check (an old row, a hand edit)."""
    with client.app.state.ctx.sessions() as session, session.begin():
        session.get(WebhookRow, webhook_id).url = url


class Recorder:
    """An httpx transport that records what would have been sent, and answers 204."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self._handle))

    def _handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return httpx.Response(204)


def resolver(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> list[str]:
    """Make every host name resolve to `addresses`; returns the names looked up."""
    asked: list[str] = []

    def resolve(host: str, _port: int) -> list[str]:
        asked.append(host)
        if not addresses:
            raise OSError("Name or service not known")
        return list(addresses)

    monkeypatch.setattr(webhook_targets, "resolve", resolve)
    return asked


# --- registration ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", REFUSED)
def test_registration_refuses_non_global_targets_by_default(strict_client, strict, url):
    response = post_hook(strict_client, strict, url)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/invalid-request"
    (error,) = problem["errors"]
    assert (error["field"], error["loc"], error["type"]) == (
        "url",
        ["body", "url"],
        "url_not_allowed",
    )
    assert " address" in error["message"]
    assert problem["detail"] == f"url: {error['message']}"


def test_registration_accepts_global_targets_and_names(strict_client, strict):
    for url in (
        "https://orders.example.com/hook",
        "http://8.8.8.8/hook",
        "https://[2001:4860::8888]/",
    ):
        assert post_hook(strict_client, strict, url).status_code == 201, url
    assert post_hook(strict_client, strict, "ftp://8.8.8.8/x").status_code == 422


def test_allowed_networks_and_allow_private(tmp_path):
    narrow = make_settings(
        tmp_path, webhook_allow_private=False, webhook_allowed_networks="10.20.0.0/16, fd00:1::/64"
    )
    with TestClient(create_app(narrow)) as client:
        assert post_hook(client, narrow, "http://10.20.3.4/hook").status_code == 201
        assert post_hook(client, narrow, "http://[fd00:1::5]/hook").status_code == 201
        assert post_hook(client, narrow, "http://10.21.0.1/hook").status_code == 422
        assert post_hook(client, narrow, "http://127.0.0.1/hook").status_code == 422
    with pytest.raises(ValueError, match="not an IP network"):
        make_settings(tmp_path, webhook_allowed_networks="10.0.0.0/8,intranet")

    allow = webhook_targets.address_refusal
    open_ = make_settings(tmp_path, webhook_allow_private=True)
    ip = ipaddress.ip_address
    assert allow(ip("127.0.0.1"), open_) is None and allow(ip("10.0.0.1"), open_) is None
    assert "unspecified" in (allow(ip("0.0.0.0"), open_) or "")  # never, even when allowed
    assert "multicast" in (allow(ip("ff02::1"), open_) or "")


# --- delivery -------------------------------------------------------------------------------


def test_a_name_resolving_to_a_private_address_is_never_connected(
    strict_client, strict, monkeypatch
):
    created = post_hook(strict_client, strict, "https://hooks.example.com/in?key=abc").json()
    queue(strict_client)
    recorder = Recorder()
    asked = resolver(monkeypatch, "10.0.0.7")
    ctx = strict_client.app.state.ctx
    assert deliver_due(ctx, client=recorder.client()) == 1
    (row,) = rows(strict_client)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error.startswith("target refused: 10.0.0.7 is a private address")
    assert "hooks.example.com" not in row.last_error and "key=abc" not in row.last_error
    assert recorder.requests == [] and asked == ["hooks.example.com"]

    # one refused address among several refuses the target (DNS answers vary)
    resolver(monkeypatch, "93.184.216.34", "127.0.0.1")
    assert deliver_due(ctx, now=strict.now() + timedelta(hours=1), client=recorder.client()) == 1
    assert "127.0.0.1 is a loopback address" in rows(strict_client)[0].last_error
    assert recorder.requests == []

    # the name resolves to a global address again: delivered there, to the checked address
    resolver(monkeypatch, "93.184.216.34")
    assert deliver_due(ctx, now=strict.now() + timedelta(hours=2), client=recorder.client()) == 1
    (row,) = rows(strict_client)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
    (request,) = recorder.requests
    assert request.url.host == "93.184.216.34" and request.url.scheme == "https"
    assert request.url.path == "/in" and request.url.query == b"key=abc"
    assert request.headers["Host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"  # TLS checks the name
    timestamp = request.headers["X-Fieldroute-Timestamp"]
    expected = sign(created["secret"], timestamp, request.content)
    assert request.headers["X-Fieldroute-Signature"] == expected


def test_stored_private_urls_are_refused_at_delivery(strict_client, strict, monkeypatch):
    """Rows that point at loopback, private or link-local addresses (registered under other
    settings, or edited by hand) fail without a connection: a real receiver on 127.0.0.1
    sees nothing."""
    receiver = SignedReceiver()
    resolver(monkeypatch, "127.0.0.1")  # localhost, whatever the host's resolver says
    try:
        hook = post_hook(strict_client, strict, "https://orders.example.com/hook").json()
        ctx = strict_client.app.state.ctx
        targets = [
            (receiver.url, "127.0.0.1 is a loopback address"),
            (receiver.url.replace("127.0.0.1", "localhost"), "127.0.0.1 is a loopback address"),
            ("http://[::1]:9/hook", "::1 is a loopback address"),
            ("http://10.9.8.7/hook", "10.9.8.7 is a private address"),
            ("http://169.254.169.254/latest", "169.254.169.254 is a link-local address"),
            ("http://0.0.0.0:9/hook", "0.0.0.0 is the unspecified address"),
        ]
        for url, why in targets:
            set_url(strict_client, hook["id"], url)
            with ctx.sessions() as session, session.begin():
                session.execute(sa.delete(OutboxRow))
            queue(strict_client)
            assert deliver_due(ctx) == 1
            assert why in rows(strict_client)[0].last_error, url
        assert receiver.requests == []
    finally:
        receiver.close()


def test_a_name_that_does_not_resolve_fails_the_attempt(strict_client, strict, monkeypatch):
    post_hook(strict_client, strict, "https://gone.example.com/hook")
    queue(strict_client)
    resolver(monkeypatch)  # no address
    assert deliver_due(strict_client.app.state.ctx) == 1
    assert rows(strict_client)[0].last_error == "DNS lookup failed: the host name has no address"


# --- secrets at rest --------------------------------------------------------------------------


def test_secrets_are_stored_encrypted_and_never_answered_again(client, settings, auth):
    created = post_hook(client, settings, "https://orders.example.com/hook").json()
    with client.app.state.ctx.sessions() as session:
        stored = session.get(WebhookRow, created["id"]).secret
    assert stored.startswith(PREFIX) and created["secret"] not in stored
    assert secret_box(settings).open(stored) == created["secret"]
    answers = [
        client.get("/webhooks", headers=auth("admin")),
        client.get("/webhooks", params={"include_inactive": True}, headers=auth("admin")),
        client.get(f"/webhooks/{created['id']}/deliveries", headers=auth("admin")),
    ]
    for answer in answers:
        assert answer.status_code == 200
        assert created["secret"] not in answer.text and stored not in answer.text
        assert "secret" not in answer.text


def test_the_key_comes_from_the_setting_or_hkdf_of_the_signing_secret(tmp_path):
    derived = make_settings(tmp_path)
    assert derived.webhook_key_material()[0] == derived.signing_secret()
    # HKDF-SHA256 (RFC 5869) with no salt and the fixed info label, written out by hand
    prk = hmac.new(b"\0" * 32, derived.signing_secret().encode(), hashlib.sha256).digest()
    okm = hmac.new(prk, HKDF_INFO + b"\x01", hashlib.sha256).digest()
    assert fernet_key(derived.signing_secret()) == base64.urlsafe_b64encode(okm)

    own = make_settings(tmp_path, webhook_secret_key="k" * 40)
    assert own.webhook_key_material() == ("k" * 40, "FIELDROUTE_WEBHOOK_SECRET_KEY")
    sealed = secret_box(own).seal("whsec_x")
    assert secret_box(own).open(sealed) == "whsec_x"
    with pytest.raises(Exception, match="cannot be decrypted"):
        secret_box(derived).open(sealed)
    with pytest.raises(Exception, match="plain text"):
        secret_box(own).open("whsec_x")
    with pytest.raises(ValueError, match="at least 32"):
        make_settings(tmp_path, webhook_secret_key="short")


def test_a_secret_sealed_with_another_key_fails_the_delivery(client, settings, monkeypatch):
    created = post_hook(client, settings, "https://orders.example.com/hook").json()
    other = SecretBox("another-installation-key-0123456789abcdef")
    with client.app.state.ctx.sessions() as session, session.begin():
        session.get(WebhookRow, created["id"]).secret = other.seal(created["secret"])
    queue(client)
    recorder = Recorder()
    resolver(monkeypatch, "93.184.216.34")
    assert deliver_due(client.app.state.ctx, client=recorder.client()) == 1
    assert "cannot be decrypted" in rows(client)[0].last_error
    assert recorder.requests == []


# --- migration 0007 ---------------------------------------------------------------------------


def _plain_webhook(engine: sa.Engine, secret: str) -> int:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO webhooks (url, secret, events, active, description, created_at) "
                "VALUES ('https://orders.example.com/hook', :secret, '[\"*\"]', true, '', "
                "'2026-06-18 09:00:00')"
            ),
            {"secret": secret},
        )
        row_id = conn.execute(sa.text("SELECT max(id) FROM webhooks")).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO webhook_outbox (webhook_id, event_type, payload, status, attempts, "
                "next_attempt_at, created_at) VALUES (:id, 'callback.opened', '{}', 'pending', "
                "0, '2026-06-18 09:00:00', '2026-06-18 09:00:00')"
            ),
            {"id": row_id},
        )
    return int(row_id)


def _secret(engine: sa.Engine, row_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT secret FROM webhooks WHERE id = :id"), {"id": row_id}
        ).scalar_one()


def test_migration_0007_encrypts_plain_secrets_and_its_downgrade_decrypts(tmp_path):
    from alembic import command

    from api.storage.db import alembic_config, make_engine, migrate, schema_state

    url = database_url(tmp_path)
    settings = make_settings(tmp_path, database_url=url)
    engine = make_engine(url)
    try:
        migrate(engine, "0006", settings=settings)
        plain = "whsec_" + "p" * 43
        row_id = _plain_webhook(engine, plain)

        migrate(engine, settings=settings)
        stored = _secret(engine, row_id)
        assert stored.startswith(PREFIX) and plain not in stored
        assert secret_box(settings).open(stored) == plain
        with engine.connect() as conn:  # the outbox row survived (no table copy, no cascade)
            assert conn.execute(sa.text("SELECT count(*) FROM webhook_outbox")).scalar_one() == 1

        command.downgrade(alembic_config(engine, settings), "0006")
        assert _secret(engine, row_id) == plain
        assert schema_state(engine).current == ("0006",)
        migrate(engine, settings=settings)  # and up again
        assert secret_box(settings).open(_secret(engine, row_id)) == plain
    finally:
        engine.dispose()


def test_migration_0007_without_a_key_stops_and_changes_nothing(tmp_path, monkeypatch):
    from api.storage.db import make_engine, migrate, schema_state

    for name in ("FIELDROUTE_SECRET_KEY", "FIELDROUTE_WEBHOOK_SECRET_KEY", "FIELDROUTE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    url = database_url(tmp_path)
    # no key set and no secret file beside the database (or a PostgreSQL one without data_dir)
    keyless = make_settings(tmp_path, database_url=url, secret_key=None)
    engine = make_engine(url)
    try:
        migrate(engine, "0006", settings=keyless)
        row_id = _plain_webhook(engine, "whsec_plain")
        with pytest.raises(RuntimeError, match="FIELDROUTE_WEBHOOK_SECRET_KEY"):
            migrate(engine, settings=keyless)
        assert _secret(engine, row_id) == "whsec_plain"
        assert schema_state(engine).current == ("0006",)
        secret_file = keyless.secret_file()
        assert secret_file is None or not secret_file.exists()  # none generated meanwhile
    finally:
        engine.dispose()
