"""Concurrent writers over real HTTP and PostgreSQL never over-allocate."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db.models import Sum

from allocation.models import BatchRecord, OrderLineRecord

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
PER_THREAD = 50
STOCK = 100


def test_eight_clients_allocating_one_unit_each_take_exactly_the_stock(live_server):
    api = f"{live_server.url}/api"
    created = requests.post(
        f"{api}/add_batch", json={"ref": "b1", "sku": "HOT", "qty": STOCK, "eta": None}, timeout=10
    )
    assert created.status_code == 201

    def client(worker: int) -> list[int]:
        with requests.Session() as session:
            return [
                session.post(
                    f"{api}/allocate",
                    json={"orderid": f"w{worker}-{n}", "sku": "HOT", "qty": 1},
                    timeout=30,
                ).status_code
                for n in range(PER_THREAD)
            ]

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = Counter(s for batch in pool.map(client, range(THREADS)) for s in batch)

    assert sum(count for status, count in statuses.items() if status >= 500) == 0, statuses
    assert set(statuses) <= {202, 409}, statuses
    allocated = OrderLineRecord.objects.exclude(batch=None)
    assert allocated.count() == STOCK
    assert allocated.aggregate(total=Sum("qty"))["total"] == STOCK
    assert BatchRecord.objects.get(reference="b1").allocated_quantity == STOCK
    # Every accepted line is either allocated or waiting: none lost, none doubled.
    assert OrderLineRecord.objects.count() == statuses[202]
