"""Rebuild every read-model table from the write side.

The one module of ``orders_read`` that reads write-side tables, on purpose. It copies
the current lines and batches and the outbox (the event history), then derives every
other row with the very functions the incremental projections use, so a rebuilt read
model equals an incrementally maintained one.

The outbox is read before the state: an event committed in between is then either in
neither (its task will apply it later) or in the state only (its task recomputes the
same rows from the log), never logged-but-missing.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from allocation.adapters.outbox import stored_events
from allocation.models import BatchRecord, OrderLineRecord
from orders_read import projections
from orders_read.models import (
    AppliedPosition,
    BatchView,
    EventLog,
    LineStatus,
    OrderLineView,
    OrderView,
    SkuStock,
)

Progress = Callable[[int, int], None]


def rebuild_read_model(progress: Progress | None = None) -> int:
    """Replace the read model; return the number of orders rebuilt."""
    db = projections.read_db()
    logged = [EventLog(**projections.log_fields(s.event)) for s in stored_events()]
    lines = [
        OrderLineView(
            orderid=line.orderid,
            sku=line.product_id,
            qty=line.qty,
            status=LineStatus.ALLOCATED if line.batch_id else LineStatus.WAITING,
            batchref=line.batch_id,
        )
        for line in OrderLineRecord.objects.all().iterator()
    ]
    batches = [
        BatchView(
            reference=b.reference, sku=b.product_id, eta=b.eta, purchased=b.purchased_quantity
        )
        for b in BatchRecord.objects.all().iterator()
    ]
    with transaction.atomic(using=db):
        for model in (EventLog, OrderLineView, BatchView, OrderView, SkuStock, AppliedPosition):
            model.objects.using(db).all().delete()
        EventLog.objects.using(db).bulk_create(logged, batch_size=1000)
        projections.advance_positions(db, {event.sku for event in logged})
        OrderLineView.objects.using(db).bulk_create(lines, batch_size=1000)
        BatchView.objects.using(db).bulk_create(batches, batch_size=1000)
        for batch in batches:
            projections.refresh_batch_allocated(db, batch.reference, batch.sku)
        for sku in sorted({b.sku for b in batches} | {line.sku for line in lines}):
            projections.refresh_sku(db, sku)
        orderids = sorted({line.orderid for line in lines})
        for done, orderid in enumerate(orderids, start=1):
            projections.refresh_order(db, orderid)
            if progress:
                progress(done, len(orderids))
    return len(orderids)
