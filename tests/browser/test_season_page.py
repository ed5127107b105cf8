"""The season planner page (/season) in a real browser against a real `dispatch serve`.

A planner signs in, is told in words what the service refuses, starts a tiny tenth-scale
season from the form, watches it run and finish, reads its report (fetched with the token and
shown from a blob: URL in a frame), starts a second season with a recommendation target,
cancels a third, and compares the two finished runs side by side: headline figures and the
weekly on-time chart with a line per run and the target line. Then asks for the lever search
(on the customer's clock) from the form and reads its recommendation in the page: target
reached or not, the levers chosen, the cost, the peak week on both clocks, every option.

The tiny season: 8 days (two season weeks, so each run's weekly chart has a line), scale 0.1,
a one-day peak on day 1 and a planner held to 0.5 s / 3 solutions per solve. On a two-core
machine one such season ran 11-12 s from `started_at` to `finished_at` (2026-12, with and
without the one-round recommendation); A and B run one after the other, so this test takes
about 30 s, plus about 20 s to seed and start the server for the module.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import sign_in

#: a season that still has two weeks of figures and runs in seconds (module doc)
TINY = {
    "Days": "8",
    "Scale": "0.1",
    "Peak starts on day": "1",
    "Peak days": "1",
    "Ramp days": "1",
    "Decline days": "0",
    "Planner seconds per day": "0.5",
    "Planner solutions per solve": "3",
}
RUN_S = 60_000  # ms: the longest a tiny season may take to finish here


def open_season_page(page: Page) -> None:
    sign_in(page, "planner", next_path="/season")
    expect(page).to_have_url(re.compile(r"/season$"))
    expect(page.get_by_role("heading", name="Simulate a peak season")).to_be_visible()


def show_more_settings(page: Page) -> None:
    """Open the "Peak and planner" part of the form (a <details>) if it is closed."""
    if page.locator("details.more[open]").count() == 0:
        page.get_by_text("Peak and planner").click()


def fill_tiny_season(page: Page, temp_per_week: str) -> None:
    show_more_settings(page)
    for label, value in TINY.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Temporary crews per week", exact=True).fill(temp_per_week)


def row_ids(page: Page) -> set[str]:
    return set(page.locator("#runs-body tr").evaluate_all("rows => rows.map(r => r.dataset.id)"))


def start(page: Page) -> Locator:
    """Press Start; the new simulation's row (found by id: two asked within the same second
    of the service's clock may come in either order)."""
    before = row_ids(page)
    page.get_by_role("button", name="Start simulation").click()
    expect(page.locator("#status")).to_have_text("Simulation started.")
    expect(page.locator("#runs-body tr")).to_have_count(len(before) + 1)
    (sim_id,) = row_ids(page) - before
    return page.locator(f'#runs-body tr[data-id="{sim_id}"]')


