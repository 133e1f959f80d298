"""The Product aggregate: allocation, versions, idempotence, deallocation, batch changes."""

from collections.abc import Iterable
from datetime import date, timedelta

import pytest

from allocation.domain import events
from allocation.domain.model import (
    Allocation,
    AllocationLookup,
    Backorder,
    Batch,
    DuplicateBatch,
    InvalidQuantity,
    LineConflict,
    OrderLine,
    Product,
    UnknownBatch,
    UnknownLine,
)

SKU = "RETRO-CLOCK"
TODAY = date(2024, 5, 1)
TOMORROW = TODAY + timedelta(days=1)
LATER = TODAY + timedelta(days=10)


def line(orderid: str, qty: int, sku: str = SKU) -> OrderLine:
    return OrderLine(orderid, sku, qty)


def product(
    *batches: tuple[str, int] | tuple[str, int, date | None],
    version: int = 0,
    sku: str = SKU,
    lookup: AllocationLookup | None = None,
) -> Product:
    """A product loaded with the given batches, as (ref, qty, eta) or (ref, qty)."""
    built = []
    for ref, qty, *eta in batches:
        built.append(Batch(ref, sku, qty, eta[0] if eta else None))
    return Product(sku, built, version_number=version, lookup=lookup)


def get_batch(prod: Product, ref: str) -> Batch:
    batch = prod.batch(ref)
    assert batch is not None, f"no batch {ref}"
    return batch


def allocated(orderid: str, qty: int, batchref: str, version: int) -> events.Allocated:
    return events.Allocated(sku=SKU, version=version, orderid=orderid, qty=qty, batchref=batchref)


def deallocated(orderid: str, qty: int, batchref: str, version: int) -> events.Deallocated:
    return events.Deallocated(sku=SKU, version=version, orderid=orderid, qty=qty, batchref=batchref)


def out_of_stock(orderid: str, qty: int, version: int) -> events.OutOfStock:
    return events.OutOfStock(sku=SKU, version=version, orderid=orderid, qty=qty)


def quantities(prod: Product) -> dict[str, int]:
    """{ref: allocated_quantity} for every batch of the product."""
    return {b.reference: b.allocated_quantity for b in prod.batches}


def batch_of(prod: Product, orderid: str) -> str | None:
    """The batch the order's line is allocated to; None if it waits or is unknown."""
    state = prod.line_state(orderid)
    return state.batchref if isinstance(state, Allocation) else None


# -- preference -----------------------------------------------------------------------


def test_prefers_warehouse_stock_to_shipments():
    prod = product(("shipment", 100, TOMORROW), ("warehouse", 100))
    assert prod.allocate(line("o1", 10)) == "warehouse"
    assert quantities(prod) == {"shipment": 0, "warehouse": 10}


def test_prefers_earliest_eta():
    prod = product(("later", 100, LATER), ("today", 100, TODAY), ("tomorrow", 100, TOMORROW))
    assert prod.allocate(line("o1", 10)) == "today"
    assert quantities(prod) == {"later": 0, "today": 10, "tomorrow": 0}


def test_ties_are_broken_by_reference_whatever_the_load_order():
    for order in (("b", "a", "c"), ("c", "b", "a"), ("a", "c", "b")):
        prod = product(*[(ref, 10, TOMORROW) for ref in order])
        assert prod.allocate(line("o1", 1)) == "a"


def test_warehouse_ties_are_broken_by_reference():
    prod = product(("w-2", 10), ("w-1", 10))
    assert prod.allocate(line("o1", 1)) == "w-1"


def test_skips_a_preferred_batch_that_cannot_take_the_whole_line():
    prod = product(("warehouse", 5), ("shipment", 100, TOMORROW))
    assert prod.allocate(line("o1", 6)) == "shipment"
    assert quantities(prod) == {"warehouse": 0, "shipment": 6}


def test_uses_the_preferred_batch_until_it_is_exhausted():
    prod = product(("warehouse", 10), ("shipment", 100, TOMORROW))
    assert [prod.allocate(line(f"o{i}", 4)) for i in range(4)] == [
        "warehouse",
        "warehouse",
        "shipment",
        "shipment",
    ]
    assert quantities(prod) == {"warehouse": 8, "shipment": 8}


