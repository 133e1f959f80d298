"""Open pages follow what another session does, without reloading, in Chromium.

Four pages stay open in browser contexts of their own (the dashboard, the stock list, a
SKU's page, an order's page) while a second user, in another context, changes a batch's
quantity through the form. Within a few refreshes each page shows the change, and a
marker the test left on each page's ``window`` is still there: the numbers were swapped
in, the page was not reloaded. Before the change, a refresh costs a 304 and no repaint.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from allocation.bootstrap import bootstrap
from allocation.domain import commands
from tests.browser.support import log_in, open_page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

WITHIN = 15_000
"""How long a page may take to show a change: three refreshes (app.js asks every 5 s)."""

MARKER = "window.liveMarker"


@pytest.fixture
def stock(transactional_db: None) -> None:
    """CHAIR: 10 in the warehouse, o-1 takes 8, o-2 waits for 5."""
    bus = bootstrap()
    for command in [
        commands.CreateBatch("CHAIR-WH", "CHAIR", 10, None),
        commands.Allocate("o-1", "CHAIR", 8),
        commands.Allocate("o-2", "CHAIR", 5),
    ]:
        bus.handle(command)


def logged_in_page(browser: Browser, contexts: list[BrowserContext], base: str) -> Page:
    """Under the site's CSP (not bypassed), so that a refused script would show."""
    page = open_page(contexts, browser, bypass_csp=False)
    log_in(page, base)
    return page


def watch(page: Page, url: str, refused: list[str]) -> Page:
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.goto(url)
    expect(page.locator("[data-live-note]")).to_be_visible()
    page.evaluate(f"{MARKER} = 'not reloaded'")
    return page


def test_open_pages_follow_a_change_made_in_another_session(
    live_server: Any, stock: None, controller: Any, browser: Browser, contexts: list
) -> None:
    base = live_server.url
    refused: list[str] = []
    pages = {
        name: watch(logged_in_page(browser, contexts, base), base + path, refused)
        for name, path in {
            "dashboard": "/",
            "stock": "/stock/",
            "sku": "/stock/CHAIR/",
            "order": "/orders/o-2/",
        }.items()
    }
    sku, order = pages["sku"], pages["order"]
    available = sku.locator(".stat", has_text="available").locator(".stat-value")
    expect(available).to_have_text("2")
    waiting_line = order.locator("tr.line", has_text="CHAIR")
    expect(waiting_line).to_contain_text("place 1 in the queue, waiting")

    # Nothing changed yet: the page asks, the server says 304, nothing is replaced.
    with sku.expect_response(lambda r: "fragment=sku" in r.url, timeout=WITHIN) as asked:
        pass
    assert asked.value.status == 304

    other = logged_in_page(browser, contexts, base)
    other.goto(base + "/batches/change-quantity/?ref=CHAIR-WH")
    other.get_by_label("New quantity").fill("20")
    other.get_by_role("button", name="Preview the change").click()
    other.get_by_role("button", name="Confirm change").click()
    expect(other).to_have_url(base + "/stock/CHAIR/")

    expect(available).to_have_text("7", timeout=WITHIN)
    expect(waiting_line.locator(".batchref")).to_have_text("CHAIR-WH", timeout=WITHIN)
    stock_row = pages["stock"].locator("table.stock tr", has_text="CHAIR")
    expect(stock_row.locator("td").nth(4)).to_have_text("7", timeout=WITHIN)
    waiting_card = pages["dashboard"].locator("a.card.status-waiting .stat-value")
    expect(waiting_card).to_have_text("0", timeout=WITHIN)

    for name, page in pages.items():
        assert page.evaluate(MARKER) == "not reloaded", f"the {name} page was reloaded"
        expect(page.locator("[data-live-age]")).to_contain_text("Updated")
    assert refused == []


def test_a_page_stops_refreshing_once_logged_out_and_says_so(
    live_server: Any, stock: None, controller: Any, browser: Browser, contexts: list
) -> None:
    base = live_server.url
    page = logged_in_page(browser, contexts, base)
    page.goto(base + "/stock/CHAIR/")
    page.evaluate(f"{MARKER} = 'not reloaded'")
    page.context.clear_cookies()
    expect(page.locator("[data-live-age]")).to_have_text(
        "Not updating any more: reload the page.", timeout=WITHIN
    )
    assert page.evaluate(MARKER) == "not reloaded"
    expect(page.get_by_role("heading", name="CHAIR")).to_be_visible()  # no login page swapped in
