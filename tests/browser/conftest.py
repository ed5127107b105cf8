"""Browser tests: Playwright for Python drives Debian's `chromium` against a real
`dispatch serve` process on SQLite, as a dispatcher or planner would use the pages.

The browser is the system's (`chromium` from Debian, `.ci/run` installs it; another one with
FIELDROUTE_CHROMIUM=/path): Playwright downloads none. Without one these tests are skipped
on a laptop and fail in CI (`CI` set), so a broken CI image cannot pass silently.

One server per test module, seeded with a short demo day (today, 30 jobs) and one user per
role with a known password; each test gets a fresh browser context (no shared sign-in).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from scripts.live_server import Server, chromium_path, dispatch
from tests.api_support import TEST_SECRET, database_url, make_settings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/browser is a `browser` test (`-m browser`, `-m "not browser"`)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


PASSWORD = "correct-horse-battery"
#: (user name, role, extra `dispatch user add` arguments)
USERS = [
    ("dispatcher", "dispatcher", []),
    ("dispatcher-rural", "dispatcher", ["--regions", "rural"]),
    ("planner", "planner", []),
    ("admin", "admin", []),
    ("lock-me", "manager", []),  # the lockout test locks this one for 10 minutes
]


@dataclass
class LiveService:
    base: str
    day: date
    env: dict[str, str]
    server: Server
    tmp: Path

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """`dispatch serve` on a seeded SQLite database, with a user per role."""
    tmp = tmp_path_factory.mktemp("browser")
    settings = make_settings(tmp)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(tmp),
        "FIELDROUTE_ENVIRONMENT": "test",
        "FIELDROUTE_SECRET_KEY": TEST_SECRET,
        "FIELDROUTE_PLAN_TIME_LIMIT_S": "5",
        "FIELDROUTE_PLAN_SOLUTION_LIMIT": "40",
    }
    day = settings.now().date()
    dispatch(["seed", "--fixture", "shanghai", "--jobs", "30", "--date", day.isoformat()], env)
    existing = dispatch(["user", "list"], env).split()  # the seed's demo users
    for name, role, extra in USERS:
        if name in existing:
            dispatch(["user", "password", name, "--password-stdin"], env, PASSWORD + "\n")
        else:
            args = ["user", "add", name, "--role", role, *extra, "--password-stdin"]
            dispatch(args, env, PASSWORD + "\n")
    server = Server(env, tmp / "server.log")
    server.start()
    try:
        yield LiveService(server.base, day, env, server, tmp)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium found: CI must install Debian's chromium (see .ci/run)")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, live: LiveService, tmp_path: Path) -> Iterator[object]:
    """A fresh English-language tab; on failure its screenshot is kept in tmp_path."""
    context = browser.new_context(
        locale="en-GB", viewport={"width": 1440, "height": 900}, base_url=live.base
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
        assert not errors, f"uncaught script errors on the page: {errors}"
    finally:
        # the page may be gone; the screenshot is only a debugging aid
        with contextlib.suppress(Exception):
            page.screenshot(path=str(tmp_path / "last.png"))
        context.close()


def sign_in(page, username: str, password: str = PASSWORD, next_path: str = "") -> None:
    """Sign in through the sign-in page and wait for the page it goes on to."""
    page.goto("/sign-in" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/sign-in" not in url)
