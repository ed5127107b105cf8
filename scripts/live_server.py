"""A real `dispatch serve` in a subprocess on a free loopback port, restartable on the same
database: the end-to-end and browser tests, the screenshots and the board benchmark drive the
service exactly as a deployment runs it. Also finds the system's Chromium for Playwright."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

DISPATCH = [sys.executable, "-m", "scripts.cli"]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`dispatch serve` in a subprocess; restartable on the same database."""

    def __init__(self, env: dict[str, str], log: Path, log_level: str = "info") -> None:
        self.env, self.log, self.log_level = env, log, log_level
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Start it and wait until `/health` answers (its log, JSON lines on stderr, and
        stdout go to `log`)."""
        cmd = [*DISPATCH, "serve", "--port", str(self.port), "--log-level", self.log_level]
        out = self.log.open("ab")
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=out)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("server did not start:\n" + self.log.read_text()[-3000:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def wait_for(check: Callable[[], T], timeout: float = 120.0, every: float = 0.3) -> T:
    """The first truthy value `check()` returns within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")


def chromium_path() -> str | None:
    """The system's Chromium (Debian's `chromium`), or FIELDROUTE_CHROMIUM; None if absent."""
    configured = os.environ.get("FIELDROUTE_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def dispatch(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    """Run a `dispatch` command; its stdout, or AssertionError with its stderr."""
    done = subprocess.run(
        [*DISPATCH, *args], env=env, input=stdin, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"dispatch {' '.join(args)}: {done.stderr[-2000:]}"
    return done.stdout


@dataclass
class DemoService:
    """A served demo city with its day planned: what the screenshots and benchmarks open."""

    base: str
    day: str
    password: str
    headers: dict[str, str]
    plan_id: str


@contextmanager
def planned_demo(
    jobs: int, time_limit_s: float, solution_limit: int | None = None
) -> Iterator[DemoService]:
    """`dispatch seed` (today, `jobs` jobs) on a fresh SQLite file, `dispatch serve`, the
    dispatcher's password set to a fresh random one, and the urban day planned through the
    API; everything removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="fieldroute-demo-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'service.db'}",
        "FIELDROUTE_PLAN_TIME_LIMIT_S": str(time_limit_s),
    }
    if solution_limit:
        env["FIELDROUTE_PLAN_SOLUTION_LIMIT"] = str(solution_limit)
    # the service's today (its region's clock, as the pages and the driver app ask for it),
    # not this machine's: they differ for hours each day when the machine runs on UTC
    from api.settings import Settings

    day = Settings().now().date().isoformat()
    dispatch(["seed", "--fixture", "shanghai", "--jobs", str(jobs), "--date", day], env)
    password = secrets.token_urlsafe(12)
    dispatch(["user", "password", "dispatcher", "--password-stdin"], env, password + "\n")
    server = Server(env, tmp / "server.log")
    server.start()
    try:
        signed = httpx.post(
            f"{server.base}/auth/sign-in",
            json={"username": "dispatcher", "password": password},
            timeout=30,
        )
        headers = {"Authorization": f"Bearer {signed.json()['token']}"}
        with httpx.Client(base_url=server.base, headers=headers, timeout=60) as c:
            accepted = c.post("/plans", json={"date": day, "region": "urban"})
            assert accepted.status_code == 202, accepted.text
            plan_id = accepted.json()["id"]

            def finished() -> dict | None:
                row = c.get(f"/plans/{plan_id}").json()
                return row if row["status"] not in ("queued", "running") else None

            row = wait_for(finished, timeout=time_limit_s * 20 + 300, every=1.0)
            assert row["status"] == "succeeded", row.get("error")
        yield DemoService(server.base, day, password, headers, plan_id)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
