"""The Django repository: loads only what a decision needs, saves diffs, checks versions."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from allocation.adapters.prepared import Prepared, fields_of
from allocation.adapters.repository import ContendedSkus, DjangoProductRepository
from allocation.domain.model import Allocation, Batch, OrderLine, Product
from allocation.models import BatchRecord, OrderLineRecord, ProductRecord
from allocation.service_layer.unit_of_work import ConcurrencyError
from tests.factories import BatchRecordFactory, OrderLineRecordFactory, ProductRecordFactory
from tests.postgresql.plans import analyze, rows_read

pytestmark = pytest.mark.django_db


def test_saves_a_new_product_with_batches_and_lines():
    repo = DjangoProductRepository()
    product = Product("LAMP")
    repo.add(product)
    product.add_batch("b1", 10, date(2030, 1, 1))
    product.allocate(OrderLine("o1", "LAMP", 3))
    product.allocate(OrderLine("o2", "LAMP", 30))
    repo.save(product)

    assert ProductRecord.objects.get(sku="LAMP").version_number == product.version_number == 3
    batch = BatchRecord.objects.get(reference="b1")
    assert (batch.purchased_quantity, batch.allocated_quantity, batch.eta) == (
        10,
        3,
        date(2030, 1, 1),
    )
    lines = {r.orderid: (r.batch_id, r.qty) for r in OrderLineRecord.objects.all()}
    assert lines == {"o1": ("b1", 3), "o2": (None, 30)}


def test_loads_batches_with_totals_and_waiting_lines_but_not_allocations(
    django_assert_num_queries,
):
    record = ProductRecordFactory(sku="LAMP", version_number=7)
    BatchRecordFactory(reference="b1", product=record, purchased_quantity=10, allocated_quantity=4)
    for n in range(50):
        OrderLineRecordFactory(product=record, batch_id="b1", qty=1, sequence=n + 1)
    OrderLineRecordFactory(orderid="waiting", product=record, qty=99, arrival=1000)

    with django_assert_num_queries(1):  # product, batches, waiting lines: never the history
        product = DjangoProductRepository().get("LAMP")
    assert product is not None
    assert product.version_number == 7
    assert [(b.reference, b.allocated_quantity) for b in product.batches] == [("b1", 4)]
    assert [b.line.orderid for b in product.backorders] == ["waiting"]


def test_loads_the_orders_line_with_the_product_when_asked(django_assert_num_queries):
    record = ProductRecordFactory(sku="LAMP", version_number=3)
    BatchRecordFactory(reference="b1", product=record, purchased_quantity=10, allocated_quantity=2)
    OrderLineRecordFactory(orderid="o1", product=record, batch_id="b1", qty=2, sequence=1)
    OrderLineRecordFactory(orderid="w1", product=record, qty=20, arrival=9)
    OrderLineRecordFactory(orderid="w0", product=record, qty=30, arrival=5)

    with django_assert_num_queries(1):
        product = DjangoProductRepository().get("LAMP", for_order="o1")
        assert product is not None
        assert product.allocate(OrderLine("o1", "LAMP", 2)) == "b1"  # known: no query
        assert product.events == []  # an identical line is not placed twice
    assert [b.line.orderid for b in product.backorders] == ["w0", "w1"]  # by arrival

    with django_assert_num_queries(1):  # an order with no allocated line: known too
        other = DjangoProductRepository().get("LAMP", for_order="o9")
        assert other is not None
        assert other.allocate(OrderLine("o9", "LAMP", 1)) == "b1"


@pytest.mark.postgres
def test_loading_for_an_order_reads_its_line_not_the_skus_lines():
    """Planned as if the SKU had no lines (it grew since the last ANALYZE), the load
    reads the order's line and the waiting ones, not every line the SKU holds."""
    for n in range(100):
        other = ProductRecordFactory(sku=f"OTHER-{n}")
        OrderLineRecordFactory.create_batch(5, product=other, batch=None)
    analyze(OrderLineRecord)
    record = ProductRecordFactory(sku="LAMP")
    BatchRecordFactory(reference="b1", product=record, purchased_quantity=10_000)
    OrderLineRecord.objects.bulk_create(
        OrderLineRecord(
            orderid=f"o{n}", product_id="LAMP", batch_id="b1", qty=1, arrival=n, sequence=n
        )
        for n in range(3000)
    )
    OrderLineRecordFactory(orderid="w1", product=record, qty=1, arrival=9000)
    with CaptureQueriesContext(connection) as loading:
        DjangoProductRepository().get("LAMP", for_order="o7")
    [load] = loading.captured_queries
    assert rows_read(load["sql"], OrderLineRecord) == 2  # o7's line, and w1 waiting


