"""Test tiers and the fixtures of the service tests (see tests/api_support.py).

Tiers: a local `pytest` runs the quick tests (under 3 minutes on a 2-core laptop) and leaves
out those marked `slow` (demo-city regressions), `service` (real server processes, worker
processes, Dask clusters) and `browser` (Chromium), saying how many it left out. CI (`CI`
set) runs everything, and so does any run that names markers (`-m ...`) or sets
`FIELDROUTE_ALL_TESTS=1`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.principals import Role
from api.settings import Settings
from tests.api_support import DEMO_DAY, bearer, make_settings, migrated_database_url

#: markers a local run leaves out unless asked for
LONG_TIERS = ("slow", "service", "browser")
#: how many tests this run left out (for the closing line)
_LEFT_OUT = pytest.StashKey[int]()


def _runs_everything(config: pytest.Config) -> bool:
    return bool(
        os.environ.get("CI") or os.environ.get("FIELDROUTE_ALL_TESTS") or config.option.markexpr
    )


@pytest.hookimpl(trylast=True)  # after tests/browser/conftest.py has marked its tests
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _runs_everything(config):
        return
    left_out = [i for i in items if any(i.get_closest_marker(m) for m in LONG_TIERS)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [i for i in items if i not in set(left_out)]
        config.stash[_LEFT_OUT] = len(left_out)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    left_out = config.stash.get(_LEFT_OUT, 0)
    if left_out:
        terminalreporter.write_line(
            f"left out {left_out} slow, service and browser tests (CI runs them; "
            "FIELDROUTE_ALL_TESTS=1 or -m runs them here)"
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test whose ../shared data is missing in CI fails here (see tests/shared_data.py)."""
    missing = item.get_closest_marker("shared_missing")
    if missing is not None:
        pytest.fail(missing.args[0], pytrace=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The test settings on a database at the schema head with every table empty (a copy or
    an emptied schema instead of a migration per test: tests/api_support.py). Tests of
    migrations and of the start-up upgrade use `database_url`/`make_settings` (no schema)."""
    return make_settings(tmp_path, database_url=migrated_database_url(tmp_path))


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
    from api.services.seed import seed_demo

    seed_demo(client.app.state.ctx.sessions, settings.now(), day=DEMO_DAY, jobs=30)
    return client
