"""The dispatchers' worklist (/worklist) in a real browser against a real `dispatch serve`.

A dispatcher records a complaint about one of the module's demo jobs through the page, sees
it in the list with its 4-hour countdown, answers it and sees it leave the open list; a
refused record shows the service's words and marks the field. Two demo jobs are marked
completed straight in the database, so they are due a follow-up call: one call that does not
reach the customer keeps the job listed, one that does takes it off. A manager reads the
same lists without the complaint's text and without any form.
"""

from __future__ import annotations

import re
from datetime import datetime, time

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from api.storage.models import JobRow
from scripts.live_server import dispatch
from tests.browser.conftest import PASSWORD, LiveService, sign_in


@pytest.fixture(scope="module")
def worklist(live: LiveService) -> tuple[LiveService, list[str]]:
    """The module's service with a manager who can sign in and two completed jobs (ids
    returned) due a follow-up call."""
    existing = dispatch(["user", "list"], live.env).split()
    if "manager" in existing:
        dispatch(["user", "password", "manager", "--password-stdin"], live.env, PASSWORD + "\n")
    else:
        args = ["user", "add", "manager", "--role", "manager", "--password-stdin"]
        dispatch(args, live.env, PASSWORD + "\n")
    engine = create_engine(live.env["DATABASE_URL"])
    with Session(engine) as session, session.begin():
        jobs = list(session.scalars(select(JobRow).order_by(JobRow.id)))
        for job in jobs[:2]:
            job.status, job.crew_id = "completed", job.crew_id or "DT001"
            job.completed_at = datetime.combine(live.day, time(0, 30))
        ids = [j.id for j in jobs]
    engine.dispose()
    return live, ids


def test_record_answer_and_log_follow_up_calls(worklist, page: Page) -> None:
    _live, ids = worklist
    job = ids[5]
    sign_in(page, "dispatcher", next_path="/worklist")
    expect(page.get_by_role("heading", name="Complaints within 4 hours")).to_be_visible()
    expect(page.get_by_role("link", name="Worklist")).to_have_attribute("aria-current", "page")

    # a refused record: the service's words, the field marked
    page.get_by_text("Record a complaint").click()
    form = page.locator("#record-form")
    form.get_by_label("Job").fill("NO-SUCH-JOB")
    form.get_by_label("What the customer says").fill("The crew never came.")
    form.get_by_role("button", name="Record").click()
    expect(form.locator(".form-error")).to_contain_text("NO-SUCH-JOB")

    # recorded through the page: listed with its countdown, category and text
    form.get_by_label("Job").fill(job)
    form.get_by_label("Category").select_option("no_show")
    form.get_by_label("Channel").select_option("app")
    form.get_by_label("What the customer says").fill("<b>Nobody</b> came between 9 and 12.")
    form.get_by_role("button", name="Record").click()
    expect(page.locator("#status")).to_contain_text("recorded")
    item = page.locator("#complaints li.complaint", has_text=f"job {job}")
    expect(item).to_have_count(1)
    expect(item.locator(".countdown")).to_have_text(re.compile(r"^(3 h 5\d|4 h 0) min left$"))
    expect(item).to_contain_text("No show")
    expect(item.locator(".complaint-text")).to_have_text("<b>Nobody</b> came between 9 and 12.")
    expect(item.locator(".escalated-badge")).to_be_hidden()

    # answered: it leaves the open list
    item.get_by_label("First answer to the customer").fill("Sorry; a crew comes tomorrow 9-12.")
    item.get_by_role("button", name="Answer").click()
    expect(page.locator("#status")).to_contain_text("answered")
    expect(page.locator("#complaints li.complaint", has_text=f"job {job}")).to_have_count(0)

    # follow-up calls: not reached keeps the job listed, reached takes it off
    first, second = (page.locator(f'#followups li[data-job="{j}"]') for j in ids[:2])
    expect(first).to_contain_text("not called yet")
    first.get_by_label("Not reached").check()
    first.get_by_role("button", name="Log call").click()
    expect(first).to_contain_text("1 call, not reached")
    second.get_by_label("Reached", exact=True).check()
    second.get_by_label("Yes").check()
    second.get_by_role("button", name="Log call").click()
    expect(page.locator(f'#followups li[data-job="{ids[1]}"]')).to_have_count(0)
    expect(page.locator("#followups li")).to_have_count(1)


def test_a_manager_reads_the_lists_without_the_text(worklist, page: Page, live) -> None:
    _live, ids = worklist
    sign_in(page, "dispatcher", next_path="/worklist")
    page.get_by_text("Record a complaint").click()
    page.get_by_label("Job").fill(ids[7])
    page.get_by_label("What the customer says").fill("The fridge door is dented.")
    page.get_by_role("button", name="Record").click()
    expect(page.locator("#status")).to_contain_text("recorded")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile("/sign-in"))

    sign_in(page, "manager", next_path="/worklist")
    item = page.locator("#complaints li.complaint", has_text=f"job {ids[7]}")
    expect(item).to_have_count(1)
    expect(item.locator(".countdown")).to_contain_text("min left")
    expect(item.locator(".complaint-text")).to_have_count(0)
    expect(page.locator("#worklist-main, main")).not_to_contain_text("dented")
    expect(page.locator("#record-panel")).to_be_hidden()
    expect(page.locator("form.answer-form, form.call-form")).to_have_count(0)
    expect(page.locator("#read-only")).to_be_visible()
    expect(page.get_by_role("link", name="Worklist")).to_be_visible()


def test_the_page_is_served_like_the_others(worklist, page: Page) -> None:
    """The same Content-Security-Policy as every page: scripts from the service only."""
    answer = page.request.get("/worklist")
    assert answer.ok
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-cache"
    assert "<script>" not in answer.text()