def test_an_unknown_product_is_none_even_with_an_order(db):
    assert DjangoProductRepository().get("NOPE", for_order="o1") is None


@pytest.mark.postgres  # SQLite has no row locks: its transactions lock the database
def test_a_sku_that_lost_a_race_is_loaded_with_its_row_locked(django_assert_num_queries):
    contended = ContendedSkus()
    BatchRecordFactory(reference="b1", product=ProductRecordFactory(sku="LAMP"))
    BatchRecordFactory(reference="b2", product=ProductRecordFactory(sku="DESK"))
    loser = DjangoProductRepository(contended)
    product = loser.get("LAMP")
    assert product is not None
    ProductRecord.objects.filter(sku="LAMP").update(version_number=2)  # a winner committed
    product.allocate(OrderLine("o1", "LAMP", 1))
    with pytest.raises(ConcurrencyError), transaction.atomic():  # its own rollback
        loser.save(product)

    with django_assert_num_queries(2) as lamp:  # the lock, then the usual load
        DjangoProductRepository(contended).get("LAMP")
    with django_assert_num_queries(1):  # other SKUs stay optimistic
        DjangoProductRepository(contended).get("DESK")
    assert lamp.captured_queries[0]["sql"].endswith("FOR UPDATE")


def test_loads_a_product_that_has_no_batch_yet():
    ProductRecordFactory(sku="LAMP", version_number=3)
    BatchRecordFactory(reference="other", product=ProductRecordFactory(sku="DESK"))

    product = DjangoProductRepository().get("LAMP")

    assert product is not None
    assert (product.version_number, product.batches, product.backorders) == (3, [], [])


def test_fetches_one_allocation_on_demand():
    record = ProductRecordFactory(sku="LAMP")
    BatchRecordFactory(reference="b1", product=record, allocated_quantity=2)
    OrderLineRecordFactory(orderid="o1", product=record, batch_id="b1", qty=2, sequence=5)
    product = DjangoProductRepository().get("LAMP")
    assert product is not None

    state = product.line_state("o1")

    assert isinstance(state, Allocation)
    assert state == Allocation(OrderLine("o1", "LAMP", 2), "b1", state.arrival, 5)
    assert product.allocate(OrderLine("o1", "LAMP", 2)) == "b1"  # idempotent re-submit


def test_get_by_batchref_and_unknown():
    BatchRecordFactory(reference="b1", product=ProductRecordFactory(sku="LAMP"))
    repo = DjangoProductRepository()
    product = repo.get_by_batchref("b1")
    assert product is not None
    assert product.sku == "LAMP"
    assert repo.get("LAMP") is product  # one instance per sku within a unit of work
    assert repo.get_by_batchref("nope") is None
    assert repo.get("nope") is None


def test_a_cancelled_line_is_deleted_and_the_skus_other_lines_stay():
    record = ProductRecordFactory(sku="LAMP", version_number=3)
    BatchRecordFactory(reference="b1", product=record, purchased_quantity=10, allocated_quantity=5)
    OrderLineRecordFactory(orderid="o1", product=record, batch_id="b1", qty=2, sequence=1)
    OrderLineRecordFactory(orderid="o2", product=record, batch_id="b1", qty=3, sequence=2)
    OrderLineRecordFactory(orderid="o1", product=ProductRecordFactory(sku="DESK"), qty=1)
    repo = DjangoProductRepository()
    product = repo.get("LAMP", for_order="o1")
    assert product is not None

    product.deallocate("o1")
    repo.save(product)

    lines = set(OrderLineRecord.objects.values_list("orderid", "product_id"))
    assert lines == {("o2", "LAMP"), ("o1", "DESK")}
    assert BatchRecord.objects.get(reference="b1").allocated_quantity == 3


