"""`dispatch bench quotes`: slot quotes on the demo city's booked days (issue 20 §1).

    python -m scripts.bench_quotes [--jobs 1500] [--days 2] [--quotes 200] [--seed 0]
        [--http 20] [--book 10] [--label NAME] [--out docs/bench-results/quotes]
        [--profile FILE.prof]
    dispatch bench quotes ...   (the same)

Set-up, as the service has it: a fresh SQLite database in a temporary folder, migrated, the
demo city seeded the way `dispatch seed --fixture shanghai` seeds it (`seed_demo`), each of
the `--days` quoted days holding its own `--jobs`-job demo day (seeds 0, 1, ...), the clock
at 06:00 on the first day, so every slot of every day is offered.

Measured, in this process, through the service layer: `api.services.quotes.create_quote`,
the function `POST /quotes` calls, each quote with its own database session (the days read
from the tables, the quote stored and committed):

* the **cold** quote: the first one, every per-process cache empty (the days' tentative
  routes placed, the days prepared);
* `--quotes` **warm** quotes: p50, p90, p99, max and mean; per order kind as well;
* `--http` quotes **through HTTP** (FastAPI's TestClient on the same app, token and JSON
  included), warm;
* `--book` **bookings** of warm quotes (`api.services.bookings.book`, the day's lock, the
  re-check and the insert), each followed by a quote on the day it changed.

The orders are random and seeded (`--seed`): 40 % a single delivery (fridge, washing
machine, television or cabinet air conditioner), 40 % a split air conditioner's delivery
and installation, 20 % a repair; each at a random stored job's address moved by about
300 m. `answers_sha256` digests every warm answer (options, slots, promises, added
driving, notes): two runs with the same arguments must give the same digest, whatever code
computed the quotes.

Writes OUT/LABEL.json (every figure and the machine) and prints a one-line summary. Not a
test: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

#: where results go by default
DEFAULT_OUT = Path("docs/bench-results/quotes")
SECRET = "benchmark-secret-0123456789-0123456789"
#: (share, kind label): the order mix
MIX = ((0.4, "delivery"), (0.4, "delivery+installation"), (0.2, "repair"))
#: what a single delivery carries
DELIVERED = ("refrigerator", "washing_machine", "tv", "cabinet_ac")
#: how far an order's address lies from the stored job it was drawn near (degrees, about
#: 300 m in Shanghai)
JITTER_DEG = 0.003


def _bench_settings(db_url: str, now: datetime) -> Any:
    """The service's settings on the bench database, its clock stopped at `now`."""
    from api.settings import Settings

    class BenchSettings(Settings):
        def now(self) -> datetime:
            return now

    return BenchSettings(
        database_url=db_url, secret_key=SECRET, environment="test", background_workers=False
    )


def prepare(db_url: str, first: date, days: int, jobs: int, now: datetime) -> Any:
    """Migrate and seed the bench database; its session factory."""
    from api.services.seed import seed_demo
    from api.storage.db import make_engine, migrate, session_factory

    engine = make_engine(db_url)
    migrate(engine)
    sessions = session_factory(engine)
    for n in range(days):
        seed_demo(sessions, now, day=first + timedelta(days=n), jobs=jobs, seed=n)
    return sessions


def orders(sessions: Any, first: date, count: int, seed: int) -> list[tuple[str, Any]]:
    """`count` random orders (kind label, `BookingOrder`) near the first day's stored jobs."""
    from sqlalchemy import select

    from api.storage.models import JobRow
    from dispatch.booking.order import BookingOrder, OrderLine
    from dispatch.models import GeoPoint, JobKind, ProductCategory

    with sessions() as session:
        records = session.scalars(
            select(JobRow.record)
            .where(JobRow.due_date == first, JobRow.region == "urban")
            .order_by(JobRow.id)
        )
        points = [(float(r["lon"]), float(r["lat"])) for r in records]
    rng = random.Random(seed)
    confirmed = datetime.combine(first, clock(6))
    out = []
    for n in range(count):
        kind = rng.choices([k for _, k in MIX], weights=[w for w, _ in MIX])[0]
        lon, lat = rng.choice(points)
        lon += rng.uniform(-JITTER_DEG, JITTER_DEG)
        lat += rng.uniform(-JITTER_DEG, JITTER_DEG)
        if kind == "delivery":
            lines: tuple[Any, ...] = (
                OrderLine(JobKind.DELIVERY, ProductCategory(rng.choice(DELIVERED))),
            )
        elif kind == "repair":
            lines = (OrderLine(JobKind.REPAIR, ProductCategory.SPLIT_AC),)
        else:
            lines = (
                OrderLine(JobKind.DELIVERY, ProductCategory.SPLIT_AC),
                OrderLine(JobKind.INSTALLATION, ProductCategory.SPLIT_AC),
            )
        order = BookingOrder(
            f"BQ{n:05d}",
            "urban",
            GeoPoint(round(lon, 6), round(lat, 6)),
            confirmed,
            lines,
            floor=rng.randint(1, 12),
            has_lift=rng.random() < 0.7,
        )
        out.append((kind, order))
    return out


