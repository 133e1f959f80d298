"""Loaded state: stored allocations fetched once, only when needed; backorders in arrival order."""

from collections.abc import Iterable
from datetime import date

import pytest

from allocation.domain.model import (
    Allocation,
    AllocationLookup,
    Backorder,
    Batch,
    LineConflict,
    Product,
)
from tests.unit.builders import (
    SKU,
    TOMORROW,
    allocated,
    batch_of,
    batch_quantity_changed,
    deallocated,
    get_batch,
    line,
    product,
    quantities,
    waiting,
)


class StubLookup:
    """Stands in for the repository: allocations stored before this product was loaded."""

    def __init__(self, *stored: Allocation) -> None:
        self.stored = list(stored)
        self.calls: list[tuple[str, str]] = []

    def of_order(self, orderid: str) -> Allocation | None:
        self.calls.append(("of_order", orderid))
        return next((a for a in self.stored if a.line.orderid == orderid), None)

    def in_batch(self, batchref: str) -> Iterable[Allocation]:
        self.calls.append(("in_batch", batchref))
        return [a for a in self.stored if a.batchref == batchref]


def stored(orderid: str, qty: int, batchref: str, arrival: int, sequence: int) -> Allocation:
    return Allocation(line(orderid, qty), batchref, arrival=arrival, sequence=sequence)


def loaded_product(
    lookup: AllocationLookup, *batches: tuple[str, int, date | None, int], version: int = 20
) -> Product:
    """A product as the repository loads it: batches with allocated totals, no lines."""
    return Product(
        SKU,
        [Batch(ref, SKU, qty, eta, allocated_quantity=alloc) for ref, qty, eta, alloc in batches],
        version_number=version,
        lookup=lookup,
    )


def test_loading_fetches_no_allocations():
    lookup = StubLookup(stored("o1", 3, "b1", 1, 1))
    loaded_product(lookup, ("b1", 10, None, 3))
    assert lookup.calls == []


def test_resubmitting_a_stored_allocation_is_a_no_op():
    lookup = StubLookup(stored("o1", 3, "b1", arrival=5, sequence=5))
    prod = loaded_product(lookup, ("b1", 10, None, 3), ("b0", 10, None, 0))
    assert prod.allocate(line("o1", 3)) == "b1"  # not b0, the preferred one
    assert prod.events == []
    assert prod.version_number == 20
    assert quantities(prod) == {"b1": 3, "b0": 0}
    assert lookup.calls == [("of_order", "o1")]


def test_stored_allocation_is_fetched_once():
    lookup = StubLookup(stored("o1", 3, "b1", arrival=5, sequence=5))
    prod = loaded_product(lookup, ("b1", 10, None, 3))
    prod.line_state("o1")
    prod.allocate(line("o1", 3))
    prod.line_state("o2")
    prod.line_state("o2")
    assert lookup.calls == [("of_order", "o1"), ("of_order", "o2")]


def test_a_stored_allocation_with_another_qty_is_a_conflict():
    lookup = StubLookup(stored("o1", 3, "b1", arrival=5, sequence=5))
    prod = loaded_product(lookup, ("b1", 10, None, 3))
    with pytest.raises(LineConflict):
        prod.allocate(line("o1", 4))
    assert get_batch(prod, "b1").allocated_quantity == 3


def test_deallocating_a_stored_allocation_frees_its_batch():
    lookup = StubLookup(stored("o1", 3, "b1", arrival=5, sequence=5))
    prod = loaded_product(lookup, ("b1", 10, None, 3))
    prod.deallocate("o1")
    assert get_batch(prod, "b1").allocated_quantity == 0
    assert prod.events == [deallocated("o1", 3, "b1", version=21)]
    assert prod.changed_lines() == {"o1": None}


def test_shrinking_evicts_stored_allocations_fetched_from_the_batch():
    lookup = StubLookup(
        stored("o1", 3, "b1", arrival=2, sequence=2),
        stored("o2", 3, "b1", arrival=3, sequence=12),
        stored("o3", 3, "b1", arrival=4, sequence=8),
        stored("elsewhere", 3, "b2", arrival=1, sequence=1),
    )
    prod = loaded_product(lookup, ("b1", 9, None, 9), ("b2", 10, TOMORROW, 3))
    prod.change_batch_quantity("b1", 4)
    assert prod.events == [
        batch_quantity_changed("b1", 4, version=21),
        deallocated("o2", 3, "b1", version=22),
        deallocated("o3", 3, "b1", version=23),
        allocated("o2", 3, "b2", version=24, arrival=3),  # arrival 3 before arrival 4
        allocated("o3", 3, "b2", version=25, arrival=4),
    ]
    assert quantities(prod) == {"b1": 3, "b2": 9}
    assert ("in_batch", "b1") in lookup.calls
    assert batch_of(prod, "o1") == "b1"
    assert batch_of(prod, "o2") == "b2"


def test_allocations_made_after_loading_are_evicted_before_stored_ones():
    lookup = StubLookup(stored("old", 5, "b1", arrival=3, sequence=3))
    prod = loaded_product(lookup, ("b1", 10, None, 5))
    prod.allocate(line("new", 5))
    prod.change_batch_quantity("b1", 6)
    assert batch_of(prod, "old") == "b1"
    assert isinstance(prod.line_state("new"), Backorder)
    assert get_batch(prod, "b1").allocated_quantity == 5


def test_a_stored_allocation_already_moved_in_memory_is_not_evicted_twice():
    lookup = StubLookup(
        stored("o1", 4, "b1", arrival=1, sequence=1),
        stored("o2", 4, "b1", arrival=2, sequence=2),
    )
    prod = loaded_product(lookup, ("b1", 8, None, 8))
    prod.deallocate("o2")  # known in memory as gone, though the lookup still has it
    prod.change_batch_quantity("b1", 3)
    assert get_batch(prod, "b1").allocated_quantity == 0
    assert [e.name for e in prod.events] == [
        "Deallocated",
        "BatchQuantityChanged",
        "Deallocated",
        "OutOfStock",
    ]
    assert prod.events[2] == deallocated("o1", 4, "b1", version=23)
    assert prod.line_state("o2") is None


def test_backorders_are_loaded_in_arrival_order():
    prod = product(
        backorders=[Backorder(line("b", 1), arrival=9), Backorder(line("a", 1), arrival=4)]
    )
    assert waiting(prod) == ["a", "b"]
    prod.add_batch("b1", 1)
    assert batch_of(prod, "a") == "b1"
    assert isinstance(prod.line_state("b"), Backorder)
