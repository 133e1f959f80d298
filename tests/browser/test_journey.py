"""A stock controller's day in a real browser: Debian's Chromium through Playwright.

Against pytest-django's live server, with the event pipeline running in-process: log
in, add two batches (the first, of a new SKU, asks before creating it), place an order,
see it allocated, shrink its batch (a preview first, then the confirmation) so the line
moves, see the new batch and the order's history, then cancel the line (asked first) and
see it struck through. Each page is saved as a screenshot under
``test-artifacts/screenshots/`` for a human to look at.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import log_in

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
    log_in(page)
    expect(page.get_by_role("heading", name="Orders")).to_be_visible()

    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    shot("02-dashboard-empty")

    # A bad batch is refused next to the field, along with the question a new SKU asks;
    # corrected and confirmed, it is added, then a second one for the same SKU.
    page.get_by_role("link", name="Add batch").click()
    page.get_by_label("Batch reference").fill("CHAIR-WH")
    page.get_by_label("SKU").fill("CHAIR")
    page.get_by_label("Quantity").fill("0")
    page.get_by_role("button", name="Add a batch").click()
    expect(page.locator("#id_qty_error")).to_contain_text("greater than or equal to 1")
    expect(page.locator("#id_sku_error")).to_contain_text("SKU CHAIR is new")
    shot("03-add-batch-error")

    page.get_by_label("Quantity").fill("10")
    page.get_by_label("Create new SKU CHAIR").check()
    page.get_by_role("button", name="Add a batch").click()
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
    expect(page.locator(".current")).to_contain_text("holds 10 units now, 5 of them allocated")
    page.get_by_label("New quantity").fill("2")
    shot("07-change-quantity")
    page.get_by_role("button", name="Preview the change").click()
    preview = page.locator("#preview")
    expect(preview).to_be_focused()
    expect(preview.get_by_role("heading")).to_have_text("Batch CHAIR-WH: 10 → 2 units")
    move = preview.locator('tr.move[data-order="order-1"]')
    expect(move).to_contain_text("CHAIR-WH (warehouse)")
    expect(move).to_contain_text("CHAIR-SHIP (ETA May 1, 2031)")
    expect(move).to_contain_text("now → May 1, 2031")
    shot("07b-change-preview")
    page.get_by_role("button", name="Confirm change").click()
    expect(page).to_have_url(base + "/stock/CHAIR/")
    expect(page.locator(".message.success")).to_have_text(
        "Batch CHAIR-WH now holds 2 units. 1 line moved: order-1 → CHAIR-SHIP (ETA May 1, 2031)."
    )
    expect(page.locator("#batch-chair-ship .served")).to_contain_text("order-1")
    expect(page.locator("#batch-chair-wh .served")).to_contain_text("none")
    shot("08-sku-after-change")

    page.locator("#batch-chair-ship").get_by_role("link", name="order-1").click()
    expect(line.locator(".batchref")).to_have_text("CHAIR-SHIP")
    expect(line).to_contain_text("May 1, 2031")
    timeline = page.locator(".timeline li .event-text")
    expect(timeline).to_have_text(
        [
            "5 x CHAIR allocated to batch CHAIR-WH · by carla",
            "5 x CHAIR taken off batch CHAIR-WH · by carla",
            "5 x CHAIR allocated to batch CHAIR-SHIP · by carla",
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
    # Cancel the line from its order's page: a question first, then the line stays, struck.
    page.get_by_role("link", name="Orders").first.click()
    page.get_by_role("link", name="order-1").click()
    page.get_by_role("link", name="Cancel line CHAIR").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Cancel the 5 x CHAIR line of order order-1?"
    )
    shot("13-cancel-line")
    page.get_by_role("link", name="Keep the line").click()
    expect(line.locator(".batchref")).to_have_text("CHAIR-SHIP")  # nothing was cancelled
    page.get_by_role("link", name="Cancel line CHAIR").click()
    page.locator("main").get_by_role("button", name="Cancel line").click()
    expect(page).to_have_url(base + "/orders/order-1/")
    expect(page.locator(".message.success")).to_have_text(
        "The 5 x CHAIR line of order order-1 was cancelled."
    )
    cancelled = page.locator('tr.line.cancelled[data-sku="CHAIR"]')
    expect(cancelled.locator("del")).to_have_text(["CHAIR", "5"])
    expect(cancelled.locator(".batchref")).to_contain_text("cancelled")
    shot("13b-line-cancelled")
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


def downloaded(page: Page, link_name: str) -> list[list[str]]:
    """Click a download link; the CSV rows the browser saved."""
    with page.expect_download() as download:
        page.get_by_role("link", name=link_name).click()
    return list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))


def test_stock_goes_out_and_batches_come_in_as_csv(live_server, page, shot, controller, refused):
    """Import batches (a bad file first), see the progress, then export the stock."""
    base = live_server.url
    page.goto(base + "/batches/import/")
    log_in(page)
    expect(page.get_by_role("heading", name="Import batches")).to_be_visible()

    bad = "ref,sku,qty,eta\nDESK-1,DESK,3,\nDESK-1,DESK,0,31/12/2031\n"
    page.get_by_label("CSV file").set_input_files(
        {"name": "bad.csv", "mimeType": "text/csv", "buffer": bad.encode()}
    )
    page.get_by_role("button", name="Check the file").click()
    expect(page.locator("#preview")).to_contain_text("1 of 2 rows cannot be imported")
    expect(page.locator("tr.row-error")).to_contain_text("ETA: Enter a date as YYYY-MM-DD.")
    expect(page.get_by_role("button", name=re.compile("^Import"))).to_have_count(0)
    shot("20-import-errors")

    rows = 450  # three of the script's slices
    good = "ref,sku,qty,eta\n" + "".join(
        f"LAMP-{n:03},{'LAMP' if n % 2 else 'DESK'},{n % 7 + 1},{'2031-06-01' if n % 3 else ''}\n"
        for n in range(rows)
    )
    page.get_by_label("CSV file").set_input_files(
        {"name": "good.csv", "mimeType": "text/csv", "buffer": good.encode()}
    )
    page.get_by_role("button", name="Check the file").click()
    expect(page.locator("#preview")).to_contain_text(f"Ready to import {rows} batches")
    expect(page.locator("#preview")).to_contain_text("New SKUs, created by this import: DESK LAMP")
    shot("21-import-preview")
    page.get_by_role("button", name=f"Import {rows} batches").click()
    expect(page.locator("#import-bar")).to_be_visible()
    expect(page.locator("#import-status")).to_contain_text(
        f"{rows} batches imported.", timeout=60_000
    )
    expect(page.locator("#import-bar")).to_have_attribute("value", str(rows))
    shot("22-import-done")

    page.get_by_role("link", name="See the stock").click()
    exported = downloaded(page, "Download CSV")
    assert exported[0][:2] == ["sku", "purchased"]
    purchased = {row[0]: int(row[1]) for row in exported[1:]}
    expected = {"DESK": 0, "LAMP": 0}
    for n in range(rows):
        expected["LAMP" if n % 2 else "DESK"] += n % 7 + 1
    assert purchased == expected

    page.get_by_label("Show").select_option("with waiting demand")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.stock")).to_contain_text("No SKU matches these filters")
    assert downloaded(page, "Download CSV") == [exported[0]]  # the export keeps the filter
    page.get_by_role("link", name="Orders").first.click()
    assert downloaded(page, "Download CSV")[1:] == []
    shot("23-stock-filtered")
    assert not refused
