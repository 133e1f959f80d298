"""Each command commits its product's changes and queues its events once, or commits nothing."""

import pytest

from allocation.domain import commands, events
from allocation.domain.model import (
    DuplicateBatch,
    InvalidQuantity,
    LineConflict,
    UnknownBatch,
    UnknownLine,
)
from allocation.service_layer.handlers import InvalidSku
from tests.unit.builders import LATER

# -- add_batch ------------------------------------------------------------------------------


def test_add_batch_for_a_new_product(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "CRUNCHY-ARMCHAIR", 100, None))
    product = fake_uow.products.get("CRUNCHY-ARMCHAIR")
    assert product is not None
    assert product.batch("b1").purchased_quantity == 100
    assert fake_uow.committed
    assert fake_uow.published == [
        events.BatchCreated(sku="CRUNCHY-ARMCHAIR", version=1, ref="b1", qty=100, eta=None)
    ]


def test_add_batch_for_an_existing_product(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "GARISH-RUG", 100, None))
    bus_with_fakes.handle(commands.CreateBatch("b2", "GARISH-RUG", 99, LATER))
    product = fake_uow.products.get("GARISH-RUG")
    assert [b.reference for b in product.batches] == ["b1", "b2"]
    assert product.batch("b2").eta == LATER
    assert product.version_number == 2
    assert [e.version for e in fake_uow.published] == [1, 2]


def test_add_batch_with_an_existing_reference_is_an_error(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "GARISH-RUG", 100, None))
    with pytest.raises(DuplicateBatch, match="Batch b1 already exists"):
        bus_with_fakes.handle(commands.CreateBatch("b1", "GARISH-RUG", 5, None))
    assert fake_uow.products.get("GARISH-RUG").batch("b1").purchased_quantity == 100
    assert len(fake_uow.published) == 1


def test_a_batch_reference_is_unique_across_skus(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "GARISH-RUG", 100, None))
    fake_uow.committed = False
    with pytest.raises(DuplicateBatch, match="Batch b1 already exists"):
        bus_with_fakes.handle(commands.CreateBatch("b1", "OTHER-SKU", 5, None))
    assert fake_uow.products.get("OTHER-SKU") is None
    assert not fake_uow.committed
    assert len(fake_uow.published) == 1


def test_add_batch_with_a_bad_quantity_commits_nothing(bus_with_fakes, fake_uow):
    with pytest.raises(InvalidQuantity):
        bus_with_fakes.handle(commands.CreateBatch("b1", "GARISH-RUG", 0, None))
    assert not fake_uow.committed
    assert fake_uow.published == []


# -- allocate -------------------------------------------------------------------------------


def test_allocate_returns_the_batch_and_commits(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "COMPLICATED-LAMP", 100, None))
    fake_uow.committed = False
    assert bus_with_fakes.handle(commands.Allocate("o1", "COMPLICATED-LAMP", 10)) == "b1"
    assert fake_uow.committed
    assert fake_uow.products.get("COMPLICATED-LAMP").batch("b1").available_quantity == 90


def test_allocate_events_reach_the_outbox_once(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "COMPLICATED-LAMP", 100, None))
    bus_with_fakes.handle(commands.Allocate("o1", "COMPLICATED-LAMP", 10))
    bus_with_fakes.handle(commands.Allocate("o2", "COMPLICATED-LAMP", 5))
    assert fake_uow.published[1:] == [
        events.Allocated(
            sku="COMPLICATED-LAMP", version=2, orderid="o1", qty=10, batchref="b1", arrival=2
        ),
        events.Allocated(
            sku="COMPLICATED-LAMP", version=3, orderid="o2", qty=5, batchref="b1", arrival=3
        ),
    ]
    assert fake_uow.products.get("COMPLICATED-LAMP").events == []


def test_allocate_for_an_unknown_sku_is_an_error(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "AREALSKU", 100, None))
    fake_uow.committed = False
    with pytest.raises(InvalidSku, match=r"^Invalid sku NONEXISTENTSKU$"):
        bus_with_fakes.handle(commands.Allocate("o1", "NONEXISTENTSKU", 10))
    assert not fake_uow.committed
    assert len(fake_uow.published) == 1


def test_allocate_out_of_stock_returns_none_and_commits_the_wait(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "POPULAR-CURTAINS", 9, None))
    assert bus_with_fakes.handle(commands.Allocate("o1", "POPULAR-CURTAINS", 10)) is None
    assert fake_uow.published[-1] == events.OutOfStock(
        sku="POPULAR-CURTAINS", version=2, orderid="o1", qty=10, arrival=2
    )
    assert [b.line.orderid for b in fake_uow.products.get("POPULAR-CURTAINS").backorders] == ["o1"]


