"""Any sequence of operations keeps every rule and, run again, gives the same events and state."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocation.domain import events
from allocation.domain.model import (
    Allocation,
    AllocationError,
    Backorder,
    DuplicateBatch,
    LineConflict,
    LineState,
    Product,
    UnknownBatch,
    UnknownLine,
)
from tests.unit.builders import LATER, TODAY, batch_of, line, product, waiting

# -- a scripted run ---------------------------------------------------------------------


def scripted_run() -> Product:
    prod = product()
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


# -- property: random sequences of operations -------------------------------------------

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
    prod = product()
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
        prod, submitted = product(), dict[str, int]()
        for op in ops:
            apply(prod, submitted, op)
        return prod.events, prod.backorders

    assert run() == run()
