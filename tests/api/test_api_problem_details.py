"""One error shape, and no server error for input a JSON reader lets through.

Every error is RFC 9457 problem details (`application/problem+json`: `type`, `title`,
`status`, `detail` a sentence, extension members kept); `NaN`, `Infinity`, `1e309`, a lone
surrogate or a deeply nested body are a 4xx naming the field, never a 500 and never echoed;
a keep-alive connection survives them; the OpenAPI document declares every operation's
error answers with the problem schema."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.services.users import MAX_FAILURES, create_user
from api.settings import Settings
from tests.api_support import bearer, make_settings, publish_demo_plan

pytestmark = pytest.mark.api

PROBLEM = "application/problem+json"
JOB = {
    "id": "J1",
    "kind": "repair",
    "confirmed_at": "2026-06-18T08:00",
    "lon": 121.47,
    "lat": 31.23,
    "windows": [{"start": "2026-06-18T10:00", "end": "2026-06-18T12:00"}],
    "customer_name": "Li Lei",
}


def _problem(r, status: int, type_: str | None = None) -> dict:
    """The answer is a problem of `status` (and `type_`), with the four standard members."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["type"] == "about:blank" or body["type"].startswith("/problems/")
    if type_ is not None:
        assert body["type"] == f"/problems/{type_}"
    return body


def _json_post(client: TestClient, path: str, text: str, headers: dict[str, str]):
    return client.post(path, content=text, headers={**headers, "content-type": "application/json"})


def _job_text(**raw_values: str) -> str:
    """JOB as JSON text, with `raw_values` written verbatim (NaN, 1e309, escapes)."""
    text = json.dumps({**JOB, **dict.fromkeys(raw_values, "@@")})
    for key, raw in raw_values.items():
        text = text.replace(f'"{key}": "@@"', f'"{key}": {raw}')
    return text


# ---- values a JSON reader takes but the service cannot hold


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e309", "-1e400"])
def test_non_finite_numbers_are_422_naming_the_field(seeded, auth, number):
    """Was a 500: the 422 echoed the value, which cannot be encoded as JSON (and the
    connection was dropped after the 500)."""
    r = _json_post(seeded, "/jobs", _job_text(lon=number), auth("dispatcher"))
    body = _problem(r, 422, "invalid-request")
    assert [e["field"] for e in body["errors"]] == ["lon"]
    assert body["errors"][0]["loc"] == ["body", "lon"]
    assert "input" not in body["errors"][0] and "lon" in body["detail"]
    assert seeded.get("/jobs/J1", headers=auth("dispatcher")).status_code == 404


def test_non_finite_numbers_anywhere_in_a_body(seeded, auth):
    """In a float field with no bounds of its own and deep in free-form settings."""
    r = _json_post(
        seeded, "/plans", '{"date": "2026-06-18", "time_limit_s": NaN}', auth("dispatcher")
    )
    assert _problem(r, 422)["errors"][0]["field"] == "time_limit_s"
    text = '{"fixture": "shanghai", "days": 2, "settings": {"demand": {"peak_days": Infinity}}}'
    r = _json_post(seeded, "/simulations", text, auth("admin"))
    assert _problem(r, 422)["errors"][0]["field"] == "settings.demand.peak_days"
    windows = '[{"start": "2026-06-18T10:00", "end": "2026-06-18T12:00", "x": [1, 2e999]}]'
    r = _json_post(seeded, "/jobs", _job_text(windows=windows), auth("dispatcher"))
    assert _problem(r, 422)["errors"][0]["field"] == "windows[0].x[1]"