def test_exact_fit_fills_the_batch():
    prod = product(("b1", 10))
    assert prod.allocate(line("o1", 10)) == "b1"
    assert get_batch(prod, "b1").available_quantity == 0


# -- allocate: answer, event, version ---------------------------------------------------


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


# -- idempotence and conflicts ----------------------------------------------------------


def test_identical_resubmission_is_a_no_op_returning_the_same_batch():
    prod = product(("b1", 20))
    assert prod.allocate(line("o1", 5)) == "b1"
    assert prod.allocate(line("o1", 5)) == "b1"
    assert prod.events == [allocated("o1", 5, "b1", version=1)]
    assert prod.version_number == 1
    assert get_batch(prod, "b1").allocated_quantity == 5


def test_resubmission_answers_the_original_batch_even_if_another_is_now_preferred():
    prod = product(("shipment", 20, TOMORROW))
    assert prod.allocate(line("o1", 5)) == "shipment"
    prod.add_batch("warehouse", 20)
    assert prod.allocate(line("o1", 5)) == "shipment"
    assert quantities(prod) == {"shipment": 5, "warehouse": 0}


def test_same_order_and_sku_with_a_different_qty_is_a_conflict():
    prod = product(("b1", 20))
    prod.allocate(line("o1", 5))
    with pytest.raises(
        LineConflict, match="Order o1 already has 5 of RETRO-CLOCK; cannot change it to 6"
    ):
        prod.allocate(line("o1", 6))
    assert get_batch(prod, "b1").allocated_quantity == 5
    assert prod.version_number == 1
    assert len(prod.events) == 1


def test_same_order_can_have_lines_for_other_skus():
    lamp, clock = Product("LAMP", [Batch("l1", "LAMP", 10)]), product(("c1", 10))
    assert lamp.allocate(OrderLine("o1", "LAMP", 3)) == "l1"
    assert clock.allocate(line("o1", 4)) == "c1"


def test_a_deallocated_line_can_be_submitted_again_as_new():
    prod = product(("b1", 20))
    prod.allocate(line("o1", 5))
    prod.deallocate("o1")
    assert prod.allocate(line("o1", 7)) == "b1"
    assert get_batch(prod, "b1").allocated_quantity == 7
    assert prod.events[-1] == allocated("o1", 7, "b1", version=3)


# -- add_batch --------------------------------------------------------------------------


def test_add_batch_creates_it_and_raises_batch_created():
    prod = product(version=2)
    batch = prod.add_batch("b1", 30, TOMORROW)
    assert prod.batch("b1") is batch
    assert (batch.sku, batch.purchased_quantity, batch.eta) == (SKU, 30, TOMORROW)
    assert prod.events == [events.BatchCreated(sku=SKU, version=3, ref="b1", qty=30, eta=TOMORROW)]
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


# -- deallocate -------------------------------------------------------------------------


def test_deallocate_frees_the_batch_and_raises_deallocated():
    prod = product(("b1", 20))
    prod.allocate(line("o1", 5))
    prod.allocate(line("o2", 3))
    assert prod.deallocate("o1") == line("o1", 5)
    assert get_batch(prod, "b1").allocated_quantity == 3
    assert get_batch(prod, "b1").available_quantity == 17
    assert prod.line_state("o1") is None
    assert prod.events[-1] == deallocated("o1", 5, "b1", version=3)
    assert prod.version_number == 3


def test_deallocate_of_an_unknown_line_is_an_error():
    prod = product(("b1", 20))
    prod.allocate(line("o1", 5))
    with pytest.raises(UnknownLine, match="Order o2 has no line for sku RETRO-CLOCK"):
        prod.deallocate("o2")
    assert prod.version_number == 1
    assert get_batch(prod, "b1").allocated_quantity == 5


