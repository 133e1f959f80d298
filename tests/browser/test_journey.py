"""A stock controller's day in a real browser: Debian's Chromium through Playwright.

Against pytest-django's live server, with the event pipeline running in-process: log
in, add two batches, place an order, see it allocated, shrink its batch so the line
moves, and see the new batch and the order's history. Each page is saved as a
screenshot under ``test-artifacts/screenshots/`` for a human to look at.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import PASSWORD

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


@pytest.fixture
def shot(page: Page) -> Callable[[str], None]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> None:
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    return take


def add_batch(page: Page, ref: str, qty: int, eta: str = "") -> None:
    page.get_by_role("link", name="Add batch").click()
    page.get_by_label("Batch reference").fill(ref)
    page.get_by_label("SKU").fill("CHAIR")
    page.get_by_label("Quantity").fill(str(qty))
    if eta:
        page.get_by_label("ETA").fill(eta)
    page.get_by_role("button", name="Add a batch").click()


def test_an_order_moves_to_the_shipment_when_its_batch_shrinks(
    live_server, page, shot, controller, refused
):
    base = live_server.url

    page.goto(base + "/orders/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/orders/$"))
    shot("01-login")
    page.get_by_label("Username").fill("carla")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Orders")).to_be_visible()

    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    shot("02-dashboard-empty")

    # A bad batch is refused next to the field, then two good ones are added.
    page.get_by_role("link", name="Add batch").click()
    page.get_by_label("Batch reference").fill("CHAIR-WH")
    page.get_by_label("SKU").fill("CHAIR")
    page.get_by_label("Quantity").fill("0")
    page.get_by_role("button", name="Add a batch").click()
    expect(page.locator("#id_qty_error")).to_contain_text("greater than or equal to 1")
    shot("03-add-batch-error")

    add_batch(page, "CHAIR-WH", 10)
    expect(page).to_have_url(base + "/stock/CHAIR/")
    expect(page.locator(".message.success")).to_contain_text("Batch CHAIR-WH added")
    add_batch(page, "CHAIR-SHIP", 10, eta="2031-05-01")
    expect(page.locator("#batch-chair-ship")).to_contain_text("ETA May 1, 2031")
    shot("04-sku-two-batches")

    # Place an order: it takes warehouse stock first.
    page.get_by_role("link", name="Place order").click()
    page.get_by_label("Order id").fill("order-1")
    page.get_by_role("button", name="+ Add a line").click()  # the script adds a 4th row
    expect(page.locator("tr.line-form")).to_have_count(4)
    page.locator("#id_lines-0-sku").fill("CHAIR")
    page.locator("#id_lines-0-qty").fill("5")
    shot("05-place-order")
    page.get_by_role("button", name="Place an order").click()
    expect(page).to_have_url(base + "/orders/order-1/")
    line = page.locator('tr.line[data-sku="CHAIR"]')
    expect(line.locator(".batchref")).to_have_text("CHAIR-WH")
    expect(line).to_contain_text("now (warehouse)")
    shot("06-order-allocated")

    # Shrink the warehouse batch from the SKU page: the line moves to the shipment.
    page.get_by_role("link", name="CHAIR").first.click()
    page.locator("#batch-chair-wh").get_by_role("link", name="Change quantity").click()
    expect(page.get_by_label("Batch reference")).to_have_value("CHAIR-WH")
    page.get_by_label("New quantity").fill("2")
    shot("07-change-quantity")
    page.get_by_role("button", name="Change a batch's quantity").click()
    expect(page).to_have_url(base + "/stock/CHAIR/")
    expect(page.locator("#batch-chair-ship .served")).to_contain_text("order-1")
    expect(page.locator("#batch-chair-wh .served")).to_contain_text("none")
    shot("08-sku-after-change")

    page.locator("#batch-chair-ship").get_by_role("link", name="order-1").click()
    expect(line.locator(".batchref")).to_have_text("CHAIR-SHIP")
    expect(line).to_contain_text("May 1, 2031")
    timeline = page.locator(".timeline li .event-text")
    expect(timeline).to_have_text(
        [
            "5 x CHAIR allocated to batch CHAIR-WH",
            "5 x CHAIR taken off batch CHAIR-WH",
            "5 x CHAIR allocated to batch CHAIR-SHIP",
        ]
    )
    shot("09-order-moved")

    page.get_by_role("link", name="Orders").first.click()
    expect(page.locator("table.orders")).to_contain_text("order-1")
    shot("10-orders")
    page.get_by_role("link", name="Stock", exact=True).click()
    expect(page.locator("table.stock .bar")).to_have_count(1)
    shot("11-stock")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator(".events")).to_contain_text("CHAIR")
    shot("12-dashboard")
    page.get_by_role("link", name="Cancel line").click()
    shot("13-cancel-line")
    page.goto(base + "/orders/no-such-order/")
    expect(page.get_by_role("heading", name="404 · Not found")).to_be_visible()
    shot("14-not-found")

    page.goto(base + "/admin/allocation/batchrecord/")
    expect(page.locator("#result_list")).to_contain_text("CHAIR-SHIP")
    shot("15-admin-batches")
    page.goto(base + "/admin/orders_read/eventlog/")
    expect(page.locator("#result_list")).to_contain_text("BatchQuantityChanged")
    shot("16-admin-event-log")
    page.goto(base + "/api/docs")
    expect(page.locator(".swagger-ui")).to_contain_text("/api/allocate")
    shot("17-api-docs")
    assert not refused  # the pages, the admin and the API docs keep to the CSP

    page.goto(base + "/")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
