"""Deallocating frees the line: an allocated one leaves its batch, a waiting one is cancelled."""

import pytest

from allocation.domain.model import Allocation, Backorder, UnknownLine
from tests.unit.builders import (
    backorder_cancelled,
    batch_of,
    created_product,
    deallocated,
    get_batch,
    line,
    product,
    waiting,
)

# -- allocated lines --------------------------------------------------------------------


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


# -- waiting lines ----------------------------------------------------------------------


def test_deallocating_a_waiting_line_cancels_it():
    prod = created_product(("b1", 1))
    prod.allocate(line("o1", 5))
    assert prod.deallocate("o1") == line("o1", 5)
    assert prod.events[-1] == backorder_cancelled("o1", 5, version=3)
    assert prod.version_number == 3
    assert prod.backorders == []
    assert prod.line_state("o1") is None
    assert prod.changed_lines()["o1"] is None


def test_a_cancelled_line_is_not_served_when_stock_arrives():
    prod = product()
    prod.allocate(line("o1", 5))
    prod.allocate(line("o2", 5))
    prod.deallocate("o1")
    prod.add_batch("b1", 5)
    assert batch_of(prod, "o1") is None
    assert batch_of(prod, "o2") == "b1"
    assert [e.name for e in prod.events if getattr(e, "orderid", None) == "o1"] == [
        "OutOfStock",
        "BackorderCancelled",
    ]


def test_cancelling_a_waiting_line_twice_is_an_error():
    prod = product()
    prod.allocate(line("o1", 5))
    prod.deallocate("o1")
    with pytest.raises(UnknownLine):
        prod.deallocate("o1")


def test_cancelling_leaves_the_other_waiting_lines_in_order():
    prod = product()
    for orderid in ("o1", "o2", "o3"):
        prod.allocate(line(orderid, 1))
    prod.deallocate("o2")
    assert waiting(prod) == ["o1", "o3"]