def test_a_lone_surrogate_is_422_and_never_stored(seeded, auth):
    """Was a 500 (the 422 echoing it could not be encoded as UTF-8); a valid job holding one
    was a 500 after the row was written."""
    r = _json_post(seeded, "/jobs", _job_text(id='"\\ud800"'), auth("dispatcher"))
    assert _problem(r, 422, "invalid-request")["errors"][0]["field"] == "id"
    r = _json_post(seeded, "/jobs", _job_text(customer_name='"Li \\udfff"'), auth("dispatcher"))
    body = _problem(r, 422)
    assert body["errors"][0]["field"] == "customer_name" and "surrogate" in body["detail"]
    assert seeded.get("/jobs/J1", headers=auth("dispatcher")).status_code == 404
    # a pair is a character like any other
    r = _json_post(
        seeded, "/jobs", _job_text(customer_name='"Li \\ud83d\\ude00"'), auth("dispatcher")
    )
    assert r.status_code == 201, r.text
    assert (
        seeded.get("/jobs/J1", headers=auth("dispatcher")).json()["record"]["customer_name"]
        == "Li 😀"
    )


def test_a_lone_surrogate_in_an_imported_file_is_refused(seeded, auth):
    """Was stored by the import, then every answer holding the job was a 500."""
    text = json.dumps([JOB]).replace('"Li Lei"', '"Li \\ud800"')
    files = {"file": ("jobs.json", text.encode(), "application/json")}
    r = seeded.post("/jobs/import", files=files, headers=auth("dispatcher"))
    body = _problem(r, 422, "invalid-input")
    assert [(e["field"], "surrogate" in e["message"]) for e in body["errors"]] == [
        ("customer_name", True)
    ]
    assert seeded.get("/jobs/J1", headers=auth("dispatcher")).status_code == 404


@pytest.mark.parametrize("depth", [100_000, 65])
def test_deep_nesting_is_422(seeded, auth, depth):
    """100,000 levels was a 500 on the import and a bare 400 on POST /jobs; nesting deeper
    than the guard's limit is refused before any field sees it."""
    deep = "[" * depth + "]" * depth
    r = _json_post(seeded, "/jobs", deep, auth("dispatcher"))
    assert "nested too deeply" in _problem(r, 422, "invalid-request")["detail"]
    r = _json_post(seeded, "/jobs", _job_text(windows=deep), auth("dispatcher"))
    assert "nested too deeply" in _problem(r, 422)["detail"]
    files = {"file": ("jobs.json", deep.encode(), "application/json")}
    r = seeded.post("/jobs/import", files=files, headers=auth("dispatcher"))
    _problem(r, 422, "invalid-input")  # too deep to read, or items that are no objects


def test_bodies_that_are_not_json(seeded, auth):
    """Bytes that are not text with a non-JSON type were a 500 (the 422 echoed them)."""
    h = auth("dispatcher")
    for content_type in ("text/plain", "application/octet-stream"):
        r = seeded.post(
            "/jobs", content=b"\xff\xfe\x00", headers={**h, "content-type": content_type}
        )
        _problem(r, 415, "unsupported-media-type")
    r = seeded.post("/jobs", content=json.dumps(JOB), headers={**h, "content-type": "text/plain"})
    _problem(r, 415)
    r = _json_post(seeded, "/jobs", "{not json", h)
    body = _problem(r, 422, "invalid-request")
    assert body["errors"][0]["type"] == "json_invalid" and "invalid JSON" in body["detail"]
    r = seeded.post(
        "/jobs", content=b'{"id": "\xff"}', headers={**h, "content-type": "application/json"}
    )
    _problem(r, 422)
    r = _json_post(seeded, "/jobs", '{"quantity": 1' + "0" * 5000 + "}", h)
    _problem(r, 422)


# ---- the problem shape for every status


def test_401_keeps_www_authenticate(client):
    r = client.get("/jobs")
    body = _problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    assert body["detail"] == "missing bearer token"
    r = client.get("/jobs", headers={"Authorization": "Bearer nonsense"})
    assert "invalid token" in _problem(r, 401)["detail"] and r.headers["www-authenticate"]


def test_403(seeded, auth):
    r = seeded.post("/jobs", json=JOB, headers=auth("planner"))
    assert "planner" in _problem(r, 403, "forbidden")["detail"]


