"""A two-crew visit (协助, a job that `assists` another) in Chromium against a real server: the
service plans the pair on two crews and publishes it; each crew's phone shows the partner
crew and the meeting time (English on one phone, Chinese on the other), and the board marks
both stops on the timeline and, for a pair no crew can take, both jobs in the unassigned list.

One server for the module (tests/browser/conftest.py): the demo day, plus the pair AC-LEAD /
AC-HELP (a cabinet air conditioner on the 18th floor) and the pair UN-LEAD / UN-HELP whose
helper needs a skill no crew has. `FIELDROUTE_SCREENSHOT_DIR=docs/img` also saves
`driver_assist.png` (the assisting crew's stop).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.live_server import wait_for
from tests.browser.conftest import LiveService, sign_in
from tests.browser.test_driver_app import PHONE, PIN, office, open_app, shot


def _job(live: LiveService, ident: str, **extra: object) -> dict:
    day = live.day.isoformat()
    return {
        "id": ident,
        "kind": "installation",
        "order_id": "O-" + ident.split("-")[0],
        "confirmed_at": f"{day}T06:00",
        "lon": 121.4737,
        "lat": 31.2304,
        "windows": [{"start": f"{day}T08:00", "end": f"{day}T20:00"}],
        "category": "cabinet_ac",
        "floor": 18,
        "service_minutes": 45,
        "address": "人民大道 200 号 18 楼",
        "customer_name": "王芳",
        "customer_phone": "13900000018",
        **extra,
    }


@pytest.fixture(scope="module")
def pair(live: LiveService) -> dict:
    """The day planned and published with both pairs; the planned pair's crews and start."""
    headers = office(live)
    jobs = [
        _job(live, "AC-LEAD"),
        _job(live, "AC-HELP", assists="AC-LEAD"),
        _job(live, "UN-LEAD"),
        _job(live, "UN-HELP", assists="UN-LEAD", skills=["crane_lift"]),
    ]
    for body in jobs:
        r = httpx.post(live.url("/jobs"), json=body, headers=headers, timeout=30)
        assert r.status_code == 201, r.text
    day = live.day.isoformat()
    r = httpx.post(
        live.url("/plans"), json={"date": day, "region": "urban"}, headers=headers, timeout=30
    )
    assert r.status_code == 202, r.text
    url = live.url(f"/plans/{r.json()['id']}")

    def solved() -> dict | None:
        row = httpx.get(url, headers=headers, timeout=30).json()
        assert row["status"] in ("queued", "running", "succeeded"), row
        return row if row["status"] == "succeeded" else None

    row = wait_for(solved, timeout=180)
    r = httpx.post(url + "/publish", json={"version": row["version"]}, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    crews = {s["job_id"]: c["crew_id"] for c in row["result"]["routes"] for s in c["stops"]}
    unassigned = {u["job_id"] for u in row["result"]["unassigned"]}
    assert {"UN-LEAD", "UN-HELP"} <= unassigned, "a pair no crew can take stays whole"
    assert crews["AC-LEAD"] != crews["AC-HELP"]
    for crew_id in (crews["AC-LEAD"], crews["AC-HELP"]):
        r = httpx.put(
            live.url(f"/crews/{crew_id}/pin"), json={"pin": PIN}, headers=headers, timeout=30
        )
        assert r.status_code == 204, r.text
    route = httpx.get(
        live.url(f"/routes/{crews['AC-LEAD']}"), params={"date": day}, headers=headers, timeout=30
    ).json()
    lead = next(s for s in route["stops"] if s["job_id"] == "AC-LEAD")
    return {
        "lead_crew": crews["AC-LEAD"],
        "help_crew": crews["AC-HELP"],
        "meet": lead["assist"]["meet"][11:16],  # HH:MM, as the app shows it
        "plan_id": row["id"],
    }


@pytest.fixture
def phones(browser, live: LiveService, tmp_path: Path) -> Iterator[object]:
    contexts = []
    errors: list[str] = []

    def new_phone():
        context = browser.new_context(
            locale="en-GB", viewport=PHONE, is_mobile=True, has_touch=True, base_url=live.base
        )
        contexts.append(context)
        context.on("page", lambda p: p.on("pageerror", lambda exc: errors.append(str(exc))))
        return context

    try:
        yield new_phone
        assert not errors, f"script errors on the page: {errors}"
    finally:
        for k, context in enumerate(contexts):
            for n, page in enumerate(context.pages):
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(tmp_path / f"phone{k}-{n}.png"))
            context.close()


