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
the ORM building queries costing more than PostgreSQL answering them. So the per-event
path is plain SQL (portable to SQLite and PostgreSQL, see ``orders_read.sql``), and
set-based: each step is one statement for the whole batch (log the events, read the
lines' rows with their newest events, write the lines, move the batches' totals,
recompute the orders, then the SKUs), so a batch of fifty events costs about what one
does. Events about a batch itself (created, quantity changed) are rare and go through
the ORM, one by one. The rebuild (``orders_read.rebuild``) sums with these functions.
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
LOG_COLUMNS = ("sku", "version", "name", "orderid", "batchref", "payload", "occurred_at", "actor")


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
        "actor": event.actor,
    }


def log(db: str, batch: Sequence[events.Event]) -> list[events.Event]:
    """Log the events; those not logged before (a redelivery is skipped).

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` for the batch instead of a
    savepoint around each insert that may fail: one round trip, and the answer with it.
    """
    unique = {(event.sku, event.version): event for event in batch}
    if not unique:
        return []
    applied_at = timezone.now()
    values: list[Any] = []
    for event in unique.values():
        row = {**log_fields(event), "applied_at": applied_at}
        values += [prep(db, EventLog, name, row[name]) for name in (*LOG_COLUMNS, "applied_at")]
    quote = connections[db].ops.quote_name
    columns = ", ".join(quote(name) for name in (*LOG_COLUMNS, "applied_at"))
    one = f"({', '.join(['%s'] * (len(LOG_COLUMNS) + 1))})"
    new = rows(
        db,
        f"INSERT INTO {{log}} ({columns}) VALUES {', '.join([one] * len(unique))}"
        " ON CONFLICT (sku, version) DO NOTHING RETURNING sku, version",
        values,
    )
    return [unique[sku, version] for sku, version in sorted(new)]


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
        moves = refresh_lines(db, sorted(self.lines))
        move_batches_allocated(db, {key: n for key, n in moves.allocated.items() if n})
        orders = {orderid for orderid, _ in self.lines}
        skus = {sku for _, sku in self.lines}
        for ref, sku in sorted(self.batches):
            moved = refresh_batch(db, ref, sku)
            lock(db, [f"order:{o}" for o in sorted(moved - orders)])
            orders |= moved
            skus.add(sku)
        refresh_orders(db, sorted(orders), emptied=moves.removed)
        refresh_skus(db, {sku: moves.waiting[sku] for sku in skus})


@dataclass
class Moves:
    """How much the lines' rows moved the sums over them, as they were rewritten."""

    allocated: Counter[tuple[str, str]] = field(default_factory=Counter)  # (ref, sku): units
    waiting: Counter[str] = field(default_factory=Counter)  # sku: units
    removed: bool = False  # some line's row was deleted: its order may have none left

    def add(self, sku: str, status: str | None, batchref: str | None, qty: int) -> None:
        """A line's row with these values appeared (``qty`` < 0: disappeared)."""
        if status == LineStatus.ALLOCATED and batchref is not None:
            self.allocated[batchref, sku] += qty
        elif status == LineStatus.WAITING:
            self.waiting[sku] += qty


NEWEST_WITH_ROW = (
    "SELECT n.orderid, n.sku, n.name, n.version, n.batchref, n.payload,"
    " l.status, l.batchref, l.qty, l.arrival"
    " FROM (SELECT orderid, sku, name, version, batchref, payload FROM {log}"
    " WHERE orderid = %s AND sku = %s ORDER BY version DESC LIMIT 1) n"
    " LEFT JOIN {line} l ON l.orderid = n.orderid AND l.sku = n.sku"
)
"""A line's newest logged event beside its row as it stands (the line has a logged
event: it was touched because one was just logged)."""


