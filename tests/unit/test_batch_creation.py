"""Adding a batch raises BatchCreated; its reference is unique and its quantity positive."""

import pytest

from allocation.domain.model import DuplicateBatch, InvalidQuantity
from tests.unit.builders import SKU, TOMORROW, batch_created, get_batch, line, product


def test_add_batch_creates_it_and_raises_batch_created():
    prod = product(version=2)
    batch = prod.add_batch("b1", 30, TOMORROW)
    assert prod.batch("b1") is batch
    assert (batch.sku, batch.purchased_quantity, batch.eta) == (SKU, 30, TOMORROW)
    assert prod.events == [batch_created("b1", 30, TOMORROW, version=3)]
    assert prod.version_number == 3


def test_add_batch_with_an_existing_reference_is_an_error():
    prod = product(("b1", 10))
    prod.allocate(line("o1", 2))
    with pytest.raises(DuplicateBatch, match="Batch b1 already exists"):
        prod.add_batch("b1", 99, TOMORROW)
    assert len(prod.batches) == 1
    assert get_batch(prod, "b1").purchased_quantity == 10
    assert get_batch(prod, "b1").allocated_quantity == 2
    assert prod.version_number == 1


@pytest.mark.parametrize("qty", [0, -5])
def test_add_batch_rejects_non_positive_quantities(qty):
    prod = product()
    with pytest.raises(InvalidQuantity, match=f"Batch quantity must be positive, got {qty}"):
        prod.add_batch("b1", qty)
    assert prod.batches == []
    assert prod.events == []
    assert prod.version_number == 0


def test_batch_lookup_by_reference():
    prod = product(("b1", 1), ("b2", 2))
    assert get_batch(prod, "b2").purchased_quantity == 2
    assert prod.batch("nope") is None
