"""Rebuild every read-model table from what the write side holds.

The write side gives, through the ``WriteSide`` port (``allocation.bootstrap`` gives
the adapter), its event history and its current lines and batches. The rebuild logs
the history, copies the lines and batches, then derives every other row with the very
functions the incremental projections use, so a rebuilt read model equals an
incrementally maintained one (``tests/integration/conftest.py`` checks it after every
scenario that commits).

The history is read before the state: an event committed in between is then either in
neither (its task will apply it later) or in the state only (its task recomputes the
same rows from the log), never logged-but-missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Protocol

from django.db import transaction

from allocation.domain.events import Event
from orders_read.models import (
    AppliedPosition,
    BatchView,
    EventLog,
    OrderLineView,
    OrderView,
    SkuStock,
)
from orders_read.projections import recorder
from orders_read.rules import LineStatus
from orders_read.sql import read_db

Progress = Callable[[int, int], None]
ORDERS_PER_STATEMENT = 500


class CurrentLine(Protocol):
    """An order line as the write side holds it now; ``batchref`` None: it waits, at
    ``arrival`` in its SKU's first-come-first-served queue."""

    @property
    def orderid(self) -> str: ...

    @property
    def sku(self) -> str: ...

    @property
    def qty(self) -> int: ...

    @property
    def batchref(self) -> str | None: ...

    @property
    def arrival(self) -> int: ...


class CurrentBatch(Protocol):
    """A batch as the write side holds it now; ``eta`` None: in the warehouse."""

    @property
    def reference(self) -> str: ...

    @property
    def sku(self) -> str: ...

    @property
    def eta(self) -> date | None: ...

    @property
    def purchased(self) -> int: ...


class WriteSide(Protocol):
    def events(self) -> Iterable[Event]:
        """Every event ever written, in the order written."""
        ...

    def lines(self) -> Iterable[CurrentLine]: ...

    def batches(self) -> Iterable[CurrentBatch]: ...


def rebuild_read_model(source: WriteSide, progress: Progress | None = None) -> int:
    """Replace the read model; return the number of orders rebuilt."""
    db = read_db()
    logged = [EventLog(**recorder.log_fields(event)) for event in source.events()]
    lines = [
        OrderLineView(
            orderid=line.orderid,
            sku=line.sku,
            qty=line.qty,
            status=LineStatus.ALLOCATED if line.batchref else LineStatus.WAITING,
            batchref=line.batchref,
            arrival=None if line.batchref else line.arrival,
        )
        for line in source.lines()
    ]
    batches = [
        BatchView(reference=b.reference, sku=b.sku, eta=b.eta, purchased=b.purchased)
        for b in source.batches()
    ]
    with transaction.atomic(using=db):
        for model in (EventLog, OrderLineView, BatchView, OrderView, SkuStock, AppliedPosition):
            model.objects.using(db).all().delete()
        EventLog.objects.using(db).bulk_create(logged, batch_size=1000)
        recorder.advance_positions(db, {event.sku for event in logged})
        OrderLineView.objects.using(db).bulk_create(lines, batch_size=1000)
        BatchView.objects.using(db).bulk_create(batches, batch_size=1000)
        recorder.sum_batch_allocated(db)
        for sku in sorted({b.sku for b in batches} | {line.sku for line in lines}):
            recorder.sum_sku(db, sku)
        orderids = sorted({line.orderid for line in lines})
        for start in range(0, len(orderids), ORDERS_PER_STATEMENT):
            chunk = orderids[start : start + ORDERS_PER_STATEMENT]
            recorder.refresh_orders(db, chunk, emptied=False)
            if progress:
                progress(start + len(chunk), len(orderids))
    return len(orderids)
