"""Running the service in production: logs (JSON lines, a request id on each, an access line
per request, no personal data), compressed answers (gzip, ETags and 304s still right, the
body checks still in front), and migrations run once (`dispatch db upgrade`; `dispatch serve`
on SQLite; nobody else, and a schema behind the code refused with the command to run)."""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from api.http.app import create_app
from api.logs import JsonFormatter, TextFormatter
from api.settings import Settings
from api.storage.db import (
    SchemaNotCurrent,
    check_schema,
    make_engine,
    migrate,
    schema_state,
)
from tests.api_support import DEMO_DAY, TEST_SECRET, bearer, database_url, make_settings

pytestmark = pytest.mark.api

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything logged at INFO and above meanwhile, as the service writes it (JSON lines)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    # the test client's own httpx lines are the client's log (the service quiets httpx)
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict]:
    """Each line parsed as one JSON object (fails on a line that is not one)."""
    out = []
    for line in stream.getvalue().splitlines():
        entry = json.loads(line)
        assert isinstance(entry, dict)
        assert {"time", "level", "logger", "message"} <= set(entry), entry
        out.append(entry)
    return out


def _personal_data(client: TestClient, settings: Settings) -> set[str]:
    """The customers' names, phones and addresses of the seeded day, as a dispatcher sees them."""
    items = client.get(
        "/jobs", params={"limit": 500}, headers=bearer(settings, "dispatcher")
    ).json()["items"]
    found = _customers(items)
    assert found, "the demo day has no personal data to look for"
    return found


def _customers(jobs: list[dict]) -> set[str]:
    """The names, phones and addresses in jobs as the API answers them."""
    fields = ("customer_name", "customer_phone", "address")
    return {str(j["record"][f]) for j in jobs for f in fields if j["record"].get(f)}


# ---- logs


def test_log_lines_are_json_and_carry_the_request_id(seeded, settings, json_log) -> None:
    office = bearer(settings, "dispatcher")
    personal = _personal_data(seeded, settings)
    json_log.truncate(0)
    json_log.seek(0)

    r = seeded.get(
        "/jobs",
        params={"date": DEMO_DAY.isoformat(), "limit": 50, "q": "13800000001"},
        headers={**office, "X-Request-ID": "edge-7f3a:01"},
    )
    assert r.status_code == 200 and r.headers["x-request-id"] == "edge-7f3a:01"
    assert _customers(r.json()["items"])
    # an id that is not a sane short token is replaced by one of ours
    odd = seeded.get("/health", headers={"X-Request-ID": "no spaces; please " + "x" * 200})
    generated = odd.headers["x-request-id"]
    assert HEX_ID.fullmatch(generated)
    plain = seeded.get("/health")
    assert HEX_ID.fullmatch(plain.headers["x-request-id"])
    assert plain.headers["x-request-id"] != generated
    missing = seeded.get("/jobs/NO-SUCH-JOB", headers=office)
    assert missing.status_code == 404 and HEX_ID.fullmatch(missing.headers["x-request-id"])

    lines = _lines(json_log)
    access = [e for e in lines if e["logger"] == "api.access"]
    by_id = {e["request_id"]: e for e in access}
    jobs = by_id["edge-7f3a:01"]
    assert jobs["method"] == "GET" and jobs["status"] == 200
    assert jobs["path"] == "/jobs" and jobs["route"] == "/jobs"  # never the query string
    assert isinstance(jobs["duration_ms"], float) and jobs["level"] == "info"
    assert by_id[generated]["path"] == "/health"
    assert by_id[missing.headers["x-request-id"]]["status"] == 404
    assert by_id[missing.headers["x-request-id"]]["path"] == "/jobs/NO-SUCH-JOB"
    assert lines[0]["time"].endswith("Z")
    text = json_log.getvalue()
    assert "13800000001" not in text and "date=" not in text and "limit" not in text
    assert not [p for p in personal if p in text]


