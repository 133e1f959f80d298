"""A line no batch can take waits on its product; stock serves the queue first come, first fit."""

from datetime import timedelta

import pytest

from allocation.domain.model import Allocation, Backorder, Product
from tests.unit.builders import (
    LATER,
    TODAY,
    allocated,
    batch_of,
    created_product,
    get_batch,
    line,
    out_of_stock,
    product,
    quantities,
    waiting,
)


def new_events(prod: Product, since: int) -> list[tuple[str, str | None]]:
    """Events recorded after version ``since``, as (name, orderid or ref) pairs."""
    return [
        (e.name, getattr(e, "orderid", None) or getattr(e, "ref", None))
        for e in prod.events
        if e.version > since
    ]


# -- a line no batch can take waits -----------------------------------------------------


def test_a_line_no_batch_can_take_waits_and_raises_out_of_stock():
    prod = created_product(("b1", 5))
    assert prod.allocate(line("o1", 6)) is None
    assert prod.events[-1] == out_of_stock("o1", 6, version=2)
    assert prod.version_number == 2
    assert prod.backorders == [Backorder(line("o1", 6), arrival=2)]
    assert prod.line_state("o1") == Backorder(line("o1", 6), arrival=2)
    assert get_batch(prod, "b1").allocated_quantity == 0


def test_a_product_without_batches_makes_every_line_wait():
    prod = product()
    assert prod.allocate(line("o1", 1)) is None
    assert prod.allocate(line("o2", 1)) is None
    assert waiting(prod) == ["o1", "o2"]
    assert [b.arrival for b in prod.backorders] == [1, 2]


def test_waiting_changes_no_batch():
    prod = created_product(("b1", 5), ("b2", 3))
    prod.allocate(line("o1", 4))
    prod.allocate(line("big", 6))
    assert quantities(prod) == {"b1": 4, "b2": 0}


def test_a_line_that_fits_in_no_single_batch_waits_even_if_the_total_would_do():
    prod = created_product(("b1", 5), ("b2", 5))
    assert prod.allocate(line("o1", 8)) is None
    assert waiting(prod) == ["o1"]


# -- waiting lines are served when stock grows ------------------------------------------


def test_a_new_batch_serves_waiting_lines_in_arrival_order():
    prod = product()
    for orderid in ("o1", "o2", "o3"):
        prod.allocate(line(orderid, 4))
    prod.add_batch("b1", 9)
    assert new_events(prod, 3) == [
        ("BatchCreated", "b1"),
        ("Allocated", "o1"),
        ("Allocated", "o2"),
    ]
    assert waiting(prod) == ["o3"]
    assert batch_of(prod, "o1") == batch_of(prod, "o2") == "b1"
    assert get_batch(prod, "b1").allocated_quantity == 8


def test_served_lines_raise_the_normal_allocated_event():
    prod = product()
    prod.allocate(line("o1", 4))
    prod.add_batch("b1", 4)
    assert prod.events[-1] == allocated("o1", 4, "b1", version=3, arrival=1)
    assert prod.line_state("o1") == Allocation(line("o1", 4), "b1", arrival=1, sequence=3)
    assert prod.backorders == []


def test_a_quantity_increase_serves_waiting_lines_in_arrival_order():
    prod = created_product(("b1", 2))
    prod.allocate(line("o1", 3))
    prod.allocate(line("o2", 3))
    prod.allocate(line("o3", 3))
    prod.change_batch_quantity("b1", 7)
    assert new_events(prod, 4) == [
        ("BatchQuantityChanged", "b1"),
        ("Allocated", "o1"),
        ("Allocated", "o2"),
    ]
    assert waiting(prod) == ["o3"]


def test_a_deallocation_serves_waiting_lines():
    prod = created_product(("b1", 5))
    prod.allocate(line("o1", 5))
    prod.allocate(line("o2", 3))
    prod.allocate(line("o3", 2))
    prod.deallocate("o1")
    assert new_events(prod, 4) == [
        ("Deallocated", "o1"),
        ("Allocated", "o2"),
        ("Allocated", "o3"),
    ]
    assert prod.backorders == []
    assert get_batch(prod, "b1").allocated_quantity == 5


def test_units_left_over_by_an_eviction_serve_waiting_lines():
    prod = created_product(("b1", 10))
    prod.allocate(line("small", 4))
    prod.allocate(line("big", 6))
    prod.allocate(line("waiter", 3))  # waits
    prod.change_batch_quantity("b1", 7)  # evicts "big": 3 units left over
    assert new_events(prod, 4) == [
        ("BatchQuantityChanged", "b1"),
        ("Deallocated", "big"),
        ("OutOfStock", "big"),
        ("Allocated", "waiter"),
    ]
    assert waiting(prod) == ["big"]
    assert get_batch(prod, "b1").allocated_quantity == 7


