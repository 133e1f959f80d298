"""A change says what it did line by line: where each line it moved was, where it is now,
and each place's ETA; a line put back where it was did not move."""

import pytest

from allocation.domain import changes
from allocation.domain.changes import WAITING, LineMove, Spot
from allocation.domain.model import InvalidQuantity, UnknownBatch, UnknownLine
from tests.unit.builders import LATER, TOMORROW, get_batch, line, product


def test_shrinking_moves_lines_to_the_next_batch_and_makes_the_rest_wait():
    prod = product(("wh", 10), ("ship", 4, TOMORROW))
    for orderid in ("o1", "o2", "o3"):
        prod.allocate(line(orderid, 3))
    change = changes.change_quantity(prod, "wh", 3)
    assert (change.sku, change.ref, change.before, change.after, change.allocated) == (
        prod.sku,
        "wh",
        10,
        3,
        9,
    )
    assert change.moves == (
        LineMove("o3", 3, Spot("wh"), WAITING),  # evicted first: the latest placed
        LineMove("o2", 3, Spot("wh"), Spot("ship", TOMORROW)),  # the first come is placed
    )
    assert change.moved == [change.moves[1]]
    assert change.now_waiting == [change.moves[0]]
    assert change.from_waiting == []
    assert change.changed


def test_growing_lets_waiting_lines_in():
    prod = product(("ship", 2, LATER))
    prod.allocate(line("o1", 2))
    prod.allocate(line("o2", 5))  # waits
    prod.allocate(line("o3", 1))  # waits
    change = changes.change_quantity(prod, "ship", 8)
    assert change.moves == (
        LineMove("o2", 5, WAITING, Spot("ship", LATER)),
        LineMove("o3", 1, WAITING, Spot("ship", LATER)),
    )
    assert change.from_waiting == list(change.moves)


def test_a_line_evicted_and_put_back_in_the_same_batch_did_not_move():
    prod = product(("b1", 10))
    prod.allocate(line("a", 3))
    prod.allocate(line("b", 5))
    prod.allocate(line("c", 2))
    change = changes.change_quantity(prod, "b1", 6)  # evicts c then b; c fits again
    assert get_batch(prod, "b1").allocated_quantity == 5
    assert change.moves == (LineMove("b", 5, Spot("b1"), WAITING),)


def test_the_same_quantity_changes_nothing():
    prod = product(("b1", 10))
    prod.allocate(line("o1", 4))
    change = changes.change_quantity(prod, "b1", 10)
    assert not change.changed
    assert change.moves == ()
    assert prod.events[-1].name == "Allocated"


def test_the_fingerprint_is_equal_for_equal_changes_only():
    def shrink(wh: int, to: int) -> changes.QuantityChange:
        prod = product(("wh", wh), ("ship", 10, TOMORROW))
        prod.allocate(line("o1", 4))
        return changes.change_quantity(prod, "wh", to)

    assert shrink(10, 2).fingerprint == shrink(10, 2).fingerprint
    assert shrink(10, 2).fingerprint != shrink(10, 3).fingerprint  # another quantity
    assert shrink(10, 2).fingerprint != shrink(12, 2).fingerprint  # the batch changed before
    assert shrink(10, 5).fingerprint != shrink(10, 2).fingerprint  # no line moves


def test_bad_changes_are_refused_before_anything_changes():
    prod = product(("b1", 10))
    with pytest.raises(UnknownBatch, match="Invalid batch ref nope"):
        changes.change_quantity(prod, "nope", 3)
    with pytest.raises(InvalidQuantity):
        changes.change_quantity(prod, "b1", -1)
    assert prod.events == []


def test_cancelling_says_where_the_line_was_and_which_waiting_lines_took_its_units():
    prod = product(("wh", 5), ("ship", 3, LATER))
    prod.allocate(line("o1", 5))
    prod.allocate(line("o2", 4))  # waits: 3 left in ship
    prod.allocate(line("o3", 2))  # ship
    cancelled = changes.cancel(prod, "o1")
    assert cancelled.line == line("o1", 5)
    assert cancelled.spot == Spot("wh")
    assert cancelled.moves == (LineMove("o2", 4, WAITING, Spot("wh")),)


def test_cancelling_a_waiting_line_frees_nothing():
    prod = product(("wh", 1))
    prod.allocate(line("o1", 5))
    cancelled = changes.cancel(prod, "o1")
    assert (cancelled.spot, cancelled.moves) == (WAITING, ())


def test_cancelling_a_line_the_order_does_not_have_is_refused():
    with pytest.raises(UnknownLine):
        changes.cancel(product(("wh", 1)), "o1")
