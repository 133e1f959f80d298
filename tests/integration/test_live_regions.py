"""Live regions: each live page answers ``?fragment=<name>`` with its region alone, a 304
while it has not changed, under the page's own login, headers and read-your-writes."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from allocation.domain import commands

pytestmark = pytest.mark.django_db

LIVE_PAGES = {
    "dashboard": "/",
    "stock": "/stock/",
    "sku": "/stock/LAMP/",
    "order": "/orders/o1/",
}


@pytest.fixture
def shop(bus, committed) -> None:
    committed(bus.handle, commands.CreateBatch("b1", "LAMP", 10))
    committed(bus.handle, commands.Allocate("o1", "LAMP", 4))
    committed(bus.handle, commands.Allocate("o2", "LAMP", 20))  # waits


def region_of(page_html: str) -> tuple[str, str]:
    """The live region's name and ETag as the page renders them."""
    found = re.search(r'data-live="([^"]+)" data-live-etag="([^"]+)"', page_html)
    assert found, "no live region on the page"
    return found[1], found[2].replace("&quot;", '"')


@pytest.mark.parametrize(("name", "path"), LIVE_PAGES.items())
def test_a_live_page_answers_its_region_alone_then_304_while_unchanged(
    client, operator, shop, name, path
):
    found, etag = region_of(client.get(path).content.decode())
    assert found == name

    fragment = client.get(path, {"fragment": name})
    assert fragment.status_code == 200
    assert fragment["X-Live-Region"] == name
    assert fragment["ETag"] == etag  # the page's region, rendered again: the same
    html = fragment.content.decode()
    assert "<html" not in html
    assert "<main" not in html
    assert "fragment=" not in html  # its links (sorting, pages) lead to pages
    assert "csrfmiddlewaretoken" not in html  # no form: its fresh token would change the ETag
    assert {"private", "no-cache", "no-store"} <= {
        part.strip() for part in fragment["Cache-Control"].split(",")
    }
    assert "default-src 'none'" in fragment["Content-Security-Policy"]

    unchanged = client.get(path, {"fragment": name}, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""


@pytest.mark.parametrize(("name", "path"), LIVE_PAGES.items())
def test_a_change_made_elsewhere_changes_the_region(
    client, operator, shop, bus, committed, name, path
):
    _, etag = region_of(client.get(path).content.decode())
    committed(bus.handle, commands.Deallocate("o1", "LAMP"))
    changed = client.get(path, {"fragment": name}, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_a_line_cancelled_elsewhere_stays_struck_through_in_the_order_region(
    client, operator, shop, bus, committed
):
    """The region holds the order's cancelled lines (read from its history) as its page
    does; the waiting line behind it moves up the queue."""
    committed(bus.handle, commands.Allocate("o3", "LAMP", 7))  # waits behind o2
    assert "place 2 in the queue" in client.get("/orders/o3/", {"fragment": "order"}).text
    committed(bus.handle, commands.Deallocate("o2", "LAMP"))

    region = client.get("/orders/o2/", {"fragment": "order"}).text
    assert '<tr class="line cancelled" data-sku="LAMP">' in region
    assert "<del>20</del>" in region
    assert "badge-waiting" not in region  # the line no longer waits (its history says it did)
    assert "every line of this order was cancelled" in region
    assert "place 1 in the queue" in client.get("/orders/o3/", {"fragment": "order"}).text


def test_the_order_region_reads_its_writes_as_its_page_does(client, operator, shop, bus, settings):
    """A change written but not applied yet is waited for (bounded), then the region
    answers what is there and says it is stale."""
    settings.READ_YOUR_WRITES_TIMEOUT = 0.05
    fresh = client.get("/orders/o2/", {"fragment": "order"})
    assert fresh["X-Read-Model-Stale"] == "false"
    assert "place 1 in the queue, waiting" in fresh.content.decode()
    bus.handle(commands.Deallocate("o2", "LAMP"))  # written; its projection never runs here
    stale = client.get("/orders/o2/", {"fragment": "order"})
    assert stale.status_code == 200
    assert stale["X-Read-Model-Stale"] == "true"
    assert "waiting for stock" in stale.content.decode()


def test_fragments_need_the_pages_login(shop):
    response = Client().get("/stock/", {"fragment": "stock"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_region_the_page_does_not_have_is_a_400(client, viewer, shop):
    response = client.get("/stock/", {"fragment": "dashboard"})
    assert response.status_code == 400
    assert "no live region named 'dashboard'" in response.content.decode()


def test_a_page_shows_how_fresh_its_numbers_are_only_with_its_script(client, viewer, shop):
    html = client.get("/").content.decode()
    assert re.search(r'<p class="live-note" data-live-note hidden>', html)
    assert 'role="status" data-live-announce' in html
    assert "data-live-note" not in client.get("/orders/").content.decode()  # not live
