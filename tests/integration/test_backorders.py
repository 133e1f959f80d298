"""Backorders on the real database: waiting lines are never lost, even under contention."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.db.models import F, Sum

from allocation.adapters.unit_of_work import DjangoUnitOfWork
from allocation.bootstrap import bootstrap, rebuild_read_model
from allocation.domain import commands
from allocation.models import BatchRecord, OrderLineRecord, OutboxEvent
from tests.read_model import snapshot


@pytest.mark.django_db(transaction=True)
def test_a_new_batch_takes_the_waiting_line_in_the_same_transaction(bus):
    bus.handle(commands.CreateBatch("b1", "LAMP", 2))
    bus.handle(commands.Allocate("o1", "LAMP", 5))
    assert OrderLineRecord.objects.get(orderid="o1").batch_id is None

    uow = DjangoUnitOfWork(deliver=lambda stored: None)
    with pytest.raises(RuntimeError), uow:  # noqa: PT012 -- the failure is the point
        product = uow.products.get("LAMP")
        assert product is not None
        product.add_batch("b2", 10)  # and allocates o1 to it
        raise RuntimeError("crash before the commit")
    assert not BatchRecord.objects.filter(reference="b2").exists()
    assert OrderLineRecord.objects.get(orderid="o1").batch_id is None  # still waiting

    bus.handle(commands.CreateBatch("b2", "LAMP", 10))

    assert OrderLineRecord.objects.get(orderid="o1").batch_id == "b2"
    batch_events = OutboxEvent.objects.filter(sku="LAMP").order_by("version")
    assert list(batch_events.values_list("name", flat=True))[-2:] == ["BatchCreated", "Allocated"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_allocations_beyond_stock_while_batches_arrive():
    bootstrap().handle(commands.CreateBatch("start", "HOT", 10))
    start = threading.Barrier(9)

    def allocate(worker: int) -> None:
        try:
            bus = bootstrap()
            start.wait(timeout=10)
            for n in range(20):
                bus.handle(commands.Allocate(f"w{worker}-{n}", "HOT", 1))
        finally:
            connection.close()

    def restock() -> None:
        try:
            bus = bootstrap()
            start.wait(timeout=10)
            for n in range(10):
                bus.handle(commands.CreateBatch(f"restock-{n}", "HOT", 10))
        finally:
            connection.close()

    with ThreadPoolExecutor(9) as pool:
        futures = [pool.submit(allocate, w) for w in range(8)] + [pool.submit(restock)]
        for future in futures:
            future.result(timeout=120)

    lines = OrderLineRecord.objects.filter(product_id="HOT")
    assert lines.count() == 160  # never lost (and unique per order: never both)
    purchased = BatchRecord.objects.aggregate(total=Sum("purchased_quantity"))["total"]
    allocated = lines.exclude(batch=None).aggregate(total=Sum("qty"))["total"]
    assert purchased == 110
    assert allocated == 110  # every unit that arrived went to a waiting line
    assert not BatchRecord.objects.filter(allocated_quantity__gt=F("purchased_quantity")).exists()
    for batch in BatchRecord.objects.all():
        in_batch = lines.filter(batch=batch).aggregate(total=Sum("qty"))["total"] or 0
        assert batch.allocated_quantity == in_batch
    assert lines.filter(batch=None).count() == 50

    incremental = snapshot()
    rebuild_read_model()
    assert snapshot() == incremental
