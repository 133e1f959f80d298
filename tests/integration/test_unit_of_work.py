"""The Django Unit of Work: atomic, rolls back by default, stores events in the outbox."""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from allocation.adapters.prepared import pipelined
from allocation.adapters.repository import DjangoProductRepository
from allocation.adapters.unit_of_work import DjangoUnitOfWork
from allocation.domain import commands
from allocation.domain.model import OrderLine, Product
from allocation.models import BatchRecord, OrderLineRecord, OutboxEvent, ProductRecord
from allocation.service_layer import handlers
from allocation.service_layer.unit_of_work import ConcurrencyError
from benchmarks.round_trips import counting_round_trips
from tests.factories import BatchRecordFactory, OrderLineRecordFactory, ProductRecordFactory
from tests.waiting import wait_until


def make_uow(sent: list | None = None) -> DjangoUnitOfWork:
    return DjangoUnitOfWork(deliver=(sent.extend if sent is not None else lambda stored: None))


def race_on_lamp(*changes: Callable[[Product], object]) -> list[str]:
    """Each change in its own thread and Unit of Work, all loaded before any commits:
    how each ended, "committed" or "conflict". LAMP is created if it does not exist."""
    all_loaded = threading.Barrier(len(changes))
    outcomes: list[str] = []

    def run(change: Callable[[Product], object]) -> None:
        try:
            uow = make_uow()
            with uow:
                product = uow.products.get("LAMP")
                if product is None:
                    product = Product("LAMP")
                    uow.products.add(product)
                all_loaded.wait(timeout=10)
                change(product)
                uow.commit()
            outcomes.append("committed")
        except ConcurrencyError:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(change,)) for change in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.django_db
def test_commit_saves_and_stores_events_in_the_outbox():
    BatchRecordFactory(reference="b1", product=ProductRecordFactory(sku="LAMP", version_number=1))
    uow = make_uow()
    with uow:
        product = uow.products.get("LAMP")
        assert product is not None
        product.allocate(OrderLine("o1", "LAMP", 2))
        uow.commit()

    assert OrderLineRecord.objects.get(orderid="o1").batch_id == "b1"
    event = OutboxEvent.objects.get()
    assert (event.name, event.sku, event.version, event.orderid) == ("Allocated", "LAMP", 2, "o1")
    assert event.payload == {
        "sku": "LAMP",
        "version": 2,
        "orderid": "o1",
        "qty": 2,
        "batchref": "b1",
        "arrival": 2,
    }
    assert event.sent_at is None  # sent only after the outer transaction commits


@pytest.mark.django_db
def test_rolls_back_without_commit():
    uow = make_uow()
    with uow:
        product = Product("LAMP")
        uow.products.add(product)
        product.add_batch("b1", 10)
    assert not ProductRecord.objects.exists()
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
def test_rolls_back_on_error():
    uow = make_uow()

    def fail_before_commit() -> None:
        with uow:
            product = Product("LAMP")
            uow.products.add(product)
            product.add_batch("b1", 10)
            raise RuntimeError("before the commit")

    with pytest.raises(RuntimeError):
        fail_before_commit()
    assert not ProductRecord.objects.exists()
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_commit_commits_an_error_after_it_in_the_block_undoes_nothing():
    """As the book's Unit of Work: ``commit()`` is the commit (on PostgreSQL it travels
    with the writes), not a wish granted at the end of the block."""
    uow = make_uow()

    def fail_after_commit() -> None:
        with uow:
            product = Product("LAMP")
            uow.products.add(product)
            product.add_batch("b1", 10)
            uow.commit()
            raise RuntimeError("after the commit")

    with pytest.raises(RuntimeError):
        fail_after_commit()
    assert BatchRecord.objects.get().reference == "b1"
    assert OutboxEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_events_are_sent_after_commit_and_marked_sent():
    sent: list = []
    uow = make_uow(sent)
    with uow:
        product = Product("LAMP")
        uow.products.add(product)
        product.add_batch("b1", 10)
        product.allocate(OrderLine("o1", "LAMP", 1))
        uow.commit()
        assert sent == []  # not before the commit
    assert [s.event.name for s in sent] == ["BatchCreated", "Allocated"]
    assert not OutboxEvent.objects.filter(sent_at=None).exists()