def test_shrinking_batch_evicts_stored_lines_latest_first():
    record = ProductRecordFactory(sku="LAMP", version_number=10)
    BatchRecordFactory(reference="b1", product=record, purchased_quantity=10, allocated_quantity=6)
    OrderLineRecordFactory(orderid="old", product=record, batch_id="b1", qty=3, sequence=2)
    OrderLineRecordFactory(orderid="new", product=record, batch_id="b1", qty=3, sequence=9)
    repo = DjangoProductRepository()
    product = repo.get("LAMP")
    assert product is not None

    product.change_batch_quantity("b1", 4)
    repo.save(product)

    lines = {r.orderid: r.batch_id for r in OrderLineRecord.objects.all()}
    assert lines == {"old": "b1", "new": None}
    assert BatchRecord.objects.get(reference="b1").allocated_quantity == 3


def test_save_refuses_a_stale_version():
    record = ProductRecordFactory(sku="LAMP", version_number=1)
    BatchRecordFactory(reference="b1", product=record)
    repo = DjangoProductRepository()
    product = repo.get("LAMP")
    assert product is not None
    ProductRecord.objects.filter(sku="LAMP").update(version_number=2)  # someone else won

    product.allocate(OrderLine("o1", "LAMP", 1))
    with pytest.raises(ConcurrencyError), transaction.atomic():  # its own rollback
        repo.save(product)  # outside a pipeline the version check answers at once


def test_save_turns_a_concurrent_insert_into_a_conflict():
    ProductRecordFactory(sku="LAMP")
    repo = DjangoProductRepository()
    product = Product("LAMP", [Batch("b1", "LAMP", 5)])
    repo.add(product)
    product.allocate(OrderLine("o1", "LAMP", 1))
    with pytest.raises(ConcurrencyError):
        repo.save(product)


def test_loads_etas_as_dates_on_every_database():
    """The load's rows come straight from the driver: a date must still be a date."""
    record = ProductRecordFactory(sku="LAMP")
    BatchRecordFactory(reference="ship", product=record, eta=date(2031, 1, 2))
    BatchRecordFactory(reference="wh", product=record, eta=None)
    for for_order in (None, "o1"):
        product = DjangoProductRepository().get("LAMP", for_order=for_order)
        assert product is not None
        assert {b.reference: b.eta for b in product.batches} == {
            "ship": date(2031, 1, 2),
            "wh": None,
        }
        assert product.allocate(OrderLine("o1", "LAMP", 1)) == "wh"  # warehouse first


def test_a_statement_built_once_refuses_a_value_it_would_ignore():
    """A value the built statement has no parameter for would be silently dropped."""
    ignoring = Prepared(
        lambda sku: ProductRecord.objects.values_list("sku").query,
        {"sku": ProductRecord._meta.get_field("sku")},
        ProductRecord,
    )
    with pytest.raises(RuntimeError, match="No parameter for \\['sku'\\]"):
        ignoring.rows(sku="LAMP")


def test_a_statement_built_once_converts_what_the_orm_would_convert():
    """Text and whole numbers of their own column's type go as they are; anything else
    (here a number for a text column) through the field's conversion, as the ORM sends
    it: PostgreSQL would refuse to compare a text column with a number."""
    ProductRecordFactory(sku="7", version_number=3)
    by_sku = Prepared(
        lambda sku: ProductRecord.objects.filter(sku=sku).values_list("version_number").query,
        fields_of(ProductRecord, sku="sku"),
        ProductRecord,
    )
    assert by_sku.rows(sku="7") == by_sku.rows(sku=7) == [(3,)]