def test_each_crew_sees_its_partner_and_when_they_meet(phones, pair) -> None:
    helper = open_app(phones(), pair["help_crew"])
    card = helper.locator('.stop-card[data-job="AC-HELP"] .stop-assist')
    card.wait_for()
    assert card.inner_text().replace("\n", " ") == (
        f"Assist You assist crew {pair['lead_crew']}: be there by {pair['meet']}"
    )
    helper.goto("/driver#stop/AC-HELP")
    box = helper.locator(".assist-box")
    box.wait_for()
    text = box.inner_text()
    assert "Two crews: you assist at this visit" in text
    assert f"Job AC-LEAD · crew {pair['lead_crew']}" in text
    # the box sits in the page's column: as wide as the facts above it, nothing cut off
    facts = helper.locator(".facts").bounding_box()
    frame = box.bounding_box()
    assert facts is not None and frame is not None
    assert abs(frame["width"] - facts["width"]) < 2 and frame["x"] + frame["width"] <= 390
    box.scroll_into_view_if_needed()
    helper.evaluate("window.scrollTo(0, 0)")
    shot(helper, "driver_assist.png", full_page=True)

    lead = open_app(phones(), pair["lead_crew"])
    lead.goto("/driver?lang=zh")  # the lead crew's driver reads Chinese
    lead.locator('html[lang="zh-CN"]').wait_for(state="attached")
    line = lead.locator('.stop-card[data-job="AC-LEAD"] .stop-assist')
    line.wait_for()
    assert line.inner_text().replace("\n", " ") == (
        f"协助 协助班组 {pair['help_crew']} {pair['meet']} 前到场"
    )
    # a stop of the lead crew that is no pair has no such line
    others = lead.locator(".stop-card:not([data-job='AC-LEAD']) .stop-assist")
    assert others.count() == 0


def test_the_board_marks_both_halves_and_the_unassigned_pair(page, live, pair) -> None:
    sign_in(page, "dispatcher", next_path=f"/board?date={live.day.isoformat()}%26region=urban")
    page.wait_for_selector("body[data-drawn-ms]", state="attached", timeout=60_000)
    marked = page.locator(".seg.work.assist").evaluate_all(
        "segs => segs.map(s => [s.dataset.job, s.dataset.crew, s.dataset.assist])"
    )
    assert sorted(marked) == [
        ["AC-HELP", pair["help_crew"], "assisting"],
        ["AC-LEAD", pair["lead_crew"], "assisted"],
    ]
    lead = page.locator('.seg.work[data-job="AC-LEAD"]')
    assert f"assisted by crew {pair['help_crew']} (job AC-HELP)" in lead.get_attribute("title")
    assert page.locator(".tl-legend").get_by_text("two crews (assist)").count() == 1
    lead.click()
    details = page.locator("#details")
    details.get_by_text(f"together from {pair['meet']}").wait_for()

    badge = page.locator('#unassigned-list li[data-job="UN-LEAD"] .badge.assist')
    assert badge.inner_text() == "assist pair · with UN-HELP"
    reason = page.locator('#unassigned-list li[data-job="UN-LEAD"] .badge.bad')
    assert reason.inner_text() == "its assist pair cannot be planned"
    other = page.locator('#unassigned-list li[data-job="UN-HELP"] .badge.assist')
    assert other.inner_text() == "assist pair · with UN-LEAD"
