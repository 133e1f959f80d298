"""The read-model pages: what each shows, its filters and pagination, and its cost.

The large data set is bulk-created straight into the read model (test setup only):
1,000 orders over 60 SKUs, a quarter of them on one SKU so that its page has far more
orders per batch than it lists.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from django.views.defaults import server_error

from allocation.adapters import outbox
from allocation.bootstrap import bootstrap
from allocation.domain import commands
from allocation.domain.events import Event
from orders_read.models import BatchView, EventLog, OrderLineView, OrderView, SkuStock
from orders_read.rules import LineStatus, OrderStatus

pytestmark = pytest.mark.django_db

N_ORDERS = 1000
N_SKUS = 60
MAX_QUERIES = 50
TODAY = date(2030, 1, 1)


def sku_name(n: int) -> str:
    return f"SKU-{n:03}"


def created_at(n: int) -> datetime:
    """Order n is created n hours after the first, so order-0999 is the newest."""
    return timezone.make_aware(datetime(2029, 11, 1)) + timedelta(hours=n)


def build_read_model() -> None:
    """Every 7th order waits; every 10th has a second line, on the next SKU."""
    skus = [sku_name(n) for n in range(N_SKUS)]
    versions = dict.fromkeys(skus, 0)
    batches, lines, orders, log = [], [], [], []
    for sku in skus:
        for ref, eta, qty in [(f"{sku}-WH", None, 50), (f"{sku}-SHIP", TODAY, 100)]:
            batches.append(BatchView(reference=ref, sku=sku, eta=eta, purchased=qty, allocated=0))
            versions[sku] += 1
            log.append(
                EventLog(
                    sku=sku,
                    version=versions[sku],
                    name="BatchCreated",
                    batchref=ref,
                    payload={"ref": ref, "qty": qty, "eta": eta and eta.isoformat()},
                )
            )
    for n in range(N_ORDERS):
        orderid = f"order-{n:04}"
        waiting = n % 7 == 0
        order_skus = [sku_name(0) if n % 4 == 0 else sku_name(n % N_SKUS)]
        if n % 10 == 1:
            order_skus.append(sku_name((n + 1) % N_SKUS))
        for sku in order_skus:
            batchref = None if waiting else f"{sku}-{'WH' if n % 3 else 'SHIP'}"
            status = LineStatus.WAITING if waiting else LineStatus.ALLOCATED
            versions[sku] += 1
            arrival = versions[sku]
            lines.append(
                OrderLineView(
                    orderid=orderid,
                    sku=sku,
                    qty=1,
                    status=status,
                    batchref=batchref,
                    arrival=arrival if waiting else None,
                )
            )
            payload = {
                "sku": sku,
                "orderid": orderid,
                "qty": 1,
                "batchref": batchref,
                "arrival": arrival,
            }
            name = "OutOfStock" if waiting else "Allocated"
            log.append(
                EventLog(
                    sku=sku,
                    version=versions[sku],
                    name=name,
                    orderid=orderid,
                    batchref=batchref,
                    payload=payload,
                )
            )
        orders.append(
            OrderView(
                orderid=orderid,
                status=OrderStatus.WAITING if waiting else OrderStatus.ALLOCATED,
                line_count=len(order_skus),
                allocated_lines=0 if waiting else len(order_skus),
                waiting_lines=len(order_skus) if waiting else 0,
                expected_ship_date=None if waiting or n % 3 else TODAY,
                created_at=created_at(n),
            )
        )
    stock = []
    for n, sku in enumerate(skus):
        mine = [line for line in lines if line.sku == sku]
        allocated = sum(line.qty for line in mine if line.status == LineStatus.ALLOCATED)
        waiting_qty = sum(line.qty for line in mine if line.status == LineStatus.WAITING)
        available = {1: 0, 2: 5}.get(n, 150)  # SKU-001 is out of stock, SKU-002 low
        stock.append(
            SkuStock(
                sku=sku,
                purchased=allocated + available,
                allocated=allocated,
                available=available,
                waiting=waiting_qty,
                next_eta=TODAY,
                batch_count=2,
            )
        )
    BatchView.objects.bulk_create(batches)
    OrderLineView.objects.bulk_create(lines)
    OrderView.objects.bulk_create(orders)
    SkuStock.objects.bulk_create(stock)
    EventLog.objects.bulk_create(log)


@pytest.fixture
def big_read_model() -> None:
    build_read_model()


PAGES = [
    "/",
    "/stock/",
    "/stock/?page=2",
    "/stock/?q=SKU-05",
    f"/stock/{sku_name(0)}/",
    "/orders/",
    "/orders/?page=20",
    "/orders/?status=waiting",
    "/orders/?q=order-01&status=allocated",
    "/orders/?sort=status&created_from=2029-11-05&created_to=2029-11-20",
    "/orders/?sort=-created&sku=SKU-000&page=3",
    "/stock/?show=short&sort=-waiting",
    "/stock/?show=out&sort=next_eta",
    "/batches/import/",
    f"/orders/?sku={sku_name(0)}",
    f"/orders/?batch={sku_name(0)}-WH",
    "/orders/order-0001/",
    "/orders/order-0000/",
    "/batches/new/",
    "/batches/change-quantity/?ref=SKU-000-WH",
    "/place-order/",
    "/deallocate/?orderid=order-0001&sku=SKU-001",
    "/?fragment=dashboard",
    "/stock/?show=short&sort=-waiting&fragment=stock",
    f"/stock/{sku_name(0)}/?fragment=sku",
    "/orders/order-0000/?fragment=order",
]


def test_every_page_stays_under_the_query_budget_with_1000_orders(
    client, operator, big_read_model, django_assert_max_num_queries
):
    for url in PAGES:
        with django_assert_max_num_queries(MAX_QUERIES, info=url):
            response = client.get(url)
        assert response.status_code == 200, url


@pytest.mark.parametrize(
    "url", ["/", "/stock/", "/stock/SKU-000/", "/orders/", "/orders/order-0001/"]
)
def test_anonymous_users_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


def test_dashboard_counts_orders_and_flags_short_skus(client, viewer, big_read_model):
    response = client.get("/")
    board = response.context["dashboard"]
    counts = {c.status: c.count for c in board.order_counts}
    waiting = len(range(0, N_ORDERS, 7))
    assert counts == {"allocated": N_ORDERS - waiting, "partly_allocated": 0, "waiting": waiting}
    assert board.order_total == N_ORDERS
    assert (board.out_of_stock, board.low_stock) == (1, 1)
    by_demand = SkuStock.objects.filter(waiting__gt=0).order_by("-waiting", "available", "sku")
    assert [s.sku for s in board.short_skus] == [s.sku for s in by_demand[:10]]
    assert board.short_skus[0].sku == sku_name(0)  # the most waiting demand, though in stock
    assert board.short_total == SkuStock.objects.filter(available__lt=10).count() + (
        SkuStock.objects.filter(available__gte=10, waiting__gt=0).count()
    )
    assert board.backordered == SkuStock.objects.filter(waiting__gt=0).count()
    assert len(board.recent_events) == 12
    html = response.content.decode()
    assert 'href="/orders/?status=waiting"' in html
    assert f'href="/stock/{sku_name(0)}/"' in html
    assert f"See all {board.short_total} SKUs short of stock" in html
    for card in ["/stock/?show=out", "/stock/?show=low&amp;sort=available", "#recent-events"]:
        assert f'href="{card}"' in html
    assert 'href="/stock/?show=short&amp;sort=-waiting"' in html
    assert "changes not yet shown on these pages" in html


def test_dashboard_shows_events_written_but_not_applied(client, viewer, big_read_model):
    bootstrap().handle(commands.CreateBatch("lagging", "LAMP", 5))  # on_commit never fires here
    bootstrap().handle(commands.Allocate("o-lagging", "LAMP", 1))
    response = client.get("/")
    board = response.context["dashboard"]
    assert (board.lag.unapplied, board.lag.parked) == (2, 0)
    assert board.lag.oldest_age is not None
    assert board.last_applied_at is not None
    html = response.content.decode()
    assert 'id="lag"' in html
    assert "the oldest made" in html


def test_stock_page_draws_bars_searches_and_paginates(client, viewer, big_read_model):
    first = client.get("/stock/")
    assert len(first.context["page"].object_list) == 50
    html = first.content.decode()
    assert html.count('class="bar"') == 50
    assert "bar-allocated" in html
    assert "bar-waiting" in html
    assert "Page 1 of 2" in html
    assert 'href="?page=2"' in html

    second = client.get("/stock/?page=2")
    assert [s.sku for s in second.context["page"]] == [sku_name(n) for n in range(50, 60)]

    found = client.get("/stock/?q=sku-05")
    assert [s.sku for s in found.context["page"]] == [sku_name(n) for n in range(50, 60)]
    assert 'value="sku-05"' in found.content.decode()


def test_stock_page_shows_waiting_demand(client, viewer, big_read_model):
    html = client.get("/stock/?q=SKU-000").content.decode()
    waiting = SkuStock.objects.get(sku=sku_name(0)).waiting
    assert waiting > 0
    assert f'<a class="badge badge-waiting" href="/orders/?sku=SKU-000">{waiting}</a>' in html


def test_sku_page_lists_batches_in_allocation_order_with_the_orders_they_serve(
    client, viewer, big_read_model
):
    response = client.get(f"/stock/{sku_name(0)}/")
    detail = response.context["detail"]
    assert [b.batch.reference for b in detail.batches] == ["SKU-000-WH", "SKU-000-SHIP"]
    wh = detail.batches[0]
    served = OrderLineView.objects.filter(batchref="SKU-000-WH")
    assert wh.line_count == served.count() > 20
    assert [line.orderid for line in wh.lines] == sorted(served.values_list("orderid", flat=True))[
        :20
    ]
    waiting = OrderLineView.objects.filter(sku=sku_name(0), status=LineStatus.WAITING)
    assert detail.waiting_count == waiting.count()
    html = response.content.decode()
    assert f'href="/orders/?batch=SKU-000-WH">all {wh.line_count} orders' in html
    assert "warehouse" in html
    assert "shipment · ETA" in html
    assert "Waiting lines" in html
    assert 'href="/orders/order-0000/"' in html


def test_orders_page_filters_by_status_and_order_id_and_paginates(client, viewer, big_read_model):
    everything = client.get("/orders/")
    assert everything.context["page"].paginator.num_pages == N_ORDERS // 50
    assert len(everything.context["page"].object_list) == 50

    waiting = client.get("/orders/?status=waiting&page=2")
    assert all(o.status == "waiting" for o in waiting.context["page"])
    assert "status=waiting&amp;page=3" in waiting.content.decode()

    searched = client.get("/orders/?q=order-099")
    assert [o.orderid for o in searched.context["page"]] == [
        f"order-099{n}" for n in range(9, -1, -1)
    ]

    ignored = client.get("/orders/?status=bogus")
    assert ignored.context["page"].paginator.count == N_ORDERS


def test_orders_page_filters_by_sku_and_batch(client, viewer, big_read_model):
    by_batch = client.get("/orders/?batch=SKU-000-WH")
    expected = OrderLineView.objects.filter(batchref="SKU-000-WH").count()
    assert by_batch.context["page"].paginator.count == expected
    assert "batch SKU-000-WH" in by_batch.content.decode()


def test_sku_boxes_list_a_bounded_number_of_skus_and_the_endpoint_the_rest(
    client, operator, big_read_model
):
    """60 SKUs: the pages bring the first 50 and say there are more; the script's
    endpoint answers those containing what is typed."""
    for url in ("/place-order/", "/batches/new/", "/deallocate/", "/orders/"):
        html = client.get(url).content.decode()
        datalist = re.search(r'<datalist id="known-skus"([^>]*)>(.*?)</datalist>', html, re.S)
        assert datalist, url
        assert 'data-source="/stock/skus.json"' in datalist.group(1)
        assert 'data-complete="false"' in datalist.group(1)
        options = re.findall(r'<option value="([^"]*)">', datalist.group(2))
        assert options == [sku_name(n) for n in range(50)], url
        assert re.search(r'<input[^>]*name="[^"]*sku"[^>]*list="known-skus"', html), url

    assert client.get("/stock/skus.json", {"q": "sku-05"}).json() == {
        "skus": [sku_name(n) for n in range(50, 60)],
        "complete": True,
    }
    assert client.get("/stock/skus.json", {"q": "5"}).json() == {
        "skus": [sku_name(n) for n in (5, 15, 25, 35, 45, *range(50, 60))],
        "complete": True,
    }
    everything = client.get("/stock/skus.json").json()
    assert everything == {"skus": [sku_name(n) for n in range(50)], "complete": False}


def test_order_page_shows_lines_batches_ship_dates_and_history(client, viewer, big_read_model):
    response = client.get("/orders/order-0001/")
    detail = response.context["detail"]
    assert [(i.line.sku, i.line.batchref) for i in detail.lines] == [
        ("SKU-001", "SKU-001-WH"),
        ("SKU-002", "SKU-002-WH"),
    ]
    assert [e.name for e in detail.history] == ["Allocated", "Allocated"]
    html = response.content.decode()
    assert "now (warehouse)" in html
    assert 'class="timeline"' in html
    assert "1 x SKU-001 allocated to batch SKU-001-WH" in html


def test_order_page_shows_a_waiting_line(client, viewer, big_read_model):
    html = client.get("/orders/order-0007/").content.decode()
    assert "waiting for stock" in html
    assert "1 x SKU-007 waiting for stock" in html


def test_unknown_sku_or_order_gets_the_404_page(client, viewer, big_read_model):
    for url in ["/stock/NOPE/", "/orders/nope/", "/no-such-page/"]:
        response = client.get(url)
        assert response.status_code == 404
        assert "404 · Not found" in response.content.decode()
    assert "Unknown order nope" in client.get("/orders/nope/").content.decode()


def test_development_shows_the_same_404_page_not_the_url_patterns(client, viewer, settings):
    """Django's technical 404 (DEBUG) would list every URL pattern of the project."""
    settings.DEBUG = True
    for url in ["/no-such-page/", "/orders/nope/"]:
        response = client.get(url)
        assert response.status_code == 404
        html = response.content.decode()
        assert "404 · Not found" in html
        assert "URLconf" not in html
        assert "place-order/" not in html
    assert "Unknown order nope" in client.get("/orders/nope/").content.decode()
    assert client.get("/stock").url == "/stock/"  # APPEND_SLASH still redirects
    assert client.get("/api/nope").json() == {"message": "No such endpoint: /api/nope"}


