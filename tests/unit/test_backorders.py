"""Backorders: lines no batch can take wait on their Product, first come first served."""

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocation.domain import events
from allocation.domain.model import (
    Allocation,
    AllocationError,
    Backorder,
    Batch,
    DuplicateBatch,
    LineConflict,
    LineState,
    OrderLine,
    Product,
    UnknownBatch,
    UnknownLine,
)

SKU = "SMALL-TABLE"
TODAY = date(2024, 5, 1)
LATER = TODAY + timedelta(days=10)


def line(orderid: str, qty: int) -> OrderLine:
    return OrderLine(orderid, SKU, qty)


def product(*batches: tuple[str, int]) -> Product:
    """An empty product with the given (ref, qty) warehouse batches, created as events."""
    prod = Product(SKU)
    for ref, qty in batches:
        prod.add_batch(ref, qty)
    return prod


def get_batch(prod: Product, ref: str) -> Batch:
    batch = prod.batch(ref)
    assert batch is not None, f"no batch {ref}"
    return batch


def waiting(prod: Product) -> list[str]:
    return [b.line.orderid for b in prod.backorders]


def batch_of(prod: Product, orderid: str) -> str | None:
    state = prod.line_state(orderid)
    return state.batchref if isinstance(state, Allocation) else None


def new_events(prod: Product, since: int) -> list[tuple[str, str | None]]:
    """Events recorded after version ``since``, as (name, orderid or ref) pairs."""
    return [
        (e.name, getattr(e, "orderid", None) or getattr(e, "ref", None))
        for e in prod.events
        if e.version > since
    ]


# -- rule 1: a line no batch can take waits -------------------------------------------


def test_a_line_no_batch_can_take_waits_and_raises_out_of_stock():
    prod = product(("b1", 5))
    assert prod.allocate(line("o1", 6)) is None
    assert prod.events[-1] == events.OutOfStock(sku=SKU, version=2, orderid="o1", qty=6)
    assert prod.version_number == 2
    assert prod.backorders == [Backorder(line("o1", 6), arrival=2)]
    assert prod.line_state("o1") == Backorder(line("o1", 6), arrival=2)
    assert get_batch(prod, "b1").allocated_quantity == 0


def test_a_product_without_batches_makes_every_line_wait():
    prod = Product(SKU)
    assert prod.allocate(line("o1", 1)) is None
    assert prod.allocate(line("o2", 1)) is None
    assert waiting(prod) == ["o1", "o2"]
    assert [b.arrival for b in prod.backorders] == [1, 2]


def test_waiting_changes_no_batch():
    prod = product(("b1", 5), ("b2", 3))
    prod.allocate(line("o1", 4))
    prod.allocate(line("big", 6))
    assert {b.reference: b.allocated_quantity for b in prod.batches} == {"b1": 4, "b2": 0}


def test_a_line_that_fits_in_no_single_batch_waits_even_if_the_total_would_do():
    prod = product(("b1", 5), ("b2", 5))
    assert prod.allocate(line("o1", 8)) is None
    assert waiting(prod) == ["o1"]


# -- rule 2: waiting lines are served when stock grows -------------------------------------


def test_a_new_batch_serves_waiting_lines_in_arrival_order():
    prod = Product(SKU)
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
    prod = Product(SKU)
    prod.allocate(line("o1", 4))
    prod.add_batch("b1", 4)
    assert prod.events[-1] == events.Allocated(
        sku=SKU, version=3, orderid="o1", qty=4, batchref="b1"
    )
    assert prod.line_state("o1") == Allocation(line("o1", 4), "b1", arrival=1, sequence=3)
    assert prod.backorders == []


def test_a_quantity_increase_serves_waiting_lines_in_arrival_order():
    prod = product(("b1", 2))
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
    prod = product(("b1", 5))
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
    prod = product(("b1", 10))
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
    prod = Product(SKU, [Batch("b1", SKU, 10), Batch("b2", SKU, 6, eta=LATER)])
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
    prod = Product(
        SKU,
        [Batch("z-later", SKU, 10, eta=LATER), Batch("y-soon", SKU, 10, eta=TODAY)],
        backorders=[Backorder(line("o1", 2), arrival=1)],
        version_number=1,
    )
    prod.add_batch("x-new", 10, eta=new_batch_eta)
    assert batch_of(prod, "o1") == expected


# -- first fit ------------------------------------------------------------------------


def test_a_too_large_waiting_line_does_not_block_smaller_lines_behind_it():
    prod = Product(SKU)
    prod.allocate(line("big", 10))
    prod.allocate(line("small", 2))
    prod.allocate(line("tiny", 1))
    prod.add_batch("b1", 5)
    assert batch_of(prod, "small") == batch_of(prod, "tiny") == "b1"
    assert prod.backorders == [Backorder(line("big", 10), arrival=1)]


def test_a_too_large_waiting_line_keeps_its_place_and_is_served_first():
    prod = Product(SKU)
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
    prod = product(("b1", 5))
    prod.allocate(line("big", 8))
    assert prod.allocate(line("small", 5)) == "b1"
    assert waiting(prod) == ["big"]