def test_404_for_resources_routes_and_static_files(seeded, auth):
    r = seeded.get("/jobs/NOPE", headers=auth("dispatcher"))
    assert _problem(r, 404, "not-found")["detail"] == "job 'NOPE' not found"
    _problem(seeded.get("/no/such/route"), 404, "not-found")
    _problem(seeded.get("/static/js/no-such-file.js"), 404)


def test_405_keeps_allow(client):
    r = client.delete("/health")
    _problem(r, 405, "method-not-allowed")
    assert r.headers["allow"] == "GET"


def test_409_keeps_the_conflict_context(seeded, auth):
    h = auth("dispatcher")
    assert seeded.post("/jobs", json=JOB, headers=h).status_code == 201
    _problem(seeded.post("/jobs", json=JOB, headers=h), 409, "conflict")
    version = seeded.get("/jobs/J1", headers=h).json()["version"]
    r = seeded.patch("/jobs/J1", json={"version": version + 7, "priority": "vip"}, headers=h)
    body = _problem(r, 409, "conflict")
    assert body["field"] == "version" and f"at version {version}," in body["detail"]


def test_409_names_the_resource_status_current_status(seeded, auth, settings: Settings):
    """A conflict's `status` context (the plan's) must not hide the answer's own status."""
    plan_id = publish_demo_plan(seeded, settings)
    r = seeded.delete(f"/plans/{plan_id}", headers=auth("dispatcher"))
    body = _problem(r, 409, "conflict")
    assert body["status"] == 409 and body["current_status"] == "published"
    assert "only a queued or running plan" in body["detail"]