def visible_text(html: str) -> str:
    """What a reader of the page sees: no tags, so no class names or attributes."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_pages_say_what_happened_in_sentences_without_code_names_or_versions(
    client, viewer, big_read_model
):
    code_names = set(Event.registry) - {"Allocated"}  # also an order status, in plain words
    for url in ["/", f"/stock/{sku_name(0)}/", "/orders/order-0001/"]:
        text = visible_text(client.get(url).content.decode())
        assert not re.search(rf"\b({'|'.join(code_names)})\b", text), url
        assert not re.search(r"\bv\d+\b", text), url
        assert re.search(r"1 x SKU-\d+ allocated to batch SKU-\d+-(WH|SHIP)", text), url


def test_a_cancelled_order_still_shows_its_history(client, viewer):
    EventLog.objects.create(
        sku="LAMP",
        version=1,
        name="BackorderCancelled",
        orderid="gone",
        payload={"sku": "LAMP", "orderid": "gone", "qty": 2},
    )
    html = client.get("/orders/gone/").content.decode()
    assert "every line of this order was cancelled" in html
    assert "Waiting 2 x LAMP cancelled" in html


def test_ids_with_slashes_and_spaces_have_pages(client, viewer):
    OrderView.objects.create(
        orderid="a/b c", status="waiting", line_count=1, allocated_lines=0, waiting_lines=1
    )
    OrderLineView.objects.create(orderid="a/b c", sku="x/y", qty=1, status="waiting")
    SkuStock.objects.create(
        sku="x/y", purchased=0, allocated=0, available=0, waiting=1, batch_count=0
    )
    order_url = reverse("order-detail", args=["a/b c"])
    assert client.get(order_url).status_code == 200
    assert 'href="/stock/x/y/"' in client.get(order_url).content.decode()
    assert client.get(reverse("sku-detail", args=["x/y"])).status_code == 200


def test_pages_wait_for_the_projection_then_say_processing(client, viewer, settings):
    """Outbox events whose after-commit send never ran: the pages are behind the writes."""
    settings.READ_YOUR_WRITES_TIMEOUT = 0.05
    bus = bootstrap()
    bus.handle(commands.CreateBatch("b1", "LAMP", 10))
    bus.handle(commands.Allocate("o1", "LAMP", 2))

    for url in ["/orders/o1/", "/stock/LAMP/"]:
        behind = client.get(url)
        assert behind.status_code == 200
        assert behind.context["stale"] is True
        html = behind.content.decode()
        assert '<meta http-equiv="refresh" content="2">' in html
        assert "Processing…" in html

    outbox.relay(outbox.send_events_to_workers, older_than=timedelta(0))  # the relay catches up
    caught_up = client.get("/orders/o1/")
    assert caught_up.context["stale"] is False
    assert "http-equiv" not in caught_up.content.decode()
    assert "b1" in caught_up.content.decode()


def test_403_and_500_templates(client, viewer, rf):
    forbidden = client.get("/batches/new/")
    assert forbidden.status_code == 403
    assert "403 · Not allowed" in forbidden.content.decode()

    broken = server_error(rf.get("/"))
    assert broken.status_code == 500
    assert "500 · Server error" in broken.content.decode()


def test_navigation_offers_only_the_commands_a_user_may_send(client, viewer, django_user_model):
    html = client.get("/").content.decode()
    assert 'href="/orders/"' in html
    assert 'href="/place-order/"' not in html
    operator = django_user_model.objects.create_user("op")
    operator.user_permissions.add(Permission.objects.get(codename="allocate_line"))
    client.force_login(operator)
    html = client.get("/").content.decode()
    assert 'href="/place-order/"' in html
    assert 'href="/batches/new/"' not in html
