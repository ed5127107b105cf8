"""The call centre's booking page (/booking) in a real browser against a real `dispatch serve`.

A call-centre agent signs in and lands on the booking page (the board sends him back to
it), picks the customer's home on the map, quotes a delivery with its installation, sees the
days × slots grid on the customer's clock (promise kept or not, the driving added, the
recommended slots highlighted, the rest greyed with a reason), picks the delivery's and then
the installation's slot, enters the customer and books: the confirmation names the jobs,
which the service holds with the booked slot as their window and the contact typed. A quote
booked meanwhile is refused in words, offering "Quote again"; a field the service refuses is
named and marked. The page also speaks Chinese.

The server's clock is the real one: late in the day today's slots have passed (greyed), and
the quote's second day still has bookable slots, so the tests hold at any hour.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from scripts.live_server import dispatch
from tests.browser.conftest import PASSWORD, LiveService, sign_in

AGENT = "agent-cc"
HOME = ("121.4521", "31.2234")


@pytest.fixture(scope="module")
def agent(live: LiveService) -> str:
    """A call-centre user on the module's server."""
    if AGENT not in dispatch(["user", "list"], live.env).split():
        args = ["user", "add", AGENT, "--role", "call_centre", "--password-stdin"]
        dispatch(args, live.env, PASSWORD + "\n")
    return AGENT


