"""Projections: keep the read model up to date from domain events.

Delivery is at least once and in any order, so ``project`` never increments anything.
It logs the event (a duplicate ``(sku, version)`` is skipped), then recomputes every
row the event touches from the newest logged event for that key and from rows derived
the same way. The read model is therefore a function of the *set* of events applied,
whatever the order or the number of deliveries.

Projections of one SKU are serialised with a transaction-scoped advisory lock (on
PostgreSQL), so two workers never interleave their read-then-write on the same rows;
the order rows they share are locked the same way, always after the SKU.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import IntegrityError, connections, router, transaction
from django.db.models import Max, Min, Sum

from allocation.domain import events
from orders_read.models import (
    BatchView,
    EventLog,
    LineStatus,
    OrderLineView,
    OrderStatus,
    OrderView,
    SkuStock,
)

BATCH_EVENTS = (events.BatchCreated.__name__, events.BatchQuantityChanged.__name__)


def read_db() -> str:
    return router.db_for_write(EventLog) or "default"


def project(event: events.Event) -> None:
    db = read_db()
    with transaction.atomic(using=db):
        _lock(db, f"sku:{event.sku}")
        if not _log(db, event):
            return  # already applied: a redelivery
        if isinstance(event, events.LineEvent):
            _lock(db, f"order:{event.orderid}")
            refresh_line(db, event.orderid, event.sku)
        elif isinstance(event, events.BatchCreated | events.BatchQuantityChanged):
            refresh_batch(db, event.ref, event.sku)


def log_fields(event: events.Event) -> dict[str, Any]:
    """The EventLog row of an event; rebuilds use it too, so both paths log alike."""
    return {
        "sku": event.sku,
        "version": event.version,
        "name": event.name,
        "orderid": event.orderid if isinstance(event, events.LineEvent) else None,
        "batchref": getattr(event, "batchref", None) or getattr(event, "ref", None),
        "payload": event.to_dict(),
    }


def _log(db: str, event: events.Event) -> bool:
    try:
        with transaction.atomic(using=db):
            EventLog.objects.using(db).create(**log_fields(event))
    except IntegrityError:
        return False
    return True


def _lock(db: str, key: str) -> None:
    connection = connections[db]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
    # SQLite takes a database-wide write lock per transaction: nothing to add.


def refresh_line(db: str, orderid: str, sku: str) -> None:
    newest = (
        EventLog.objects.using(db).filter(orderid=orderid, sku=sku).order_by("-version").first()
    )
    lines = OrderLineView.objects.using(db)
    before = lines.filter(orderid=orderid, sku=sku).values_list("batchref", flat=True).first()
    status = {
        events.Allocated.__name__: LineStatus.ALLOCATED,
        events.OutOfStock.__name__: LineStatus.WAITING,
    }.get(newest.name if newest else "")
    if newest is None or status is None:
        lines.filter(orderid=orderid, sku=sku).delete()
        after = None
    else:
        after = newest.batchref if status == LineStatus.ALLOCATED else None
        lines.update_or_create(
            orderid=orderid,
            sku=sku,
            defaults={"qty": newest.payload["qty"], "status": status, "batchref": after},
        )
    for ref in {before, after} - {None}:
        assert ref is not None
        refresh_batch_allocated(db, ref, sku)
    refresh_order(db, orderid)
    refresh_sku(db, sku)


def refresh_batch(db: str, ref: str, sku: str) -> None:
    logged = EventLog.objects.using(db).filter(batchref=ref, name__in=BATCH_EVENTS)
    newest = logged.order_by("-version").first()
    created = logged.filter(name=events.BatchCreated.__name__).first()
    eta = date.fromisoformat(created.payload["eta"]) if created and created.payload["eta"] else None
    before = BatchView.objects.using(db).filter(reference=ref).values_list("eta", flat=True)
    eta_before = before.first() if before.exists() else eta
    BatchView.objects.using(db).update_or_create(
        reference=ref,
        defaults={"sku": sku, "eta": eta, "purchased": newest.payload["qty"] if newest else 0},
    )
    if eta != eta_before:
        # The batch was known only from its allocations until now (events came out of
        # order): the ship dates of the orders it serves change with its eta.
        served = OrderLineView.objects.using(db).filter(batchref=ref).values_list("orderid")
        for orderid in sorted({o for (o,) in served}):
            _lock(db, f"order:{orderid}")
            refresh_order(db, orderid)
    refresh_sku(db, sku)


def refresh_batch_allocated(db: str, ref: str, sku: str) -> None:
    allocated = (
        OrderLineView.objects.using(db)
        .filter(batchref=ref, status=LineStatus.ALLOCATED)
        .aggregate(total=Sum("qty"))["total"]
    )
    updated = BatchView.objects.using(db).filter(reference=ref).update(allocated=allocated or 0)
    if not updated:  # its BatchCreated has not arrived yet
        BatchView.objects.using(db).create(reference=ref, sku=sku, allocated=allocated or 0)


def refresh_order(db: str, orderid: str) -> None:
    lines = list(OrderLineView.objects.using(db).filter(orderid=orderid))
    if not lines:
        OrderView.objects.using(db).filter(orderid=orderid).delete()
        return
    allocated = [line for line in lines if line.status == LineStatus.ALLOCATED]
    waiting = len(lines) - len(allocated)
    if not waiting:
        status = OrderStatus.ALLOCATED
    elif allocated:
        status = OrderStatus.PARTLY_ALLOCATED
    else:
        status = OrderStatus.WAITING
    ship_date = (
        BatchView.objects.using(db)
        .filter(reference__in=[line.batchref for line in allocated])
        .aggregate(latest=Max("eta"))["latest"]
    )
    OrderView.objects.using(db).update_or_create(
        orderid=orderid,
        defaults={
            "status": status,
            "line_count": len(lines),
            "allocated_lines": len(allocated),
            "waiting_lines": waiting,
            "expected_ship_date": ship_date,
        },
    )


def refresh_sku(db: str, sku: str) -> None:
    batches = BatchView.objects.using(db).filter(sku=sku)
    totals = batches.aggregate(
        purchased=Sum("purchased"), allocated=Sum("allocated"), next_eta=Min("eta")
    )
    waiting = OrderLineView.objects.using(db).filter(sku=sku, status=LineStatus.WAITING)
    purchased, allocated = totals["purchased"] or 0, totals["allocated"] or 0
    SkuStock.objects.using(db).update_or_create(
        sku=sku,
        defaults={
            "purchased": purchased,
            "allocated": allocated,
            "available": purchased - allocated,
            "waiting": waiting.aggregate(total=Sum("qty"))["total"] or 0,
            "next_eta": totals["next_eta"],
            "batch_count": batches.count(),
        },
    )
