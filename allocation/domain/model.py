"""The allocation domain: order lines, batches of stock and the Product aggregate.

Pure Python on purpose: no Django, no database. The Product is the consistency
boundary; every change to a SKU's batches, allocations and backorders goes through it
and bumps its version, which the repository checks when it saves (optimistic locking).

The Product never needs the SKU's whole allocation history to decide anything:
batches carry their allocated totals, backorders (the waiting queue) are loaded
whole, and single allocations are fetched on demand through an ``AllocationLookup``
that the repository provides. So the cost of an allocation does not grow with the
number of lines a SKU has ever served.

One module, a little over the project's 300 lines, on purpose: the aggregate, its
entities and the rules they share are read together, as the book presents them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from allocation.domain import events


class AllocationError(Exception):
    """Base of every rule violation; entrypoints turn these into clear client errors."""


class InvalidQuantity(AllocationError):
    pass


class DuplicateBatch(AllocationError):
    pass


class UnknownBatch(AllocationError):
    pass


class UnknownLine(AllocationError):
    pass


class LineConflict(AllocationError):
    """The same ``(orderid, sku)`` was submitted again with a different quantity."""


@dataclass(frozen=True)
class OrderLine:
    orderid: str
    sku: str
    qty: int


@dataclass(frozen=True)
class Allocation:
    """A line placed in a batch.

    ``arrival`` is the product version at which the line first reached the product (its
    place in the first-come-first-served queue); ``sequence`` the version at which it
    was put in this batch (a shrinking batch evicts the highest sequence first).
    """

    line: OrderLine
    batchref: str
    arrival: int
    sequence: int


@dataclass(frozen=True)
class Backorder:
    """A line no batch could take yet; it waits in arrival order."""

    line: OrderLine
    arrival: int


LineState = Allocation | Backorder


class AllocationLookup(Protocol):
    """Where the Product finds allocations it has not loaded (the repository)."""

    def of_order(self, orderid: str) -> Allocation | None: ...

    def in_batch(self, batchref: str) -> Iterable[Allocation]: ...


class NoStoredAllocations:
    """Lookup for a product that lives only in memory: nothing was stored before."""

    def of_order(self, orderid: str) -> Allocation | None:
        return None

    def in_batch(self, batchref: str) -> Iterable[Allocation]:
        return ()


class Batch:
    def __init__(
        self,
        ref: str,
        sku: str,
        qty: int,
        eta: date | None = None,
        allocated_quantity: int = 0,
    ) -> None:
        self.reference = ref
        self.sku = sku
        self.eta = eta
        self.purchased_quantity = qty
        self.allocated_quantity = allocated_quantity

    def __repr__(self) -> str:
        return f"<Batch {self.reference} {self.allocated_quantity}/{self.purchased_quantity}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Batch) and other.reference == self.reference

    def __hash__(self) -> int:
        return hash(self.reference)

    @property
    def available_quantity(self) -> int:
        return self.purchased_quantity - self.allocated_quantity

    def can_allocate(self, line: OrderLine) -> bool:
        return self.sku == line.sku and self.available_quantity >= line.qty

    def preference(self) -> tuple[bool, date, str]:
        """Warehouse stock first, then earliest eta; the reference breaks ties."""
        return (self.eta is not None, self.eta or date.min, self.reference)


class Product:
    def __init__(
        self,
        sku: str,
        batches: Iterable[Batch] = (),
        version_number: int = 0,
        backorders: Iterable[Backorder] = (),
        lookup: AllocationLookup | None = None,
    ) -> None:
        self.sku = sku
        self.batches = list(batches)
        self.version_number = version_number
        self.events: list[events.Event] = []
        self._backorders = sorted(backorders, key=lambda b: b.arrival)
        self._lookup: AllocationLookup = lookup or NoStoredAllocations()
        # Allocations this instance knows about, by orderid; None means "known absent".
        self._allocations: dict[str, Allocation | None] = {}
        self._batches_loaded: set[str] = set()
        self._changed_lines: set[str] = set()

    def __repr__(self) -> str:
        return f"<Product {self.sku} v{self.version_number}>"

    # -- queries ---------------------------------------------------------------------

    def batch(self, ref: str) -> Batch | None:
        return next((b for b in self.batches if b.reference == ref), None)

    @property
    def backorders(self) -> list[Backorder]:
        return list(self._backorders)

    def line_state(self, orderid: str) -> LineState | None:
        """Where the order's line for this SKU stands: allocated, waiting, or nowhere."""
        allocation = self._allocation_of(orderid)
        if allocation is not None:
            return allocation
        return next((b for b in self._backorders if b.line.orderid == orderid), None)

    def changed_lines(self) -> dict[str, LineState | None]:
        """Lines changed since loading, with their new state (None: removed)."""
        return {orderid: self.line_state(orderid) for orderid in sorted(self._changed_lines)}

    # -- commands --------------------------------------------------------------------

    def add_batch(self, ref: str, qty: int, eta: date | None = None) -> Batch:
        if qty <= 0:
            raise InvalidQuantity(f"Batch quantity must be positive, got {qty}")
        if self.batch(ref) is not None:
            raise DuplicateBatch(f"Batch {ref} already exists")
        batch = Batch(ref, self.sku, qty, eta)
        self.batches.append(batch)
        self._record(events.BatchCreated, ref=ref, qty=qty, eta=eta)
        self._allocate_waiting_lines()
        return batch

    def allocate(self, line: OrderLine) -> str | None:
        """Place the line in the preferred batch; return its reference, or None if it waits.

        Re-submitting an identical line is a no-op with the same answer.
        """
        if line.sku != self.sku:
            raise ValueError(f"Line for {line.sku} sent to product {self.sku}")
        if line.qty <= 0:
            raise InvalidQuantity(f"Quantity must be positive, got {line.qty}")
        existing = self.line_state(line.orderid)
        if existing is not None:
            if existing.line != line:
                raise LineConflict(
                    f"Order {line.orderid} already has {existing.line.qty} of {line.sku};"
                    f" cannot change it to {line.qty}"
                )
            return existing.batchref if isinstance(existing, Allocation) else None
        arrival = self.version_number + 1  # the version of the event placing it now
        batch = self._preferred_batch_for(line)
        if batch is None:
            self._wait(line, arrival)
            return None
        return self._place(line, batch, arrival).batchref

    def deallocate(self, orderid: str) -> OrderLine:
        """Free the order's line (it was cancelled), whether allocated or waiting."""
        state = self.line_state(orderid)
        if state is None:
            raise UnknownLine(f"Order {orderid} has no line for sku {self.sku}")
        self._changed_lines.add(orderid)
        if isinstance(state, Backorder):
            self._backorders.remove(state)
            self._record(events.BackorderCancelled, orderid=orderid, qty=state.line.qty)
            return state.line
        self._unplace(state)
        self._allocate_waiting_lines()
        return state.line

    def change_batch_quantity(self, ref: str, qty: int) -> None:
        """Set the batch's purchased quantity; evict the latest allocations if it shrinks.

        Evicted lines rejoin the queue at their original arrival, so they are
        reallocated (or wait) first come first served, together with backorders.
        """
        batch = self.batch(ref)
        if batch is None:
            raise UnknownBatch(f"Invalid batch ref {ref}")
        if qty < 0:
            raise InvalidQuantity(f"Batch quantity cannot be negative, got {qty}")
        if qty == batch.purchased_quantity:
            return
        batch.purchased_quantity = qty
        self._record(events.BatchQuantityChanged, ref=ref, qty=qty)
        evicted: list[Allocation] = []
        if batch.available_quantity < 0:
            latest_first = sorted(self._allocations_in(ref), key=lambda a: -a.sequence)
            for allocation in latest_first:
                if batch.available_quantity >= 0:
                    break
                self._unplace(allocation)
                evicted.append(allocation)
        self._allocate_waiting_lines(evicted)

    # -- internals -------------------------------------------------------------------

    def _bump(self) -> int:
        self.version_number += 1
        return self.version_number

    def _record(self, event_type: type[events.Event], **fields: Any) -> None:
        self.events.append(event_type(sku=self.sku, version=self._bump(), **fields))

    def _preferred_batch_for(self, line: OrderLine) -> Batch | None:
        candidates = [b for b in self.batches if b.can_allocate(line)]
        return min(candidates, key=Batch.preference, default=None)

    def _place(self, line: OrderLine, batch: Batch, arrival: int) -> Allocation:
        batch.allocated_quantity += line.qty
        self._record(
            events.Allocated,
            orderid=line.orderid,
            qty=line.qty,
            batchref=batch.reference,
            arrival=arrival,
        )
        allocation = Allocation(line, batch.reference, arrival, self.version_number)
        self._allocations[line.orderid] = allocation
        self._changed_lines.add(line.orderid)
        return allocation

    def _unplace(self, allocation: Allocation) -> None:
        batch = self.batch(allocation.batchref)
        assert batch is not None, f"allocation to unknown batch {allocation.batchref}"
        batch.allocated_quantity -= allocation.line.qty
        self._allocations[allocation.line.orderid] = None
        self._changed_lines.add(allocation.line.orderid)
        self._record(
            events.Deallocated,
            orderid=allocation.line.orderid,
            qty=allocation.line.qty,
            batchref=allocation.batchref,
        )

    def _wait(self, line: OrderLine, arrival: int) -> None:
        self._backorders.append(Backorder(line, arrival))
        self._backorders.sort(key=lambda b: b.arrival)
        self._changed_lines.add(line.orderid)
        self._record(events.OutOfStock, orderid=line.orderid, qty=line.qty, arrival=arrival)

    def _allocate_waiting_lines(self, evicted: Iterable[Allocation] = ()) -> None:
        """First fit in arrival order over backorders and just-evicted lines.

        A line too large for any batch keeps its place without blocking smaller lines
        behind it; an evicted line that fits nowhere becomes a backorder.
        """
        queue: list[LineState] = [*self._backorders, *evicted]
        for waiting in sorted(queue, key=lambda s: s.arrival):
            batch = self._preferred_batch_for(waiting.line)
            if isinstance(waiting, Backorder):
                if batch is not None:
                    self._backorders.remove(waiting)
                    self._place(waiting.line, batch, waiting.arrival)
            elif batch is not None:
                self._place(waiting.line, batch, waiting.arrival)
            else:
                self._wait(waiting.line, waiting.arrival)

    def _allocation_of(self, orderid: str) -> Allocation | None:
        if orderid not in self._allocations:
            self._allocations[orderid] = self._lookup.of_order(orderid)
        return self._allocations[orderid]

    def _allocations_in(self, ref: str) -> list[Allocation]:
        if ref not in self._batches_loaded:
            for stored in self._lookup.in_batch(ref):
                self._allocations.setdefault(stored.line.orderid, stored)
            self._batches_loaded.add(ref)
        return [a for a in self._allocations.values() if a is not None and a.batchref == ref]
