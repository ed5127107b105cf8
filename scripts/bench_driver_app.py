"""The driver app's weight and its route refresh on a slow phone connection.

    python -m scripts.bench_driver_app [--jobs 300] [--rounds 15] [--out FILE.json]

Serves the demo city (`--jobs` jobs today, the urban day planned and published) with
`dispatch serve` on loopback, gives the busiest crew a PIN, then:

1. First load, compressed: every file of the app shell (the page, scripts, styles, manifest,
   icons: what the service worker caches, `api.http.routers.driver_app.SHELL`) fetched with
   `Accept-Encoding: gzip`, the bytes on the wire summed (target < 300 KB); and the bytes
   Chromium itself received opening `/driver` (CDP `Network.loadingFinished`
   `encodedDataLength`: headers included, what the sign-in page loads).
2. On a throttled connection (CDP `Network.emulateNetworkConditions`: 400 kbit/s both ways,
   400 ms latency), in Debian's Chromium driven by Playwright:
   - a phone that never saw the app opens `/driver`: the time until the sign-in form is
     drawn (`body[data-ready]`, milliseconds since navigation start), 5 fresh phones;
   then signed in with the PIN:
   - the route fetch as the app makes it (`GET /me/route`): a full answer (no ETag) and a
     revalidation (`If-None-Match`: 304), `--rounds` each, timed in the page;
   - opening the installed app again: the time from navigation start until its stops are
     drawn (`body[data-stops-ms]`), the shell coming from the service worker and the route
     from IndexedDB, before the refresh it starts.

Prints a JSON summary and writes it to `--out` when given. Machine figures: quote medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import httpx

from api.http.routers.driver_app import SHELL
from scripts.live_server import DemoService, chromium_path, planned_demo

PIN = "730419"
#: 400 kbit/s in bytes per second, and the round-trip latency added (ms)
SLOW = {"offline": False, "latency": 400, "downloadThroughput": 50_000, "uploadThroughput": 50_000}


def publish(demo: DemoService) -> str:
    """Publish the planned day; the crew with the most stops, PIN set."""
    with httpx.Client(base_url=demo.base, headers=demo.headers, timeout=60) as c:
        plan = c.get(f"/plans/{demo.plan_id}").json()
        r = c.post(f"/plans/{demo.plan_id}/publish", json={"version": plan["version"]})
        assert r.status_code == 200, r.text
        crew = max(plan["result"]["routes"], key=lambda r: (len(r["stops"]), r["crew_id"]))
        r = c.put(f"/crews/{crew['crew_id']}/pin", json={"pin": PIN})
        assert r.status_code == 204, r.text
        return crew["crew_id"]


def shell_bytes(base: str) -> dict[str, object]:
    """Each shell file's bytes on the wire with gzip, and as files."""
    files = {}
    with httpx.Client(base_url=base, timeout=30) as c:
        for url in sorted(SHELL):
            with c.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as r:
                raw = b"".join(r.iter_raw())
                files[url] = {
                    "wire": len(raw),
                    "plain": SHELL[url].stat().st_size,
                    "gzip": r.headers.get("content-encoding") == "gzip",
                }
    return {
        "files": files,
        "wire_bytes": sum(f["wire"] for f in files.values()),
        "plain_bytes": sum(f["plain"] for f in files.values()),
    }


FETCH = """async ([etag, rounds]) => {
  const store = await import("/static/js/driver-store.js");
  const token = (await store.getSession()).token;
  const times = [];
  let status = 0, bytes = 0;
  for (let k = 0; k < rounds; k++) {
    const headers = {Authorization: `Bearer ${token}`};
    if (etag) headers["If-None-Match"] = etag;
    const t0 = performance.now();
    const r = await fetch("/me/route", {headers, cache: "no-store"});
    const text = await r.text();
    times.push(performance.now() - t0);
    status = r.status; bytes = text.length;
  }
  return {times, status, bytes};
}"""


def _summary(times: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(times), 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
    }


def cold_opens(browser, base: str, times: int) -> list[float]:
    """A phone that never saw the app opens it on the slow connection: milliseconds from
    navigation start until the sign-in form is drawn (`body[data-ready]`)."""
    opens = []
    for _ in range(times):
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, base_url=base
        )
        page = context.new_page()
        context.new_cdp_session(page).send("Network.emulateNetworkConditions", SLOW)
        page.goto("/driver")
        page.wait_for_selector("body[data-ready]", state="attached", timeout=60_000)
        opens.append(float(page.get_attribute("body", "data-ready") or "nan"))
        context.close()
    return opens


def in_browser(demo: DemoService, crew_id: str, rounds: int) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        first_opens = cold_opens(browser, demo.base, 5)
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, base_url=demo.base
        )
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        received: list[int] = []
        cdp.on("Network.loadingFinished", lambda e: received.append(int(e["encodedDataLength"])))
        page.goto("/driver")
        page.wait_for_selector("body[data-ready]", state="attached")
        page.wait_for_load_state("networkidle")
        first_load = sum(received)
        page.fill("#crew-id", crew_id)
        page.fill("#pin", PIN)
        page.click("#sign-in")
        page.wait_for_selector(".stop-card")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        etag = page.evaluate(
            "import('/static/js/driver-store.js').then(s => s.getKV('route')).then(r => r.etag)"
        )
        stops = page.locator(".stop-card").count()

        cdp.send("Network.emulateNetworkConditions", SLOW)
        full = page.evaluate(FETCH, [None, rounds])
        same = page.evaluate(FETCH, [etag, rounds])
        opens = []
        for _ in range(5):
            page.reload()
            page.wait_for_selector("body[data-stops-ms]", state="attached")
            opens.append(float(page.get_attribute("body", "data-stops-ms") or "nan"))
        browser.close()
    return {
        "first_load_received_bytes": first_load,
        "first_open_slow_to_sign_in_drawn": _summary(first_opens),
        "stops": stops,
        "route_full": {**_summary(full["times"]), "status": full["status"], "bytes": full["bytes"]},
        "route_304": {**_summary(same["times"]), "status": same["status"]},
        "reopen_to_stops_drawn": _summary(opens),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    with planned_demo(args.jobs, args.time_limit) as demo:
        crew_id = publish(demo)
        result = {
            "jobs": args.jobs,
            "crew": crew_id,
            "connection": "400 kbit/s down and up, 400 ms latency (CDP emulation)",
            "shell": shell_bytes(demo.base),
            "browser": in_browser(demo, crew_id, args.rounds),
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