def refresh_lines(db: str, lines: Sequence[tuple[str, str]]) -> Moves:
    """Each line's row from its newest logged event; what that moved the sums by.

    One statement reads every line's row with its newest event, one writes the rows
    that changed, one deletes the lines that are gone.
    """
    moves = Moves()
    if not lines:
        return moves
    found = rows(
        db,
        " UNION ALL ".join([NEWEST_WITH_ROW] * len(lines)),
        [value for line in lines for value in line],
    )
    written: list[Any] = []
    deleted: list[str] = []
    for orderid, sku, name, version, batchref, payload, *before in found:
        status_before, batch_before, qty_before, arrival_before = before
        event_type = events.Event.registry[name]
        status = policy.line_status_after(event_type)
        qty, after = 0, None
        if status is None:
            if status_before is None:
                continue  # gone, and already so
            deleted += [orderid, sku]
            moves.removed = True
        else:
            fields = json.loads(payload) if isinstance(payload, str | bytes) else payload
            qty = fields["qty"]
            after = batchref if status == LineStatus.ALLOCATED else None
            arrival = policy.queue_arrival(event_type, fields, version)
            row = (status.value, after, qty, arrival)
            if (status_before, batch_before, qty_before, arrival_before) == row:
                continue  # a redelivery: nothing moves
            written += [orderid, sku, qty, status.value, after, arrival]
            moves.add(sku, status.value, after, qty)
        if status_before is not None:
            moves.add(sku, status_before, batch_before, -qty_before)
    if written:
        run(
            db,
            "INSERT INTO {line} (orderid, sku, qty, status, batchref, arrival) VALUES "
            + ", ".join(["(%s, %s, %s, %s, %s, %s)"] * (len(written) // 6))
            + " ON CONFLICT (orderid, sku) DO UPDATE SET qty = excluded.qty,"
            " status = excluded.status, batchref = excluded.batchref,"
            " arrival = excluded.arrival",
            written,
        )
    if deleted:
        run(
            db,
            "DELETE FROM {line} WHERE "
            + " OR ".join(["(orderid = %s AND sku = %s)"] * (len(deleted) // 2)),
            deleted,
        )
    return moves


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


def move_batches_allocated(db: str, units: dict[tuple[str, str], int]) -> None:
    """Move each batch's allocated total by its units: one UPDATE, whatever their size."""
    if not units:
        return
    refs = sorted(ref for ref, _ in units)
    moved = rows(
        db,
        "UPDATE {batch} SET allocated = allocated + CASE reference"
        + " WHEN %s THEN %s" * len(units)
        + " END WHERE reference IN ("
        + ", ".join(["%s"] * len(refs))
        + ") RETURNING reference",
        [value for (ref, _), n in sorted(units.items()) for value in (ref, n)] + refs,
    )
    known = {ref for (ref,) in moved}
    for ref, sku in sorted(units):
        if ref not in known:
            # Its BatchCreated has not arrived yet: a row summing the lines already here.
            BatchView.objects.using(db).create(
                reference=ref, sku=sku, allocated=_allocated(db, ref)
            )


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


def refresh_orders(db: str, orderids: Sequence[str], emptied: bool = True) -> None:
    """The orders' summaries, computed from their lines and batches by one upsert.

    The status is ``rules.order_status`` (allocated when no line waits, partly
    allocated when some do, waiting when all do), the ship date
    ``rules.expected_ship_date`` (the latest eta of the allocated lines' batches, null
    for the warehouse: MAX skips nulls), in SQL. ``created_at`` is the time of the
    order's first logged event (the write side's, so a rebuild finds the same; an
    earlier event applied late moves it back). An order whose lines are all gone has
    no summary (``emptied``: some may be). ``tests/integration/test_read_rules.py``
    holds the two to agreement.
    """
    if not orderids:
        return
    allocated, partly, waiting = (
        OrderStatus.ALLOCATED.value,
        OrderStatus.PARTLY_ALLOCATED.value,
        OrderStatus.WAITING.value,
    )
    line_allocated = LineStatus.ALLOCATED.value
    among = ", ".join(["%s"] * len(orderids))
    run(
        db,
        "INSERT INTO {order} (orderid, status, line_count, allocated_lines, waiting_lines,"
        " expected_ship_date, created_at, updated_at)"
        " SELECT l.orderid, CASE WHEN SUM(CASE WHEN l.status = %s THEN 0 ELSE 1 END) = 0"
        " THEN %s WHEN SUM(CASE WHEN l.status = %s THEN 1 ELSE 0 END) > 0 THEN %s ELSE %s END,"
        " COUNT(*), SUM(CASE WHEN l.status = %s THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN l.status = %s THEN 0 ELSE 1 END),"
        " MAX(CASE WHEN l.status = %s THEN b.eta END),"
        " (SELECT MIN(e.occurred_at) FROM {log} e WHERE e.orderid = l.orderid), %s"
        " FROM {line} l LEFT JOIN {batch} b ON b.reference = l.batchref"
        f" WHERE l.orderid IN ({among}) GROUP BY l.orderid"
        " ON CONFLICT (orderid) DO UPDATE SET status = excluded.status,"
        " line_count = excluded.line_count, allocated_lines = excluded.allocated_lines,"
        " waiting_lines = excluded.waiting_lines,"
        " expected_ship_date = excluded.expected_ship_date, created_at = excluded.created_at,"
        " updated_at = excluded.updated_at",
        [line_allocated, allocated, line_allocated, partly, waiting, line_allocated,
         line_allocated, line_allocated, now(db, OrderView, "updated_at"), *orderids],
    )  # fmt: skip
    if emptied:
        run(
            db,
            f"DELETE FROM {{order}} WHERE orderid IN ({among}) AND NOT EXISTS"
            " (SELECT 1 FROM {line} l WHERE l.orderid = {order}.orderid)",
            list(orderids),
        )


def refresh_skus(db: str, waiting_moved: dict[str, int]) -> None:
    """The SKUs' stock rows: their batches' totals, and their waiting demand moved by
    the units given; one UPDATE (a SKU's first row sums its waiting lines)."""
    if not waiting_moved:
        return
    skus = sorted(waiting_moved)
    updated = rows(
        db,
        "UPDATE {stock} SET (purchased, allocated, available, next_eta, batch_count) ="
        " (SELECT COALESCE(SUM(b.purchased), 0), COALESCE(SUM(b.allocated), 0),"
        " COALESCE(SUM(b.purchased), 0) - COALESCE(SUM(b.allocated), 0), MIN(b.eta),"
        " COUNT(b.id) FROM {batch} b WHERE b.sku = {stock}.sku),"
        " waiting = waiting + CASE sku" + " WHEN %s THEN %s" * len(skus) + " END"
        f" WHERE sku IN ({', '.join(['%s'] * len(skus))}) RETURNING sku",
        [value for sku in skus for value in (sku, waiting_moved[sku])] + skus,
    )
    for sku in sorted(set(skus) - {sku for (sku,) in updated}):
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

    Each SKU reads the log from its position on, never its history: the position is a
    scalar subquery, a constant of the log's ``(sku, version)`` index range whatever the
    planner believes. Joined to the positions instead, the log was read from the SKU's
    first version whenever the statistics said the SKU was small (a SKU that grew
    since the last ANALYZE): ~25 ms for 2,500 events, growing with the history.
    """
    wanted = sorted(skus)
    if not wanted:
        return
    start = "COALESCE((SELECT p.version FROM {position} p WHERE p.sku = %s), 0)"
    after = " UNION ALL ".join(
        [
            f"SELECT e.sku, e.version, {start} AS start,"
            " e.version - ROW_NUMBER() OVER (ORDER BY e.version) AS shift"
            f" FROM {{log}} e WHERE e.sku = %s AND e.version > {start}"
        ]
        * len(wanted)
    )
    run(
        db,
        "INSERT INTO {position} (sku, version)"
        f" SELECT sku, MAX(version) FROM ({after}) runs WHERE shift = start GROUP BY sku"
        " ON CONFLICT (sku) DO UPDATE SET version = excluded.version",
        [sku for sku in wanted for _ in range(3)],
    )
