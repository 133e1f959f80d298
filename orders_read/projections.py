"""Projections: keep the read model up to date from domain events.

Delivery is at least once and in any order, so ``project`` never increments anything.
It logs each event (a duplicate ``(sku, version)`` is skipped), then recomputes every
row the new events touch from the newest logged event for that key and from rows
derived the same way. The read model is therefore a function of the *set* of events
applied, whatever the order, the grouping into batches or the number of deliveries.

A batch is projected in one transaction, and each derived row once however many of
the batch's events touch it: the relay hands events over in batches, so a busy SKU's
stock row is recomputed once per batch, not once per event. The same transaction
moves each SKU's ``AppliedPosition`` (the tracking record) over the contiguous run of
logged versions, so "applied" can never be claimed for a row that is not written.

Projections of one SKU are serialised with transaction-scoped advisory locks (on
PostgreSQL), taken for the whole batch up front in one sorted order (SKUs, then the
orders their lines belong to), so two workers never interleave their read-then-write
on the same rows and never wait on each other in a cycle.

The worker keeps up with the writes only if each event is cheap, and profiling showed
the ORM building queries costing more than PostgreSQL answering them, with
``update_or_create`` adding savepoints and a ``SELECT ... FOR UPDATE`` to every row. So
the per-event path is plain SQL (portable to SQLite and PostgreSQL): each derived row
is recomputed and written by one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``, and
the log insert says in the same statement whether the event was new.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Field, Model, Sum
from django.utils import timezone

from allocation.domain import events
from orders_read.models import (
    AppliedPosition,
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


def project(batch: Sequence[events.Event]) -> None:
    """Apply a batch of events (any order, duplicates allowed) in one transaction."""
    if not batch:
        return
    db = read_db()
    with transaction.atomic(using=db):
        skus, orders = sorted({e.sku for e in batch}), sorted(_orderids(batch))
        _lock(db, [f"sku:{sku}" for sku in skus] + [f"order:{o}" for o in orders])
        touched = _Touched()
        for event in sorted(batch, key=lambda e: (e.sku, e.version)):
            if _log(db, event):
                touched.add(event)
        touched.refresh(db)
        advance_positions(db, {e.sku for e in batch})


def _orderids(batch: Iterable[events.Event]) -> set[str]:
    return {e.orderid for e in batch if isinstance(e, events.LineEvent)}


@dataclass
class _Touched:
    """The keys that newly logged events touch; every derived row is refreshed once."""

    lines: set[tuple[str, str]] = field(default_factory=set)  # (orderid, sku)
    batches: set[tuple[str, str]] = field(default_factory=set)  # (ref, sku)

    def add(self, event: events.Event) -> None:
        if isinstance(event, events.LineEvent):
            self.lines.add((event.orderid, event.sku))
        elif isinstance(event, events.BatchCreated | events.BatchQuantityChanged):
            self.batches.add((event.ref, event.sku))

    def refresh(self, db: str) -> None:
        """Lines first, then the batches, orders and SKUs that sum them."""
        allocated_in: set[tuple[str, str]] = set()
        orders: set[str] = set()
        skus: set[str] = set()
        for orderid, sku in sorted(self.lines):
            allocated_in |= {(ref, sku) for ref in refresh_line(db, orderid, sku)}
            orders.add(orderid)
            skus.add(sku)
        for ref, sku in sorted(self.batches):
            moved = refresh_batch(db, ref, sku)
            _lock(db, [f"order:{o}" for o in sorted(moved - orders)])
            orders |= moved
            skus.add(sku)
        for ref, sku in sorted(allocated_in):
            refresh_batch_allocated(db, ref, sku)
        for orderid in sorted(orders):
            refresh_order(db, orderid)
        for sku in sorted(skus):
            refresh_sku(db, sku)


def advance_positions(db: str, skus: Iterable[str]) -> None:
    """Move each SKU's applied position over the contiguous logged versions after it.

    One statement for all the SKUs: numbered in order, the versions after a SKU's
    position are contiguous exactly while ``version - row number`` equals the position,
    and the last of those is the new position.
    """
    wanted = sorted(skus)
    if not wanted:
        return
    asked = " UNION ALL ".join(["SELECT %s AS sku"] * len(wanted))
    _run(
        db,
        "INSERT INTO {position} (sku, version) SELECT sku, last FROM ("
        " SELECT sku, MAX(version) AS last FROM ("
        "  SELECT w.sku, e.version, w.start,"
        "   e.version - ROW_NUMBER() OVER (PARTITION BY w.sku ORDER BY e.version) AS shift"
        "  FROM (SELECT s.sku, COALESCE(p.version, 0) AS start"
        f"   FROM ({asked}) s LEFT JOIN {{position}} p ON p.sku = s.sku) w"
        # From each SKU's position on, by the log's (sku, version) index: never its history.
        "  JOIN {log} e ON e.sku = w.sku AND e.version > w.start"
        " ) runs WHERE shift = start GROUP BY sku"
        ") advanced WHERE 1 = 1"
        " ON CONFLICT (sku) DO UPDATE SET version = excluded.version",
        wanted,
    )


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
    """Log the event; False if its ``(sku, version)`` was already logged (a redelivery).

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` instead of a savepoint around an
    insert that may fail: one round trip, and the answer with it.
    """
    connection = connections[db]
    row = {**log_fields(event), "applied_at": timezone.now()}
    meta = EventLog._meta
    columns = ", ".join(connection.ops.quote_name(name) for name in row)
    values = [_prep(db, EventLog, name, value) for name, value in row.items()]
    sql = (
        f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns})"
        f" VALUES ({', '.join(['%s'] * len(row))})"
        " ON CONFLICT (sku, version) DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        return cursor.fetchone() is not None


def _lock(db: str, keys: Sequence[str]) -> None:
    """Transaction-scoped advisory locks on ``keys``, taken in the order given."""
    connection = connections[db]
    if keys and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # unnest yields the array in order, and the lock function runs row by row.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(%s::text[]) k",
                [list(keys)],
            )
    # SQLite takes a database-wide write lock per transaction: nothing to add.


def refresh_line(db: str, orderid: str, sku: str) -> set[str]:
    """The line's row from its newest logged event; the batches it left or joined.

    One statement reads both the line's batch before and its newest event.
    """
    ((before, name, batchref, payload),) = _rows(
        db,
        "SELECT (SELECT batchref FROM {line} WHERE orderid = %s AND sku = %s),"
        " n.name, n.batchref, n.payload FROM (SELECT 1) one LEFT JOIN"
        " (SELECT name, batchref, payload FROM {log} WHERE orderid = %s AND sku = %s"
        " ORDER BY version DESC LIMIT 1) n ON 1 = 1",
        [orderid, sku, orderid, sku],
    )
    status = LINE_STATUS_AFTER.get(name) if name else None
    if status is None:
        _run(db, "DELETE FROM {line} WHERE orderid = %s AND sku = %s", [orderid, sku])
        after = None
    else:
        qty = (json.loads(payload) if isinstance(payload, str | bytes) else payload)["qty"]
        after = batchref if status == LineStatus.ALLOCATED else None
        _run(
            db,
            "INSERT INTO {line} (orderid, sku, qty, status, batchref) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (orderid, sku) DO UPDATE SET qty = excluded.qty,"
            " status = excluded.status, batchref = excluded.batchref",
            [orderid, sku, qty, status.value, after],
        )
    return {ref for ref in (before, after) if ref is not None}


def refresh_batch(db: str, ref: str, sku: str) -> set[str]:
    """The batch's row from its logged batch events; the orders whose ship date moved."""
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
    if eta == eta_before:
        return set()
    # The batch was known only from its allocations until now (events came out of
    # order): the ship dates of the orders it serves change with its eta.
    served = OrderLineView.objects.using(db).filter(batchref=ref).values_list("orderid")
    return {orderid for (orderid,) in served}


def refresh_batch_allocated(db: str, ref: str, sku: str) -> None:
    """The batch's allocated total, summed and stored by one UPDATE."""
    updated = _run(
        db,
        "UPDATE {batch} SET allocated = COALESCE((SELECT SUM(qty) FROM {line}"
        " WHERE batchref = %s AND status = %s), 0) WHERE reference = %s",
        [ref, LineStatus.ALLOCATED.value, ref],
    )
    if not updated:  # its BatchCreated has not arrived yet
        in_batch = OrderLineView.objects.using(db).filter(batchref=ref, status=LineStatus.ALLOCATED)
        allocated = in_batch.aggregate(total=Sum("qty"))["total"] or 0
        BatchView.objects.using(db).create(reference=ref, sku=sku, allocated=allocated)


def refresh_order(db: str, orderid: str) -> None:
    """The order's summary, computed from its lines and their batches by one upsert.

    Allocated when no line waits, partly allocated when some do, waiting when all do;
    it ships on the latest eta of its allocated lines' batches (null: the warehouse).
    An order whose lines are all gone has no summary.
    """
    allocated, partly, waiting = (s.value for s in OrderStatus)
    line_allocated = LineStatus.ALLOCATED.value
    upserted = _run(
        db,
        "INSERT INTO {order} (orderid, status, line_count, allocated_lines, waiting_lines,"
        " expected_ship_date, updated_at)"
        " SELECT l.orderid, CASE WHEN SUM(CASE WHEN l.status = %s THEN 0 ELSE 1 END) = 0"
        " THEN %s WHEN SUM(CASE WHEN l.status = %s THEN 1 ELSE 0 END) > 0 THEN %s ELSE %s END,"
        " COUNT(*), SUM(CASE WHEN l.status = %s THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN l.status = %s THEN 0 ELSE 1 END),"
        " MAX(CASE WHEN l.status = %s THEN b.eta END), %s"
        " FROM {line} l LEFT JOIN {batch} b ON b.reference = l.batchref"
        " WHERE l.orderid = %s GROUP BY l.orderid"
        " ON CONFLICT (orderid) DO UPDATE SET status = excluded.status,"
        " line_count = excluded.line_count, allocated_lines = excluded.allocated_lines,"
        " waiting_lines = excluded.waiting_lines,"
        " expected_ship_date = excluded.expected_ship_date, updated_at = excluded.updated_at",
        [line_allocated, allocated, line_allocated, partly, waiting, line_allocated,
         line_allocated, line_allocated, _now(db, OrderView, "updated_at"), orderid],
    )  # fmt: skip
    if not upserted:
        _run(db, "DELETE FROM {order} WHERE orderid = %s", [orderid])


def refresh_sku(db: str, sku: str) -> None:
    """The SKU's stock row: its batches' totals and the demand waiting, by one upsert."""
    _run(
        db,
        "INSERT INTO {stock} (sku, purchased, allocated, available, waiting, next_eta,"
        " batch_count)"
        " SELECT %s, COALESCE(SUM(b.purchased), 0), COALESCE(SUM(b.allocated), 0),"
        " COALESCE(SUM(b.purchased), 0) - COALESCE(SUM(b.allocated), 0),"
        " COALESCE((SELECT SUM(l.qty) FROM {line} l WHERE l.sku = %s AND l.status = %s), 0),"
        " MIN(b.eta), COUNT(b.id)"
        " FROM {batch} b WHERE b.sku = %s"
        " ON CONFLICT (sku) DO UPDATE SET purchased = excluded.purchased,"
        " allocated = excluded.allocated, available = excluded.available,"
        " waiting = excluded.waiting, next_eta = excluded.next_eta,"
        " batch_count = excluded.batch_count",
        [sku, sku, LineStatus.WAITING.value, sku],
    )


LINE_STATUS_AFTER = {
    events.Allocated.__name__: LineStatus.ALLOCATED,
    events.OutOfStock.__name__: LineStatus.WAITING,
}
"""A line's status after its newest event; any other newest event means it is gone."""

TABLES: dict[str, type[Model]] = {
    "position": AppliedPosition,
    "log": EventLog,
    "line": OrderLineView,
    "batch": BatchView,
    "order": OrderView,
    "stock": SkuStock,
}


@functools.cache
def _sql(db: str, template: str) -> str:
    """The statement with ``{log}``, ``{line}``... replaced by the quoted table names.

    Cached: the same few templates run for every event.
    """
    quote = connections[db].ops.quote_name
    return template.format(**{name: quote(m._meta.db_table) for name, m in TABLES.items()})


def _rows(db: str, template: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connections[db].cursor() as cursor:
        cursor.execute(_sql(db, template), params)
        return list(cursor.fetchall())


def _run(db: str, template: str, params: Sequence[Any]) -> int:
    """Execute one statement; the number of rows it wrote."""
    with connections[db].cursor() as cursor:
        cursor.execute(_sql(db, template), params)
        return int(cursor.rowcount)


def _now(db: str, model: type[Model], field: str) -> Any:
    """The current time as the database takes it for this field (``auto_now`` by hand)."""
    return _prep(db, model, field, timezone.now())


def _prep(db: str, model: type[Model], name: str, value: Any) -> Any:
    """A value as the field would send it to this database (JSON, datetimes...)."""
    field = model._meta.get_field(name)
    assert isinstance(field, Field), name
    return field.get_db_prep_save(value, connections[db])
