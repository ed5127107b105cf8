"""A screenshot of the season page showing a lever recommendation, taken as a planner sees it.

    python -m scripts.season_levers_screenshot --out docs/img/season_levers.png [--lang zh]

Serves the demo city on a fresh SQLite database, signs in as the planner in Debian's
Chromium (driven by Playwright), asks for a lever search from the page's form (a small
season: 21 days at scale 0.05, peak weeks 0-2, starting from 0, 10, 20 temporary crews,
two rounds per lever option, target 95 % on the customer's clock, a planner held to 10
solutions per solve), waits until it is done (about 5 minutes on a two-core machine, and
several GB of memory: each season leaves its OR-Tools models behind), reloads the page as
a planner coming back to it, ticks the form as it was asked, opens the run's
recommendation and saves the page.
The figures are that run's: a small model, not the demo city's answer (docs/season.md).
Needs `chromium`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scripts.live_server import Server, chromium_path, dispatch

#: the form's fields (by input id) and values
SEASON = {
    "days": "21",
    "scale": "0.05",
    "temp-per-week": "0, 10, 20",
    "peak-start": "7",
    "peak-days": "7",
    "ramp-days": "3",
    "decline-days": "2",
    "time-limit": "30",
    "solution-limit": "10",
}
PLANNER = "planner"


@contextmanager
def served_city() -> Iterator[tuple[str, str]]:
    """The demo city served on a fresh SQLite file: its base URL and the planner's password
    (a fresh random one); everything removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="fieldroute-levers-"))
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'service.db'}"}
    dispatch(["seed", "--fixture", "shanghai", "--jobs", "30"], env)
    password = secrets.token_urlsafe(12)
    if PLANNER in dispatch(["user", "list"], env).split():
        dispatch(["user", "password", PLANNER, "--password-stdin"], env, password + "\n")
    else:
        add = ["user", "add", PLANNER, "--role", "planner", "--password-stdin"]
        dispatch(add, env, password + "\n")
    server = Server(env, tmp / "server.log")
    server.start()
    try:
        yield server.base, password
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _tick_lever_search(page, rounds: int) -> None:
    """The form's recommendation with the lever search on the customer's clock."""
    page.check("#recommend")
    page.fill("#rounds", str(rounds))
    page.select_option("#target-clock", "customer")
    page.check("#levers")


def ask_for_levers(page, password: str, rounds: int, timeout_s: float) -> None:
    """Sign in as the planner, ask for the lever search from the form, wait until it is done
    and open its recommendation."""
    from playwright.sync_api import expect

    page.goto("/sign-in?next=/season")
    page.fill("#username", PLANNER)
    page.fill("#password", password)
    page.click("#sign-in")
    page.wait_for_selector("#season-form")
    page.click("details.more summary")
    for input_id, value in SEASON.items():
        page.fill(f"#{input_id}", value)
    _tick_lever_search(page, rounds)
    page.click("#start")
    row = page.locator("#runs-body tr").first
    expect(row.locator(".state .badge.ok")).to_be_visible(timeout=int(timeout_s * 1000))
    page.reload()  # as a planner coming back to it (no status line from the start)
    _tick_lever_search(page, rounds)  # the form shows what was asked for
    page.locator('#runs-body tr button[data-action="recommendation"]').first.click()
    expect(page.locator("#rec-panel")).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img/season_levers.png"))
    parser.add_argument("--lang", choices=["en", "zh"], default="en")
    parser.add_argument("--rounds", type=int, default=2, help="search rounds per option")
    parser.add_argument("--timeout-s", type=float, default=3600.0)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    with served_city() as (base, password), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_page(
            viewport={"width": 1440, "height": 1000},
            locale="zh-CN" if args.lang == "zh" else "en-GB",
            base_url=base,
        )
        ask_for_levers(page, password, args.rounds, args.timeout_s)
        print(f"lever search done and shown in {time.monotonic() - started:.0f} s")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=True)
        print(f"wrote {args.out}")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
