"""The whole event pipeline with a real Celery worker, real Redis and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.db import connection

from allocation.bootstrap import rebuild_read_model
from allocation.entrypoints.redis_consumer import consume
from orders_read.models import EventLog
from tests.read_model import snapshot
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_process", "use_broker"),
]


@pytest.fixture
def line_allocated() -> Iterator[list[dict]]:
    """Everything published on ``line_allocated`` while the test runs."""
    received: list[dict] = []
    pubsub = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("line_allocated")
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.2)
            if message:
                received.append(json.loads(message["data"]))

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    yield received
    stop.set()
    thread.join(timeout=5)
    pubsub.close()


@pytest.fixture
def consumer() -> Iterator[None]:
    """``consume_events`` running in a thread against the real Redis."""
    stop = threading.Event()
    ready = threading.Event()

    def run() -> None:
        try:
            consume(settings.REDIS_URL, stop, on_ready=ready.set)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(timeout=10), "consumer did not subscribe"
    yield
    stop.set()
    thread.join(timeout=10)


def test_read_your_writes_with_a_real_worker(client, api):
    assert api.post("add_batch", {"ref": "b1", "sku": "LAMP", "qty": 10}).status_code == 201
    assert api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 2}).status_code == 202

    response = client.get("/api/allocations/o1")  # immediately: the read waits, the write did not

    assert response.status_code == 200
    assert response.json() == [{"sku": "LAMP", "batchref": "b1"}]
    assert response["X-Read-Model-Stale"] == "false"


def test_redis_message_reallocates_publishes_and_projects(client, consumer, line_allocated, api):
    api.post("add_batch", {"ref": "b1", "sku": "LAMP", "qty": 10, "eta": None})
    api.post("add_batch", {"ref": "b2", "sku": "LAMP", "qty": 10, "eta": "2031-01-01"})
    api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 8})
    wait_until(lambda: any(m["orderid"] == "o1" for m in line_allocated), what="first allocation")

    publisher = redis.Redis.from_url(settings.REDIS_URL)
    publisher.publish("change_batch_quantity", b"not json")  # skipped, consumer goes on
    publisher.publish("change_batch_quantity", json.dumps({"batchref": "nope", "qty": 1}))
    publisher.publish("change_batch_quantity", json.dumps({"batchref": "b1", "qty": 5}))

    moved = {"orderid": "o1", "sku": "LAMP", "qty": 8, "batchref": "b2"}
    wait_until(lambda: moved in line_allocated, what="the reallocation on line_allocated")
    assert line_allocated[0] == {"orderid": "o1", "sku": "LAMP", "qty": 8, "batchref": "b1"}
    wait_until(
        lambda: client.get("/api/allocations/o1").json() == [{"sku": "LAMP", "batchref": "b2"}],
        what="the reallocation in the read model",
    )
    order = client.get("/api/orders/o1").json()
    assert order["expected_ship_date"] == "2031-01-01"
    # Who asked travelled with the events through the broker to the worker's history.
    moved_by = EventLog.objects.filter(orderid="o1").order_by("version").values_list("actor")
    assert [who for (who,) in moved_by] == ["api", *["redis:change_batch_quantity"] * 2]

    incremental = snapshot()
    rebuild_read_model()
    assert snapshot() == incremental


def test_a_waiting_line_is_allocated_when_stock_arrives(client, line_allocated, api):
    api.post("add_batch", {"ref": "small", "sku": "SOFA", "qty": 1})
    assert api.post("allocate", {"orderid": "o9", "sku": "SOFA", "qty": 3}).json() == {
        "status": "waiting",
        "batchref": None,
    }
    assert client.get("/api/orders/o9").json()["status"] == "waiting"
    assert client.get("/api/allocations/o9").status_code == 404

    api.post("add_batch", {"ref": "restock", "sku": "SOFA", "qty": 5})

    assert client.get("/api/allocations/o9").json() == [{"sku": "SOFA", "batchref": "restock"}]
    expected = {"orderid": "o9", "sku": "SOFA", "qty": 3, "batchref": "restock"}
    wait_until(lambda: expected in line_allocated, what="the backorder on line_allocated")
