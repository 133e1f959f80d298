"""Batch: what it can take, and the order in which batches are preferred."""

from datetime import date

import pytest

from allocation.domain.model import Batch, OrderLine
from tests.unit.builders import LATER, TODAY, TOMORROW


def make_batch_and_line(
    sku: str = "LAMP", batch_qty: int = 20, line_qty: int = 2, allocated: int = 0
) -> tuple[Batch, OrderLine]:
    batch = Batch("batch-001", sku, batch_qty, eta=None, allocated_quantity=allocated)
    return batch, OrderLine("order-1", sku, line_qty)


def by_preference(*batches: Batch) -> list[str]:
    return [b.reference for b in sorted(batches, key=Batch.preference)]


# -- available quantity -------------------------------------------------------------


def test_new_batch_has_everything_available():
    batch = Batch("b1", "LAMP", 20)
    assert batch.purchased_quantity == 20
    assert batch.allocated_quantity == 0
    assert batch.available_quantity == 20


def test_available_quantity_is_purchased_minus_allocated():
    batch = Batch("b1", "LAMP", 20, allocated_quantity=7)
    assert batch.available_quantity == 13


def test_available_quantity_follows_purchased_quantity_changes():
    batch = Batch("b1", "LAMP", 20, allocated_quantity=7)
    batch.purchased_quantity = 5
    assert batch.available_quantity == -2


def test_eta_defaults_to_warehouse_stock():
    assert Batch("b1", "LAMP", 1).eta is None


# -- can_allocate ---------------------------------------------------------------------


def test_can_allocate_if_available_greater_than_required():
    batch, line = make_batch_and_line(batch_qty=20, line_qty=2)
    assert batch.can_allocate(line)


def test_can_allocate_if_available_equal_to_required():
    batch, line = make_batch_and_line(batch_qty=2, line_qty=2)
    assert batch.can_allocate(line)


def test_can_allocate_exact_fit_of_what_is_left():
    batch, line = make_batch_and_line(batch_qty=10, line_qty=4, allocated=6)
    assert batch.can_allocate(line)


def test_cannot_allocate_if_available_smaller_than_required():
    batch, line = make_batch_and_line(batch_qty=2, line_qty=3)
    assert not batch.can_allocate(line)


def test_cannot_allocate_when_allocations_leave_too_little():
    batch, line = make_batch_and_line(batch_qty=10, line_qty=4, allocated=7)
    assert not batch.can_allocate(line)


def test_cannot_allocate_if_skus_do_not_match():
    batch = Batch("b1", "LAMP", 100)
    assert not batch.can_allocate(OrderLine("order-1", "CHAIR", 1))


def test_cannot_allocate_to_an_overcommitted_batch():
    batch, line = make_batch_and_line(batch_qty=5, line_qty=1, allocated=6)
    assert not batch.can_allocate(line)


# -- identity -------------------------------------------------------------------------


def test_batches_are_equal_by_reference():
    assert Batch("b1", "LAMP", 1) == Batch("b1", "CHAIR", 99, eta=LATER)
    assert Batch("b1", "LAMP", 1) != Batch("b2", "LAMP", 1)
    assert len({Batch("b1", "LAMP", 1), Batch("b1", "LAMP", 2)}) == 1


def test_batch_is_not_equal_to_other_types():
    assert Batch("b1", "LAMP", 1) != "b1"


# -- preference -----------------------------------------------------------------------


def test_warehouse_stock_is_preferred_to_shipments():
    shipment = Batch("a-shipment", "LAMP", 10, eta=TODAY)
    warehouse = Batch("z-warehouse", "LAMP", 10, eta=None)
    assert by_preference(shipment, warehouse) == ["z-warehouse", "a-shipment"]


def test_earliest_eta_is_preferred():
    later = Batch("a-later", "LAMP", 10, eta=LATER)
    tomorrow = Batch("b-tomorrow", "LAMP", 10, eta=TOMORROW)
    today = Batch("c-today", "LAMP", 10, eta=TODAY)
    assert by_preference(later, tomorrow, today) == ["c-today", "b-tomorrow", "a-later"]


def test_even_a_very_early_eta_comes_after_warehouse_stock():
    ancient = Batch("a-ancient", "LAMP", 10, eta=date.min)
    warehouse = Batch("b-warehouse", "LAMP", 10)
    assert by_preference(ancient, warehouse) == ["b-warehouse", "a-ancient"]


def test_reference_breaks_ties_between_warehouse_batches():
    assert by_preference(
        Batch("w-3", "LAMP", 10), Batch("w-1", "LAMP", 10), Batch("w-2", "LAMP", 10)
    ) == ["w-1", "w-2", "w-3"]


def test_reference_breaks_ties_between_equal_etas():
    assert by_preference(
        Batch("s-b", "LAMP", 10, eta=TOMORROW), Batch("s-a", "LAMP", 10, eta=TOMORROW)
    ) == ["s-a", "s-b"]


def test_preference_ignores_quantities():
    small = Batch("a", "LAMP", 1, eta=TODAY)
    big = Batch("b", "LAMP", 1000, eta=TODAY)
    assert by_preference(big, small) == ["a", "b"]


@pytest.mark.parametrize(
    ("eta", "expected_first"),
    [(None, False), (TODAY, True)],
)
def test_preference_key_starts_with_whether_the_batch_is_still_shipping(eta, expected_first):
    assert Batch("b", "LAMP", 1, eta=eta).preference()[0] is expected_first
