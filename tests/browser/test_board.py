"""The dispatcher board in Chromium against a real server: sign-in and its lockout, planning a
day, dragging stops (refused with reasons, then accepted), publishing, a driver's report
appearing live, and a region-bound dispatcher kept to his region.

The tests share one server (module scope) and run in file order: the plan made by the second
test is the one later tests move, publish and report on. Each helper that needs a plan
makes sure one exists, so a test run alone (`-k`) still works.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import httpx

from scripts.live_server import wait_for
from tests.browser.conftest import PASSWORD, LiveService, sign_in


def token(live: LiveService, username: str) -> dict[str, str]:
    """Headers for `username`, signed in through the API as a script would."""
    r = httpx.post(
        live.url("/auth/sign-in"), json={"username": username, "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def day_plans(live: LiveService, headers: dict[str, str]) -> list[dict]:
    r = httpx.get(
        live.url("/plans"),
        params={"date": live.day.isoformat(), "region": "urban"},
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()["items"]


def ensure_plan(live: LiveService) -> dict:
    """The day's shown plan (published, else succeeded), planned through the API if none."""
    headers = token(live, "dispatcher")

    def shown() -> dict | None:
        plans = day_plans(live, headers)
        for wanted in ("published", "succeeded"):
            for plan in plans:
                if plan["status"] == wanted:
                    return plan
        return None

    if shown() is None:
        body = {"date": live.day.isoformat(), "region": "urban"}
        r = httpx.post(live.url("/plans"), json=body, headers=headers, timeout=30)
        assert r.status_code == 202, r.text
    plan = wait_for(shown, timeout=180)
    r = httpx.get(live.url(f"/plans/{plan['id']}/board"), headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def open_board(page, live: LiveService, user: str = "dispatcher") -> None:
    sign_in(page, user, next_path=f"/board?date={live.day.isoformat()}%26region=urban")
    page.wait_for_selector("body[data-drawn-ms]", state="attached", timeout=60_000)


def test_sign_in_and_five_wrong_passwords_lock_the_account(page, live: LiveService) -> None:
    page.goto("/board")
    page.wait_for_url("**/sign-in**")  # no token: the board sends the visitor to sign in
    status = page.locator("#status")
    for attempt in range(1, 6):
        page.get_by_label("User name").fill("lock-me")
        page.get_by_label("Password").fill(f"wrong-{attempt}")
        page.get_by_role("button", name="Sign in").click()
        expected = "Wrong user name or password" if attempt < 5 else "too many failed sign-ins"
        status.filter(has_text=expected).wait_for()
    # locked now: even the right password is refused, in words
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_timeout(500)
    assert "too many failed sign-ins" in status.inner_text()
    assert "/sign-in" in page.url
    r = httpx.post(
        live.url("/auth/sign-in"), json={"username": "lock-me", "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0

    # a good user signs in, lands on the board, and the token is in no URL
    sign_in(page, "dispatcher")
    assert "/board" in page.url and "token" not in page.url
    assert page.locator("#who").inner_text().startswith("dispatcher")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/sign-in")


def test_plan_the_day_and_see_every_route_and_crew(page, live: LiveService) -> None:
    sign_in(page, "dispatcher", next_path=f"/board?date={live.day.isoformat()}%26region=urban")
    page.select_option("#horizon-days", "2")  # a horizon: the day, then its leftovers tomorrow
    page.get_by_role("button", name="Plan this day").click()
    page.wait_for_selector("body[data-drawn-ms]", state="attached", timeout=180_000)
    page.wait_for_function(
        "document.getElementById('status').textContent.includes('still open after the last day')",
        timeout=180_000,
    )
    assert "(customer's clock)" in page.locator("#status").inner_text()
    board = ensure_plan(live)
    used = [r for r in board["routes"] if r["stops"]]
    assert used, "the demo day plans some routes"
    assert page.locator("path.route-line").count() == len(used)
    assert page.locator(".tl-row").count() == len(board["crews"])
    stops = sum(len(r["stops"]) for r in used)
    assert page.locator(".seg.work").count() == stops
    # KPI tiles carry the plan's figures, promise shares labelled with both clocks
    assert page.locator('.tile[data-kpi="planned"] .value').inner_text().endswith("%")
    tile = page.locator('.tile[data-kpi="installation"]')
    assert "customer's clock" in tile.inner_text() and "planning clock" in tile.inner_text()
    assert "planning clock: the plan's deadlines" in (tile.get_attribute("title") or "")
    # selecting a stop on the timeline selects it in the details panel and on the map
    first = page.locator(".seg.work").first
    job_id = first.get_attribute("data-job")
    first.click()
    assert job_id in page.locator("#details h3").first.inner_text()
    assert page.locator(".tl-row.selected").count() == 1
    # the search box narrows the timeline to the crew with that job
    page.get_by_placeholder("Search crew or job id").fill(job_id)
    assert page.locator(".tl-row").count() == 1


def _drag(page, job_id: str, crew_id: str) -> None:
    source = page.locator(f'.seg.work[data-job="{job_id}"]')
    target = page.locator(f'.tl-row[data-crew="{crew_id}"] .tl-track')
    box = target.bounding_box()
    assert box is not None
    source.drag_to(target, target_position={"x": box["width"] - 4, "y": box["height"] / 2})


def test_drag_a_stop_refused_with_reasons_then_accepted_then_publish(page, live) -> None:
    board = ensure_plan(live)
    assert board["plan"]["status"] == "succeeded", "publish comes after the moves"
    open_board(page, live)
    crews = {c["id"]: c for c in board["crews"]}
    jobs = {j["id"]: j for j in board["jobs"]}
    routes = [r for r in board["routes"] if r["stops"]]

    # refused: a job whose skills a delivery truck lacks (a repair or installation)
    refused_job = next(
        s["job_id"]
        for r in routes
        for s in r["stops"]
        if jobs[s["job_id"]]["kind"] in ("repair", "installation")
    )
    truck = next(c for c in crews.values() if c["kind"] == "delivery_truck")
    _drag(page, refused_job, truck["id"])
    refusal = page.locator(".tl-refusal")
    refusal.wait_for()
    assert f"{refused_job} cannot go to {truck['id']}" in refusal.inner_text()
    assert refusal.locator("li").count() >= 1  # each broken rule, in words
    assert "{" not in refusal.inner_text()  # never raw JSON
    assert page.get_attribute("body", "data-plan-version") == str(board["plan"]["version"])

    # accepted: the last stop of a route moved to the end of another crew of the same kind
    # with room; the first crew pair the service accepts is enough
    version = board["plan"]["version"]
    accepted = None
    for route in sorted(routes, key=lambda r: len(r["stops"]), reverse=True):
        job_id = route["stops"][-1]["job_id"]
        kind = crews[route["crew_id"]]["kind"]
        for other in sorted(routes, key=lambda r: len(r["stops"])):
            if other["crew_id"] == route["crew_id"] or crews[other["crew_id"]]["kind"] != kind:
                continue
            _drag(page, job_id, other["crew_id"])
            page.locator("#status").filter(has_text=job_id).wait_for()
            if page.locator(".tl-refusal").count() == 0:
                accepted = (job_id, other["crew_id"])
                break
        if accepted:
            break
    assert accepted, "no move between crews of the same kind was accepted"
    job_id, crew_id = accepted
    moved = page.locator(f'.tl-row[data-crew="{crew_id}"] .seg.work[data-job="{job_id}"]')
    moved.wait_for()
    assert int(page.get_attribute("body", "data-plan-version")) > version

    page.get_by_role("button", name="Publish").click()
    page.locator("#status").filter(has_text="Published version").wait_for()
    plan = ensure_plan(live)
    assert plan["plan"]["status"] == "published"
    on_route = {s["job_id"]: r["crew_id"] for r in plan["routes"] for s in r["stops"]}
    assert on_route[job_id] == crew_id


def test_a_driver_report_appears_on_the_board_without_a_reload(page, live) -> None:
    board = ensure_plan(live)
    if board["plan"]["status"] != "published":
        headers = token(live, "dispatcher")
        r = httpx.post(
            live.url(f"/plans/{board['plan']['id']}/publish"),
            json={"version": board["plan"]["version"]},
            headers=headers,
            timeout=30,
        )
        assert r.status_code == 200, r.text
        board = ensure_plan(live)
    open_board(page, live)
    route = next(r for r in board["routes"] if r["stops"])
    job_id = route["stops"][0]["job_id"]
    from api.http.auth import issue_token
    from tests.api_support import TEST_SECRET, make_settings

    settings = make_settings(live.tmp, secret_key=TEST_SECRET)
    driver = issue_token(settings, "driver-test", "driver", route["crew_id"])
    device_time = datetime.fromisoformat(route["stops"][0]["arrival"]) - timedelta(minutes=30)
    r = httpx.post(
        live.url(f"/jobs/{job_id}/events"),
        json={"type": "departed", "device_time": device_time.isoformat()},
        headers={"Authorization": f"Bearer {driver}", "Idempotency-Key": str(uuid.uuid4())},
        timeout=30,
    )
    assert r.status_code in (200, 201), r.text
    item = page.locator(f'#feed li[data-job="{job_id}"]')
    item.wait_for(timeout=10_000)  # polled, not reloaded
    assert route["crew_id"] in item.inner_text()


def test_replan_a_crew_off_sick_shows_the_diff_then_publishes(page, live) -> None:
    board = ensure_plan(live)
    assert board["plan"]["status"] == "published", "runs after the publish test"
    used = [r for r in board["routes"] if len(r["stops"]) >= 2]
    sick = used[-1]["crew_id"]
    open_board(page, live)
    page.get_by_role("button", name="Re-plan…").click()
    dialog = page.locator("#replan-dialog")
    dialog.get_by_label("From (time)").fill("12:00")
    dialog.get_by_label("Crew off (sick) from then").select_option(sick)
    dialog.get_by_role("button", name="Re-plan", exact=True).click()
    diff = dialog.locator(".diff")
    diff.wait_for(timeout=120_000)
    assert "crews change" in diff.inner_text()
    dialog.get_by_role("button", name="Approve and publish").click()
    page.locator("#status").filter(has_text="Re-plan published").wait_for()
    after = ensure_plan(live)
    assert after["plan"]["kind"] == "replan" and after["plan"]["status"] == "published"
    assert after["plan"]["parent_id"] == board["plan"]["id"]
    late_stops = [
        s for r in after["routes"] if r["crew_id"] == sick for s in r["stops"]
        if s["start"][11:16] >= "12:00"
    ]  # fmt: skip
    assert not late_stops, "the sick crew has no work after 12:00"


def test_a_region_bound_dispatcher_sees_only_his_region(page, live) -> None:
    board = ensure_plan(live)
    rural = token(live, "dispatcher-rural")
    plan_id = board["plan"]["id"]
    r = httpx.get(live.url(f"/plans/{plan_id}/board"), headers=rural, timeout=30)
    assert r.status_code == 403
    r = httpx.post(
        live.url(f"/plans/{plan_id}/overrides"),
        json={"version": board["plan"]["version"], "job_id": "x", "crew_id": None},
        headers=rural,
        timeout=30,
    )
    assert r.status_code == 403
    assert all(p["region"] == "rural" for p in day_plans_any(live, rural))

    sign_in(page, "dispatcher-rural", next_path=f"/board?date={live.day.isoformat()}")
    page.locator("#region option").first.wait_for(state="attached")  # filled once signed in
    options = page.locator("#region option").all_inner_texts()
    assert options == ["rural"]
    nothing = re.compile("No plan for this day|No jobs on this day")
    page.locator("#status").filter(has_text=nothing).wait_for()
    assert page.locator("path.route-line").count() == 0
    # asking the page for the urban plan by id is refused, in words
    page.evaluate(f"window.fieldrouteBoard.showPlan({plan_id!r})")
    page.locator("#status").filter(has_text="You are not allowed to do this").wait_for()
    assert page.locator("path.route-line").count() == 0


def day_plans_any(live: LiveService, headers: dict[str, str]) -> list[dict]:
    r = httpx.get(
        live.url("/plans"), params={"date": live.day.isoformat()}, headers=headers, timeout=30
    )
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_chinese_board_and_the_pages_gcj02_shift_matches_the_engines(page, live) -> None:
    from dispatch.files.coords import wgs84_to_gcj02

    sign_in(page, "dispatcher", next_path=f"/board?date={live.day.isoformat()}%26lang=zh")
    page.wait_for_selector("body[data-drawn-ms]", state="attached", timeout=60_000)
    assert page.get_by_role("button", name="排当天计划").is_visible()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    # the shift the page applies for GCJ-02 tile layers is the engine's published transform
    for lon, lat in ((121.4737, 31.2304), (121.8, 31.5), (116.39, 39.91)):
        shifted = page.evaluate(
            f"import('/static/js/gcj02.js').then(m => m.wgs84ToGcj02({lon}, {lat}))"
        )
        expected = wgs84_to_gcj02(lon, lat)
        assert abs(shifted[0] - expected[0]) < 1e-9 and abs(shifted[1] - expected[1]) < 1e-9