def test_413_by_header_and_while_streaming(tmp_path):
    settings = make_settings(tmp_path, max_body_bytes=1000)
    with TestClient(create_app(settings)) as c:
        h = bearer(settings, "dispatcher")
        r = c.post("/jobs", json={**JOB, "address": "x" * 2000}, headers=h)
        assert "limit of 1000 bytes" in _problem(r, 413, "too-large")["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams
            yield b'{"id": "J1", "address": "'
            for _ in range(20):
                yield b"x" * 100
            yield b'"}'

        r = c.post("/jobs", content=chunks(), headers={**h, "content-type": "application/json"})
        _problem(r, 413, "too-large")
        files = {"file": ("jobs.csv", b"id\n" + b"x\n" * 1000, "text/csv")}
        _problem(c.post("/jobs/import", files=files, headers=h), 413)


def test_422_request_shape_errors_carry_no_input(seeded, auth):
    r = seeded.post(
        "/jobs",
        json={**JOB, "lat": "north", "customer_name": "x" * 600},
        headers=auth("dispatcher"),
    )
    body = _problem(r, 422, "invalid-request")
    assert {e["field"] for e in body["errors"]} == {"lat", "customer_name"}
    for entry in body["errors"]:
        assert set(entry) == {"loc", "field", "message", "type"}
    assert "north" not in r.text and "x" * 600 not in r.text
    r = seeded.get("/jobs", params={"limit": "many"}, headers=auth("dispatcher"))
    assert _problem(r, 422)["errors"][0] == {
        "loc": ["query", "limit"],
        "field": "query.limit",
        "message": "Input should be a valid integer, unable to parse string as an integer",
        "type": "int_parsing",
    }


def test_422_domain_errors_and_rule_refusals(seeded, auth):
    bad = {**JOB, "windows": [{"start": "2026-06-18T12:00", "end": "2026-06-18T10:00"}]}
    body = _problem(
        seeded.post("/jobs", json=bad, headers=auth("dispatcher")), 422, "invalid-input"
    )
    assert body["errors"][0]["field"].startswith("windows") and body["errors"][0]["record"]
    assert body["detail"].startswith(body["errors"][0]["record"])


def test_429_keeps_retry_after(client, settings: Settings):
    with client.app.state.ctx.sessions() as session, session.begin():
        create_user(session, "locked.out", "planner", "correct horse battery", settings.now())
    for _ in range(MAX_FAILURES - 1):
        r = client.post("/auth/sign-in", json={"username": "locked.out", "password": "guess-guess"})
        _problem(r, 401, "unauthorized")
    r = client.post("/auth/sign-in", json={"username": "locked.out", "password": "guess-guess"})
    body = _problem(r, 429, "too-many-requests")
    assert int(r.headers["retry-after"]) > 0 and "try again" in body["detail"]


# ---- the connection survives a bad request


@pytest.fixture
def live_server(settings: Settings) -> Iterator[tuple[str, int]]:
    """The app under uvicorn in a thread, on a loopback port (HTTP/1.1 keep-alive)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield sock.getsockname()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_keep_alive_connection_survives_bad_bodies(live_server, settings: Settings):
    """A 500 made uvicorn drop the connection, losing the next request sent on it."""
    host, port = live_server
    conn = http.client.HTTPConnection(host, port, timeout=10)
    headers = {**bearer(settings, "dispatcher"), "Content-Type": "application/json"}
    try:
        for bad in (_job_text(lon="NaN"), _job_text(lat="1e309"), _job_text(id='"\\ud800"')):
            conn.request("POST", "/jobs", body=bad.encode(), headers=headers)
            first = conn.getresponse()
            assert first.status == 422 and first.getheader("content-type") == PROBLEM
            first.read()
            sock = conn.sock
            conn.request("GET", "/health")
            second = conn.getresponse()
            assert second.status == 200 and json.loads(second.read()) == {"status": "ok"}
            assert conn.sock is sock  # the same connection: not dropped and reopened
    finally:
        conn.close()


# ---- the OpenAPI document


def test_every_operation_declares_its_errors_as_problems(client):
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail"]
    operations = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            operations += 1
            responses = op["responses"]
            errors = {int(code) for code in responses if int(code) >= 400}
            expected: set[int] = set()
            if op.get("security"):
                expected |= {401, 403}
            if any(p["in"] == "path" for p in op.get("parameters", [])):
                expected.add(404)
            if "requestBody" in op:
                expected |= {413, 422}
            if op.get("parameters"):
                expected.add(422)
            if method in {"post", "put", "patch", "delete"} and not path.startswith("/auth/"):
                expected.add(409)
            assert expected <= errors, f"{method.upper()} {path}: {sorted(expected - errors)}"
            for code in errors:
                content = responses[str(code)]["content"]
                assert list(content) == [PROBLEM], f"{method} {path} {code}"
                media = content[PROBLEM]
                assert media["schema"] == {"$ref": "#/components/schemas/Problem"}
                example = media.get("example") or next(iter(media["examples"].values()))["value"]
                if "examples" not in media:
                    assert example["status"] == code
                assert {"type", "title", "status", "detail"} <= set(example)
    assert operations > 40
    sign_in = doc["paths"]["/auth/sign-in"]["post"]["responses"]
    assert {"401", "429"} <= set(sign_in)
    assert "Retry-After" in sign_in["429"]["headers"]
    assert "WWW-Authenticate" in doc["paths"]["/jobs"]["get"]["responses"]["401"]["headers"]


def test_a_database_that_cannot_be_reached_is_503_with_retry_after(tmp_path) -> None:
    """Not the client's fault and not a bug: 503 problem+json with `Retry-After`, for reads
    and writes alike, and the OpenAPI document declares it."""
    settings = make_settings(tmp_path)
    down = settings.model_copy(
        update={"database_url": "postgresql+psycopg://nobody:x@127.0.0.1:9/none?connect_timeout=2"}
    )
    client = TestClient(create_app(down))  # no lifespan: the app starts without its database
    office = bearer(down, "dispatcher")
    for method, url, body in (
        ("get", "/jobs", None),
        ("get", "/me/route", None),
        ("post", "/jobs/J1/cancel", {"reason": "x"}),
    ):
        headers = bearer(down, "driver", "DT001") if url == "/me/route" else office
        r = client.request(method, url, json=body, headers=headers)
        assert r.status_code == 503, (url, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "/problems/unavailable"
        assert r.headers["retry-after"] == "5"
    declared = client.get("/openapi.json").json()["paths"]["/jobs"]["get"]["responses"]
    assert "Retry-After" in declared["503"]["headers"]