def test_refusals_are_shown_in_words_next_to_the_form(live, page: Page) -> None:
    open_season_page(page)
    runs = page.locator("#runs-body tr").count()
    # checked in the page: a crew count that is not a number
    page.get_by_label("Temporary crews per week", exact=True).fill("0, many")
    page.get_by_role("button", name="Start simulation").click()
    error = page.locator("#form-error")
    expect(error).to_contain_text("“many” is not a whole number of crews")
    expect(page.get_by_label("Temporary crews per week", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )
    # judged by the service (422): the default peak does not fit in 5 days
    page.get_by_label("Temporary crews per week", exact=True).fill("")
    page.get_by_label("Days", exact=True).fill("5")
    page.get_by_role("button", name="Start simulation").click()
    expect(error).to_contain_text("does not fit in a 5-day season")
    assert "{" not in error.inner_text()  # words, never raw JSON
    # the field it names is marked, and shown (it sits in the closed "Peak and planner" part)
    peak_days = page.get_by_label("Peak days", exact=True)
    expect(peak_days).to_have_attribute("aria-invalid", "true")
    expect(peak_days).to_be_visible()
    expect(page.locator("#runs-body tr")).to_have_count(runs)  # nothing was started


def test_start_watch_report_cancel_and_compare_two_seasons(live, page: Page) -> None:
    open_season_page(page)

    # run A; run B (more temporary crews, a recommendation target of 60 %) queued behind it:
    # the service runs one simulation at a time
    fill_tiny_season(page, "0, 5")
    run_a = start(page)
    fill_tiny_season(page, "0, 20")
    page.get_by_label("Recommend temporary crews").check()
    page.get_by_label("Target: installations within 24 h (%)").fill("60")
    page.get_by_label("Search rounds").fill("1")
    run_b = start(page)
    expect(run_b.locator(".season")).to_contain_text("recommend, target 60 %")

    # run C, queued too, cancelled
    page.get_by_label("Recommend temporary crews").uncheck()
    run_c = start(page)
    run_c.get_by_role("button", name="Cancel").click()
    expect(run_c.locator(".state")).to_have_text("cancelled")
    expect(run_c.get_by_role("button", name="Cancel")).to_have_count(0)

    # A's progress while it runs, then done
    expect(run_a.locator(".message")).to_contain_text(re.compile(r"day \d+: \d+ jobs offered"))
    expect(run_a.locator(".state")).to_have_text("running")
    assert 0 < float(run_a.locator("progress").evaluate("p => p.value")) < 1
    expect(run_a.get_by_role("button", name="Cancel")).to_be_visible()
    expect(run_a.locator(".state")).to_have_text("done", timeout=RUN_S)
    expect(run_a.locator("progress")).to_have_js_property("value", 1)

    # A's report (while B runs): fetched with the token, shown from a blob: URL, closed again
    run_a.get_by_role("button", name="Open report").click()
    expect(page.locator("#report-frame")).to_have_attribute("src", re.compile(r"^blob:"))
    report = page.frame_locator("#report-frame")
    expect(report.locator("h1")).to_contain_text("Peak-season simulation: Shanghai demo")
    expect(report.get_by_role("heading", name="Headline figures")).to_be_visible()
    page.get_by_role("button", name="Close").click()
    expect(page.locator("#report-dialog")).to_be_hidden()

    expect(run_b.locator(".state")).to_have_text("done", timeout=RUN_S)

    # compare A and B
    run_a.get_by_role("checkbox").check()
    expect(page.locator("#compare-hint")).to_contain_text("second finished simulation")
    run_b.get_by_role("checkbox").check()
    compare = page.locator("#compare-body")
    expect(compare).to_be_visible()
    expect(compare.locator(".run-card")).to_have_count(2)
    card_a = compare.locator('.run-card[data-run="A"]')
    card_b = compare.locator('.run-card[data-run="B"]')
    expect(card_a).to_contain_text("Temporary crews per week: 0, 5")
    expect(card_b).to_contain_text("Recommended temporary crews")

    installs = compare.locator('tr[data-figure="share_install_24h"]')
    expect(installs.locator("th")).to_contain_text("Installations within 24 h")
    expect(installs.locator("th")).to_contain_text("planning clock")
    expect(installs.locator("td")).to_have_count(3)  # A, B, B − A
    for cell in installs.locator("td").all()[:2]:
        expect(cell).to_have_text(re.compile(r"^\d+(\.\d)? %$"))
    expect(compare.locator('tr[data-figure="cost_cny"] td').first).to_have_text(re.compile(r"\d"))

    chart = compare.locator("svg.week-chart")
    expect(chart.locator("g.series")).to_have_count(2)
    expect(chart.locator("g.series polyline")).to_have_count(2)  # two weeks: a line per run
    expect(chart.locator("g.target")).to_have_count(1)
    expect(chart.locator("g.target")).to_have_attribute("data-target", "0.6")
    assert '{"' not in page.locator("main").inner_text()  # no raw JSON anywhere


#: a two-day season of a 3 % city: the lever search's four options, one round each, run in
#: a few seconds (the planner is held to 3 solutions per solve)
TINY_LEVERS = {
    **TINY,
    "Days": "2",
    "Scale": "0.03",
    "Peak starts on day": "1",
    "Peak days": "1",
    "Ramp days": "1",
}
SHARE = re.compile(r"^\d+(\.\d)? %")


def test_the_lever_search_is_asked_for_from_the_form_and_its_recommendation_shown(
    live, page: Page
) -> None:
    open_season_page(page)
    levers = page.get_by_label("Search levers beyond hiring")
    expect(levers).to_be_disabled()  # a lever search is a recommendation
    show_more_settings(page)
    for label, value in TINY_LEVERS.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Temporary crews per week", exact=True).fill("")
    page.get_by_label("Recommend temporary crews").check()
    page.get_by_label("Search rounds").fill("1")
    page.get_by_label("Target judged on").select_option("customer")
    levers.check()
    with page.expect_request(
        lambda r: r.method == "POST" and r.url.endswith("/simulations")
    ) as asked:
        run = start(page)
    body = asked.value.post_data_json
    assert body["recommend"] is True and body["levers"] is True
    assert body["target_clock"] == "customer"
    expect(run.locator(".season")).to_contain_text("customer's clock · levers beyond hiring")
    expect(run.locator(".state")).to_have_text("done", timeout=RUN_S)

    run.get_by_role("button", name="Recommendation").click()
    panel = page.locator("#rec-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("#rec-run")).to_contain_text("simulation ")
    verdict = panel.locator(".rec-verdict")
    expect(verdict).to_contain_text(
        "Target 95 % of installations within 24 h, customer's clock, in every peak week"
    )
    expect(verdict.locator(".badge").first).to_have_text(re.compile("^(reached|not reached)$"))
    expect(panel.locator(".rec-chosen")).to_contain_text("Option chosen:")
    expect(panel.locator(".lever-list li").first).to_be_visible()
    expect(panel.locator(".rec-cost")).to_contain_text("premiums included; of which lever")
    weeks = panel.locator("table.rec-weeks")
    expect(weeks.locator('th[data-clock="customer_clock"]')).to_have_text(
        "Within 24 h, customer's clock"
    )
    expect(weeks.locator('th[data-clock="planning_clock"]')).to_have_text(
        "Within 24 h, planning clock"
    )
    expect(weeks.locator("tbody tr")).to_have_count(1)  # the one peak week
    cells = weeks.locator("tbody tr td")
    expect(cells.nth(2)).to_have_text(SHARE)
    expect(cells.nth(3)).to_have_text(SHARE)
    options = panel.locator("table.rec-options tbody tr")
    expect(options).to_have_count(4)  # every option of dispatch.season.levers.OPTIONS
    expect(options.first.locator("td").first).to_have_text("hiring only")
    expect(panel.locator("table.rec-options td.chosen")).to_have_count(1)
    binding = re.compile(r"Binding constraint: (week 0 \(customer's clock\) holds|none)")
    expect(panel.locator(".rec-binding")).to_contain_text(binding)
    assert '{"' not in panel.inner_text()  # words, never raw JSON
    panel.get_by_role("button", name="Close").click()
    expect(panel).to_be_hidden()


def test_the_page_speaks_chinese(live, page: Page) -> None:
    sign_in(page, "planner", next_path="/season?lang=zh")
    expect(page.get_by_role("heading", name="模拟旺季")).to_be_visible()
    expect(page.get_by_role("button", name="开始模拟")).to_be_visible()
    expect(page.get_by_label("每周临时班组数", exact=True)).to_be_visible()
    expect(page.get_by_label("搜索雇用以外的手段")).to_be_disabled()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
