"""Every page of the UI for keyboards, screen readers and phones, in Chromium.

axe-core (from npm, injected by Playwright) must find no critical or serious violation
on any page: the read pages, each form empty and sent back with errors (and with the
questions Add batch and Place order ask, their boxes shown), a change's preview and
Cancel line's question, login, 403 and 404. By hand, what axe cannot judge: errors and
help are each field's description, focus goes to the first problem, a skip link leads
past the navigation, "+ Add a line" moves focus to the new line. At 390 px wide no page
scrolls sideways (a question naming a long SKU or order id wraps; a change's preview and
Cancel line's question included), the navigation folds behind "Menu", and every line of
an order keeps its Cancel line link on screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from allocation.bootstrap import bootstrap
from allocation.domain import commands
from tests.browser.support import (
    PASSWORD,
    PHONE,
    log_in,
    open_page,
    serious_violations,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

LONG_ORDER = "customer-order-2026-11-30-for-the-new-showroom-on-the-harbour-front"
"""An order id as long as real ones get: the phone layout must wrap it, not scroll."""

READ_PAGES = {
    "dashboard": "/",
    "stock": "/stock/",
    "SKU": "/stock/CHAIR/",
    "orders": "/orders/",
    "order": f"/orders/{LONG_ORDER}/",
    "order with a cancelled line": "/orders/o-2/",
    "404 unknown order": "/orders/nope/",
    "404 unknown page": "/no-such-page/",
}
FORMS = {
    "add batch": "/batches/new/",
    "change quantity": "/batches/change-quantity/",
    "cancel line": "/deallocate/",
    "place order": "/place-order/",
}
QUESTION = "/deallocate/?orderid=o-2&sku=CHAIR"
"""Cancel line's question, as an order page's link opens it."""


def previewed(page: Page, base: str) -> None:
    """The change-quantity form's preview: CHAIR-WH shrunk so that lines move and wait."""
    page.goto(base + "/batches/change-quantity/?ref=CHAIR-WH")
    page.get_by_label("New quantity").fill("2")
    page.get_by_role("button", name="Preview the change").click()
    expect(page.locator("tr.move").first).to_be_visible()


@pytest.fixture
def warehouse(transactional_db: None) -> None:
    """CHAIR in the warehouse and on a shipment, a little LAMP; an order with an
    allocated line and a waiting one, and an order served by the shipment with a
    cancelled line."""
    bus = bootstrap()
    for command in [
        commands.CreateBatch("CHAIR-WH", "CHAIR", 10, None),
        commands.CreateBatch("CHAIR-SHIP", "CHAIR", 10, date(2031, 5, 1)),
        commands.CreateBatch("LAMP-WH", "LAMP", 2, None),
        commands.Allocate(LONG_ORDER, "CHAIR", 5),
        commands.Allocate(LONG_ORDER, "LAMP", 4),
        commands.Allocate("o-2", "CHAIR", 8),
        commands.Allocate("o-2", "LAMP", 1),
        commands.Deallocate("o-2", "LAMP"),
    ]:
        bus.handle(command)


