"""Pytest fixtures for the service tests (see tests/api_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role
from api.settings import Settings
from tests.api_support import DEMO_DAY, bearer, make_settings


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test whose ../shared data is missing in CI fails here (see tests/shared_data.py)."""
    missing = item.get_closest_marker("shared_missing")
    if missing is not None:
        pytest.fail(missing.args[0], pytrace=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A test client on a migrated, empty database; background workers off."""
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def auth(settings: Settings):
    """`auth("dispatcher")`, `auth("driver", "DT001")`: request headers with a bearer token."""

    def make(role: Role | str, crew_id: str | None = None) -> dict[str, str]:
        return bearer(settings, role, crew_id)

    return make


@pytest.fixture
def seeded(client: TestClient, settings: Settings) -> TestClient:
    """The client on a database holding the demo city and a 30-job day (DEMO_DAY)."""
    from api.seed import seed_demo

    seed_demo(client.app.state.ctx.sessions, settings.now(), day=DEMO_DAY, jobs=30)
    return client
