"""Screenshots of the web pages for the docs, taken as a user sees them.

    python -m scripts.screenshots --out docs/img [--jobs 1500] [--lang en|zh]

Serves the demo city on a fresh SQLite database (`--jobs` jobs today), plans the day, signs
in as the dispatcher in Debian's Chromium (driven by Playwright), selects the first stop and
saves `board.png` (`board-zh.png` with `--lang zh`, the page in Chinese). Needs `chromium`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scripts.live_server import chromium_path, planned_demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--jobs", type=int, default=1500)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--lang", choices=["en", "zh"], default="en")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    locale = "zh-CN" if args.lang == "zh" else "en-GB"
    with planned_demo(args.jobs, args.time_limit) as demo, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_page(
            viewport={"width": 1600, "height": 1000}, locale=locale, base_url=demo.base
        )
        page.goto(f"/sign-in?next=/board?date={demo.day}")
        page.fill("#username", "dispatcher")
        page.fill("#password", demo.password)
        page.click("#sign-in")
        page.wait_for_selector("body[data-drawn-ms]", state="attached", timeout=60_000)
        drawn = page.get_attribute("body", "data-drawn-since-open-ms")
        print(f"board drawn {drawn} ms after opening")
        page.locator(".seg.work").first.click()
        name = "board-zh.png" if args.lang == "zh" else "board.png"
        page.screenshot(path=str(args.out / name))
        print(f"wrote {args.out / name}")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