def test_allocate_identical_resubmission_publishes_nothing_new(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "LAMP", 10, None))
    assert bus_with_fakes.handle(commands.Allocate("o1", "LAMP", 3)) == "b1"
    assert bus_with_fakes.handle(commands.Allocate("o1", "LAMP", 3)) == "b1"
    assert [e.name for e in fake_uow.published] == ["BatchCreated", "Allocated"]
    with pytest.raises(LineConflict):
        bus_with_fakes.handle(commands.Allocate("o1", "LAMP", 4))


def test_stock_arriving_serves_a_waiting_line(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "LAMP", 1, None))
    bus_with_fakes.handle(commands.Allocate("o1", "LAMP", 5))
    bus_with_fakes.handle(commands.CreateBatch("b2", "LAMP", 5, LATER))
    assert fake_uow.published[-1] == events.Allocated(
        sku="LAMP", version=4, orderid="o1", qty=5, batchref="b2", arrival=2
    )


# -- deallocate -----------------------------------------------------------------------------


def test_deallocate_frees_the_line(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "LAMP", 10, None))
    bus_with_fakes.handle(commands.Allocate("o1", "LAMP", 4))
    bus_with_fakes.handle(commands.Deallocate("o1", "LAMP"))
    product = fake_uow.products.get("LAMP")
    assert product.batch("b1").available_quantity == 10
    assert product.line_state("o1") is None
    assert fake_uow.published[-1] == events.Deallocated(
        sku="LAMP", version=3, orderid="o1", qty=4, batchref="b1"
    )


def test_deallocate_a_waiting_line_cancels_it(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "LAMP", 1, None))
    bus_with_fakes.handle(commands.Allocate("o1", "LAMP", 4))
    bus_with_fakes.handle(commands.Deallocate("o1", "LAMP"))
    assert fake_uow.published[-1] == events.BackorderCancelled(
        sku="LAMP", version=3, orderid="o1", qty=4
    )


def test_deallocate_errors(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "LAMP", 10, None))
    with pytest.raises(InvalidSku, match="Invalid sku NOPE"):
        bus_with_fakes.handle(commands.Deallocate("o1", "NOPE"))
    with pytest.raises(UnknownLine, match="Order o1 has no line for sku LAMP"):
        bus_with_fakes.handle(commands.Deallocate("o1", "LAMP"))
    assert len(fake_uow.published) == 1


# -- change_batch_quantity ------------------------------------------------------------------


def test_change_batch_quantity_changes_available_quantity(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "ADORABLE-SETTEE", 100, None))
    bus_with_fakes.handle(commands.ChangeBatchQuantity("b1", 50))
    assert fake_uow.products.get("ADORABLE-SETTEE").batch("b1").available_quantity == 50
    assert fake_uow.published[-1] == events.BatchQuantityChanged(
        sku="ADORABLE-SETTEE", version=2, ref="b1", qty=50
    )


def test_change_batch_quantity_reallocates_if_necessary(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "INDIFFERENT-TABLE", 50, None))
    bus_with_fakes.handle(commands.CreateBatch("b2", "INDIFFERENT-TABLE", 50, LATER))
    bus_with_fakes.handle(commands.Allocate("o1", "INDIFFERENT-TABLE", 20))
    bus_with_fakes.handle(commands.Allocate("o2", "INDIFFERENT-TABLE", 20))
    product = fake_uow.products.get("INDIFFERENT-TABLE")
    assert [product.batch(r).available_quantity for r in ("b1", "b2")] == [10, 50]

    bus_with_fakes.handle(commands.ChangeBatchQuantity("b1", 25))

    product = fake_uow.products.get("INDIFFERENT-TABLE")
    assert [product.batch(r).available_quantity for r in ("b1", "b2")] == [5, 30]
    assert fake_uow.published[4:] == [
        events.BatchQuantityChanged(sku="INDIFFERENT-TABLE", version=5, ref="b1", qty=25),
        events.Deallocated(sku="INDIFFERENT-TABLE", version=6, orderid="o2", qty=20, batchref="b1"),
        events.Allocated(
            sku="INDIFFERENT-TABLE", version=7, orderid="o2", qty=20, batchref="b2", arrival=4
        ),
    ]


def test_change_batch_quantity_of_an_unknown_batch_is_an_error(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "LAMP", 10, None))
    fake_uow.committed = False
    with pytest.raises(UnknownBatch, match="Invalid batch ref nope"):
        bus_with_fakes.handle(commands.ChangeBatchQuantity("nope", 5))
    assert not fake_uow.committed


def test_change_batch_quantity_negative_is_an_error(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "LAMP", 10, None))
    with pytest.raises(InvalidQuantity):
        bus_with_fakes.handle(commands.ChangeBatchQuantity("b1", -1))
    assert fake_uow.products.get("LAMP").batch("b1").purchased_quantity == 10