def test_a_deallocation_serves_the_first_line_that_fits():
    prod = product(("b1", 4))
    prod.allocate(line("held", 4))
    prod.allocate(line("big", 9))
    prod.allocate(line("fits", 3))
    prod.allocate(line("also", 2))
    prod.deallocate("held")
    assert batch_of(prod, "fits") == "b1"
    assert waiting(prod) == ["big", "also"]


# -- rule 3: re-submission -------------------------------------------------------------


def test_resubmitting_an_identical_waiting_line_is_a_no_op():
    prod = product(("b1", 1))
    prod.allocate(line("o1", 5))
    version, count = prod.version_number, len(prod.events)
    assert prod.allocate(line("o1", 5)) is None
    assert prod.version_number == version
    assert len(prod.events) == count
    assert prod.backorders == [Backorder(line("o1", 5), arrival=2)]


def test_resubmitting_a_waiting_line_with_another_qty_is_a_conflict():
    prod = product(("b1", 1))
    prod.allocate(line("o1", 5))
    with pytest.raises(LineConflict, match="Order o1 already has 5 of SMALL-TABLE"):
        prod.allocate(line("o1", 1))  # would even fit: still a conflict
    assert prod.backorders == [Backorder(line("o1", 5), arrival=2)]
    assert get_batch(prod, "b1").allocated_quantity == 0
    assert prod.version_number == 2


def test_a_line_served_from_the_queue_answers_its_batch_on_resubmission():
    prod = Product(SKU)
    prod.allocate(line("o1", 5))
    prod.add_batch("b1", 5)
    assert prod.allocate(line("o1", 5)) == "b1"
    assert get_batch(prod, "b1").allocated_quantity == 5


# -- rule 4: cancelling a waiting line ------------------------------------------------------


def test_deallocating_a_waiting_line_cancels_it():
    prod = product(("b1", 1))
    prod.allocate(line("o1", 5))
    assert prod.deallocate("o1") == line("o1", 5)
    assert prod.events[-1] == events.BackorderCancelled(sku=SKU, version=3, orderid="o1", qty=5)
    assert prod.version_number == 3
    assert prod.backorders == []
    assert prod.line_state("o1") is None
    assert prod.changed_lines()["o1"] is None


def test_a_cancelled_line_is_not_served_when_stock_arrives():
    prod = Product(SKU)
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
    prod = Product(SKU)
    prod.allocate(line("o1", 5))
    prod.deallocate("o1")
    with pytest.raises(UnknownLine):
        prod.deallocate("o1")


def test_cancelling_leaves_the_other_waiting_lines_in_order():
    prod = Product(SKU)
    for orderid in ("o1", "o2", "o3"):
        prod.allocate(line(orderid, 1))
    prod.deallocate("o2")
    assert waiting(prod) == ["o1", "o3"]


# -- fairness of evictions ------------------------------------------------------------


def test_an_evicted_line_rejoins_the_queue_at_its_original_arrival():
    prod = product(("b1", 10))
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
    prod = Product(SKU, [Batch("b1", SKU, 6), Batch("b2", SKU, 2, eta=LATER)])
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


# -- determinism and invariants ------------------------------------------------------------


def scripted_run() -> Product:
    prod = Product(SKU)
    prod.add_batch("ship-b", 5, LATER)
    prod.add_batch("ship-a", 5, LATER)
    for i, qty in enumerate([3, 4, 2, 6, 1, 5, 2]):
        prod.allocate(line(f"o{i}", qty))
    prod.add_batch("wh", 4)
    prod.change_batch_quantity("ship-a", 1)
    prod.deallocate("o1")
    prod.deallocate("o3")
    prod.change_batch_quantity("wh", 12)
    return prod


def test_the_same_commands_give_the_same_events_and_state():
    first, second = scripted_run(), scripted_run()
    assert first.events == second.events
    assert len(first.events) > 20
    assert first.backorders == second.backorders
    orderids = [f"o{i}" for i in range(7)]
    assert [first.line_state(o) for o in orderids] == [second.line_state(o) for o in orderids]


def test_scripted_run_never_over_allocates_and_never_double_books():
    prod = scripted_run()
    for batch in prod.batches:
        lines = [prod.line_state(f"o{i}") for i in range(7)]
        in_batch = [s for s in lines if isinstance(s, Allocation) and s.batchref == batch.reference]
        assert batch.allocated_quantity == sum(s.line.qty for s in in_batch)
        assert batch.allocated_quantity <= batch.purchased_quantity
    states = [prod.line_state(f"o{i}") for i in range(7)]
    allocated = {s.line.orderid for s in states if isinstance(s, Allocation)}
    assert allocated
    assert allocated.isdisjoint(waiting(prod))


# -- property: random sequences of operations ---------------------------------------------

REFS = ["b-a", "b-b", "b-c", "b-d"]
ORDERS = [f"order-{i}" for i in range(6)]
ETAS = [None, TODAY, LATER]