@pytest.mark.django_db(transaction=True)
def test_a_broker_failure_after_commit_keeps_the_write_and_leaves_the_event_unsent():
    def broker_down(stored: object) -> None:
        raise ConnectionError("broker down")

    uow = DjangoUnitOfWork(deliver=broker_down)
    with uow:
        product = Product("LAMP")
        uow.products.add(product)
        product.add_batch("b1", 10)
        uow.commit()
    assert ProductRecord.objects.filter(sku="LAMP").exists()
    assert OutboxEvent.objects.filter(sent_at=None).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_transactions_never_both_commit_against_the_same_version():
    """Both read version 1, both allocate; the second's version check is refused
    (the row is at version 2 when its UPDATE gets it)."""
    BatchRecordFactory(
        reference="b1",
        product=ProductRecordFactory(sku="LAMP", version_number=1),
        purchased_quantity=10,
    )

    def allocate(orderid: str) -> Callable[[Product], object]:
        return lambda product: product.allocate(OrderLine(orderid, "LAMP", 1))

    outcomes = race_on_lamp(allocate("o0"), allocate("o1"))

    assert sorted(outcomes) == ["committed", "conflict"]
    assert ProductRecord.objects.get(sku="LAMP").version_number == 2
    assert OrderLineRecord.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_transactions_never_both_add_the_same_batch():
    """The batch's INSERT travels in the pipeline with the rest: the loser learns of the
    taken key only when the pipeline closes, and still gets a ConcurrencyError (the bus
    retries it) with nothing of its change written."""
    ProductRecordFactory(sku="LAMP", version_number=1)

    def add_b1(qty: int) -> Callable[[Product], object]:
        return lambda product: product.add_batch("b1", qty)

    outcomes = race_on_lamp(add_b1(10), add_b1(20))

    assert sorted(outcomes) == ["committed", "conflict"]
    assert BatchRecord.objects.count() == OutboxEvent.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_transactions_never_both_create_the_same_product():
    """Neither knows LAMP: both insert it. The loser's error may come back with any
    statement sent after the insert (the outbox's, the COMMIT): it is still a
    ConcurrencyError, which the bus retries, never a database error."""
    outcomes = race_on_lamp(
        lambda product: product.add_batch("b1", 10), lambda product: product.add_batch("b2", 10)
    )

    assert sorted(outcomes) == ["committed", "conflict"]
    assert ProductRecord.objects.count() == BatchRecord.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_allocation_costs_two_round_trips():
    """BEGIN with the load, then every write and COMMIT at once (psycopg's pipeline);
    the relay, woken by the commit, takes the event from there."""
    BatchRecordFactory(reference="b1", product=ProductRecordFactory(sku="LAMP", version_number=1))
    uow = DjangoUnitOfWork()
    with counting_round_trips() as round_trips, uow:
        product = uow.products.get("LAMP", for_order="o1")
        assert product is not None
        product.allocate(OrderLine("o1", "LAMP", 2))
        uow.commit()
    assert round_trips.count == 2, round_trips.trace
    assert OrderLineRecord.objects.get(orderid="o1").batch_id == "b1"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_cancellation_costs_two_round_trips():
    """As an allocation: BEGIN with the load (the order's line in it), the writes and
    COMMIT."""
    record = ProductRecordFactory(sku="LAMP", version_number=1)
    BatchRecordFactory(reference="b1", product=record, purchased_quantity=10, allocated_quantity=2)
    OrderLineRecordFactory(orderid="o1", product=record, batch_id="b1", qty=2, sequence=1)
    with counting_round_trips() as round_trips:
        handlers.deallocate(commands.Deallocate("o1", "LAMP"), DjangoUnitOfWork())
    assert round_trips.count == 2, round_trips.trace
    assert not OrderLineRecord.objects.filter(orderid="o1").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_quantity_change_costs_three_round_trips():
    """One more than an allocation: the batch's SKU, before the product is loaded."""
    BatchRecordFactory(reference="b1", product=ProductRecordFactory(sku="LAMP", version_number=1))
    with counting_round_trips() as round_trips:
        handlers.change_batch_quantity(commands.ChangeBatchQuantity("b1", 20), DjangoUnitOfWork())
    assert round_trips.count == 3, round_trips.trace
    assert BatchRecord.objects.get(reference="b1").purchased_quantity == 20


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_after_losing_a_race_the_next_attempt_queues_behind_the_winner():
    """Optimistic first, then a row lock: the retry waits for the writer holding the
    product and sees everything it committed (batch totals included), instead of
    reloading, racing and losing again."""
    BatchRecordFactory(
        reference="b1",
        product=ProductRecordFactory(sku="LAMP", version_number=1),
        purchased_quantity=10,
    )
    uow = make_uow()

    def in_thread(work: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
                work()
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def allocate_o2() -> None:
        other = make_uow()
        with other:
            product = other.products.get("LAMP")
            assert product is not None
            product.allocate(OrderLine("o2", "LAMP", 1))
            other.commit()

    def attempt_1_losing_to_o2() -> None:
        with uow:
            product = uow.products.get("LAMP")
            assert product is not None
            in_thread(allocate_o2).join(timeout=30)
            product.allocate(OrderLine("o1", "LAMP", 1))
            uow.commit()

    with pytest.raises(ConcurrencyError):
        attempt_1_losing_to_o2()

    holding = threading.Event()

    def allocate_o3_holding_the_row_until_attempt_2_waits() -> None:
        with transaction.atomic():
            repository = DjangoProductRepository()  # o1's conflict marked LAMP contended
            product = repository.get("LAMP")
            assert product is not None
            product.allocate(OrderLine("o3", "LAMP", 1))
            holding.set()
            wait_until(lambda: waiting_for_a_lock() == 1, 10, "attempt 2 to wait for the row")
            repository.save(product)

    holder = in_thread(allocate_o3_holding_the_row_until_attempt_2_waits)
    assert holding.wait(timeout=10)
    with uow:  # attempt 2 waits for o3's commit, then wins
        product = uow.products.get("LAMP")
        assert product is not None
        product.allocate(OrderLine("o1", "LAMP", 1))
        uow.commit()
    holder.join(timeout=30)

    assert ProductRecord.objects.get(sku="LAMP").version_number == 4
    assert BatchRecord.objects.get(reference="b1").allocated_quantity == 3
    assert sorted(OrderLineRecord.objects.values_list("orderid", flat=True)) == ["o1", "o2", "o3"]


def waiting_for_a_lock() -> int:
    """Backends of this database blocked on a lock (a row lock, here)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_each_stored_event_keeps_its_own_values_and_creation_time():
    """One event is stored by a statement built once: nothing of an earlier one sticks."""
    with make_uow() as uow:
        product = Product("LAMP")
        uow.products.add(product)
        product.add_batch("b1", 10, None)
        uow.commit()
    windows = {}
    for orderid in ("o1", "o2"):
        before = timezone.now()
        with make_uow() as uow:
            found = uow.products.get("LAMP", for_order=orderid)
            assert found is not None
            found.allocate(OrderLine(orderid, "LAMP", 1))
            uow.commit()
        windows[orderid] = (before, timezone.now())
    rows = {str(r.orderid): r for r in OutboxEvent.objects.filter(orderid__isnull=False)}
    assert set(rows) == {"o1", "o2"}
    for orderid, (before, after) in windows.items():
        row = rows[orderid]
        assert before <= row.created_at <= after
        assert row.payload == {
            "sku": "LAMP",
            "version": row.version,
            "orderid": orderid,
            "qty": 1,
            "batchref": "b1",
            "arrival": row.version,  # placed on arrival
        }
    assert rows["o1"].event_id != rows["o2"].event_id
    assert (rows["o1"].version, rows["o2"].version) == (2, 3)


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_statement_failing_in_the_pipeline_raises_once_and_logs_nothing(caplog):
    """A lost race aborts the pipeline (PostgreSQL skips what follows the failed
    statement); closing it then fails again with "pipeline aborted", which psycopg
    logged as a warning on every lost race. The first error is the one that matters."""
    ProductRecordFactory(sku="LAMP", version_number=1)

    def refused_inside_the_pipeline() -> None:
        with transaction.atomic(), pipelined(), connection.cursor() as cursor:
            cursor.execute("UPDATE allocation_product SET version_number = -1")  # refused
            # Once the refusal is back, the next statement sent reads it: the error comes
            # up inside the block, before the pipeline's end, as under load.
            readable, _, _ = select.select([connection.connection.fileno()], [], [], 10)
            assert readable, "no answer from PostgreSQL within 10 s"
            cursor.execute("SELECT 1")

    with caplog.at_level(logging.WARNING), pytest.raises(IntegrityError):
        refused_inside_the_pipeline()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")] == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_unit_of_work_begins_its_transaction_as_psycopg_would():
    """Its own BEGIN (sent with the load) keeps the isolation level the connection is
    given, and leaves the connection as Django expects it afterwards: autocommit, idle."""
    connection.ensure_connection()
    driver = connection.connection
    driver.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
    try:
        with DjangoUnitOfWork(), connection.cursor() as cursor:
            cursor.execute("SHOW transaction_isolation")
            assert cursor.fetchone() == ("serializable",)
    finally:
        driver.isolation_level = None
    assert connection.get_autocommit()
    assert driver.autocommit
    assert driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_unit_of_work_that_fails_rolls_back_its_own_begin():
    """A statement refused inside the Unit of Work: nothing it wrote stays, even what
    PostgreSQL finished before (a sync in between: without the BEGIN, psycopg's
    autocommit would have committed it), and the connection goes back to autocommit,
    idle, for the next request."""
    ProductRecordFactory(sku="LAMP", version_number=1)

    def refused_after_a_write() -> None:
        with DjangoUnitOfWork(), connection.cursor() as cursor:
            with connection.connection.pipeline():  # a nested pipeline syncs as it ends
                cursor.execute("UPDATE allocation_product SET version_number = 7")
            cursor.execute("UPDATE allocation_product SET version_number = -1")  # refused
            cursor.execute("SELECT 1")

    with pytest.raises(IntegrityError):
        refused_after_a_write()
    assert ProductRecord.objects.get(sku="LAMP").version_number == 1
    assert connection.get_autocommit()
    assert connection.connection.autocommit
    assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
