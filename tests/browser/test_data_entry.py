"""Data entry in Chromium at desktop width: SKU boxes suggest the known SKUs, the
questions before a new SKU and before adding lines to an existing order (the admin's
add batch form too), and Place order's problems all shown at once, each on its line,
focus on the first.

Sixty SKUs, more than a page lists (``orders_read.selectors.stock.SUGGESTIONS``), so
the script's narrowing of the list as one types is exercised too.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from allocation.bootstrap import bootstrap
from allocation.domain import commands
from orders_read.selectors.stock import SUGGESTIONS
from tests.browser.support import DESKTOP, log_in, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

MANY = 60


@pytest.fixture
def catalogue(transactional_db: None) -> None:
    """CHAIR and LAMP in the warehouse, SKU-00 to SKU-59, and order o-1 (2 x CHAIR)."""
    bus = bootstrap()
    bus.handle(commands.CreateBatch("CHAIR-WH", "CHAIR", 10, None))
    bus.handle(commands.CreateBatch("LAMP-WH", "LAMP", 10, None))
    for n in range(MANY):
        bus.handle(commands.CreateBatch(f"B-{n:02}", f"SKU-{n:02}", 1, None))
    bus.handle(commands.Allocate("o-1", "CHAIR", 2))


def suggested(page: Page) -> list[str]:
    return page.locator("#known-skus option").evaluate_all("options => options.map(o => o.value)")


def test_a_typo_in_a_sku_is_caught_and_a_new_sku_is_confirmed(
    live_server, catalogue, page, controller, refused
):
    base = live_server.url
    page.goto(base + "/batches/new/")
    log_in(page)
    assert len(suggested(page)) == SUGGESTIONS  # the first ones; the script asks for the rest
    sku = page.get_by_label("SKU", exact=True)
    sku.fill("lam")
    expect(page.locator("#known-skus option")).to_have_count(1)
    assert suggested(page) == ["LAMP"]
    sku.fill("")
    expect(page.locator("#known-skus option")).to_have_count(SUGGESTIONS)

    page.get_by_label("Batch reference").fill("CHAIR-2")
    sku.fill("CHIAR")
    page.get_by_label("Quantity").fill("5")
    page.get_by_role("button", name="Add a batch").click()
    question = (
        "SKU CHIAR is new: check the spelling (did you mean CHAIR?), or tick"
        " 'Create new SKU CHIAR' below."
    )
    expect(sku).to_be_focused()
    expect(sku).to_have_accessible_description(question)
    create = page.get_by_role("checkbox", name="Create new SKU CHIAR")
    expect(create).not_to_be_checked()
    expect(create).to_have_accessible_description(question)

    sku.fill("CHAIR")  # the spelling corrected: a known SKU asks nothing
    page.get_by_role("button", name="Add a batch").click()
    expect(page).to_have_url(base + "/stock/CHAIR/")
    expect(page.locator(".message.success")).to_have_text("Batch CHAIR-2 added: 5 x CHAIR.")

    page.goto(base + "/batches/new/")
    page.get_by_label("Batch reference").fill("DESK-1")
    page.get_by_label("SKU", exact=True).fill("DESK")
    page.get_by_label("Quantity").fill("3")
    page.get_by_role("button", name="Add a batch").click()
    expect(page.locator("#id_sku_error")).to_have_text(
        "SKU DESK is new: check the spelling, or tick 'Create new SKU DESK' below."
    )
    page.get_by_role("checkbox", name="Create new SKU DESK").check()
    page.get_by_role("button", name="Add a batch").click()
    expect(page).to_have_url(base + "/stock/DESK/")
    assert not refused


def test_place_order_shows_every_problem_at_once_then_asks_before_adding_to_an_order(
    live_server, catalogue, page, controller, refused
):
    base = live_server.url
    page.goto(base + "/place-order/")
    log_in(page)
    page.get_by_label("Order id").fill("o-1")
    for n, (sku, qty) in enumerate([("LAMP", "0"), ("chair", "1"), ("LAMP", "1")], start=1):
        page.get_by_label(f"SKU of line {n}").fill(sku)
        page.get_by_label(f"Quantity of line {n}").fill(qty)
    page.get_by_role("button", name="Place an order").click()

    first = page.get_by_label("Order id")
    expect(first).to_be_focused()
    expect(first).to_have_accessible_description(
        "Order o-1 already exists (1 line): add these lines to it?"
        " Tick 'Add these lines to order o-1' below."
    )
    expect(page.get_by_label("Quantity of line 1")).to_have_accessible_description(
        "Must be greater than or equal to 1."
    )
    expect(page.get_by_label("SKU of line 2")).to_have_accessible_description(
        "Invalid sku chair: did you mean CHAIR?"
    )
    expect(page.get_by_label("SKU of line 3")).to_have_accessible_description(
        "LAMP is on line 1 already: one line per SKU."
    )
    expect(page.locator("#lines tr.line-form")).to_have_class(
        [re.compile("has-error"), re.compile("has-error"), re.compile("has-error")]
    )

    page.get_by_label("Quantity of line 1").fill("1")
    page.get_by_label("SKU of line 2").fill("CHAIR")
    page.get_by_label("Quantity of line 2").fill("2")  # the line o-1 has, sent again
    page.get_by_label("SKU of line 3").fill("")
    page.get_by_label("Quantity of line 3").fill("")
    page.get_by_role("checkbox", name="Add these lines to order o-1").check()
    page.get_by_role("button", name="Place an order").click()
    expect(page).to_have_url(base + "/orders/o-1/")
    expect(page.locator(".message.success")).to_have_text("Added to order o-1: LAMP → LAMP-WH.")
    expect(page.locator("tr.line")).to_have_count(2)
    assert not refused


def test_the_admins_add_batch_form_suggests_and_asks_as_the_page_does(
    live_server, catalogue, controller, browser: Browser
):
    """The same list narrowed by the same script, the same question, and no serious
    axe-core violation while the admin asks it."""
    base = live_server.url
    # CSP bypassed so that axe-core can be injected (the admin's CSP: test_journey).
    with browser.new_context(viewport=DESKTOP, bypass_csp=True) as context:
        page = context.new_page()
        page.goto(base + "/admin/allocation/batchrecord/add/")
        log_in(page)
        expect(page.locator("#known-skus option")).to_have_count(SUGGESTIONS)
        sku = page.get_by_role("combobox", name="SKU")
        sku.fill("lam")
        expect(page.locator("#known-skus option")).to_have_count(1)

        page.get_by_label("Reference").fill("CHAIR-2")
        sku.fill("CHIAR")
        page.get_by_label("Purchased quantity").fill("5")
        page.get_by_role("button", name="Save", exact=True).click()
        question = (
            "SKU CHIAR is new: check the spelling (did you mean CHAIR?), or tick"
            " 'Create new SKU CHIAR' below."
        )
        expect(sku).to_have_accessible_description(question)
        create = page.get_by_role("checkbox", name="Create new SKU CHIAR")
        expect(create).not_to_be_checked()
        expect(create).to_have_accessible_description(question)
        assert serious_violations(page) == []

        create.check()
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page).to_have_url(base + "/admin/allocation/batchrecord/")
        expect(page.locator(".messagelist")).to_contain_text("CHAIR-2")
