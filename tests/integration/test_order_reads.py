"""The reads of an order: what they cost, what they load, and read-your-writes.

Each read is one statement that carries its read-your-writes check with it: the
positions written for the order come through the port as a subquery, since the write
side's tables share the read model's database here (``test_freshness.py`` covers the
separate database, where they are one statement more). The order page costs one more,
for the history.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db.models import Model

from allocation.adapters import outbox
from allocation.bootstrap import write_positions
from allocation.domain import commands
from orders_read.models import EventLog, OrderLineView, OrderView
from orders_read.selectors import orders

pytestmark = pytest.mark.django_db

SHIP_DATE = date(2031, 5, 1)


@pytest.fixture
def projected(bus, committed) -> None:
    """o1: one line in the warehouse, one on a shipment, one waiting; all projected."""
    committed(bus.handle, commands.CreateBatch("wh", "LAMP", 5))
    committed(bus.handle, commands.CreateBatch("ship", "CHAIR", 5, SHIP_DATE))
    committed(bus.handle, commands.CreateBatch("t", "TABLE", 1))
    for sku, qty in [("LAMP", 2), ("CHAIR", 1), ("TABLE", 3)]:
        committed(bus.handle, commands.Allocate("o1", sku, qty))


@pytest.fixture
def unprojected(bus) -> None:
    """Written, but the after-commit send never ran: the read model knows nothing yet."""
    bus.handle(commands.CreateBatch("wh", "LAMP", 5))
    bus.handle(commands.Allocate("o1", "LAMP", 2))


def fields(instance: Model | None) -> dict[str, Any] | None:
    if instance is None:
        return None
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_allocations_answer_in_one_statement(client, projected, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/api/allocations/o1")
    assert response.json() == [
        {"sku": "CHAIR", "batchref": "ship"},
        {"sku": "LAMP", "batchref": "wh"},
    ]
    assert response["X-Read-Model-Stale"] == "false"


def test_an_order_answers_in_one_statement(client, projected, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/api/orders/o1")
    assert response.json() == {
        "orderid": "o1",
        "status": "partly_allocated",
        "expected_ship_date": SHIP_DATE.isoformat(),
        "ships": "waiting",
        "lines": [
            {"sku": "CHAIR", "qty": 1, "status": "allocated", "batchref": "ship"},
            {"sku": "LAMP", "qty": 2, "status": "allocated", "batchref": "wh"},
            {"sku": "TABLE", "qty": 3, "status": "waiting", "batchref": None},
        ],
    }


@pytest.mark.parametrize(
    ("eta", "qty", "ships", "ships_on", "page_says"),
    [
        (None, 2, "now", None, "now, from the warehouse"),
        (SHIP_DATE, 2, "on_date", SHIP_DATE.isoformat(), "May 1, 2031"),
        (None, 9, "waiting", None, "when the waiting lines get stock"),
    ],
)
def test_ships_tells_the_warehouse_now_from_waiting(
    client, viewer, bus, committed, eta, qty, ships, ships_on, page_says
):
    """``expected_ship_date`` is null both for "now" and for "waiting"; ``ships`` is not,
    and the order page says the same."""
    committed(bus.handle, commands.CreateBatch("b1", "LAMP", 5, eta))
    committed(bus.handle, commands.Allocate("o1", "LAMP", qty))
    found = client.get("/api/orders/o1").json()
    assert (found["ships"], found["expected_ship_date"]) == (ships, ships_on)
    assert f"Expected to ship:\n    <strong>{page_says}</strong>" in client.get("/orders/o1/").text


def test_an_order_whose_lines_were_all_cancelled_is_cancelled_for_the_api_and_its_page(
    client, viewer, bus, committed
):
    committed(bus.handle, commands.CreateBatch("wh", "LAMP", 5))
    committed(bus.handle, commands.Allocate("o1", "LAMP", 2))
    committed(bus.handle, commands.Deallocate("o1", "LAMP"))

    response = client.get("/api/orders/o1")
    assert response.status_code == 200
    assert response.json() == {
        "orderid": "o1",
        "status": "cancelled",
        "expected_ship_date": None,
        "ships": None,
        "lines": [],
    }
    assert response["X-Read-Model-Stale"] == "false"
    page = client.get("/orders/o1/")
    assert page.status_code == 200
    assert '<span class="badge badge-cancelled">Cancelled</span>' in page.text
    assert "every line of this order was cancelled" in page.text


@pytest.mark.parametrize("url", ["/api/orders/never-heard-of", "/orders/never-heard-of/"])
def test_an_order_never_written_is_404_for_the_api_and_its_page(client, viewer, url):
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("url", ["/api/allocations/o1", "/api/orders/o1"])
def test_reads_wait_for_writes_not_projected_then_say_stale(client, unprojected, settings, url):
    """No row yet, but an event pending: a wait, then "retry" (503), never "unknown" (404)."""
    settings.READ_YOUR_WRITES_TIMEOUT = 0.05
    behind = client.get(url)
    assert behind.status_code == 503
    assert behind["X-Read-Model-Stale"] == "true"
    assert behind["Retry-After"]
    assert behind.json() == {"message": "Order o1 is not in the read model yet; retry"}

    outbox.relay(outbox.send_events_to_workers, older_than=timedelta(0))

    caught_up = client.get(url)
    assert caught_up.status_code == 200
    assert caught_up["X-Read-Model-Stale"] == "false"


def test_the_order_page_costs_two_statements_once_session_and_user_are_cached(
    client, django_user_model, projected, settings, django_assert_num_queries
):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    settings.AUTH_CACHE_TIMEOUT = 300
    client.force_login(django_user_model.objects.create_user("viewer"))
    assert client.get("/orders/o1/").status_code == 200  # fills both caches
    with django_assert_num_queries(2):
        response = client.get("/orders/o1/")
    assert response.status_code == 200
    assert "when the waiting lines get stock" in response.content.decode()


def test_the_order_detail_holds_what_the_tables_hold(projected):
    detail, fresh = orders.order_detail("o1", write_positions())
    assert fresh
    assert detail is not None
    summary = OrderView.objects.get(orderid="o1")
    assert detail.summary is not None
    assert (
        detail.summary.status,
        detail.summary.waiting_lines,
        detail.summary.expected_ship_date,
    ) == (summary.status, summary.waiting_lines, summary.expected_ship_date)
    assert detail.summary.status_label == summary.get_status_display()
    expected_lines = OrderLineView.objects.filter(orderid="o1").order_by("sku")
    assert [(d.line.sku, d.line.qty, d.line.status, d.line.batchref) for d in detail.lines] == [
        (line.sku, line.qty, line.status, line.batchref) for line in expected_lines
    ]
    assert [(d.batch_known, d.line.eta, d.in_warehouse) for d in detail.lines] == [
        (True, SHIP_DATE, False),  # a date, not text, on SQLite too
        (True, None, True),
        (False, None, False),
    ]
    history = EventLog.objects.filter(orderid="o1").order_by("occurred_at", "id")
    assert [fields(e) for e in detail.history] == [fields(e) for e in history]
    assert detail.history[0].payload["orderid"] == "o1"  # JSON decoded
    assert detail.history[0].occurred_at.tzinfo is not None


def test_an_unknown_order_has_no_detail(db):
    assert orders.order_detail("nobody", write_positions()) == (None, True)


def test_the_order_read_gives_its_ship_date_as_a_date(projected):
    found, fresh = orders.order("o1", write_positions())
    assert fresh
    assert found is not None
    assert found["expected_ship_date"] == SHIP_DATE  # a date, not text, on SQLite too


def test_the_positions_ride_in_the_read_only_when_the_databases_are_one(projected):
    positions = write_positions()
    assert positions.of_order_query("o1", "default") is not None
    assert positions.of_order_query("o1", "read") is None  # a separate read model
    assert positions.of_order("o1") == {"CHAIR": 2, "LAMP": 2, "TABLE": 2}
