"""What a change does to a SKU's order lines, line by line, in the words of the floor.

A batch's new quantity can move lines to another batch, make them wait for stock, or
let waiting lines in; cancelling a line frees units that waiting lines may take. The
Product raises an event for each step (``Deallocated``, then ``Allocated`` or
``OutOfStock``); these functions apply a change to a product and fold the events it
raised into one move per line: where the line was, where it is now, and each place's
ETA, which is when the line can ship.

The same functions serve both halves of a confirmation: the service layer runs them on
a copy of the product for the preview (nothing is written) and on the product itself
for the change, so the preview is computed exactly as the change is then made. A
``QuantityChange``'s ``fingerprint`` lets the confirmation refuse a change that would
now do something else than what was shown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from allocation.domain import events
from allocation.domain.model import (
    Allocation,
    Backorder,
    LineState,
    OrderLine,
    Product,
    UnknownBatch,
)


@dataclass(frozen=True)
class Spot:
    """Where a line is: in a batch, or waiting for stock (``batchref`` None).

    ``eta``: when the batch arrives; None for a batch in the warehouse (the line ships
    now) and for a waiting line (it ships when stock arrives).
    """

    batchref: str | None = None
    eta: date | None = None

    @property
    def waiting(self) -> bool:
        return self.batchref is None


WAITING = Spot()


@dataclass(frozen=True)
class LineMove:
    """A line that a change put somewhere else (``before`` differs from ``after``)."""

    orderid: str
    qty: int
    before: Spot
    after: Spot


@dataclass(frozen=True)
class QuantityChange:
    """A batch's quantity set from ``before`` to ``after`` units (``allocated`` of them
    allocated before), and the lines of its SKU that this moved."""

    sku: str
    ref: str
    before: int
    after: int
    allocated: int
    moves: tuple[LineMove, ...]

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def moved(self) -> list[LineMove]:
        """Lines taken off a batch and placed in another."""
        return [m for m in self.moves if not m.before.waiting and not m.after.waiting]

    @property
    def now_waiting(self) -> list[LineMove]:
        """Lines taken off a batch that no batch could take: they wait for stock."""
        return [m for m in self.moves if not m.before.waiting and m.after.waiting]

    @property
    def from_waiting(self) -> list[LineMove]:
        """Waiting lines that the change let into a batch."""
        return [m for m in self.moves if m.before.waiting]

    @property
    def fingerprint(self) -> str:
        """Equal for changes that do the same, different otherwise: a confirmation
        carries its preview's, and a change that would now differ is refused."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Cancellation:
    """A line cancelled from where it was (``spot``), and the waiting lines that took
    the units it freed."""

    line: OrderLine
    spot: Spot
    moves: tuple[LineMove, ...]


def change_quantity(product: Product, ref: str, qty: int) -> QuantityChange:
    """Set the batch's quantity on ``product`` (``Product.change_batch_quantity``) and
    say what that did."""
    batch = product.batch(ref)
    if batch is None:
        raise UnknownBatch(f"Invalid batch ref {ref}")
    before, allocated = batch.purchased_quantity, batch.allocated_quantity
    start = len(product.events)
    product.change_batch_quantity(ref, qty)
    moves = _moves(product, product.events[start:])
    return QuantityChange(product.sku, ref, before, qty, allocated, moves)


def cancel(product: Product, orderid: str) -> Cancellation:
    """Cancel the order's line on ``product`` (``Product.deallocate``) and say what
    that did."""
    spot = _spot(product, product.line_state(orderid))
    start = len(product.events)
    line = product.deallocate(orderid)  # raises UnknownLine when there is no line
    assert spot is not None
    moves = tuple(m for m in _moves(product, product.events[start:]) if m.orderid != orderid)
    return Cancellation(line, spot, moves)


def _moves(product: Product, raised: Sequence[events.Event]) -> tuple[LineMove, ...]:
    """Each line the events are about, from where its first event took it to where it
    is now, in the order of those first events; a line put back where it was (evicted,
    then placed in the same batch again) did not move."""
    before: dict[str, tuple[Spot, int]] = {}
    for event in raised:
        if isinstance(event, events.LineEvent) and event.orderid not in before:
            was = _in(product, event.batchref) if isinstance(event, events.Deallocated) else WAITING
            before[event.orderid] = (was, event.qty)
    moves = []
    for orderid, (was, qty) in before.items():
        now = _spot(product, product.line_state(orderid))
        if now is not None and now != was:
            moves.append(LineMove(orderid, qty, was, now))
    return tuple(moves)


def _spot(product: Product, state: LineState | None) -> Spot | None:
    if isinstance(state, Allocation):
        return _in(product, state.batchref)
    return WAITING if isinstance(state, Backorder) else None


def _in(product: Product, batchref: str) -> Spot:
    batch = product.batch(batchref)
    return Spot(batchref, batch.eta if batch is not None else None)