def test_lines_logged_while_handling_a_request_name_it(settings, json_log) -> None:
    """In a sync endpoint's worker thread, in an async one, and in the 500 handler (which
    Starlette runs outside every middleware): the same id as the answer's header."""
    app: FastAPI = create_app(settings)
    inside = logging.getLogger("api.test")

    @app.get("/test/sync")
    def sync_endpoint() -> dict[str, str]:
        inside.info("in a worker thread")
        return {}

    @app.get("/test/async")
    async def async_endpoint() -> dict[str, str]:
        inside.info("on the event loop")
        return {}

    @app.get("/test/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        sync = client.get("/test/sync", headers={"X-Request-ID": "req-sync"})
        loop = client.get("/test/async", headers={"X-Request-ID": "req-async"})
        failed = client.get("/test/boom", headers={"X-Request-ID": "req-boom"})
    assert sync.headers["x-request-id"] == "req-sync"
    assert loop.headers["x-request-id"] == "req-async"
    assert failed.status_code == 500 and failed.headers["x-request-id"] == "req-boom"
    assert failed.json()["type"] == "/problems/internal-error"

    lines = _lines(json_log)
    said = {e["message"]: e.get("request_id") for e in lines if e["logger"] == "api.test"}
    assert said == {"in a worker thread": "req-sync", "on the event loop": "req-async"}
    bug = next(e for e in lines if e["message"].startswith("unhandled error"))
    assert bug["request_id"] == "req-boom" and bug["level"] == "error"
    assert "RuntimeError: a bug" in bug["exception"]
    access = {e["request_id"]: e["status"] for e in lines if e["logger"] == "api.access"}
    assert access == {"req-sync": 200, "req-async": 200, "req-boom": 500}
    # outside a request (start-up, background work) a line has no request id
    started = [e for e in lines if e["message"].startswith("token signing secret")]
    assert started and all("request_id" not in e for e in started)


def test_text_format_for_a_terminal() -> None:
    from api.logs import REQUEST_ID

    record = logging.LogRecord("api.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    token = REQUEST_ID.set("abc")
    try:
        line = TextFormatter().format(record)
        entry = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line.endswith("INFO api.access [abc] GET /x")
    assert entry["request_id"] == "abc" and entry["message"] == "GET /x"
    assert "[" not in TextFormatter().format(record)  # no id outside a request


def test_log_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDROUTE_LOG_FORMAT", "TEXT")
    monkeypatch.setenv("FIELDROUTE_LOG_LEVEL", "Warning")
    settings = Settings()
    assert settings.log_format == "text" and settings.log_level == "warning"
    monkeypatch.setenv("FIELDROUTE_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="log_format"):
        Settings()


# ---- compression


@pytest.fixture
def published(seeded, settings):
    from tests.api_support import publish_demo_plan

    return seeded, publish_demo_plan(seeded, settings)


def test_a_large_list_comes_gzip_encoded(seeded, settings) -> None:
    office = bearer(settings, "dispatcher")
    params = {"limit": 500}
    zipped = seeded.get("/jobs", params=params, headers={**office, "Accept-Encoding": "gzip"})
    assert zipped.status_code == 200 and zipped.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in zipped.headers["vary"].lower()
    assert int(zipped.headers["content-length"]) < len(zipped.content) / 3
    plain = seeded.get("/jobs", params=params, headers={**office, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert zipped.json() == plain.json() and len(plain.json()["items"]) == 30
    # the raw bytes are gzip indeed (httpx decoded them above)
    raw = _raw_get(seeded, "/jobs?limit=500", {**office, "Accept-Encoding": "gzip"})
    assert json.loads(gzip.decompress(raw)) == plain.json()
    # small answers go as they are
    small = seeded.get("/health", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


def _raw_get(client: TestClient, url: str, headers: dict[str, str]) -> bytes:
    with client.stream("GET", url, headers=headers) as r:
        return b"".join(r.iter_raw())


def test_route_and_board_etags_and_304s_with_gzip(published, settings) -> None:
    client, plan_id = published
    items = client.get(
        "/jobs", params={"status": "assigned", "limit": 500}, headers=bearer(settings, "admin")
    ).json()["items"]
    crew = items[0]["crew_id"]
    driver = {**bearer(settings, "driver", crew), "Accept-Encoding": "gzip"}
    url, params = "/me/route", {"date": DEMO_DAY.isoformat()}
    first = client.get(url, params=params, headers=driver)
    assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
    etag = first.headers["etag"]
    assert etag.startswith('W/"')  # a compressed answer's strong ETag is made weak
    vary = {v.strip().lower() for v in first.headers["vary"].split(",")}
    assert {"authorization", "accept-encoding"} <= vary
    again = client.get(url, params=params, headers={**driver, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert "content-encoding" not in again.headers
    assert again.headers["etag"].removeprefix("W/") == etag.removeprefix("W/")
    # a client that took the plain answer's strong ETag gets its 304 too
    strong = client.get(
        url, params=params, headers={**driver, "If-None-Match": etag.removeprefix("W/")}
    )
    assert strong.status_code == 304

    office = {**bearer(settings, "dispatcher"), "Accept-Encoding": "gzip"}
    board = client.get(f"/plans/{plan_id}/board", headers=office)
    assert board.status_code == 200 and board.headers["content-encoding"] == "gzip"
    assert board.json()["routes"]
    tag = board.headers["etag"]
    assert tag.startswith('W/"')  # weak already: unchanged
    unchanged = client.get(f"/plans/{plan_id}/board", headers={**office, "If-None-Match": tag})
    assert unchanged.status_code == 304 and unchanged.content == b""


def test_body_checks_still_answer_first_with_gzip(tmp_path: Path) -> None:
    """The size limit and the JSON guard still answer their problems (now inside the
    compression and the request log): 413 and 422, problem+json, with a request id."""
    settings = make_settings(tmp_path, max_body_bytes=4096)
    with TestClient(create_app(settings)) as client:
        office = {**bearer(settings, "dispatcher"), "Accept-Encoding": "gzip"}
        big = client.post(
            "/jobs",
            content=b'{"id": "' + b"x" * 5000 + b'"}',
            headers={**office, "Content-Type": "application/json"},
        )
        assert big.status_code == 413, big.text
        assert big.headers["content-type"] == "application/problem+json"
        assert HEX_ID.fullmatch(big.headers["x-request-id"])
        nan = client.post(
            "/jobs",
            content=b'{"id": "J1", "lat": NaN}',
            headers={**office, "Content-Type": "application/json"},
        )
        assert nan.status_code == 422 and nan.json()["errors"][0]["field"] == "lat"
        assert "NaN" not in nan.text.replace("NaN, Infinity", "")
        assert HEX_ID.fullmatch(nan.headers["x-request-id"])


def test_compression_can_be_turned_off(tmp_path: Path) -> None:
    other = make_settings(tmp_path, compress_responses=False)
    with TestClient(create_app(other)) as client:
        r = client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and "content-encoding" not in r.headers


# ---- migrations


def test_who_migrates_on_start() -> None:
    assert Settings(database_url="sqlite:///x.db").migrates_on_start()
    assert Settings(database_url="sqlite://").migrates_on_start()
    assert not Settings(database_url="postgresql+psycopg://u@db/x").migrates_on_start()
    assert Settings(database_url="postgresql+psycopg://u@db/x", migrate_on_start=True)
    assert Settings(
        database_url="postgresql+psycopg://u@db/x", migrate_on_start="true"
    ).migrates_on_start()
    assert not Settings(database_url="sqlite:///x.db", migrate_on_start="0").migrates_on_start()


def _start(settings: Settings) -> None:
    """Start an app (its lifespan) and stop it."""
    with TestClient(create_app(settings)):
        pass


def test_an_app_that_may_not_migrate_refuses_an_empty_database(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, migrate_on_start=False)
    with pytest.raises(SchemaNotCurrent, match=r"no schema yet.*`dispatch db upgrade`"):
        _start(settings)
    engine = make_engine(settings.database_url)
    try:
        assert schema_state(engine).current == ()  # it did not migrate
        migrate(engine)  # what `dispatch db upgrade` does
    finally:
        engine.dispose()
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json() == {"status": "ok"}


def test_a_schema_behind_is_refused_or_upgraded_as_the_settings_say(tmp_path: Path) -> None:
    refusing = make_settings(tmp_path, migrate_on_start=False)  # (empties a test PostgreSQL)
    upgrading = refusing.model_copy(update={"migrate_on_start": True})
    engine = make_engine(refusing.database_url)
    try:
        migrate(engine, "0004")
        state = schema_state(engine)
        assert state.current == ("0004",) and not state.up_to_date
        with pytest.raises(SchemaNotCurrent, match=r"revision 0004, this version needs"):
            check_schema(engine)
        with pytest.raises(SchemaNotCurrent, match="dispatch db upgrade"):
            _start(refusing)
        assert schema_state(engine).current == ("0004",)
        with TestClient(create_app(upgrading)) as client:
            assert client.get("/health").status_code == 200
        assert check_schema(engine).up_to_date
    finally:
        engine.dispose()


def test_a_schema_from_a_newer_version_is_refused_even_when_migrating(tmp_path: Path) -> None:
    upgrading = make_settings(tmp_path, migrate_on_start=True)
    engine = make_engine(upgrading.database_url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(SchemaNotCurrent, match="9999, which this version does not know"):
            _start(upgrading)
    finally:
        engine.dispose()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The `dispatch` commands in this process on a fresh database, nothing configured."""
    for name in list(os.environ):
        if (name.startswith("FIELDROUTE_") and not name.startswith("FIELDROUTE_TEST_")) or (
            name == "DATABASE_URL"
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    url = database_url(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FIELDROUTE_SECRET_KEY", TEST_SECRET)
    return url


def test_dispatch_db_upgrade_is_the_way_to_migrate(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts.cli import main

    monkeypatch.setenv("FIELDROUTE_MIGRATE_ON_START", "false")  # as on PostgreSQL
    assert main(["db", "check"]) == 1
    assert "no schema yet" in capsys.readouterr().err
    assert main(["user", "list"]) == 2  # refused, naming the command; nothing migrated
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "run `dispatch db upgrade`" in err
    assert main(["seed", "--fixture", "shanghai", "--jobs", "3"]) == 2
    assert "dispatch db upgrade" in capsys.readouterr().err
    engine = make_engine(cli_env)
    try:
        assert "jobs" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()

    assert main(["db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert "schema upgraded from no schema to" in out
    assert main(["db", "upgrade"]) == 0
    assert "schema is up to date" in capsys.readouterr().out
    assert main(["db", "check"]) == 0
    assert main(["user", "list"]) == 0


def test_seed_and_user_upgrade_an_sqlite_database_by_default(
    cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if not cli_env.startswith("sqlite"):
        pytest.skip("the default upgrades SQLite databases only")
    from scripts.cli import main

    assert main(["user", "list"]) == 0
    assert main(["db", "check"]) == 0
    capsys.readouterr()


# ---- real processes


def _clean_env(**values: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "DATABASE_URL"
        and not (k.startswith("FIELDROUTE_") and not k.startswith("FIELDROUTE_TEST_"))
    }
    return {**env, "FIELDROUTE_SECRET_KEY": TEST_SECRET, **values}


@pytest.mark.service  # a real `dispatch serve` process
def test_the_real_servers_log_is_json_with_request_ids_and_no_personal_data(
    tmp_path: Path,
) -> None:
    import httpx

    from scripts.live_server import Server, dispatch

    settings = make_settings(tmp_path)  # for tokens (and it empties a test PostgreSQL)
    env = _clean_env(DATABASE_URL=settings.database_url, FIELDROUTE_ENVIRONMENT="test")
    dispatch(["db", "upgrade"], env)  # on PostgreSQL nothing else migrates
    dispatch(["seed", "--fixture", "shanghai", "--jobs", "12", "--date", DEMO_DAY.isoformat()], env)
    log = tmp_path / "server.log"
    server = Server(env, log)
    server.start()
    try:
        with httpx.Client(base_url=server.base, timeout=30) as c:
            office = bearer(settings, "dispatcher")
            jobs = c.get(
                "/jobs",
                params={"date": DEMO_DAY.isoformat(), "limit": 100},
                headers={**office, "X-Request-ID": "trace-0001"},
            )
            assert jobs.status_code == 200 and jobs.headers["x-request-id"] == "trace-0001"
            assert jobs.headers["content-encoding"] == "gzip"  # httpx asks for it
            personal = _customers(jobs.json()["items"])
            assert personal
            bad = c.post("/jobs", json={"id": "X1", "customer_name": "Wang Fang"}, headers=office)
            assert bad.status_code == 422
            other = c.get("/health")
            rid = other.headers["x-request-id"]
    finally:
        server.stop()

    entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    access = {e["request_id"]: e for e in entries if e["logger"] == "api.access"}
    assert access["trace-0001"]["path"] == "/jobs" and access["trace-0001"]["status"] == 200
    assert access[rid]["path"] == "/health"
    assert any(e["logger"].startswith("uvicorn") for e in entries)  # uvicorn's own lines too
    assert any("token signing secret" in e["message"] for e in entries)
    text = log.read_text()
    assert "Wang Fang" not in text and not [p for p in personal if p in text]
    assert "limit=" not in text


@pytest.mark.service  # `dispatch serve` and worker processes
def test_servers_and_workers_never_migrate_and_refuse_an_old_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = _clean_env(DATABASE_URL=url, FIELDROUTE_MIGRATE_ON_START="false")
    refused = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "serve", "--port", "9"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    lines = [json.loads(line) for line in refused.stderr.splitlines()]
    assert lines[-1]["level"] == "error" and "refusing to start" in lines[-1]["message"]
    assert "run `dispatch db upgrade`" in lines[-1]["message"]

    worker = [sys.executable, "-m", "api.background.plan_worker", "no-such-plan"]
    old = subprocess.run(worker, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert old.returncode == 1, old.stderr
    said = json.loads(old.stderr.splitlines()[-1])
    assert said["logger"] == "api.plan_worker" and "refused to start" in said["message"]
    assert "dispatch db upgrade" in said["message"]
    engine = make_engine(url)
    try:
        assert schema_state(engine).current == ()  # neither migrated
        migrate(engine)
    finally:
        engine.dispose()
    # on the current schema the worker runs (and logs in the same JSON format)
    done = subprocess.run(worker, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr  # no such plan
    said = json.loads(done.stderr.splitlines()[-1])
    assert said["message"] == "plan no-such-plan: no such plan" and said["level"] == "error"
