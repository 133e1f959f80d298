"""The projection's SQL: log events, recompute the rows they touch, advance positions.

``orders_read.projections.project`` drives these in one transaction per batch; the
policy (``policy``) says which rows an event touches, this module how each is
recomputed. A line's row is always recomputed from the newest logged event for it, so
it depends only on the *set* of events logged, never on their order or repetition.

Sums over lines (a batch's allocated units, a SKU's waiting demand) are not summed
again on every event, which would cost more the more lines a batch holds: they move
by exactly what each line's row changed by, in the same transaction. A redelivered
event changes no line, so it moves no sum; the sums therefore stay what summing the
line rows would give (the rebuild sums them from scratch, and the tests compare the
two after every scenario).

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
from collections import Counter
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
        "occurred_at": event.occurred_at or timezone.now(),
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
        moves = Moves()
        orders: set[str] = set()
        skus: set[str] = set()
        for orderid, sku in sorted(self.lines):
            refresh_line(db, orderid, sku, moves)
            orders.add(orderid)
            skus.add(sku)
        for (ref, sku), units in sorted(moves.allocated.items()):
            if units:
                move_batch_allocated(db, ref, sku, units)
        for ref, sku in sorted(self.batches):
            moved = refresh_batch(db, ref, sku)
            lock(db, [f"order:{o}" for o in sorted(moved - orders)])
            orders |= moved
            skus.add(sku)
        for orderid in sorted(orders):
            refresh_order(db, orderid)
        for sku in sorted(skus):
            refresh_sku(db, sku, moves.waiting[sku])


@dataclass
class Moves:
    """How much the lines' rows moved the sums over them, as they were rewritten."""

    allocated: Counter[tuple[str, str]] = field(default_factory=Counter)  # (ref, sku): units
    waiting: Counter[str] = field(default_factory=Counter)  # sku: units

    def add(self, sku: str, status: str | None, batchref: str | None, qty: int) -> None:
        """A line's row with these values appeared (``qty`` < 0: disappeared)."""
        if status == LineStatus.ALLOCATED and batchref is not None:
            self.allocated[batchref, sku] += qty
        elif status == LineStatus.WAITING:
            self.waiting[sku] += qty


def refresh_line(db: str, orderid: str, sku: str, moves: Moves) -> None:
    """The line's row from its newest logged event; what that moved goes to ``moves``.

    One statement reads both the line's row before and its newest event.
    """
    ((status_before, batch_before, qty_before, name, batchref, payload),) = rows(
        db,
        "SELECT l.status, l.batchref, l.qty, n.name, n.batchref, n.payload"
        " FROM (SELECT 1) one"
        " LEFT JOIN {line} l ON l.orderid = %s AND l.sku = %s LEFT JOIN"
        " (SELECT name, batchref, payload FROM {log} WHERE orderid = %s AND sku = %s"
        " ORDER BY version DESC LIMIT 1) n ON 1 = 1",
        [orderid, sku, orderid, sku],
    )
    status = policy.line_status_after(events.Event.registry[name]) if name else None
    if status is None:
        run(db, "DELETE FROM {line} WHERE orderid = %s AND sku = %s", [orderid, sku])
        qty, after = 0, None
    else:
        qty = (json.loads(payload) if isinstance(payload, str | bytes) else payload)["qty"]
        after = batchref if status == LineStatus.ALLOCATED else None
        if (status_before, batch_before, qty_before) == (status.value, after, qty):
            return  # a redelivery: nothing moves
        run(
            db,
            "INSERT INTO {line} (orderid, sku, qty, status, batchref) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (orderid, sku) DO UPDATE SET qty = excluded.qty,"
            " status = excluded.status, batchref = excluded.batchref",
            [orderid, sku, qty, status.value, after],
        )
    if status_before is not None:
        moves.add(sku, status_before, batch_before, -qty_before)
    if status is not None:
        moves.add(sku, status.value, after, qty)


def refresh_batch(db: str, ref: str, sku: str) -> set[str]:
    """The batch's row from its logged batch events; the orders whose ship date moved."""
    logged = EventLog.objects.using(db).filter(batchref=ref, name__in=BATCH_EVENT_NAMES)
    newest = logged.order_by("-version").first()
    created = logged.filter(name=events.BatchCreated.__name__).first()
    eta = date.fromisoformat(created.payload["eta"]) if created and created.payload["eta"] else None
    before = BatchView.objects.using(db).filter(reference=ref).values_list("eta", flat=True)
    eta_before = before.first() if before.exists() else eta
    purchased = newest.payload["qty"] if newest else 0
    if (
        not BatchView.objects.using(db)
        .filter(reference=ref)
        .update(sku=sku, eta=eta, purchased=purchased)
    ):
        BatchView.objects.using(db).create(
            reference=ref, sku=sku, eta=eta, purchased=purchased, allocated=_allocated(db, ref)
        )
    if eta == eta_before:
        return set()
    # The batch was known only from its allocations until now (events came out of
    # order): the ship dates of the orders it serves change with its eta.
    served = OrderLineView.objects.using(db).filter(batchref=ref).values_list("orderid")
    return {orderid for (orderid,) in served}


def move_batch_allocated(db: str, ref: str, sku: str, units: int) -> None:
    """Move the batch's allocated total by ``units`` (one UPDATE, whatever its size)."""
    if not run(
        db, "UPDATE {batch} SET allocated = allocated + %s WHERE reference = %s", [units, ref]
    ):
        # Its BatchCreated has not arrived yet: a row summing the lines already here.
        BatchView.objects.using(db).create(reference=ref, sku=sku, allocated=_allocated(db, ref))


def _allocated(db: str, ref: str) -> int:
    """The units allocated to a batch, summed from the lines: for a batch's first row."""
    in_batch = OrderLineView.objects.using(db).filter(batchref=ref, status=LineStatus.ALLOCATED)
    return int(in_batch.aggregate(total=Sum("qty"))["total"] or 0)


def sum_batch_allocated(db: str) -> None:
    """Every batch's allocated total summed from the lines (the rebuild's way)."""
    run(
        db,
        "UPDATE {batch} SET allocated = COALESCE((SELECT SUM(l.qty) FROM {line} l"
        " WHERE l.batchref = {batch}.reference AND l.status = %s), 0)",
        [LineStatus.ALLOCATED.value],
    )


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


def refresh_sku(db: str, sku: str, waiting_moved: int) -> None:
    """The SKU's stock row: its batches' totals, and its waiting demand moved by
    ``waiting_moved`` units; one UPDATE (a first row sums the waiting lines)."""
    if run(
        db,
        "UPDATE {stock} SET (purchased, allocated, available, next_eta, batch_count) ="
        " (SELECT COALESCE(SUM(purchased), 0), COALESCE(SUM(allocated), 0),"
        " COALESCE(SUM(purchased), 0) - COALESCE(SUM(allocated), 0), MIN(eta), COUNT(id)"
        " FROM {batch} WHERE sku = %s), waiting = waiting + %s WHERE sku = %s",
        [sku, waiting_moved, sku],
    ):
        return
    sum_sku(db, sku)


def sum_sku(db: str, sku: str) -> None:
    """The SKU's stock row summed from its batches and waiting lines, by one upsert."""
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
