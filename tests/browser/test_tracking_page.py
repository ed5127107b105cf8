"""The customer's tracking page in Chromium at a phone's size (390 x 844): a link the office
made, for a job whose crew is on its way, shows the status, the expected time and the
distance in words, and nothing of the crew; a link that does not exist says it has expired;
the page runs under its strict Content-Security-Policy without a script error. The board of
the same day draws the crews' last positions. Screenshots: docs/img/tracking.png and
docs/img/board-positions.png.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from api.storage.models import CrewRow
from api.storage.tracking_models import CrewPositionRow
from scripts.live_server import dispatch
from tests.browser.conftest import LiveService
from tests.browser.test_board import ensure_plan, open_board, token

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
PHONE = {"width": 390, "height": 844}


def _published(live: LiveService) -> dict:
    """The day's plan, published (through the API), as the board answers it."""
    board = ensure_plan(live)
    if board["plan"]["status"] != "published":
        headers = token(live, "dispatcher")
        r = httpx.post(
            live.url(f"/plans/{board['plan']['id']}/publish"),
            json={"version": board["plan"]["version"]},
            headers=headers,
            timeout=60,
        )
        assert r.status_code == 200, r.text
        board = ensure_plan(live)
    assert board["plan"]["status"] == "published"
    return board


def _now(live: LiveService) -> datetime:
    """The region's local time (the server's clock)."""
    return datetime.now(ZoneInfo(live.env.get("FIELDROUTE_TIMEZONE", "Asia/Shanghai"))).replace(
        tzinfo=None, microsecond=0
    )


def _place(live: LiveService, crew: str, lon: float, lat: float, age: timedelta) -> None:
    """A crew's last position written straight into the database (the shift rule depends on
    the hour the test runs at; `POST /me/position` is tested in tests/api)."""
    engine = create_engine(live.env["DATABASE_URL"])
    at = _now(live) - age
    try:
        with Session(engine) as session, session.begin():
            session.merge(
                CrewPositionRow(
                    crew_id=crew, day=live.day, lon=lon, lat=lat, accuracy_m=15.0,
                    device_time=at, received_at=at,
                )
            )  # fmt: skip
    finally:
        engine.dispose()


def _crew_on_the_way(live: LiveService) -> tuple[str, dict, dict]:
    """A job whose crew has set out for it, with a link: (token, job, crew's route)."""
    board = _published(live)
    route = next(r for r in board["routes"] if r["stops"])
    crew, job_id = route["crew_id"], route["stops"][0]["job_id"]
    job = next(j for j in board["jobs"] if j["id"] == job_id)
    office = token(live, "dispatcher")
    r = httpx.post(live.url(f"/jobs/{job_id}/tracking-link"), headers=office, timeout=30)
    assert r.status_code == 201, r.text
    link = r.json()["url"].removeprefix("/track/")
    driver = {
        "Authorization": "Bearer "
        + dispatch(["token", "--role", "driver", "--crew", crew], live.env).strip().split()[-1]
    }
    now = _now(live)
    r = httpx.post(
        live.url(f"/jobs/{job_id}/events"),
        json={"type": "departed", "device_time": now.isoformat()},
        headers={**driver, "Idempotency-Key": f"browser-{job_id}-departed"},
        timeout=30,
    )
    assert r.status_code in (200, 201), r.text
    # about 2.3 km south-west of the door
    lon, lat = job["lon"] - 0.015, job["lat"] - 0.015
    body = {"lon": lon, "lat": lat, "accuracy_m": 12, "device_time": now.isoformat()}
    sent = httpx.post(live.url("/me/position"), json=body, headers=driver, timeout=30)
    if sent.status_code != 204:  # outside the crew's shift at the hour the test runs
        assert "outside the shift" in sent.text, sent.text
        _place(live, crew, lon, lat, timedelta(0))
    return link, job, route


def test_a_customer_follows_the_crew_on_a_phone(browser, live: LiveService) -> None:
    link, job, route = _crew_on_the_way(live)
    context = browser.new_context(locale="en-GB", viewport=PHONE, base_url=live.base)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # a blocked script, style or request (the CSP) is a console error; the expected 404 of
    # the unknown link's status is one too, and not a failure
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text) if msg.type == "error" and "404" not in msg.text else None
        ),
    )
    try:
        answer = page.goto(f"/track/{link}")
        assert answer is not None and answer.headers["referrer-policy"] == "no-referrer"
        page.wait_for_selector("body[data-state=shown]")
        text = page.locator("main").inner_text()
        assert "The crew is on its way to you" in text
        assert "km (straight line)" in text and "Expected at about" in text
        assert route["crew_id"] not in text and job["id"] not in text
        box = page.locator("#visit").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMG / "tracking.png"))

        # the same page in Chinese
        page.goto(f"/track/{link}?lang=zh")
        page.wait_for_selector("body[data-state=shown]")
        assert "师傅正在赶往您处" in page.locator("main").inner_text()

        # a link that does not exist (or expired: the service does not say which)
        page.goto("/track/not-a-real-link")
        page.wait_for_selector("body[data-state=expired]")
        assert "This link has expired" in page.locator("main").inner_text()
        assert not errors, errors
    finally:
        context.close()


def test_the_board_draws_the_crews_last_positions(page, live: LiveService) -> None:
    board = _published(live)
    engine = create_engine(live.env["DATABASE_URL"])
    with Session(engine) as session:
        crews = list(session.scalars(select(CrewRow.id).order_by(CrewRow.id)))
    engine.dispose()
    routes = [r for r in board["routes"] if r["stops"]][:4]
    jobs = {j["id"]: j for j in board["jobs"]}
    for k, route in enumerate(routes):  # each crew near its second stop; the last one stale
        stop = jobs[route["stops"][min(1, len(route["stops"]) - 1)]["job_id"]]
        age = timedelta(minutes=40) if k == len(routes) - 1 else timedelta(minutes=2 + k)
        _place(live, route["crew_id"], stop["lon"] + 0.004, stop["lat"] + 0.003, age)
    assert set(r["crew_id"] for r in routes) <= set(crews)
    open_board(page, live)
    page.wait_for_selector("path.crew-position")
    assert page.locator("path.crew-position").count() >= len(routes)
    page.locator("path.crew-position").first.hover()
    tip = page.locator(".leaflet-tooltip").filter(has_text="last position")
    tip.wait_for()
    assert "ago" in tip.inner_text() or "just now" in tip.inner_text()
    page.screenshot(path=str(DOCS_IMG / "board-positions.png"))
