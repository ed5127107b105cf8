"""The dispatcher board's two speed targets, on loopback, on the planned demo day.

    python -m scripts.bench_board [--jobs 1500] [--opens 7] [--moves 200] [--out FILE.json]

1. Opening the board to routes drawn (target <= 3 s): Chromium (Debian's, driven by
   Playwright) opens `/board?date=...` signed in, and the page records the time since the
   navigation started when the last route is drawn (`body[data-drawn-since-open-ms]`). The
   first open warms the server's caches and the browser's module cache like any dispatcher's
   first visit of the day, and is reported apart; the others give the median and the worst.
2. A dragged stop's override check (target p99 <= 300 ms): the request the board sends on a
   drop, `POST /plans/{id}/overrides`, for `--moves` seeded moves timed at the client: half
   random (a planned stop to any other crew at a random position: nearly all refused, as
   most random drags would be), half plausible (a route's last stop to the end of the
   shortest route of a crew of the same kind: accepted more often). Accepted moves change
   the plan (the next move is checked against the new version), as a dispatcher's session
   does; accepted and refused checks are also reported apart.

Prints a JSON summary and writes it to `--out` when given. Machine figures: quote medians.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import httpx

from scripts.live_server import DemoService, chromium_path, planned_demo


def _percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `share` of them at or below."""
    ordered = sorted(values)
    rank = max(1, int(-(-share * len(ordered) // 1)))
    return ordered[rank - 1]


def board_opens(demo: DemoService, opens: int) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    times: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000}, base_url=demo.base)
        page.goto("/sign-in")
        page.fill("#username", "dispatcher")
        page.fill("#password", demo.password)
        page.click("#sign-in")
        page.wait_for_url("**/board**")
        for _ in range(opens):
            page.goto(f"/board?date={demo.day}&region=urban")
            page.wait_for_selector("body[data-drawn-ms]", state="attached", timeout=60_000)
            times.append(float(page.get_attribute("body", "data-drawn-since-open-ms") or "nan"))
        routes = page.locator("path.route-line").count()
        stops = page.locator(".seg.work").count()
        browser.close()
    rest = times[1:] or times
    return {
        "first_open_ms": times[0],
        "median_ms": statistics.median(rest),
        "max_ms": max(rest),
        "opens": len(rest),
        "routes_drawn": routes,
        "timeline_stops": stops,
    }


def _pick_move(rng: random.Random, routes: list[dict], kinds: dict[str, str], plausible: bool):
    """(job id, target crew, position): random, or a last stop to a short same-kind route."""
    used = [r for r in routes if r["stops"]]
    route = rng.choice(used)
    if not plausible:
        job_id = rng.choice(route["stops"])["job_id"]
        target = rng.choice([r["crew_id"] for r in routes if r["crew_id"] != route["crew_id"]])
        return job_id, target, rng.randint(0, 8)
    kind = kinds[route["crew_id"]]
    others = [r for r in routes if r["crew_id"] != route["crew_id"] and kinds[r["crew_id"]] == kind]
    if not others:
        return _pick_move(rng, routes, kinds, False)
    target = min(others, key=lambda r: (len(r["stops"]), rng.random()))
    return route["stops"][-1]["job_id"], target["crew_id"], None


def override_checks(demo: DemoService, moves: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    timed: dict[str, list[float]] = {"accepted": [], "refused": [], "other": []}
    with httpx.Client(base_url=demo.base, headers=demo.headers, timeout=60) as c:
        plan = c.get(f"/plans/{demo.plan_id}").json()
        board = c.get(f"/plans/{demo.plan_id}/board").json()
        kinds = {crew["id"]: crew["kind"] for crew in board["crews"]}
        version = plan["version"]
        routes = plan["result"]["routes"]
        for k in range(moves):
            job_id, target, position = _pick_move(rng, routes, kinds, plausible=k % 2 == 1)
            body = {"version": version, "job_id": job_id, "crew_id": target, "position": position}
            started = time.perf_counter()
            answer = c.post(f"/plans/{demo.plan_id}/overrides", json=body)
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status_code == 200:
                timed["accepted"].append(elapsed)
                version = answer.json()["version"]
                routes = answer.json()["result"]["routes"]
            elif answer.status_code == 422:
                timed["refused"].append(elapsed)
            else:
                timed["other"].append(elapsed)
    every = [t for ts in timed.values() for t in ts]

    def summary(values: list[float]) -> dict[str, float | int]:
        if not values:
            return {"n": 0}
        return {
            "n": len(values),
            "p50_ms": round(statistics.median(values), 1),
            "p99_ms": round(_percentile(values, 0.99), 1),
            "max_ms": round(max(values), 1),
        }

    return {
        "moves": moves,
        **summary(every),
        "p90_ms": round(_percentile(every, 0.90), 1),
        "accepted": summary(timed["accepted"]),
        "refused": summary(timed["refused"]),
        "other": len(timed["other"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1500)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--opens", type=int, default=7)
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    with planned_demo(args.jobs, args.time_limit) as demo:
        with httpx.Client(base_url=demo.base, headers=demo.headers, timeout=60) as c:
            kpis = c.get(f"/plans/{demo.plan_id}").json()["kpis"]
        result = {
            "jobs": kpis["jobs"],
            "planned": kpis["planned"],
            "crews": kpis["crews"],
            "board_open": board_opens(demo, args.opens),
            "override_check": override_checks(demo, args.moves, args.seed),
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
