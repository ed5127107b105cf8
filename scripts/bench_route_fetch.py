"""Route-fetch latency against the lightest authenticated endpoint, 100 concurrent clients.

    python -m scripts.bench_route_fetch [--clients 100] [--rounds 5] [--duration 10]
        [--database-url postgresql+psycopg://...] [--out FILE.json]

The target (issue 16): a driver's route fetch (`GET /me/route`) has a p99 within 1.5 times
that of the lightest authenticated endpoint (`GET /auth/me`: token check, no query) under
the same load. Set-up as `scripts.bench_api`: the demo city's 1,500-job day planned and
published in a fresh database (SQLite file, or the empty PostgreSQL database named), the
service as one uvicorn process in production settings, wrk (one thread) as the load.

Each round runs, for `--duration` seconds each and in this order: `/auth/me`, the full route
(no ETag), the route with `If-None-Match` (a phone polling: 304). The rounds interleave the
scenarios so that a slow spell of this shared machine hits all of them alike; the report
gives each round's p50/p99 and the medians over rounds of the p99s and of the per-round
ratios route p99 / `/auth/me` p99. Not a test: results go into docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

from scripts.bench_api import (
    SECRET,
    _free_port,
    _line,
    _wrk,
    have_wrk,
    prepared_day,
    start_server,
)

SCENARIOS = ("auth-me", "route", "route-304")


def _requests(api: str, ready: dict) -> dict[str, list[str]]:
    """wrk request lines per scenario: one per driver with a route, each with its token."""
    import httpx

    from api.http.auth import issue_token
    from api.settings import Settings

    settings = Settings(secret_key=SECRET)
    tokens = {c: f"Bearer {issue_token(settings, c, 'driver', c)}" for c in ready["crews"]}
    route = f"/me/route?date={ready['day']}"
    etags = {
        c: httpx.get(f"{api}{route}", headers={"Authorization": t}).headers["etag"]
        for c, t in tokens.items()
    }
    return {
        "auth-me": [_line("GET", "/auth/me", {"Authorization": t}) for t in tokens.values()],
        "route": [_line("GET", route, {"Authorization": t}) for t in tokens.values()],
        "route-304": [
            _line("GET", route, {"Authorization": t, "If-None-Match": etags[c]})
            for c, t in tokens.items()
        ],
    }


def summarise(rounds: list[dict[str, dict]]) -> dict[str, object]:
    """Medians over rounds: each scenario's p50, p99 and req/s, and the route's p99 ratios
    to `/auth/me`'s in the same round."""
    out: dict[str, object] = {}
    for name in SCENARIOS:
        out[name] = {
            key: statistics.median(r[name][key] for r in rounds)
            for key in ("p50_ms", "p99_ms", "throughput_rps")
        }
    for name in ("route", "route-304"):
        ratios = [r[name]["p99_ms"] / r["auth-me"]["p99_ms"] for r in rounds]
        out[f"{name}_p99_ratio"] = {
            "median": round(statistics.median(ratios), 2),
            "min": round(min(ratios), 2),
            "max": round(max(ratios), 2),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--jobs", type=int, default=1500)
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    p.add_argument("--plan-time-limit", type=float, default=20.0)
    p.add_argument("--database-url", help="an empty PostgreSQL database instead of SQLite")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    if not have_wrk():
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        db_url, ready, env = prepared_day(args.database_url, Path(tmp), args)
        port = _free_port()
        server = start_server(["api.http.app:create_app", "--factory"], port, env)
        base = f"http://127.0.0.1:{port}"
        try:
            lines = _requests(base, ready)
            rounds: list[dict[str, dict]] = []
            for k in range(args.rounds):
                print(f"round {k + 1}/{args.rounds} ...", file=sys.stderr)
                rounds.append(
                    {
                        name: _wrk(base, lines[name], args.clients, args.duration, Path(tmp))
                        for name in SCENARIOS
                    }
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "database": db_url.split(":")[0].split("+")[0],
        "jobs": args.jobs,
        "crews_with_routes": len(ready["crews"]),
        "clients": args.clients,
        "duration_s": args.duration,
        "rounds": rounds,
        "median": summarise(rounds),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
