"""Load benchmark of the service on loopback: drivers' route fetches and event posts, each
beside a bare FastAPI endpoint measured in the same run (the stack's own ceiling).

    python -m scripts.bench_api [--jobs 1500] [--duration 15] [--out FILE.json]

Set-up: a fresh SQLite database with the demo city and a 1,500-job day, planned and
published; the service runs as `uvicorn api.http.app:create_app --factory` (one process), the bare
app as `uvicorn scripts.bench_bare_app:app`, each in its own process. The load comes from
wrk (Debian package `wrk`, one thread) with N open connections for a fixed time each; a Lua
script feeds it per-driver tokens, ETags and the events' bodies and keys.

Scenarios:
- `route`: drivers of every crew with a route fetch `/me/route` (full body, no ETag) at 50 and
  200 concurrent clients; `route-304` the same with If-None-Match (a phone polling);
- `bare-get`: `GET /bare` at 50 and 200;
- `events`: 50 clients post departed/arrived/started/completed for the day's jobs, each with
  a fresh Idempotency-Key (every post is a real state change); `bare-post` the same bodies
  to a bare endpoint.
wrk and the server share this machine's two cores, so the absolute numbers are a floor; the
ratio to the bare endpoint, measured the same way in the same run, is what carries over.
Not a test: results go into docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

SECRET = "benchmark-secret-0123456789-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(db_url: str, jobs: int, time_limit: float) -> dict:
    """Seed, plan and publish the demo day; return what the load needs (crews, stops)."""
    from api.principals import Principal, Role
    from api.services.publication import publish_plan
    from api.services.seed import seed_demo
    from api.settings import Settings
    from api.storage.db import make_engine, migrate, session_factory
    from api.storage.models import PlanRow
    from dispatch.files.plan_io import plan_to_dict
    from dispatch.metrics.kpis import plan_kpis
    from dispatch.planning.planner import PlanOptions, make_plan
    from fixtures.shanghai import DEFAULT_DAY, demo_problem

    settings = Settings(database_url=db_url, secret_key=SECRET)
    engine = make_engine(db_url)
    migrate(engine)
    sessions = session_factory(engine)
    seed_demo(sessions, settings.now(), day=DEFAULT_DAY, jobs=jobs)
    plan = make_plan(demo_problem(day=DEFAULT_DAY, jobs=jobs), PlanOptions(time_limit_s=time_limit))
    now = settings.now()
    with sessions() as session, session.begin():
        row = PlanRow(
            id=str(uuid.uuid4()), region="urban", day=DEFAULT_DAY, zones=[], status="succeeded",
            progress=1.0, message="done", options={}, result=plan_to_dict(plan),
            kpis=plan_kpis(plan).as_dict(), created_by="bench", created_at=now, finished_at=now,
        )  # fmt: skip
        session.add(row)
        session.flush()
        publish_plan(session, row, now, Principal("bench", Role.DISPATCHER))
    engine.dispose()
    routes = [r for r in plan.routes if r.stops]
    return {
        "day": DEFAULT_DAY.isoformat(),
        "crews": [r.crew_id for r in routes],
        "stops": [(s.job_id, r.crew_id, s.start.isoformat()) for r in routes for s in r.stops],
    }


def have_wrk() -> bool:
    """Whether wrk is on PATH; says what to install when it is not."""
    if shutil.which("wrk") is None:
        print("error: the load comes from wrk: install it (Debian package wrk)", file=sys.stderr)
        return False
    return True


def prepared_day(
    database_url: str | None, tmp: Path, args: argparse.Namespace
) -> tuple[str, dict, dict[str, str]]:
    """The database (the one named, else an SQLite file in `tmp`) with the demo day planned
    and published (`args.jobs`, `args.plan_time_limit`), what the load needs, and the
    environment the service process runs in."""
    db_url = database_url or f"sqlite:///{tmp / 'bench.db'}"
    print(f"preparing: {args.jobs} jobs, plan and publish ...", file=sys.stderr)
    ready = prepare(db_url, args.jobs, args.plan_time_limit)
    env = {**os.environ, "DATABASE_URL": db_url, "FIELDROUTE_SECRET_KEY": SECRET,
           "FIELDROUTE_ENVIRONMENT": "production"}  # fmt: skip
    return db_url, ready, env


def start_server(target: list[str], port: int, env: dict[str, str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "uvicorn", *target, "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--no-access-log"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server {target} did not start")


#: wrk's Lua hooks: requests come from a tab-separated file (method, path, headers as JSON-ish
#: "k: v" pairs joined by "|", body), each thread taking every n-th line from its own offset;
#: statuses are counted per thread and everything is printed as one JSON line at the end.
WRK_LUA = r"""
local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  requests = {}
  statuses = {}
  local n, k = tonumber(args[2]), 0
  for line in io.lines(args[1]) do
    if k % n == id then
      local method, path, hdrs, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = {}
      for pair in hdrs:gmatch("[^|]+") do
        local name, value = pair:match("^([^:]+): (.*)$")
        headers[name] = value
      end
      if body == "" then body = nil end
      table.insert(requests, wrk.format(method, path, headers, body))
    end
    k = k + 1
  end
  position = 0
