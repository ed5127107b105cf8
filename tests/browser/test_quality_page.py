"""The crew quality page (/quality) in a real browser against a real `dispatch serve`.

The module's demo day (30 jobs, nine urban crews) is worked into history straight in the
database (`seed_quality`): jobs completed over the last two weeks with the customers'
ratings, IC003 and CB002 made temporary, a few callbacks and complaints. A manager signs in
and lands on the page, sees own vs temporary crews and a row per crew with callbacks over
the target in red, sorts the table, opens a crew's weekly trend (two inline SVG charts and a
weekly table), picks a period (and is told in words when it is backwards), reads the page in
Chinese; a dispatcher bound to the rural region sees none of the urban crews.
"""

from __future__ import annotations

import random
import re
from datetime import date, datetime, time, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from api.storage.models import CrewRow, JobEventRow, JobRow
from scripts.live_server import dispatch
from tests.browser.conftest import PASSWORD, LiveService, sign_in

#: who works which kind of job, and the temporary crews (worse ratings, more callbacks)
CREWS_FOR = {
    "installation": ["IC001", "IC002", "IC003", "CB001", "CB002"],
    "delivery": ["DT001", "DT002", "CB001"],
    "repair": ["RT001", "RT002"],
    "pickup": ["DT002"],
}
TEMPORARY = ("IC003", "CB002")
RATINGS = ("good", "fair", "poor", "very_poor")


def _clone(row: JobRow, job_id: str, back: timedelta, **values: object) -> JobRow:
    """A copy of a demo job row, `back` earlier, under a new id."""
    record = dict(row.record, id=job_id)
    return JobRow(
        id=job_id,
        due_date=row.due_date - back,
        kind=row.kind,
        status="open",
        region=row.region,
        zone=row.zone,
        priority=row.priority if row.priority != "callback" else "normal",
        order_id=f"{row.order_id}-{job_id}",
        received_at=row.received_at - back,
        record=record,
        visit=1,
        created_at=row.created_at - back,
        updated_at=row.updated_at - back,
        **values,
    )


def seed_quality(database_url: str, today: date, weeks: int = 2, seed: int = 7) -> None:
    """Work the seeded demo day into `weeks` weeks of history up to `today`: each week a
    copy of the day's jobs, two thirds of them completed by a crew of their kind with a
    rating on the `completed` report; temporary crews are rated worse and called back more.
    Deterministic for a `seed`."""
    rng = random.Random(seed)
    engine = create_engine(database_url)
    with Session(engine) as session, session.begin():
        for crew in session.scalars(select(CrewRow)):
            crew.temporary = crew.id in TEMPORARY
        demo = list(session.scalars(select(JobRow).order_by(JobRow.id)))
        noon = datetime.combine(today, time(12))
        ic001_called_back = False  # IC001's first installation gets a callback: over 4 per 100
        for k in range(weeks):
            back = timedelta(days=7 * k)
            rows = demo if k == 0 else [_clone(r, f"{r.id}-H{k}", back) for r in demo]
            session.add_all(r for r in rows if k)
            session.flush()
            for r in rows:
                if rng.random() > 0.67 or r.kind not in CREWS_FOR:
                    continue
                crew = rng.choice(CREWS_FOR[r.kind])
                worse = crew in TEMPORARY
                hours = (6, 20, 26, 30, 40) if worse else (3, 6, 10, 20, 22, 30)
                done = r.received_at + timedelta(hours=rng.choice(hours))
                r.crew_id, r.status = crew, "completed"
                r.completed_at = min(done, noon) if k == 0 else done  # none after today
                if r.completed_at <= r.received_at:
                    r.completed_at = r.received_at + timedelta(hours=1)
                r.visit = 2 if r.kind == "repair" and rng.random() < 0.2 else 1
                if rng.random() < (0.2 if worse else 0.05):
                    r.priority = "complaint"
                weights = (45, 30, 15, 10) if worse else (80, 15, 4, 1)
                rating = rng.choices((*RATINGS, None), weights=(*weights, 8))[0]
                session.add(
                    JobEventRow(
                        idempotency_key=f"quality-{r.id}",
                        payload_hash="0" * 64,
                        job_id=r.id,
                        visit=r.visit,
                        crew_id=crew,
                        type="completed",
                        device_time=r.completed_at,
                        received_at=r.completed_at,
                        rating=rating,
                    )
                )
                first_ic001 = crew == "IC001" and r.kind == "installation" and not ic001_called_back
                ic001_called_back = ic001_called_back or first_ic001
                called_back = r.kind in ("installation", "repair") and (
                    first_ic001 or rng.random() < (0.3 if worse else 0.03)
                )
                if called_back:
                    opened = r.completed_at + timedelta(days=2)
                    session.add(
                        _clone(
                            r,
                            f"{r.id}-CB1",
                            timedelta(0),
                            callback_of=r.id,
                            crew_id="RT001",
                        )
                    )
                    session.flush()
                    callback = session.get(JobRow, f"{r.id}-CB1")
                    assert callback is not None
                    callback.kind, callback.priority = "repair", "callback"
                    callback.received_at, callback.due_date = opened, opened.date()
                    callback.status = "assigned"
    engine.dispose()


@pytest.fixture(scope="module")
def quality(live: LiveService) -> LiveService:
    """The module's service with two weeks of worked jobs and a manager who can sign in."""
    existing = dispatch(["user", "list"], live.env)
    if "manager" in existing.split():
        dispatch(["user", "password", "manager", "--password-stdin"], live.env, PASSWORD + "\n")
    else:
        args = ["user", "add", "manager", "--role", "manager", "--password-stdin"]
        dispatch(args, live.env, PASSWORD + "\n")
    seed_quality(live.env["DATABASE_URL"], live.day)
    return live