def headers(live: LiveService, username: str) -> dict[str, str]:
    r = httpx.post(
        live.url("/auth/sign-in"), json={"username": username, "password": PASSWORD}, timeout=30
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def open_booking(page: Page, agent: str, query: str = "") -> None:
    sign_in(page, agent, next_path=f"/booking{query}" if query else "")
    expect(page).to_have_url(re.compile(r"/booking"))
    page.locator(".leaflet-container").wait_for()


def quote_home(page: Page, order_id: str) -> None:
    page.locator("#lon").fill(HOME[0])
    page.locator("#lat").fill(HOME[1])
    page.locator("#order-id").fill(order_id)
    page.locator("#quote").click()
    expect(page.locator("#grid-first .slot-grid")).to_be_visible(timeout=60_000)


def pick_recommended(page: Page) -> None:
    """The first recommended delivery slot, then (drawn for it) its installation slot."""
    page.locator("#grid-first button.slot.recommended").first.click()
    expect(page.locator("#grid-second button.slot[aria-pressed='true']")).to_have_count(1)


def fill_customer(page: Page, name: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Phone", exact=True).fill("13912345678")
    page.get_by_label("Address", exact=True).fill("5F, 9 Booking Street")


def test_an_agent_quotes_picks_a_slot_and_books_it(live, page: Page, agent) -> None:
    open_booking(page, agent)
    nav = page.locator("header nav")
    expect(nav.get_by_role("link", name="Booking")).to_be_visible()
    expect(nav.get_by_role("link", name="Dispatch board")).to_have_count(0)
    # a click on the map fills the coordinates, which the fields then hold
    page.locator("#pick-map").click(position={"x": 120, "y": 90})
    expect(page.locator("#lon")).not_to_have_value("")
    expect(page.locator("#lat")).not_to_have_value("")

    quote_home(page, "WEB-CC-1")
    expect(page.locator("#clock-label")).to_contain_text("customer's clock, hours from the order")
    expect(page.locator("#promise-lines")).to_contain_text("delivery: promised by")
    first = page.locator("#grid-first")
    assert first.locator(".slot-head").count() == 5  # 08-10 ... 16-18
    assert first.locator(".day-head").count() == 2
    cells = first.locator(".slot")
    assert cells.count() == 10  # every day × slot, bookable or greyed
    for state in first.locator("button.slot").evaluate_all("bs => bs.map(b => b.dataset.state)"):
        assert state in ("keeps", "late", "none")
    reasons = first.locator(".slot.off").evaluate_all("cs => cs.map(c => c.dataset.reason)")
    assert set(reasons) <= {"passed", "too_soon", "no_crew", "full"}
    expect(first.locator("button.slot.recommended").first).to_contain_text("recommended")
    expect(first.locator("button.slot").first).to_contain_text(re.compile(r"\+[\d.,]+ min"))

    # nothing to book until a slot is chosen
    expect(page.locator("#book")).to_be_disabled()
    pick_recommended(page)
    chosen = page.locator("#chosen")
    expect(chosen).to_contain_text("delivery")
    expect(chosen).to_contain_text("installation")
    # the booking needs the customer
    page.locator("#book").click()
    expect(page.locator("#book-error")).to_contain_text("name, phone and address")
    fill_customer(page, "Zhou Booker")
    page.locator("#book").click()

    confirmation = page.locator("#confirmation")
    expect(confirmation).to_contain_text("Booked: order WEB-CC-1")
    expect(confirmation).to_contain_text("WEB-CC-1-D")
    expect(confirmation).to_contain_text("WEB-CC-1-I")
    expect(page.locator("#status")).to_have_text("Order WEB-CC-1 booked.")
    assert page.locator("#customer-name").input_value() == ""  # the contact is not kept

    office = headers(live, "dispatcher")
    job = httpx.get(live.url("/jobs/WEB-CC-1-D"), headers=office, timeout=30).json()
    assert job["record"]["customer_name"] == "Zhou Booker"
    assert job["status"] == "open"
    shown = confirmation.locator("li").first.inner_text()
    window = job["record"]["windows"][0]
    assert f"{window['start'][11:16]}–{window['end'][11:16]}" in shown

    page.locator("#new-order").click()
    expect(page.locator("#order-id")).to_have_value("")


def test_a_quote_booked_meanwhile_is_refused_in_words(live, page: Page, agent) -> None:
    open_booking(page, agent)
    quote_home(page, "WEB-CC-2")
    pick_recommended(page)
    fill_customer(page, "Qian Twice")
    # another screen books this very quote first
    quote_id, option_id = page.evaluate(
        "() => [window.fieldrouteBooking.quote.quote_id, window.fieldrouteBooking.optionId]"
    )
    r = httpx.post(
        live.url("/bookings"),
        json={"quote_id": quote_id, "option_id": option_id},
        headers=headers(live, agent),
        timeout=60,
    )
    assert r.status_code == 201, r.text
    page.locator("#book").click()
    error = page.locator("#book-error")
    expect(error).to_contain_text("This quote has been booked already")
    # the service's own detail and the field it names
    expect(error).to_contain_text("(field: quote_id)")
    assert '{"' not in error.inner_text()  # words, not raw JSON
    expect(page.get_by_role("button", name="Quote again")).to_be_hidden()
    # a new quote for the same order: its jobs exist now, refused naming the field
    page.locator("#quote").click()
    expect(page.locator("#order-error")).to_contain_text("order_id")
    expect(page.locator("#order-id")).to_have_attribute("aria-invalid", "true")


def refuse_bookings(page: Page, detail: str, field: str) -> None:
    """Answer the page's next bookings with the service's 409 (as a booking that lost the
    day's last place to another, or came after the quote's 15 minutes, is answered)."""
    problem = {
        "type": "/problems/conflict",
        "title": "Conflict",
        "status": 409,
        "detail": detail,
        "field": field,
    }
    page.route(
        "**/bookings",
        lambda route: route.fulfill(
            status=409, content_type="application/problem+json", body=json.dumps(problem)
        ),
    )


def test_a_sold_out_slot_or_an_expired_quote_offers_a_new_quote(live, page: Page, agent) -> None:
    open_booking(page, agent)
    quote_home(page, "WEB-CC-5")
    pick_recommended(page)
    fill_customer(page, "Li Late")
    first_quote = page.evaluate("() => window.fieldrouteBooking.quote.quote_id")
    sold = "the slot 2026-06-18 08:00-10:00 is no longer available: ask for a new quote"
    refuse_bookings(page, sold, "option_id")
    page.locator("#book").click()
    error = page.locator("#book-error")
    expect(error).to_contain_text("This slot has just been taken")
    expect(error).to_contain_text(f"“{sold}” (field: option_id)")
    page.get_by_role("button", name="Quote again").click()
    expect(error).to_be_hidden()
    assert page.evaluate("() => window.fieldrouteBooking.quote.quote_id") != first_quote
    assert page.locator("#customer-name").input_value() == "Li Late"  # kept for the retry

    page.unroute("**/bookings")
    refuse_bookings(page, "the quote expired at 09:15: ask for a new quote", "quote_id")
    pick_recommended(page)
    page.locator("#book").click()
    expect(error).to_contain_text("The quote has expired")
    expect(page.get_by_role("button", name="Quote again")).to_be_visible()


def test_the_board_sends_an_agent_to_the_booking_page(live, page: Page, agent) -> None:
    sign_in(page, agent, next_path="/board")
    expect(page).to_have_url(re.compile(r"/booking$"))
    r = httpx.get(live.url("/jobs"), headers=headers(live, agent), timeout=30)
    assert r.status_code == 403


def test_the_page_speaks_chinese(live, page: Page, agent) -> None:
    open_booking(page, agent, "?lang=zh")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="新订单")).to_be_visible()
    quote_home(page, "WEB-CC-4")
    expect(page.locator("#clock-label")).to_contain_text("按客户时钟计算承诺")
    expect(page.locator("#grid-first button.slot.recommended").first).to_contain_text("推荐")
    expect(page.get_by_role("button", name="确认预约")).to_be_disabled()