end
function request()
  position = position % #requests + 1
  return requests[position]
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, count in pairs(s) do counts[code] = (counts[code] or 0) + count end
  end
  local parts = {}
  for code, count in pairs(counts) do table.insert(parts, '"' .. code .. '":' .. count) end
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"errors":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
      + summary.errors.status,
    table.concat(parts, ",")))
end
"""


def _wrk(base: str, lines: list[str], concurrency: int, duration: float, tmp: Path) -> dict:
    """Run wrk (one thread: the other core is the server's) over the given request lines."""
    threads = 1
    script, data = tmp / "load.lua", tmp / f"requests-{uuid.uuid4().hex}.tsv"
    script.write_text(WRK_LUA, encoding="utf-8")
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_for = max(1, round(duration))
    cmd = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{run_for}s", "--timeout", "30s",
           "-s", str(script), base, "--", str(data), str(threads)]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"wrk failed ({run.returncode}): {run.stderr or run.stdout}")
    out = run.stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    seconds = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 2),
        "throughput_rps": round(raw["requests"] / seconds, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "socket_errors": raw["errors"],
        "statuses": raw["statuses"],
    }


def _line(method: str, path: str, headers: dict[str, str], body: str = "") -> str:
    return "\t".join([method, path, "|".join(f"{k}: {v}" for k, v in headers.items()), body])


def run_load(api: str, bare: str, ready: dict, duration: float, tmp: Path) -> dict:
    import httpx

    from api.http.auth import issue_token
    from api.settings import Settings

    settings = Settings(secret_key=SECRET)
    day = ready["day"]
    tokens = {c: f"Bearer {issue_token(settings, c, 'driver', c)}" for c in ready["crews"]}
    route = f"/me/route?date={day}"
    route_lines = [_line("GET", route, {"Authorization": t}) for t in tokens.values()]
    etags = {
        c: httpx.get(f"{api}{route}", headers={"Authorization": t}).headers["etag"]
        for c, t in tokens.items()
    }
    route_304_lines = [
        _line("GET", route, {"Authorization": t, "If-None-Match": etags[c]})
        for c, t in tokens.items()
    ]
    bare_lines = [_line("GET", "/bare", {})]
    results: dict[str, dict] = {}
    for c in (50, 200):
        results[f"route-c{c}"] = _wrk(api, route_lines, c, duration, tmp)
        results[f"bare-get-c{c}"] = _wrk(bare, bare_lines, c, duration, tmp)
    results["route-304-c200"] = _wrk(api, route_304_lines, 200, duration, tmp)

    # events: each job's departed/arrived/started/completed, every post a new key; ordered
    # stage by stage (all departures first) so that, as from real phones, one job's events
    # are not in flight at the same moment
    event_lines, bare_post_lines = [], []
    stages = ("departed", "arrived", "started", "completed")
    for m, stage in enumerate(stages):
        for job_id, crew, start in ready["stops"]:
            t = datetime.fromisoformat(start) - timedelta(minutes=30)
            body = {"type": stage, "device_time": (t + timedelta(minutes=10 * m)).isoformat(),
                    "lon": 121.47, "lat": 31.23}  # fmt: skip
            headers = {"Authorization": tokens[crew], "Idempotency-Key": uuid.uuid4().hex,
                       "Content-Type": "application/json"}  # fmt: skip
            bare_body = json.dumps(body)
            if stage == "completed":
                body.update(receipt="intact", items_received=1, rating="good")
            event_lines.append(_line("POST", f"/jobs/{job_id}/events", headers, json.dumps(body)))
            bare_post_lines.append(_line("POST", f"/bare/{job_id}/events", headers, bare_body))
    results["events-c50"] = _wrk(api, event_lines, 50, duration, tmp)
    results["bare-post-c50"] = _wrk(bare, bare_post_lines, 50, duration, tmp)
    results["events-c50"]["note"] = (
        f"{len(event_lines)} distinct events prepared; requests beyond them are retries of "
        "earlier ones (200 replays), counted in statuses"
    )
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--jobs", type=int, default=1500)
    p.add_argument("--duration", type=float, default=15.0, help="seconds per scenario")
    p.add_argument("--plan-time-limit", type=float, default=30.0)
    p.add_argument("--out", type=Path)
    p.add_argument(
        "--database-url",
        help="an empty PostgreSQL database to use instead of a temporary SQLite file",
    )
    args = p.parse_args(argv)
    if not have_wrk():
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        db_url, ready, env = prepared_day(args.database_url, Path(tmp), args)
        api_port, bare_port = _free_port(), _free_port()
        servers = [
            start_server(["api.http.app:create_app", "--factory"], api_port, env),
            start_server(["scripts.bench_bare_app:app"], bare_port, env),
        ]
        try:
            print("load ...", file=sys.stderr)
            results = run_load(
                f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{bare_port}", ready,
                args.duration, Path(tmp),
            )  # fmt: skip
        finally:
            for s in servers:
                s.terminate()
                s.wait(timeout=30)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "database": db_url.split(":")[0].split("+")[0],
        "jobs": args.jobs,
        "crews_with_routes": len(ready["crews"]),
        "duration_s": args.duration,
        "results": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print("\n| scenario | requests | req/s | p50 ms | p99 ms | statuses |")
    print("|---|---:|---:|---:|---:|---|")
    for name, r in results.items():
        print(f"| {name} | {r['requests']} | {r['throughput_rps']} | {r['p50_ms']} | "
              f"{r['p99_ms']} | {r['statuses']} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