def crew_order(page: Page) -> list[str]:
    return page.locator("#scorecards-body tr").evaluate_all("rows => rows.map(r => r.dataset.crew)")


def test_a_manager_lands_on_the_quality_page(quality, page: Page) -> None:
    sign_in(page, "manager")
    expect(page).to_have_url(re.compile(r"/quality"))
    expect(page.get_by_role("heading", name="Crew quality")).to_be_visible()
    expect(page.get_by_role("link", name="Crew quality")).to_have_attribute("aria-current", "page")
    # own vs temporary crews side by side
    expect(page.locator('.group-card[data-group="own"]')).to_contain_text("Own crews")
    expect(page.locator('.group-card[data-group="temporary"]')).to_contain_text("2 crews")
    # a row per crew; IC001 had a callback on every installation: red, over the target
    expect(page.locator("#scorecards-body tr")).to_have_count(9)
    ic001 = page.locator('#scorecards-body tr[data-crew="IC001"]')
    expect(ic001.locator("td.callbacks")).to_have_class(re.compile(r"\bover\b"))
    expect(page.locator('#scorecards-body tr[data-crew="IC003"]')).to_contain_text("Temporary")
    # on time is labelled with its clock, the planning clock beside it
    expect(page.locator("#scorecards-head")).to_contain_text("On time (customer's clock)")
    expect(ic001.locator("td.on-time")).to_contain_text("planning clock")
    expect(page.locator("#clock-note")).to_contain_text("calendar hours from the order")
    # the default period: the last 28 days up to today
    today = quality.day
    expect(page.locator("#to")).to_have_value(today.isoformat())
    expect(page.locator("#from")).to_have_value((today - timedelta(days=27)).isoformat())


def test_sort_the_table_and_open_a_crews_weekly_trend(quality, page: Page) -> None:
    sign_in(page, "manager", next_path="/quality")
    expect(page.locator("#scorecards-body tr")).to_have_count(9)
    # by default the worst callback figures first
    sorted_by = page.locator("#scorecards-head th[aria-sort]")
    expect(sorted_by).to_have_attribute("aria-sort", "descending")
    expect(sorted_by).to_contain_text("Callbacks per 100 installations")
    expect(page.locator("#scorecards-body tr").first.locator("td.callbacks")).to_have_class(
        re.compile(r"\bover\b")
    )
    page.get_by_role("button", name=re.compile(r"^Crew")).click()
    expect(page.locator("#scorecards-head th[aria-sort]")).to_have_attribute(
        "aria-sort", "ascending"
    )
    assert crew_order(page) == sorted(crew_order(page))
    page.get_by_role("button", name=re.compile(r"^Crew")).click()
    assert crew_order(page) == sorted(crew_order(page), reverse=True)
    page.get_by_role("button", name=re.compile(r"^Rated good")).click()
    expect(page.locator("#scorecards-head th[aria-sort] button")).to_contain_text("Rated good")

    page.get_by_role("button", name="IC003", exact=True).click()
    expect(page.locator("#trend-body")).to_be_visible()
    expect(page.locator("#trend-crew")).to_contain_text("IC003 · Temporary")
    expect(page.locator("svg.trend-chart")).to_have_count(2)
    shares = page.locator('svg[data-chart="chart-shares"]')
    expect(shares.locator('g.series[data-series="good"]')).to_have_count(1)
    expect(page.locator('svg[data-chart="chart-callbacks"] g.target')).to_have_count(1)
    weeks = page.locator("#trend-rows tr")
    assert 4 <= weeks.count() <= 5  # the ISO weeks 28 days touch
    expect(page.locator('#scorecards-body tr[data-crew="IC003"]')).to_have_class(
        re.compile("selected")
    )
    expect(page).to_have_url(re.compile(r"crew=IC003"))


def test_the_period_picker(quality, page: Page) -> None:
    sign_in(page, "manager", next_path="/quality")
    expect(page.locator("#scorecards-body tr")).to_have_count(9)
    today = quality.day
    page.get_by_label("From").fill(today.isoformat())
    page.get_by_label("To").fill((today - timedelta(days=3)).isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#status")).to_have_text("Choose a first day on or before the last day.")
    week_ago = today - timedelta(days=6)
    page.get_by_label("From").fill(week_ago.isoformat())
    page.get_by_label("To").fill(today.isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#period-note")).to_contain_text("7 days")
    expect(page).to_have_url(re.compile(f"from={week_ago.isoformat()}"))
    page.get_by_role("button", name="Last 28 days").click()
    expect(page.locator("#period-note")).to_contain_text("28 days")


def test_the_page_in_chinese(quality, browser, live) -> None:
    context = browser.new_context(locale="zh-CN", base_url=live.base)
    try:
        page = context.new_page()
        page.goto("/sign-in?next=/quality")
        page.fill("#username", "manager")
        page.fill("#password", PASSWORD)
        page.click("#sign-in")
        expect(page.get_by_role("heading", name="班组服务质量")).to_be_visible()
        expect(page.get_by_role("link", name="班组质量")).to_be_visible()
        expect(page.locator("#scorecards-head")).to_contain_text("每百次安装返修")
        expect(page.locator('.group-card[data-group="temporary"]')).to_contain_text("临时班组")
    finally:
        context.close()


def test_a_rural_dispatcher_sees_no_urban_crew(quality, page: Page) -> None:
    sign_in(page, "dispatcher-rural", next_path="/quality")
    expect(page.locator("#crews-empty")).to_be_visible()
    expect(page.locator("#scorecards-body tr")).to_have_count(0)