operations = st.one_of(
    st.tuples(
        st.just("add_batch"),
        st.sampled_from(REFS),
        st.integers(min_value=1, max_value=10),
        st.sampled_from(ETAS),
    ),
    st.tuples(st.just("allocate"), st.sampled_from(ORDERS), st.integers(min_value=1, max_value=8)),
    st.tuples(st.just("deallocate"), st.sampled_from(ORDERS)),
    st.tuples(
        st.just("change_batch_quantity"),
        st.sampled_from(REFS),
        st.integers(min_value=0, max_value=12),
    ),
)


def apply(prod: Product, submitted: dict[str, int], op: tuple[Any, ...]) -> None:
    """Run one operation, checking the error it raises (if any) is the one the rules say."""
    kind, *args = op
    before = prod.version_number
    if kind == "add_batch":
        ref, qty, eta = args
        if prod.batch(ref) is not None:
            with pytest.raises(DuplicateBatch):
                prod.add_batch(ref, qty, eta)
        else:
            prod.add_batch(ref, qty, eta)
    elif kind == "allocate":
        orderid, qty = args
        known = submitted.get(orderid)
        if known is not None and known != qty:
            with pytest.raises(LineConflict):
                prod.allocate(line(orderid, qty))
        elif known == qty:
            state = prod.line_state(orderid)
            expected = state.batchref if isinstance(state, Allocation) else None
            assert prod.allocate(line(orderid, qty)) == expected
            assert prod.version_number == before
        else:
            batchref = prod.allocate(line(orderid, qty))
            submitted[orderid] = qty
            assert batchref == batch_of(prod, orderid)
    elif kind == "deallocate":
        (orderid,) = args
        if orderid in submitted:
            assert prod.deallocate(orderid) == line(orderid, submitted.pop(orderid))
        else:
            with pytest.raises(UnknownLine):
                prod.deallocate(orderid)
    else:
        ref, qty = args
        if prod.batch(ref) is None:
            with pytest.raises(UnknownBatch):
                prod.change_batch_quantity(ref, qty)
        else:
            prod.change_batch_quantity(ref, qty)


def replay(event_list: list[events.Event]) -> dict[str, tuple[str, str | None, int]]:
    """Where each order stands according to the events alone."""
    states: dict[str, tuple[str, str | None, int]] = {}
    for event in event_list:
        if isinstance(event, events.Allocated):
            states[event.orderid] = ("allocated", event.batchref, event.qty)
        elif isinstance(event, events.OutOfStock):
            states[event.orderid] = ("waiting", None, event.qty)
        elif isinstance(event, events.Deallocated | events.BackorderCancelled):
            states.pop(event.orderid, None)
    return states


def check_invariants(prod: Product, submitted: dict[str, int]) -> None:
    states: dict[str, LineState | None] = {orderid: prod.line_state(orderid) for orderid in ORDERS}
    waiting_ids = waiting(prod)
    assert len(waiting_ids) == len(set(waiting_ids))
    arrivals = [b.arrival for b in prod.backorders]
    assert arrivals == sorted(arrivals)
    assert len(set(arrivals)) == len(arrivals)

    for orderid, state in states.items():
        if orderid in submitted:
            assert state is not None, f"{orderid} was lost"
            assert state.line == line(orderid, submitted[orderid])
            assert isinstance(state, Allocation) != (orderid in waiting_ids)
        else:
            assert state is None
            assert orderid not in waiting_ids

    for batch in prod.batches:
        lines_in = [
            s.line.qty
            for s in states.values()
            if isinstance(s, Allocation) and s.batchref == batch.reference
        ]
        assert 0 <= batch.allocated_quantity <= batch.purchased_quantity
        assert batch.allocated_quantity == sum(lines_in)

    for backorder in prod.backorders:  # stock for a waiting line would have served it
        assert not any(b.can_allocate(backorder.line) for b in prod.batches)

    assert [e.version for e in prod.events] == list(range(1, prod.version_number + 1))
    assert replay(prod.events) == {
        orderid: (
            ("allocated", s.batchref, s.line.qty)
            if isinstance(s, Allocation)
            else ("waiting", None, s.line.qty)
        )
        for orderid, s in states.items()
        if s is not None
    }


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(operations, min_size=10, max_size=60))
def test_random_operations_keep_every_rule(ops):
    prod = Product(SKU)
    submitted: dict[str, int] = {}
    for op in ops:
        try:
            apply(prod, submitted, op)
        except AllocationError as error:  # pragma: no cover - a failure, with context
            raise AssertionError(f"{op} raised {error!r}") from error
        check_invariants(prod, submitted)


@settings(max_examples=50, deadline=None, database=None)
@given(st.lists(operations, min_size=10, max_size=40))
def test_random_operations_are_deterministic(ops):
    def run() -> tuple[list[events.Event], list[Backorder]]:
        prod, submitted = Product(SKU), dict[str, int]()
        for op in ops:
            apply(prod, submitted, op)
        return prod.events, prod.backorders

    assert run() == run()
