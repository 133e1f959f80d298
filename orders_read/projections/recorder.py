"""The projection's SQL: log events, recompute the rows they touch, advance positions.

``orders_read.projections.project`` drives these in one transaction per batch; the
policy (``policy``) says which rows an event touches, this module how each is
recomputed. A row is always recomputed from the newest logged event for its key and
from rows derived the same way, never incremented, so the result depends only on the
*set* of events logged.

The worker keeps up with the writes only if each event is cheap, and profiling showed
the ORM building queries costing more than PostgreSQL answering them, with
``update_or_create`` adding savepoints and a ``SELECT ... FOR UPDATE`` to every row. So
the per-event path is plain SQL (portable to SQLite and PostgreSQL, see
``orders_read.sql``): each derived row is recomputed and written by one ``INSERT ...
SELECT ... ON CONFLICT DO UPDATE``, and the log insert says in the same statement
whether the event was new. The rebuild (``orders_read.rebuild``) derives its rows with
these same functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connections
from django.db.models import Sum
from django.utils import timezone

from allocation.domain import events
from orders_read.models import BatchView, EventLog, OrderLineView, OrderView
from orders_read.projections import policy
from orders_read.rules import LineStatus, OrderStatus
from orders_read.sql import now, prep, rows, run

BATCH_EVENT_NAMES = [event_type.__name__ for event_type in policy.BATCH_EVENTS]


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


def log(db: str, event: events.Event) -> bool:
    """Log the event; False if its ``(sku, version)`` was already logged (a redelivery).

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` instead of a savepoint around an
    insert that may fail: one round trip, and the answer with it.
    """
    connection = connections[db]
    row = {**log_fields(event), "applied_at": timezone.now()}
    meta = EventLog._meta
    columns = ", ".join(connection.ops.quote_name(name) for name in row)
    values = [prep(db, EventLog, name, value) for name, value in row.items()]
    sql = (
        f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns})"
        f" VALUES ({', '.join(['%s'] * len(row))})"
        " ON CONFLICT (sku, version) DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        return cursor.fetchone() is not None


def lock(db: str, keys: Sequence[str]) -> None:
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


@dataclass
class Touched:
    """The keys newly logged events touch; every derived row is then refreshed once."""

    lines: set[tuple[str, str]] = field(default_factory=set)  # (orderid, sku)
    batches: set[tuple[str, str]] = field(default_factory=set)  # (ref, sku)

    def add(self, keys: policy.Keys) -> None:
        if keys.line:
            self.lines.add(keys.line)
        if keys.batch:
            self.batches.add((keys.batch, keys.sku))

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
            lock(db, [f"order:{o}" for o in sorted(moved - orders)])
            orders |= moved
            skus.add(sku)
        for ref, sku in sorted(allocated_in):
            refresh_batch_allocated(db, ref, sku)
        for orderid in sorted(orders):
            refresh_order(db, orderid)
        for sku in sorted(skus):
            refresh_sku(db, sku)


def refresh_line(db: str, orderid: str, sku: str) -> set[str]:
    """The line's row from its newest logged event; the batches it left or joined.

    One statement reads both the line's batch before and its newest event.
    """
    ((before, name, batchref, payload),) = rows(
        db,
        "SELECT (SELECT batchref FROM {line} WHERE orderid = %s AND sku = %s),"
        " n.name, n.batchref, n.payload FROM (SELECT 1) one LEFT JOIN"
        " (SELECT name, batchref, payload FROM {log} WHERE orderid = %s AND sku = %s"
        " ORDER BY version DESC LIMIT 1) n ON 1 = 1",
        [orderid, sku, orderid, sku],
    )
    status = policy.line_status_after(events.Event.registry[name]) if name else None
    if status is None:
        run(db, "DELETE FROM {line} WHERE orderid = %s AND sku = %s", [orderid, sku])
        after = None
    else:
        qty = (json.loads(payload) if isinstance(payload, str | bytes) else payload)["qty"]
        after = batchref if status == LineStatus.ALLOCATED else None
        run(
            db,
            "INSERT INTO {line} (orderid, sku, qty, status, batchref) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (orderid, sku) DO UPDATE SET qty = excluded.qty,"
            " status = excluded.status, batchref = excluded.batchref",
            [orderid, sku, qty, status.value, after],
        )
    return {ref for ref in (before, after) if ref is not None}


def refresh_batch(db: str, ref: str, sku: str) -> set[str]:
    """The batch's row from its logged batch events; the orders whose ship date moved."""
    logged = EventLog.objects.using(db).filter(batchref=ref, name__in=BATCH_EVENT_NAMES)
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
    updated = run(
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

    The status is ``rules.order_status`` (allocated when no line waits, partly
    allocated when some do, waiting when all do), the ship date
    ``rules.expected_ship_date`` (the latest eta of the allocated lines' batches, null
    for the warehouse: MAX skips nulls), in SQL. An order whose lines are all gone has
    no summary. ``tests/integration/test_read_rules.py`` holds the two to agreement.
    """
    allocated, partly, waiting = (
        OrderStatus.ALLOCATED.value,
        OrderStatus.PARTLY_ALLOCATED.value,
        OrderStatus.WAITING.value,
    )
    line_allocated = LineStatus.ALLOCATED.value
    upserted = run(
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
         line_allocated, line_allocated, now(db, OrderView, "updated_at"), orderid],
    )  # fmt: skip
    if not upserted:
        run(db, "DELETE FROM {order} WHERE orderid = %s", [orderid])


def refresh_sku(db: str, sku: str) -> None:
    """The SKU's stock row: its batches' totals and the demand waiting, by one upsert."""
    run(
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
    run(
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
