"""Every change raises its events, each one version on from the last, gap-free; a refusal none."""

import pytest

from allocation.domain.model import Allocation, InvalidQuantity
from tests.unit.builders import (
    SKU,
    TOMORROW,
    allocated,
    batch_of,
    line,
    product,
)


def test_allocate_returns_batchref_and_raises_allocated_with_new_version():
    prod = product(("b1", 20), version=7)
    assert prod.allocate(line("o1", 3)) == "b1"
    assert prod.version_number == 8
    assert prod.events == [allocated("o1", 3, "b1", version=8)]


def test_allocate_records_where_the_line_stands():
    prod = product(("b1", 20), version=4)
    prod.allocate(line("o1", 3))
    assert prod.line_state("o1") == Allocation(line("o1", 3), "b1", arrival=5, sequence=5)
    assert prod.line_state("other") is None


def test_allocate_rejects_a_line_for_another_sku():
    prod = product(("b1", 20))
    with pytest.raises(ValueError, match="Line for OTHER sent to product RETRO-CLOCK"):
        prod.allocate(line("o1", 1, sku="OTHER"))
    assert prod.events == []
    assert prod.version_number == 0


@pytest.mark.parametrize("qty", [0, -1, -100])
def test_allocate_rejects_non_positive_quantities(qty):
    prod = product(("b1", 20))
    with pytest.raises(InvalidQuantity, match=f"Quantity must be positive, got {qty}"):
        prod.allocate(line("o1", qty))
    assert prod.events == []
    assert prod.version_number == 0
    assert prod.line_state("o1") is None


def test_version_bumps_once_per_event_and_is_gap_free():
    prod = product()
    prod.add_batch("b1", 10)
    prod.allocate(line("o1", 4))
    prod.allocate(line("o2", 4))
    prod.allocate(line("o3", 4))  # waits
    prod.add_batch("b2", 10, TOMORROW)  # creates and serves o3
    prod.deallocate("o1")
    prod.change_batch_quantity("b2", 2)  # evicts o3, who goes back to b1
    assert [e.version for e in prod.events] == list(range(1, len(prod.events) + 1))
    assert prod.version_number == len(prod.events) == 10
    assert [e.name for e in prod.events] == [
        "BatchCreated",
        "Allocated",
        "Allocated",
        "OutOfStock",
        "BatchCreated",
        "Allocated",
        "Deallocated",
        "BatchQuantityChanged",
        "Deallocated",
        "Allocated",
    ]
    assert batch_of(prod, "o3") == "b1"


def test_versions_continue_from_the_loaded_version():
    prod = product(("b1", 10), version=41)
    prod.allocate(line("o1", 1))
    prod.allocate(line("o2", 1))
    prod.change_batch_quantity("b1", 12)
    assert [e.version for e in prod.events] == [42, 43, 44]
    assert prod.version_number == 44


def test_every_event_carries_the_sku():
    prod = product()
    prod.add_batch("b1", 1)
    prod.allocate(line("o1", 1))
    prod.allocate(line("o2", 1))
    prod.deallocate("o2")
    prod.deallocate("o1")
    assert prod.events
    assert {e.sku for e in prod.events} == {SKU}
