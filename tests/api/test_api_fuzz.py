"""Property-based fuzzing of the whole API from its OpenAPI schema (schemathesis): whatever
the generated request (wrong types, missing fields, odd strings, huge numbers, unknown ids),
the service answers it without a server error, with a status code the operation declares,
a declared content type and headers, and a body that fits the declared schema (for every
error, the problem document). Bounded: a few examples per operation, valid (positive) and invalid
(negative) requests, with an admin token (to reach past the access checks) on a seeded
database, derandomized (a fixed seed: the same requests every run).

Times are declared as the region's local times without offset
(`api.http.openapi_local_times`), as the service answers them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.http.app import create_app
from api.http.auth import issue_token
from api.services.seed import seed_demo
from api.storage.db import migrate
from tests.api_support import DEMO_DAY, bearer, make_settings

# schemathesis over every operation (half a minute); CI runs it at scale 1
pytestmark = [pytest.mark.api, pytest.mark.slow, pytest.mark.fuzz]

#: FIELDROUTE_FUZZ_SCALE=N multiplies the requests (N=6: about 10,000; docs/api.md)
SCALE = max(1, int(os.environ.get("FIELDROUTE_FUZZ_SCALE", "1")))
#: generated requests per operation and mode: ~60 operations x (20 + 10) at scale 1
EXAMPLES = {GenerationMode.POSITIVE: 20 * SCALE, GenerationMode.NEGATIVE: 10 * SCALE}
#: what every answer must hold
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory):
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    cfg = make_settings(tmp)
    app = create_app(cfg)
    ctx = app.state.ctx
    migrate(ctx.engine)  # the schema fuzzer calls the app without running its lifespan
    seed_demo(ctx.sessions, cfg.now(), day=DEMO_DAY, jobs=20)
    app.state.fuzz_headers = bearer(cfg, "admin")
    # signing out revokes the token it is sent with: that operation gets tokens of its own
    app.state.sign_out_headers = lambda: {
        "Authorization": f"Bearer {issue_token(cfg, 'fuzz-sign-out', 'admin')}"
    }
    yield app
    ctx.engine.dispose()


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=str)
def test_answers_conform_to_the_schema(fuzz_app, mode: GenerationMode) -> None:
    """Every operation, a bounded number of generated requests each: no 5xx, every status,
    content type and header declared, every error a problem document that fits the schema.

    The operations are driven through schemathesis' Hypothesis strategies directly (its
    pytest plugin does not run under pytest 9.2 yet)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    failures: list[str] = []
    operations = 0
    requests = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES[mode],
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case) -> None:
            headers = fuzz_app.state.fuzz_headers
            if case.path == "/auth/sign-out":
                headers = fuzz_app.state.sign_out_headers()
            nonlocal requests
            requests += 1
            response = case.call(headers=headers)
            try:
                case.validate_response(response, checks=list(CHECKS), headers=headers)
            except (AssertionError, BaseExceptionGroup) as exc:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{str(exc)[:600]}"
                )

        try:
            run()
        except Unsatisfiable:  # no parameters and no body: nothing to make invalid
            assert mode is GenerationMode.NEGATIVE
    assert operations > 10
    print(f"{mode}: {requests} requests over {operations} operations, {len(failures)} failures")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:10])
