"""The save in one statement (PostgreSQL): what it writes, and the order it locks rows in."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from allocation.adapters.save_statement import MOST_ROWS
from allocation.adapters.unit_of_work import DjangoUnitOfWork
from allocation.domain import commands
from allocation.models import BatchRecord, OrderLineRecord, ProductRecord
from allocation.service_layer import handlers
from allocation.service_layer.unit_of_work import ConcurrencyError
from benchmarks.round_trips import counting_round_trips
from tests.factories import BatchRecordFactory, OrderLineRecordFactory, ProductRecordFactory
from tests.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_an_allocation_saves_in_one_statement_and_stores_its_event_in_another():
    """Five statements reach PostgreSQL: BEGIN, the load, the save, the outbox row,
    COMMIT (counted from libpq's trace: Django's log shows its own BEGIN and COMMIT)."""
    BatchRecordFactory(reference="b1", product=ProductRecordFactory(sku="LAMP", version_number=1))
    with counting_round_trips() as round_trips:
        handlers.allocate(commands.Allocate("o1", "LAMP", 2), DjangoUnitOfWork())
    statements = [line for line in round_trips.trace.splitlines() if line.startswith("F\t")]
    assert sum("\tBind\t" in line for line in statements) == 5, round_trips.trace
    assert ProductRecord.objects.get(sku="LAMP").version_number == 2
    assert BatchRecord.objects.get(reference="b1").allocated_quantity == 2
    line = OrderLineRecord.objects.get(orderid="o1")
    assert (line.batch_id, line.qty, line.arrival) == ("b1", 2, 2)


def test_a_cancellation_deletes_its_line_and_gives_the_stock_to_a_waiting_one():
    """The deleted line, the batch's total and the waiting line now allocated: one
    statement, five in all as for an allocation."""
    product = ProductRecordFactory(sku="LAMP", version_number=2)
    BatchRecordFactory(
        reference="b1", product=product, purchased_quantity=10, allocated_quantity=10
    )
    OrderLineRecordFactory(orderid="o1", product=product, batch_id="b1", qty=10, sequence=1)
    OrderLineRecordFactory(orderid="o2", product=product, batch_id=None, qty=4, arrival=2)
    with counting_round_trips() as round_trips:
        handlers.deallocate(commands.Deallocate("o1", "LAMP"), DjangoUnitOfWork())
    statements = [line for line in round_trips.trace.splitlines() if line.startswith("F\t")]
    assert sum("\tBind\t" in line for line in statements) == 5, round_trips.trace
    lines = OrderLineRecord.objects.values_list("orderid", "batch__reference")
    assert list(lines) == [("o2", "b1")]
    assert BatchRecord.objects.get(reference="b1").allocated_quantity == 4


def test_a_reallocation_saves_every_batch_and_line_it_changes():
    """A batch shrinks: its line moves to the other batch, in the same statement."""
    product = ProductRecordFactory(sku="LAMP", version_number=2)
    BatchRecordFactory(reference="b1", product=product, purchased_quantity=10, allocated_quantity=8)
    BatchRecordFactory(reference="b2", product=product, purchased_quantity=10, eta="2030-01-01")
    OrderLineRecordFactory(orderid="o1", product=product, batch_id="b1", qty=8, sequence=1)
    handlers.change_batch_quantity(commands.ChangeBatchQuantity("b1", 5), DjangoUnitOfWork())
    batches = dict(BatchRecord.objects.values_list("reference", "allocated_quantity"))
    assert batches == {"b1": 0, "b2": 8}
    assert OrderLineRecord.objects.get(orderid="o1").batch_id == "b2"


def test_more_lines_than_one_statement_takes_are_saved_all_the_same():
    """Past ``MOST_ROWS`` lines the separate statements save them, in the same
    transaction: a batch emptied under many lines moves them all."""
    product = ProductRecordFactory(sku="LAMP", version_number=2)
    lines = MOST_ROWS + 4
    BatchRecordFactory(
        reference="b1", product=product, purchased_quantity=lines, allocated_quantity=lines
    )
    BatchRecordFactory(reference="b2", product=product, purchased_quantity=lines, eta="2030-01-01")
    for n in range(lines):
        OrderLineRecordFactory(orderid=f"o{n}", product=product, batch_id="b1", qty=1, sequence=n)
    handlers.change_batch_quantity(commands.ChangeBatchQuantity("b1", 0), DjangoUnitOfWork())
    assert set(OrderLineRecord.objects.values_list("batch__reference", flat=True)) == {"b2"}
    assert BatchRecord.objects.get(reference="b2").allocated_quantity == lines


def test_the_save_locks_the_product_before_any_batch_or_line():
    """Every writer of a SKU locks its product row first. One holds it; the save waits
    for it, holding no batch or line lock meanwhile: the holder can still write the
    batch and the line (no deadlock), commits, and the save loses the race cleanly."""
    product = ProductRecordFactory(sku="LOCKED", version_number=1)
    BatchRecordFactory(reference="b1", product=product, purchased_quantity=10)
    holder_writes = [
        "UPDATE allocation_batch SET allocated_quantity = 3 WHERE reference = 'b1'",
        "INSERT INTO allocation_order_line (orderid, sku, qty, batchref, arrival, sequence)"
        " VALUES ('o1', 'LOCKED', 3, 'b1', 1, 1)",
    ]
    assert _racing(commands.Allocate("o1", "LOCKED", 2), "LOCKED", holder_writes) == "conflict"
    assert OrderLineRecord.objects.get(orderid="o1").qty == 3


def test_a_cancellation_locks_the_product_before_the_line_it_deletes():
    """As above, for the line a cancellation deletes: the holder can still change it."""
    product = ProductRecordFactory(sku="HELD", version_number=1)
    BatchRecordFactory(reference="b1", product=product, purchased_quantity=10, allocated_quantity=2)
    OrderLineRecordFactory(orderid="o1", product=product, batch_id="b1", qty=2, sequence=1)
    holder_writes = [
        "UPDATE allocation_batch SET allocated_quantity = 3 WHERE reference = 'b1'",
        "UPDATE allocation_order_line SET qty = 3 WHERE orderid = 'o1'",
    ]
    assert _racing(commands.Deallocate("o1", "HELD"), "HELD", holder_writes) == "conflict"
    assert OrderLineRecord.objects.get(orderid="o1").qty == 3


def _racing(command: commands.Command, sku: str, holder_writes: list[str]) -> str:
    """Hold the product's row lock (as a writer takes it), run ``command`` in a thread
    until it waits for that lock, then write ``holder_writes`` and commit (a lock wait
    over 5 s fails them); how the command ended: "committed", "conflict" or "failed"."""
    outcome: list[str] = []

    def run() -> None:
        try:
            handlers.COMMAND_HANDLERS[type(command)](command, DjangoUnitOfWork())
            outcome.append("committed")
        except ConcurrencyError:
            outcome.append("conflict")
        finally:
            connections.close_all()

    with transaction.atomic(), connection.cursor() as holder:
        holder.execute("SET LOCAL lock_timeout = '5s'")
        holder.execute("UPDATE allocation_product SET version_number = 2 WHERE sku = %s", [sku])
        saver = threading.Thread(target=run)
        saver.start()
        wait_until(_a_statement_waits_for_a_lock, 10, "the save to wait for the row lock")
        for statement in holder_writes:
            holder.execute(statement)
    saver.join(timeout=15)
    return outcome[0] if outcome else "failed"


def _a_statement_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else frozen for the transaction
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        (waiting,) = cursor.fetchone()
    return waiting > 0