def test_a_reallocation_to_another_batch_frees_units_for_waiting_lines():
    prod = product(("b1", 10), ("b2", 6, LATER))
    prod.allocate(line("a", 4))  # b1
    prod.allocate(line("b", 6))  # b1, now full
    prod.allocate(line("c", 6))  # b2, now full
    prod.allocate(line("w", 5))  # waits
    prod.change_batch_quantity("b2", 5)  # evicts c, who waits: b2 has 5 for w
    assert batch_of(prod, "w") == "b2"
    assert waiting(prod) == ["c"]


@pytest.mark.parametrize(
    ("new_batch_eta", "expected"),
    [(None, "x-new"), (LATER + timedelta(days=1), "y-soon")],
    ids=["new-warehouse-batch-preferred", "earliest-shipment-preferred"],
)
def test_waiting_lines_get_the_normal_batch_preference(new_batch_eta, expected):
    # A stored waiting line that already fits (as if loaded mid-way): serving it
    # must pick the preferred batch among all that can take it, not the new one.
    prod = product(
        ("z-later", 10, LATER),
        ("y-soon", 10, TODAY),
        version=1,
        backorders=[Backorder(line("o1", 2), arrival=1)],
    )
    prod.add_batch("x-new", 10, eta=new_batch_eta)
    assert batch_of(prod, "o1") == expected


# -- first fit --------------------------------------------------------------------------


def test_a_too_large_waiting_line_does_not_block_smaller_lines_behind_it():
    prod = product()
    prod.allocate(line("big", 10))
    prod.allocate(line("small", 2))
    prod.allocate(line("tiny", 1))
    prod.add_batch("b1", 5)
    assert batch_of(prod, "small") == batch_of(prod, "tiny") == "b1"
    assert prod.backorders == [Backorder(line("big", 10), arrival=1)]


def test_a_too_large_waiting_line_keeps_its_place_and_is_served_first():
    prod = product()
    prod.allocate(line("big", 10))  # arrival 1
    prod.allocate(line("small", 2))  # arrival 2
    prod.add_batch("b1", 5)  # serves small only
    prod.allocate(line("mid", 4))  # arrives after big, waits (3 left)
    assert waiting(prod) == ["big", "mid"]
    prod.add_batch("b2", 10)  # enough for big or for mid, not both
    assert batch_of(prod, "big") == "b2"
    assert waiting(prod) == ["mid"]
    assert prod.backorders == [Backorder(line("mid", 4), arrival=5)]


def test_a_new_line_that_fits_is_placed_even_while_a_bigger_one_waits():
    prod = created_product(("b1", 5))
    prod.allocate(line("big", 8))
    assert prod.allocate(line("small", 5)) == "b1"
    assert waiting(prod) == ["big"]


def test_a_deallocation_serves_the_first_line_that_fits():
    prod = created_product(("b1", 4))
    prod.allocate(line("held", 4))
    prod.allocate(line("big", 9))
    prod.allocate(line("fits", 3))
    prod.allocate(line("also", 2))
    prod.deallocate("held")
    assert batch_of(prod, "fits") == "b1"
    assert waiting(prod) == ["big", "also"]


# -- fairness of evictions --------------------------------------------------------------


def test_an_evicted_line_rejoins_the_queue_at_its_original_arrival():
    prod = created_product(("b1", 10))
    prod.allocate(line("evicted", 5))  # arrival 2
    prod.allocate(line("other", 8))  # arrival 3, waits
    prod.change_batch_quantity("b1", 4)
    assert prod.backorders == [
        Backorder(line("evicted", 5), arrival=2),
        Backorder(line("other", 8), arrival=3),
    ]
    prod.add_batch("b2", 8)  # enough for either one, not both
    assert batch_of(prod, "evicted") == "b2"
    assert waiting(prod) == ["other"]


def test_evicted_lines_and_waiting_lines_are_served_together_in_arrival_order():
    prod = product(("b1", 6), ("b2", 2, LATER))
    prod.allocate(line("first", 3))  # b1, arrival 1
    prod.allocate(line("waits", 4))  # arrival 2, waits
    prod.allocate(line("second", 3))  # b1, arrival 3
    prod.allocate(line("third", 2))  # b2, arrival 4
    prod.change_batch_quantity("b2", 6)  # 4 more in b2: "waits" is served
    assert batch_of(prod, "waits") == "b2"
    prod.change_batch_quantity("b1", 0)  # evicts second then first
    assert new_events(prod, 6) == [
        ("BatchQuantityChanged", "b1"),
        ("Deallocated", "second"),
        ("Deallocated", "first"),
        ("OutOfStock", "first"),
        ("OutOfStock", "second"),
    ]
    prod.change_batch_quantity("b2", 9)  # 3 more: the earliest arrival gets them
    assert batch_of(prod, "first") == "b2"
    assert waiting(prod) == ["second"]
