"""The driver app (`/driver`) in Chromium on a 390x844 phone screen against a real server:
sign-in with a crew's PIN and only the crew's own stops; a re-plan published mid-route
highlighted; three stops completed offline (receipt, rating, signature, photo), a reload
offline, then everything sent exactly once; two tabs and a double tap still exactly once,
and a second phone's late report refused in words; the coordinate conversions of the
navigation links against published reference values.

One server for the module (tests/browser/conftest.py), its urban day planned and published
here, PINs set by the dispatcher (`PUT /crews/{id}/pin`). The tests run in file order: the
re-plan comes before the reports made at the real clock's time, since a re-plan may not start
before the last report. `FIELDROUTE_SCREENSHOT_DIR=docs/img` also saves the docs' screenshots.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from scripts.live_server import wait_for
from tests.browser.conftest import PASSWORD, LiveService

PIN = "730419"
PHONE = {"width": 390, "height": 844}
HERE = {"latitude": 31.2304, "longitude": 121.4737}  # People's Square, Shanghai


def office(live: LiveService) -> dict[str, str]:
    r = httpx.post(
        live.url("/auth/sign-in"), json={"username": "dispatcher", "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def driver_token(live: LiveService, crew_id: str) -> dict[str, str]:
    r = httpx.post(
        live.url("/auth/driver-sign-in"), json={"crew_id": crew_id, "pin": PIN}, timeout=30
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def get(live: LiveService, path: str, headers: dict[str, str], **params: str) -> dict:
    r = httpx.get(live.url(path), params=params, headers=headers, timeout=30)
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
    return r.json()


def published_plan(live: LiveService) -> dict:
    """The day's published urban plan, planned and published through the API if none."""
    headers = office(live)
    day = live.day.isoformat()

    def find(*statuses: str) -> dict | None:
        plans = get(live, "/plans", headers, date=day, region="urban")["items"]
        return next((p for p in plans if p["status"] in statuses), None)

    plan = find("published")
    if plan is None:
        if find("queued", "running", "succeeded") is None:
            r = httpx.post(
                live.url("/plans"), json={"date": day, "region": "urban"}, headers=headers
            )
            assert r.status_code == 202, r.text
        plan = wait_for(lambda: find("succeeded"), timeout=180)
        assert plan is not None
        r = httpx.post(
            live.url(f"/plans/{plan['id']}/publish"),
            json={"version": plan["version"]},
            headers=headers,
            timeout=30,
        )
        assert r.status_code == 200, r.text
        plan = find("published")
    assert plan is not None
    return get(live, f"/plans/{plan['id']}", headers)


def routes(live: LiveService) -> dict[str, list[dict]]:
    """Crew -> its stops on the published plan, crews with stops only."""
    plan = published_plan(live)
    return {r["crew_id"]: r["stops"] for r in plan["result"]["routes"] if r["stops"]}


@pytest.fixture(scope="module")
def crews(live: LiveService) -> dict[str, list[dict]]:
    """The published day's crews with stops, each with the PIN set."""
    headers = office(live)
    found = routes(live)
    for crew_id in found:
        r = httpx.put(
            live.url(f"/crews/{crew_id}/pin"), json={"pin": PIN}, headers=headers, timeout=30
        )
        assert r.status_code == 204, r.text
    return found


def watch(page, errors: list[str]) -> None:
    """Uncaught script errors and anything the Content-Security-Policy refused."""
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )


@pytest.fixture
def phone(browser, live: LiveService, tmp_path: Path) -> Iterator[object]:
    """A fresh phone: 390x844, English, geolocation allowed at a fixed place."""
    contexts = []
    errors: list[str] = []

    def new_phone():
        context = browser.new_context(
            locale="en-GB",
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            base_url=live.base,
            geolocation=HERE,
            permissions=["geolocation"],
        )
        contexts.append(context)
        context.on("page", lambda p: watch(p, errors))
        return context

    try:
        yield new_phone
        assert not errors, f"script errors or refusals on the page: {errors}"
    finally:
        for k, context in enumerate(contexts):
            for n, page in enumerate(context.pages):
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(tmp_path / f"phone{k}-{n}.png"))
            context.close()


