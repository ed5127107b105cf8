"""Screenshots of the call centre's booking page for the docs, as an agent sees it.

    python -m scripts.booking_screenshots --out docs/img [--jobs 1500] [--lang en|zh] [--phone]

Seeds the demo city (`--jobs` jobs today) on a fresh SQLite database, serves it, signs in
as the demo call-centre agent in Debian's Chromium (driven by Playwright), picks a home in
the town centre on the map, quotes a split air conditioner's delivery and installation,
picks the recommended slots, types a made-up customer and saves `booking.png` (1366 x 900;
`booking-zh.png` with `--lang zh`), and with `--phone` also `booking-phone.png` (420 px wide,
the whole page). The service's clock is the real one: late in the day, today's slots show
as passed. Needs `chromium`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from scripts.live_server import Server, chromium_path, dispatch

AGENT = "call-centre"
#: a made-up customer: nothing real goes into a screenshot
CUSTOMER = {"#customer-name": "Wang Fang", "#customer-phone": "13800000000"}
ADDRESS = "Room 501, 88 Example Road"


def _book_on_screen(page, password: str) -> None:
    """Sign in as the agent, quote the order and pick the recommended slots."""
    page.goto("/sign-in?next=/booking")
    page.fill("#username", AGENT)
    page.fill("#password", password)
    page.click("#sign-in")
    page.wait_for_selector(".leaflet-container")
    page.click("#pick-map", position={"x": 150, "y": 100})
    page.click("#quote")
    page.wait_for_selector("#grid-first .slot-grid", timeout=120_000)
    recommended = page.locator("#grid-first button.slot.recommended")
    (recommended if recommended.count() else page.locator("#grid-first button.slot")).first.click()
    for selector, value in CUSTOMER.items():
        page.fill(selector, value)
    page.fill("#address", ADDRESS)
    page.locator("#address").blur()
    page.evaluate("window.scrollTo(0, 0)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--jobs", type=int, default=1500)
    parser.add_argument("--lang", choices=["en", "zh"], default="en")
    parser.add_argument("--phone", action="store_true", help="also the 420 px wide page")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from api.settings import Settings

    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="fieldroute-booking-"))
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'service.db'}"}
    day = Settings().now().date().isoformat()
    dispatch(["seed", "--fixture", "shanghai", "--jobs", str(args.jobs), "--date", day], env)
    password = secrets.token_urlsafe(12)
    dispatch(["user", "password", AGENT, "--password-stdin"], env, password + "\n")
    server = Server(env, tmp / "server.log")
    server.start()
    suffix = "-zh" if args.lang == "zh" else ""
    sizes = [("", 1366, 900, False)] + ([("-phone", 420, 900, True)] if args.phone else [])
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
            for name, width, height, whole in sizes:
                page = browser.new_page(
                    viewport={"width": width, "height": height},
                    locale="zh-CN" if args.lang == "zh" else "en-GB",
                    base_url=server.base,
                )
                _book_on_screen(page, password)
                path = args.out / f"booking{name}{suffix}.png"
                page.screenshot(path=str(path), full_page=whole)
                print(f"wrote {path}")
                page.close()
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
