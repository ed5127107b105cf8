"""Property-based fuzzing of the whole API from its OpenAPI schema (schemathesis): whatever
the generated request (wrong types, missing fields, odd strings, huge numbers, unknown ids),
the service answers it without a server error. Bounded: a few examples per operation, with
an admin token (to reach past the access checks) on a seeded database."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from api.http.app import create_app
from api.services.seed import seed_demo
from api.storage.db import migrate
from tests.api_support import DEMO_DAY, bearer, make_settings

pytestmark = [pytest.mark.api, pytest.mark.slow]  # schemathesis over every operation (12 s)

#: generated requests per operation: ~40 operations x 20 keeps the test around half a minute
EXAMPLES = 20


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory):
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    cfg = make_settings(tmp)
    app = create_app(cfg)
    ctx = app.state.ctx
    migrate(ctx.engine)  # the schema fuzzer calls the app without running its lifespan
    seed_demo(ctx.sessions, cfg.now(), day=DEMO_DAY, jobs=20)
    app.state.fuzz_headers = bearer(cfg, "admin")
    yield app
    ctx.engine.dispose()


def test_no_server_errors(fuzz_app) -> None:
    """Every operation, a bounded number of generated requests each: none gets a 5xx.

    The operations are driven through schemathesis' Hypothesis strategies directly (its
    pytest plugin does not run under pytest 9.2 yet)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    headers = fuzz_app.state.fuzz_headers
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case) -> None:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )

        run()
    assert operations > 10
    assert not failures, "\n".join(failures[:10])