@pytest.fixture
def looker(transactional_db: None, django_user_model: Any, settings: Any) -> Any:
    """May log in and look, send no command: sees the 403 page."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return django_user_model.objects.create_user("lee", password=PASSWORD)


def submit(page: Page) -> None:
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()


def test_no_page_has_a_serious_accessibility_violation(
    live_server, warehouse, looker, browser, contexts
):
    base = live_server.url
    found: dict[str, list[str]] = {}
    page = open_page(contexts, browser)

    page.goto(base + "/accounts/login/")
    found["login"] = serious_violations(page)
    page.get_by_label("Username").fill("carla")
    page.get_by_label("Password").fill("wrong")
    submit(page)
    expect(page.locator(".form-errors")).to_be_visible()
    found["login with errors"] = serious_violations(page)

    log_in(page, base)
    for name, path in READ_PAGES.items():
        page.goto(base + path)
        if name == "SKU":
            page.get_by_text("The numbers, day by day").click()  # the chart's table too
        found[name] = serious_violations(page)
    for name, path in FORMS.items():
        page.goto(base + path)
        found[name] = serious_violations(page)
        if name == "place order":
            page.locator("#id_lines-0-sku").fill("NOPE")
            page.locator("#id_lines-1-sku").fill("CHAIR")
            page.locator("#id_lines-1-qty").fill("0")
        submit(page)
        expect(page.locator("[aria-invalid=true]").first).to_be_visible()
        found[f"{name} with errors"] = serious_violations(page)
    for name, question in asked_questions(page, base, "NEW-SKU"):
        expect(question).to_be_visible()
        found[name] = serious_violations(page)
    previewed(page, base)
    found["change quantity preview"] = serious_violations(page)
    page.goto(base + QUESTION)
    found["cancel line question"] = serious_violations(page)

    forbidden = open_page(contexts, browser)
    log_in(forbidden, base, "lee")
    response = forbidden.goto(base + "/batches/new/")
    assert response is not None
    assert response.status == 403
    found["403"] = serious_violations(forbidden)

    phone = open_page(contexts, browser, phone=True)
    log_in(phone, base)
    phone.get_by_role("button", name="Menu").click()
    found["dashboard on a phone, menu open"] = serious_violations(phone)

    assert {name: problems for name, problems in found.items() if problems} == {}
    assert len(found) == 24


def asked_questions(page: Page, base: str, new_sku: str) -> Iterator[tuple[str, Locator]]:
    """Add batch with a SKU nobody has seen, then Place order adding a line of it to an
    order that exists (with the unknown SKU's error): each page, and its question's box."""
    page.goto(base + FORMS["add batch"])
    page.get_by_label("Batch reference").fill("NEW-1")
    page.get_by_label("SKU", exact=True).fill(new_sku)
    page.get_by_label("Quantity").fill("1")
    submit(page)
    yield "add batch asking about a new SKU", page.get_by_label(f"Create new SKU {new_sku}")

    page.goto(base + FORMS["place order"])
    page.get_by_label("Order id").fill(LONG_ORDER)
    page.get_by_label("SKU of line 1").fill(new_sku)
    page.get_by_label("Quantity of line 1").fill("1")
    submit(page)
    box = page.get_by_label(f"Add these lines to order {LONG_ORDER}")
    yield "place order asking to add lines to an order", box


def test_errors_and_help_are_announced_and_focus_goes_to_the_first_problem(
    live_server, warehouse, browser, contexts
):
    base = live_server.url
    page = open_page(contexts, browser)
    page.goto(base + "/accounts/login/")
    page.get_by_label("Username").fill("carla")
    page.get_by_label("Password").fill("wrong")
    submit(page)
    expect(page.locator(".form-errors")).to_be_focused()

    log_in(page, base)
    page.goto(base + "/batches/new/")
    expect(page.get_by_label("ETA")).to_have_accessible_description(
        "Leave empty for stock already in the warehouse."
    )
    page.get_by_label("SKU").fill("CHAIR")
    page.get_by_label("Quantity").fill("0")
    submit(page)
    reference = page.get_by_label("Batch reference")
    expect(reference).to_be_focused()
    expect(reference).to_have_accessible_description("This field is required.")
    expect(page.get_by_label("Quantity")).to_have_accessible_description(
        "Must be greater than or equal to 1."
    )
    eta = page.get_by_label("ETA")
    expect(eta).to_have_accessible_description("Leave empty for stock already in the warehouse.")

    page.goto(base + "/place-order/")
    page.get_by_role("button", name="+ Add a line").click()
    new_line = page.locator("#id_lines-3-sku")
    expect(new_line).to_be_focused()
    expect(new_line).to_have_accessible_name("SKU of line 4")
    expect(page.locator("#id_lines-3-qty")).to_have_accessible_name("Quantity of line 4")
    page.get_by_label("Order id").fill("o-3")
    page.get_by_label("SKU of line 1").fill("CHAIR")
    page.get_by_label("Quantity of line 1").fill("1")
    new_line.fill("NOPE")
    page.get_by_label("Quantity of line 4").fill("1")
    submit(page)
    bad = page.get_by_label("SKU of line 4")
    expect(bad).to_be_focused()
    expect(bad).to_have_accessible_description("Invalid sku NOPE")


def test_a_skip_link_leads_past_the_navigation(live_server, warehouse, browser, contexts):
    base = live_server.url
    page = open_page(contexts, browser)
    log_in(page, base)
    page.goto(base + "/stock/CHAIR/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator("main").get_by_role("link", name="Stock")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Add a batch")).to_be_focused()


def test_every_page_fits_a_phone(live_server, warehouse, browser, contexts):
    base = live_server.url
    page = open_page(contexts, browser, phone=True)
    page.goto(base + "/accounts/login/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    log_in(page, base)

    menu = page.get_by_role("button", name="Menu")
    stock_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Stock")
    expect(stock_link).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(stock_link).to_be_visible()
    menu.click()
    expect(stock_link).to_be_hidden()

    for name, path in {**READ_PAGES, **FORMS}.items():
        page.goto(base + path)
        if path in FORMS.values():
            submit(page)  # sent back with errors: the widest a form gets
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name} is {width} px wide"
    for name, question in asked_questions(page, base, "NEW-SKU-" + "X" * 60):
        expect(question).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name} is {width} px wide"
    previewed(page, base)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the change preview is {width} px wide"
    page.goto(base + QUESTION)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"cancel line's question is {width} px wide"

    page.goto(base + READ_PAGES["order"])
    cancels = page.locator("table.lines").get_by_role("link", name="Cancel line")
    expect(cancels).to_have_count(2)
    for n in range(2):
        cancels.nth(n).scroll_into_view_if_needed()
        box = cancels.nth(n).bounding_box()
        assert box is not None
        assert 0 <= box["x"] <= box["x"] + box["width"] <= PHONE["width"]