def figures(seconds: list[float]) -> dict[str, float]:
    """p50, p90, p99, max and mean of `seconds`, in milliseconds."""
    if not seconds:
        return {}
    ms = sorted(s * 1000 for s in seconds)

    def pct(p: float) -> float:  # nearest rank
        return round(ms[min(len(ms) - 1, max(0, int(-(-p * len(ms) // 100)) - 1))], 1)

    return {
        "n": len(ms),
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": round(ms[-1], 1),
        "mean_ms": round(statistics.fmean(ms), 1),
    }


def _answer_digest(answer: dict[str, Any]) -> Any:
    """What a quote answers, without its id and lifetime (the same order, the same digest)."""
    keep = {k: v for k, v in answer.items() if k not in ("quote_id", "expires_at")}
    return json.loads(json.dumps(keep, default=str, sort_keys=True))


def _clear_caches() -> None:
    """Empty this process's quote caches: the next quote is a cold one."""
    from api.services.quote_days import clear_caches

    clear_caches()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Seed, quote, time; the result document."""
    from api.principals import Principal, Role
    from api.services.quotes import create_quote
    from fixtures.shanghai import DEFAULT_DAY

    first = args.first_day or DEFAULT_DAY
    now = datetime.combine(first, clock(6))
    tmp = tempfile.TemporaryDirectory(prefix="bench-quotes-")
    db_url = f"sqlite:///{Path(tmp.name) / 'service.db'}"
    started = time.monotonic()
    sessions = prepare(db_url, first, args.days, args.jobs, now)
    seeded_s = time.monotonic() - started
    settings = _bench_settings(db_url, now)
    travel = settings.travel_for("urban")
    principal = Principal("bench", Role.DISPATCHER)
    drawn = orders(sessions, first, 1 + args.quotes + args.book, args.seed)

    def quote(order: Any) -> tuple[float, dict[str, Any]]:
        with sessions() as session:
            t0 = time.perf_counter()
            answer = create_quote(
                session, order, first, args.days, now=now, principal=principal, travel=travel
            )
            return time.perf_counter() - t0, answer

    _clear_caches()
    cold_s, _ = quote(drawn[0][1])
    profile = cProfile.Profile() if args.profile else None
    warm: list[float] = []
    by_kind: dict[str, list[float]] = {}
    digest = hashlib.sha256()
    options = []
    for kind, order in drawn[1 : 1 + args.quotes]:
        if profile is not None:
            profile.enable()
        took, answer = quote(order)
        if profile is not None:
            profile.disable()
        warm.append(took)
        by_kind.setdefault(kind, []).append(took)
        options.append(len(answer["options"]))
        digest.update(json.dumps(_answer_digest(answer), sort_keys=True).encode())
    if profile is not None:
        profile.dump_stats(args.profile)
    http = _through_http(settings, drawn[1 : 1 + args.http], args.days, first)
    booking = _bookings(settings, sessions, quote, drawn[1 + args.quotes :], now)
    tmp.cleanup()
    return {
        "label": args.label,
        "machine": _machine(),
        "jobs_per_day": args.jobs,
        "days": args.days,
        "first_day": first.isoformat(),
        "seed": args.seed,
        "seeding_s": round(seeded_s, 1),
        "cold_ms": round(cold_s * 1000, 1),
        "warm": figures(warm),
        "warm_by_kind": {k: figures(v) for k, v in sorted(by_kind.items())},
        "options_per_quote_mean": round(statistics.fmean(options), 2) if options else None,
        "answers_sha256": digest.hexdigest(),
        "http": http,
        "bookings": booking,
    }


def _through_http(
    settings: Any, drawn: list[tuple[str, Any]], days: int, first: date
) -> dict[str, Any]:
    """Warm quotes through the HTTP stack (TestClient): the same orders as JSON bodies."""
    if not drawn:
        return {}
    from fastapi.testclient import TestClient

    from api.http.app import create_app
    from api.http.auth import issue_token

    token = issue_token(settings, "bench", "dispatcher", None)
    headers = {"Authorization": f"Bearer {token}"}
    took = []
    with TestClient(create_app(settings)) as client:
        for n, (_, order) in enumerate(drawn):
            body = {
                "order_id": f"H{n:05d}",
                "lon": order.location.lon,
                "lat": order.location.lat,
                "floor": order.floor,
                "has_lift": order.has_lift,
                "confirmed_at": order.confirmed_at.isoformat(),
                "jobs": [{"kind": x.kind.value, "category": x.category.value} for x in order.lines],
                "first_day": first.isoformat(),
                "days": days,
            }
            t0 = time.perf_counter()
            r = client.post("/quotes", json=body, headers=headers)
            took.append(time.perf_counter() - t0)
            if r.status_code != 201:
                raise RuntimeError(f"POST /quotes answered {r.status_code}: {r.text[:300]}")
    return figures(took)


def _bookings(
    settings: Any,
    sessions: Any,
    quote: Callable[[Any], tuple[float, dict[str, Any]]],
    drawn: list[tuple[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    """Book the first option of each quote, then quote the next order on the changed day."""
    from api.principals import Principal, Role
    from api.services.bookings import book

    principal = Principal("bench", Role.DISPATCHER)
    booked, after = [], []
    for _, order in drawn:
        _, answer = quote(order)
        if not answer["options"]:
            continue
        with sessions() as session:
            t0 = time.perf_counter()
            book(
                session,
                answer["quote_id"],
                answer["options"][0]["option_id"],
                {},
                now=now,
                principal=principal,
                travel_for=settings.travel_for,
            )
            booked.append(time.perf_counter() - t0)
        took, _ = quote(_renamed(order, f"BA{len(after):05d}"))
        after.append(took)
    return {"booking": figures(booked), "quote_after_booking": figures(after)}


def _renamed(order: Any, order_id: str) -> Any:
    from dataclasses import replace

    return replace(order, order_id=order_id)


def _machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in load] if load else None,
    }


def summary(doc: dict[str, Any]) -> str:
    """One line: cold, warm p50/p90/p99, HTTP p50."""
    w, h = doc["warm"], doc["http"]
    line = (
        f"{doc['label']}: {doc['days']} day(s) x {doc['jobs_per_day']} jobs: cold "
        f"{doc['cold_ms']:.0f} ms; warm p50 {w['p50_ms']:.0f} / p90 {w['p90_ms']:.0f} / p99 "
        f"{w['p99_ms']:.0f} / max {w['max_ms']:.0f} ms (n={w['n']})"
    )
    if h:
        line += f"; HTTP p50 {h['p50_ms']:.0f} / p90 {h['p90_ms']:.0f} ms (n={h['n']})"
    b = doc["bookings"]
    if b.get("booking"):
        line += (
            f"; booking p50 {b['booking']['p50_ms']:.0f} ms, next quote p50 "
            f"{b['quote_after_booking']['p50_ms']:.0f} ms"
        )
    return line + f"; answers {doc['answers_sha256'][:12]}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m scripts.bench_quotes` and `dispatch bench quotes`."""
    p.add_argument("--jobs", type=int, default=1500, help="jobs per quoted day (default 1500)")
    p.add_argument("--days", type=int, default=2, help="days quoted, each seeded (default 2)")
    p.add_argument("--quotes", type=int, default=200, help="warm quotes timed (default 200)")
    p.add_argument("--seed", type=int, default=0, help="the orders' seed (default 0)")
    p.add_argument("--http", type=int, default=20, help="warm quotes through HTTP (default 20)")
    p.add_argument("--book", type=int, default=10, help="bookings timed (default 10)")
    p.add_argument("--first-day", type=date.fromisoformat, help="default: the demo day")
    p.add_argument("--label", default="run", help="the result's name (OUT/LABEL.json)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    p.add_argument("--profile", type=Path, help="cProfile the warm quotes into this file")


def cmd_bench_quotes(args: argparse.Namespace) -> int:
    """Run the benchmark, write OUT/LABEL.json, print the summary."""
    if args.jobs < 1 or args.days < 1 or args.quotes < 1 or min(args.http, args.book) < 0:
        print("error: --jobs, --days and --quotes must be >= 1", file=sys.stderr)
        return 2
    doc = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.label}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(summary(doc))
    print(f"wrote {path}")
    return 0


def add_quotes_command(kinds: argparse._SubParsersAction) -> None:
    """Register `dispatch bench quotes ...` beside `dispatch bench vrptw`."""
    p = kinds.add_parser(
        "quotes", help="slot quotes on the demo city's booked days: cold and warm latency"
    )
    add_arguments(p)
    p.set_defaults(run=cmd_bench_quotes)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_arguments(p)
    return cmd_bench_quotes(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