def test_deallocate_twice_is_an_error_the_second_time():
    prod = product(("b1", 20))
    prod.allocate(line("o1", 5))
    prod.deallocate("o1")
    with pytest.raises(UnknownLine):
        prod.deallocate("o1")
    assert get_batch(prod, "b1").allocated_quantity == 0
    assert prod.version_number == 2


def test_changed_lines_reports_new_states_and_removals():
    prod = product(("b1", 5))
    prod.allocate(line("o1", 3))
    prod.allocate(line("o2", 2))
    prod.allocate(line("o3", 9))
    prod.deallocate("o2")
    assert prod.changed_lines() == {
        "o1": Allocation(line("o1", 3), "b1", arrival=1, sequence=1),
        "o2": None,
        "o3": Backorder(line("o3", 9), arrival=3),
    }


# -- change_batch_quantity --------------------------------------------------------------


def test_shrinking_evicts_the_latest_allocated_first_until_it_fits():
    prod = product(("b1", 10))
    for orderid in ("o1", "o2", "o3"):
        prod.allocate(line(orderid, 3))
    prod.events.clear()
    prod.change_batch_quantity("b1", 5)
    assert prod.events == [
        events.BatchQuantityChanged(sku=SKU, version=4, ref="b1", qty=5),
        deallocated("o3", 3, "b1", version=5),
        deallocated("o2", 3, "b1", version=6),
        out_of_stock("o2", 3, version=7),
        out_of_stock("o3", 3, version=8),
    ]
    assert get_batch(prod, "b1").purchased_quantity == 5
    assert get_batch(prod, "b1").allocated_quantity == 3
    assert batch_of(prod, "o1") == "b1"
    assert [b.line.orderid for b in prod.backorders] == ["o2", "o3"]


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
        events.BatchQuantityChanged(sku=SKU, version=3, ref="warehouse", qty=5),
        deallocated("o2", 4, "warehouse", version=4),
        allocated("o2", 4, "shipment", version=5),
    ]
    assert quantities(prod) == {"warehouse": 4, "shipment": 4}
    assert prod.line_state("o2") == Allocation(line("o2", 4), "shipment", arrival=2, sequence=5)
    assert prod.backorders == []


def test_evicted_lines_that_fit_nowhere_wait():
    prod = product(("b1", 10))
    prod.allocate(line("o1", 6))
    prod.change_batch_quantity("b1", 5)
    assert prod.events[-2:] == [deallocated("o1", 6, "b1", version=3), out_of_stock("o1", 6, 4)]
    assert prod.backorders == [Backorder(line("o1", 6), arrival=1)]
    assert get_batch(prod, "b1").allocated_quantity == 0


def test_shrinking_to_zero_evicts_everything():
    prod = product(("b1", 10))
    prod.allocate(line("o1", 1))
    prod.allocate(line("o2", 2))
    prod.change_batch_quantity("b1", 0)
    assert get_batch(prod, "b1").allocated_quantity == 0
    assert [b.line.orderid for b in prod.backorders] == ["o1", "o2"]


def test_growing_a_batch_raises_batch_quantity_changed_only():
    prod = product(("b1", 10))
    prod.allocate(line("o1", 4))
    prod.change_batch_quantity("b1", 25)
    assert prod.events[-1] == events.BatchQuantityChanged(sku=SKU, version=2, ref="b1", qty=25)
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


# -- lazily fetched allocations (AllocationLookup) --------------------------------------


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
        events.BatchQuantityChanged(sku=SKU, version=21, ref="b1", qty=4),
        deallocated("o2", 3, "b1", version=22),
        deallocated("o3", 3, "b1", version=23),
        allocated("o2", 3, "b2", version=24),  # arrival 3 before arrival 4
        allocated("o3", 3, "b2", version=25),
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
    prod = Product(
        SKU,
        [],
        backorders=[Backorder(line("b", 1), arrival=9), Backorder(line("a", 1), arrival=4)],
    )
    assert [b.line.orderid for b in prod.backorders] == ["a", "b"]
    prod.add_batch("b1", 1)
    assert batch_of(prod, "a") == "b1"
    assert isinstance(prod.line_state("b"), Backorder)
