"""A shrinking batch evicts its latest placed lines until it fits; they move or wait at once."""

import pytest

from allocation.domain.model import Allocation, Backorder, InvalidQuantity, UnknownBatch
from tests.unit.builders import (
    TOMORROW,
    allocated,
    batch_of,
    batch_quantity_changed,
    deallocated,
    get_batch,
    line,
    out_of_stock,
    product,
    quantities,
    waiting,
)


def test_shrinking_evicts_the_latest_allocated_first_until_it_fits():
    prod = product(("b1", 10))
    for orderid in ("o1", "o2", "o3"):
        prod.allocate(line(orderid, 3))
    prod.events.clear()
    prod.change_batch_quantity("b1", 5)
    assert prod.events == [
        batch_quantity_changed("b1", 5, version=4),
        deallocated("o3", 3, "b1", version=5),
        deallocated("o2", 3, "b1", version=6),
        out_of_stock("o2", 3, version=7, arrival=2),  # their places in the queue kept
        out_of_stock("o3", 3, version=8, arrival=3),
    ]
    assert get_batch(prod, "b1").purchased_quantity == 5
    assert get_batch(prod, "b1").allocated_quantity == 3
    assert batch_of(prod, "o1") == "b1"
    assert waiting(prod) == ["o2", "o3"]


def test_shrinking_evicts_only_what_it_must():
    prod = product(("b1", 10))
    for orderid in ("o1", "o2", "o3"):
        prod.allocate(line(orderid, 3))
    prod.change_batch_quantity("b1", 6)
    assert [e.name for e in prod.events[3:]] == [
        "BatchQuantityChanged",
        "Deallocated",
        "OutOfStock",
    ]
    assert get_batch(prod, "b1").allocated_quantity == 6
    assert {batch_of(prod, o) for o in ("o1", "o2")} == {"b1"}
    assert isinstance(prod.line_state("o3"), Backorder)


def test_shrinking_to_exactly_the_allocated_quantity_evicts_nothing():
    prod = product(("b1", 10))
    prod.allocate(line("o1", 4))
    prod.allocate(line("o2", 3))
    prod.change_batch_quantity("b1", 7)
    assert [e.name for e in prod.events] == ["Allocated", "Allocated", "BatchQuantityChanged"]
    assert get_batch(prod, "b1").available_quantity == 0


def test_latest_means_latest_placed_in_the_batch_not_latest_arrived():
    prod = product(("b1", 2))
    prod.allocate(line("early", 5))  # arrives first, but waits
    prod.allocate(line("late", 2))  # arrives second, placed at once
    prod.change_batch_quantity("b1", 7)  # now "early" is placed: the latest in b1
    assert prod.line_state("early") == Allocation(line("early", 5), "b1", arrival=1, sequence=4)
    prod.change_batch_quantity("b1", 5)
    assert batch_of(prod, "late") == "b1"
    assert isinstance(prod.line_state("early"), Backorder)
    assert prod.events[-2] == deallocated("early", 5, "b1", version=6)


def test_evicted_lines_are_reallocated_to_another_batch():
    prod = product(("warehouse", 10), ("shipment", 10, TOMORROW))
    prod.allocate(line("o1", 4))
    prod.allocate(line("o2", 4))
    prod.change_batch_quantity("warehouse", 5)
    assert prod.events[2:] == [
        batch_quantity_changed("warehouse", 5, version=3),
        deallocated("o2", 4, "warehouse", version=4),
        allocated("o2", 4, "shipment", version=5, arrival=2),
    ]
    assert quantities(prod) == {"warehouse": 4, "shipment": 4}
    assert prod.line_state("o2") == Allocation(line("o2", 4), "shipment", arrival=2, sequence=5)
    assert prod.backorders == []


def test_evicted_lines_that_fit_nowhere_wait():
    prod = product(("b1", 10))
    prod.allocate(line("o1", 6))
    prod.change_batch_quantity("b1", 5)
    assert prod.events[-2:] == [
        deallocated("o1", 6, "b1", version=3),
        out_of_stock("o1", 6, 4, arrival=1),
    ]
    assert prod.backorders == [Backorder(line("o1", 6), arrival=1)]
    assert get_batch(prod, "b1").allocated_quantity == 0


def test_shrinking_to_zero_evicts_everything():
    prod = product(("b1", 10))
    prod.allocate(line("o1", 1))
    prod.allocate(line("o2", 2))
    prod.change_batch_quantity("b1", 0)
    assert get_batch(prod, "b1").allocated_quantity == 0
    assert waiting(prod) == ["o1", "o2"]


def test_growing_a_batch_raises_batch_quantity_changed_only():
    prod = product(("b1", 10))
    prod.allocate(line("o1", 4))
    prod.change_batch_quantity("b1", 25)
    assert prod.events[-1] == batch_quantity_changed("b1", 25, version=2)
    assert get_batch(prod, "b1").purchased_quantity == 25
    assert get_batch(prod, "b1").available_quantity == 21
    assert batch_of(prod, "o1") == "b1"


def test_shrinking_above_the_allocated_quantity_evicts_nothing():
    prod = product(("b1", 10))
    prod.allocate(line("o1", 4))
    prod.change_batch_quantity("b1", 6)
    assert [e.name for e in prod.events] == ["Allocated", "BatchQuantityChanged"]
    assert get_batch(prod, "b1").available_quantity == 2


def test_setting_the_same_quantity_is_a_no_op():
    prod = product(("b1", 10), version=3)
    prod.allocate(line("o1", 4))
    prod.change_batch_quantity("b1", 10)
    assert prod.version_number == 4
    assert len(prod.events) == 1


def test_changing_an_unknown_batch_is_an_error():
    prod = product(("b1", 10))
    with pytest.raises(UnknownBatch, match="Invalid batch ref nope"):
        prod.change_batch_quantity("nope", 5)
    assert prod.version_number == 0


@pytest.mark.parametrize("qty", [-1, -10])
def test_negative_batch_quantity_is_an_error(qty):
    prod = product(("b1", 10))
    prod.allocate(line("o1", 4))
    with pytest.raises(InvalidQuantity, match=f"cannot be negative, got {qty}"):
        prod.change_batch_quantity("b1", qty)
    assert get_batch(prod, "b1").purchased_quantity == 10
    assert get_batch(prod, "b1").allocated_quantity == 4
    assert prod.version_number == 1
