"""Re-submitting an identical line is a no-op answering where it stands; another qty conflicts."""

import pytest

from allocation.domain.model import Backorder, LineConflict
from tests.unit.builders import (
    TOMORROW,
    allocated,
    created_product,
    get_batch,
    line,
    product,
    quantities,
)

# -- allocated lines --------------------------------------------------------------------


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
    lamp, clock = product(("l1", 10), sku="LAMP"), product(("c1", 10))
    assert lamp.allocate(line("o1", 3, sku="LAMP")) == "l1"
    assert clock.allocate(line("o1", 4)) == "c1"


def test_a_deallocated_line_can_be_submitted_again_as_new():
    prod = product(("b1", 20))
    prod.allocate(line("o1", 5))
    prod.deallocate("o1")
    assert prod.allocate(line("o1", 7)) == "b1"
    assert get_batch(prod, "b1").allocated_quantity == 7
    assert prod.events[-1] == allocated("o1", 7, "b1", version=3)


# -- waiting lines ----------------------------------------------------------------------


def test_resubmitting_an_identical_waiting_line_is_a_no_op():
    prod = created_product(("b1", 1))
    prod.allocate(line("o1", 5))
    version, count = prod.version_number, len(prod.events)
    assert prod.allocate(line("o1", 5)) is None
    assert prod.version_number == version
    assert len(prod.events) == count
    assert prod.backorders == [Backorder(line("o1", 5), arrival=2)]


def test_resubmitting_a_waiting_line_with_another_qty_is_a_conflict():
    table = "SMALL-TABLE"
    prod = created_product(("b1", 1), sku=table)
    prod.allocate(line("o1", 5, sku=table))
    with pytest.raises(LineConflict, match="Order o1 already has 5 of SMALL-TABLE"):
        prod.allocate(line("o1", 1, sku=table))  # would even fit: still a conflict
    assert prod.backorders == [Backorder(line("o1", 5, sku=table), arrival=2)]
    assert get_batch(prod, "b1").allocated_quantity == 0
    assert prod.version_number == 2


def test_a_line_served_from_the_queue_answers_its_batch_on_resubmission():
    prod = product()
    prod.allocate(line("o1", 5))
    prod.add_batch("b1", 5)
    assert prod.allocate(line("o1", 5)) == "b1"
    assert get_batch(prod, "b1").allocated_quantity == 5