def open_app(context, crew_id: str | None = None):
    """A tab on /driver, signed in as `crew_id` (through the form) when given."""
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto("/driver")
    if crew_id:
        page.get_by_label("Crew").fill(crew_id)
        page.get_by_label("PIN").fill(PIN)
        page.get_by_role("button", name="Sign in").click()
        page.locator('body[data-view="list"]').wait_for(state="attached")
    page.locator("body[data-ready]").wait_for(state="attached")
    # the service worker is ready (the app shell cached) before anything goes offline
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    return page


def shot(page, name: str, full_page: bool = False) -> None:
    folder = os.environ.get("FIELDROUTE_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=full_page)


def card(page, job_id: str):
    return page.locator(f'.stop-card[data-job="{job_id}"]')


def waiting(page) -> int:
    return int(page.locator("#waiting").get_attribute("data-waiting") or 0)


def photo_jpeg(width: int = 3000, height: int = 2000) -> bytes:
    """A camera-sized JPEG with some detail (the app makes it 1600 px wide)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (90, 140, 200))
    draw = ImageDraw.Draw(image)
    for k in range(0, width, 50):
        draw.line([(k, 0), (width - k, height)], fill=(k % 255, 80, 160), width=7)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def sign(page) -> None:
    """A signature drawn with the pointer on the pad."""
    box = page.locator(".sig-pad").bounding_box()
    assert box is not None
    x, y = box["x"] + 30, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(1, 12):
        page.mouse.move(x + k * 22, y + (18 if k % 2 else -18), steps=3)
    page.mouse.up()


def report(page, action: str) -> None:
    """Tap a report's button on the open stop."""
    page.locator(f'.act[data-action="{action}"]').click()


def complete(page, job_id: str, photo: bytes, screenshot: str = "") -> None:
    """On the stop's page: Completed..., the receipt form filled in, confirmed."""
    page.locator('.act[data-action="completed"]').click()
    form = page.locator(".complete-form")
    form.get_by_label("Items received", exact=True).fill("1")
    form.get_by_text("Items received, appearance intact").click()
    form.get_by_text("Good", exact=True).click()
    sign(page)
    form.locator('input[type="file"]').set_input_files(
        files=[{"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    form.locator(".thumb img").wait_for()
    if screenshot:
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, screenshot, full_page=True)
    form.get_by_role("button", name="Confirm completed").click()
    card(page, job_id).wait_for()  # back on the list
    # the card takes the report's status once the phone's store has it (asynchronous)
    page.locator(f'.stop-card[data-job="{job_id}"][data-status="completed"]').wait_for(
        timeout=10_000
    )


def events_of(live: LiveService, job_id: str, headers: dict[str, str]) -> list[dict]:
    return get(live, f"/jobs/{job_id}/events", headers)["items"]


# ---- tests


def test_sign_in_with_a_pin_and_see_only_the_crews_own_stops(phone, live, crews) -> None:
    crew_id, other = sorted(crews, key=lambda c: (len(crews[c]), c))[:2]
    context = phone()
    page = open_app(context)
    page.get_by_label("Crew").fill(crew_id)
    page.get_by_label("PIN").fill("999111")
    page.get_by_role("button", name="Sign in").click()
    page.locator("#sign-in-error").filter(has_text="Wrong crew or PIN").wait_for()

    page.get_by_label("PIN").fill(PIN)
    page.get_by_role("button", name="Sign in").click()
    page.locator(".stop-card").first.wait_for()
    shown = page.locator(".stop-card").evaluate_all("cards => cards.map(c => c.dataset.job)")
    assert shown == [s["job_id"] for s in crews[crew_id]]
    assert crew_id in page.locator("#crew").inner_text()
    # the token is on the phone (IndexedDB), never in a URL
    assert "token" not in page.url

    # another crew's stops: the service refuses them, and the app shows its own only
    mine = driver_token(live, crew_id)
    assert httpx.get(live.url(f"/routes/{other}"), headers=mine, timeout=30).status_code == 403
    their_job = crews[other][0]["job_id"]
    r = httpx.post(
        live.url(f"/jobs/{their_job}/events"),
        json={"type": "departed", "device_time": datetime.now().isoformat()},
        headers={**mine, "Idempotency-Key": "not-mine-1"},
        timeout=30,
    )
    assert r.status_code == 403
    page.goto(f"/driver#stop/{their_job}")
    page.get_by_text("This stop is not on your route.").wait_for()

    # the stop page: call, the three navigation links, what to bring
    page.goto(f"/driver#stop/{crews[crew_id][0]['job_id']}")
    page.locator(".call").wait_for()
    assert page.locator(".call").get_attribute("href").startswith("tel:")
    amap = page.locator(".nav-amap").get_attribute("href")
    assert amap.startswith("https://uri.amap.com/navigation?to=") and "coordinate=gaode" in amap
    baidu = page.locator(".nav-baidu").get_attribute("href")
    assert baidu.startswith("baidumap://map/direction?destination=latlng:")
    assert "coord_type=bd09ll" in baidu
    web = page.locator(".nav-baidu").get_attribute("data-web")
    assert web.startswith("https://api.map.baidu.com/direction?") and "output=html" in web
    assert page.locator(".nav-geo").get_attribute("href").startswith("geo:")

    # Chinese, chosen in the menu and kept on the phone
    page.locator("#menu-button").click()
    page.get_by_role("button", name="中文").click()
    page.locator('html[lang="zh-CN"]').wait_for(state="attached")
    page.get_by_text("导航", exact=True).wait_for()
    assert "待出发" in page.locator(".detail-head").inner_text()
    page.reload()
    page.locator('html[lang="zh-CN"]').wait_for(state="attached")
    page.locator("#menu-button").click()
    page.get_by_role("button", name="English").click()
    page.locator('html[lang="en"]').wait_for(state="attached")


def test_navigation_coordinates_match_published_reference_values(phone, live) -> None:
    page = phone().new_page()
    page.goto("/driver")
    got = page.evaluate(
        """async () => {
          const nav = await import("/static/js/driver-nav.js");
          const gcj = await import("/static/js/gcj02.js");
          return {
            gcj: gcj.wgs84ToGcj02(116.404, 39.915),
            bd: nav.gcj02ToBd09(116.404, 39.915),
            station: nav.gcj02ToBd09(116.42703, 39.90245),
            outside: nav.wgs84ToBd09(2.3522, 48.8566),
            link: nav.amapLink({lon: 116.404, lat: 39.915, address: "A|B,C"}),
          };
        }"""
    )
    # coordtransform (wandergis), the reference implementation most Chinese apps use
    assert got["gcj"] == pytest.approx([116.41024449916938, 39.91640428150164], abs=1e-9)
    assert got["bd"] == pytest.approx([116.41036949371029, 39.92133699351021], abs=1e-9)
    # Beijing railway station: GCJ-02 (116.42703, 39.90245) is BD-09 (116.43351, 39.90851)
    assert got["station"] == pytest.approx([116.43351, 39.90851], abs=1e-5)
    # outside China GCJ-02 is WGS-84; BD-09 still shifts by Baidu's offset
    assert got["outside"][0] == pytest.approx(2.3522 + 0.0065, abs=2e-4)
    assert "to=116.410244,39.916404,A%20B%20C&mode=car" in got["link"]


def test_a_replan_mid_route_is_highlighted_after_refresh(phone, live, crews) -> None:
    headers = office(live)
    crew_id = sorted(crews, key=lambda c: (-len(crews[c]), c))[1]
    stops = crews[crew_id]
    assert len(stops) >= 3, "the demo day gives this crew three stops"
    first, second = stops[0], stops[1]
    # the crew finished its first stop (reported by the office at the planned times)
    for kind, at in (("arrived", first["arrival"]), ("completed", first["end"])):
        r = httpx.post(
            live.url(f"/jobs/{first['job_id']}/events"),
            json={"type": kind, "device_time": at},
            headers={**headers, "Idempotency-Key": f"replan-{kind}"},
            timeout=30,
        )
        assert r.status_code in (200, 201), r.text
    page = open_app(phone(), crew_id)
    card(page, first["job_id"]).wait_for()
    assert card(page, first["job_id"]).get_attribute("data-status") == "completed"
    assert page.locator(".stop-card.changed").count() == 0

    # the second job overruns by 90 minutes: the dispatcher re-plans and publishes
    plan = published_plan(live)
    at = datetime.fromisoformat(first["end"]) + timedelta(minutes=1)
    end = datetime.fromisoformat(second["end"]) + timedelta(minutes=90)
    r = httpx.post(
        live.url(f"/plans/{plan['id']}/replan"),
        json={
            "at": at.isoformat(),
            "overruns": [{"job_id": second["job_id"], "expected_end": end.isoformat()}],
            "time_limit_s": 5,
            "solution_limit": 30,
        },
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 202, r.text
    new_id = r.json()["id"]

    def finished() -> dict | None:
        row = get(live, f"/plans/{new_id}", headers)
        assert row["status"] not in ("failed", "cancelled"), row.get("error")
        return row if row["status"] == "succeeded" else None

    row = wait_for(finished, timeout=180)
    assert row is not None
    r = httpx.post(
        live.url(f"/plans/{new_id}/publish"),
        json={"version": row["version"], "replaces": plan["id"]},
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 200, r.text

    route = get(live, f"/routes/{crew_id}", headers)
    changed = {s["job_id"]: s for s in route["stops"] if s.get("change")}
    removed = route.get("removed") or []
    assert changed or removed, "an overrun of 90 minutes changes the crew's day"
    page.locator("#refresh").click()
    page.locator(".as-of").wait_for()
    wait_for(lambda: page.locator(".stop-card.changed").count() == len(changed), timeout=20)
    for job_id, stop in changed.items():
        text = card(page, job_id).inner_text()
        if stop["change"] == "eta_moved":
            assert f"was {stop['previous_eta'][11:16]}, now {stop['eta'][11:16]}" in text
        else:
            assert "New on your route" in text
    taken = page.locator(".taken-off li").evaluate_all("li => li.map(x => x.dataset.job)")
    assert sorted(taken) == sorted(removed)
    shot(page, "driver-stops.png")


def test_three_stops_completed_offline_are_sent_exactly_once(phone, live, crews) -> None:
    headers = office(live)
    now = routes(live)
    replanned = sorted(crews, key=lambda c: (-len(crews[c]), c))[1]
    crew_id = max((c for c in now if c != replanned), key=lambda c: (len(now[c]), c))
    jobs = [s["job_id"] for s in now[crew_id]][:3]
    assert len(jobs) == 3, "the demo day gives a crew three stops"
    context = phone()
    page = open_app(context, crew_id)
    card(page, jobs[0]).wait_for()
    # the driver agrees to share his position: it is sent once his route runs
    page.locator("#menu-button").click()
    page.get_by_text("Share my position during the route").click()
    page.locator("#menu-button").click()
    card(page, jobs[0]).click()
    with page.expect_request(
        lambda rq: rq.url.endswith("/me/position") and rq.method == "POST"
    ) as position:
        report(page, "departed")
    sent = position.value.post_data_json
    assert (sent["lat"], sent["lon"]) == (HERE["latitude"], HERE["longitude"])
    answer = position.value.response()
    assert answer is not None and answer.status in (204, 422)  # 422: outside the shift
    wait_for(lambda: waiting(page) == 0, timeout=20)

    context.set_offline(True)
    page.locator('#net[data-state="offline"]').wait_for()
    photo = photo_jpeg()
    for k, job_id in enumerate(jobs):
        page.goto(f"/driver#stop/{job_id}")
        if k:
            report(page, "departed")
        report(page, "arrived")
        complete(page, job_id, photo, screenshot="driver-stop.png" if k == 0 else "")
    assert waiting(page) == 8  # the first departure went out before the network did
    assert "8 waiting to send" in page.locator("#waiting").inner_text()
    shot(page, "driver-offline.png")
    # signing out now would lose them: refused
    page.locator("#menu-button").click()
    page.get_by_role("button", name="Sign out").click()
    page.locator("#menu-note").filter(has_text="8 reports are still waiting").wait_for()
    page.locator("#menu-button").click()

    answer = page.reload()
    assert answer is not None and answer.from_service_worker  # the shell, from the phone
    page.locator("body[data-ready]").wait_for(state="attached")
    assert page.locator("#net").inner_text() == "Offline"
    assert waiting(page) == 8
    for job_id in jobs:
        assert card(page, job_id).get_attribute("data-status") == "completed"

    context.set_offline(False)
    wait_for(lambda: waiting(page) == 0, timeout=60)
    assert page.locator("#waiting").is_hidden()
    for job_id in jobs:
        events = events_of(live, job_id, headers)
        assert [e["type"] for e in events] == ["departed", "arrived", "completed"], job_id
        done = events[-1]
        assert (done["receipt"], done["rating"], done["items_received"]) == ("intact", "good", 1)
        uploads = get(live, f"/jobs/{job_id}/uploads", headers)["items"]
        assert sorted(u["kind"] for u in uploads) == ["photo", "signature"]
        by_kind = {u["kind"]: u for u in uploads}
        assert done["signature_ref"] == by_kind["signature"]["id"]
        assert done["photo_refs"] == [by_kind["photo"]["id"]]
        picture = httpx.get(
            live.url(f"/uploads/{by_kind['photo']['id']}"), headers=headers, timeout=30
        )
        assert picture.headers["content-type"] == "image/jpeg"
        from PIL import Image

        assert max(Image.open(io.BytesIO(picture.content)).size) == 1600
        assert len(picture.content) < 1_000_000
    # the server's statuses come back with the next route answer
    wait_for(lambda: card(page, jobs[0]).get_attribute("data-status") == "completed")


def test_two_tabs_and_a_double_tap_report_once(phone, live, crews) -> None:
    headers = office(live)
    now = routes(live)
    crew_id = sorted(now, key=lambda c: (len(now[c]), c))[0]
    job_id = now[crew_id][-1]["job_id"]
    context = phone()
    one = open_app(context, crew_id)
    two = open_app(context)  # the same phone: the same sign-in, the same queue
    card(two, job_id).wait_for()
    other_phone = open_app(phone(), crew_id)  # a second phone of the crew, not yet refreshed
    other_phone.goto(f"/driver#stop/{job_id}")
    other_phone.locator('.act[data-action="arrived"]').wait_for()

    one.goto(f"/driver#stop/{job_id}")
    one.locator('.act[data-action="departed"]').dblclick()
    wait_for(lambda: card(two, job_id).get_attribute("data-status") == "en_route", timeout=20)
    two.goto(f"/driver#stop/{job_id}")
    two.locator('.act[data-action="arrived"]').dblclick()
    wait_for(lambda: waiting(one) == 0 and waiting(two) == 0, timeout=30)

    # the second phone still shows the stop as it was and reports "arrived" too: refused
    other_phone.locator('.act[data-action="arrived"]').click()
    refusal = other_phone.locator(".rejected-entry")
    refusal.wait_for()
    assert "arrived" in refusal.inner_text().lower()
    assert other_phone.locator("#waiting").inner_text() == "1 refused"
    events = events_of(live, job_id, headers)
    assert [e["type"] for e in events] == ["departed", "arrived"]
    refusal.get_by_role("button", name="Dismiss").click()
    other_phone.locator(".rejected-entry").wait_for(state="detached")
