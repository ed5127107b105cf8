"""Screenshots of the web pages for the docs, taken as a user sees them.

    python -m scripts.screenshots --out docs/img [--jobs 1500] [--lang en]

Starts `dispatch serve` on a fresh SQLite database in a temporary folder, seeds the demo city
(`--jobs` jobs today), adds a dispatcher, plans the day through the board ("Plan this day"),
and saves `board.png` (and `board-zh.png` with `--lang zh`) from Debian's Chromium driven by
Playwright. Also prints how long the board took to draw the planned day, as measured in the
page. Needs `chromium` (apt-get install chromium).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.browser.conftest import PASSWORD, chromium_path
from tests.server_process import DISPATCH, Server


def _dispatch(args: list[str], env: dict[str, str], stdin: str | None = None) -> None:
    done = subprocess.run([*DISPATCH, *args], env=env, input=stdin, text=True, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"dispatch {' '.join(args)} failed: {done.stderr[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--jobs", type=int, default=1500)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--lang", choices=["en", "zh"], default="en")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="fieldroute-shots-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'service.db'}",
        "FIELDROUTE_PLAN_TIME_LIMIT_S": str(args.time_limit),
    }
    day = time.strftime("%Y-%m-%d")
    _dispatch(["seed", "--fixture", "shanghai", "--jobs", str(args.jobs), "--date", day], env)
    _dispatch(["user", "password", "dispatcher", "--password-stdin"], env, PASSWORD + "\n")
    server = Server(env, tmp / "server.log")
    server.start()
    locale = "zh-CN" if args.lang == "zh" else "en-GB"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
            page = browser.new_page(
                viewport={"width": 1600, "height": 1000}, locale=locale, base_url=server.base
            )
            page.goto("/sign-in")
            page.fill("#username", "dispatcher")
            page.fill("#password", PASSWORD)
            page.click("#sign-in")
            page.wait_for_url("**/board**")
            page.click("#plan-day")
            page.wait_for_selector("body[data-drawn-ms]", state="attached", timeout=300_000)
            page.goto(f"/board?date={day}&region=urban")
            page.wait_for_selector("body[data-drawn-ms]", state="attached", timeout=60_000)
            print(f"board drawn in {page.get_attribute('body', 'data-drawn-ms')} ms")
            first = page.locator(".seg.work").first
            first.click()
            name = "board-zh.png" if args.lang == "zh" else "board.png"
            page.screenshot(path=str(args.out / name))
            print(f"wrote {args.out / name}")
            browser.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
