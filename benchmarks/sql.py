"""The SQL a benchmark needs: fast seeding, lag timestamps and the pgbench script.

Seeding writes write-side rows directly (it is setup, not what is measured), with the
invariants the repository relies on: the batch's allocated total equals its lines, the
product's version equals the number of events, every event is in the outbox (sent).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

Connection = psycopg.Connection[Any]


def seed_history(conn: Connection, sku: str, past: int) -> None:
    """A SKU with one batch and ``past`` allocations (versions 2..past+1) already made."""
    batch = f"{sku}-b"
    with conn.transaction():
        conn.execute(
            "INSERT INTO allocation_product (sku, version_number) VALUES (%s, %s)", [sku, past + 1]
        )
        conn.execute(
            "INSERT INTO allocation_batch (reference, sku, purchased_quantity, allocated_quantity,"
            " eta) VALUES (%s, %s, %s, %s, NULL)",
            [batch, sku, past + 1_000_000, past],
        )
        conn.execute(
            "INSERT INTO allocation_order_line (orderid, sku, qty, batchref, arrival, sequence)"
            " SELECT 'past-' || g, %s, 1, %s, g + 1, g + 1 FROM generate_series(1, %s) AS g",
            [sku, batch, past],
        )
        conn.execute(
            "INSERT INTO allocation_outbox (event_id, name, sku, version, orderid, payload,"
            " created_at, sent_at, sends) VALUES (gen_random_uuid(), 'BatchCreated', %s, 1,"
            " NULL, jsonb_build_object('sku', %s::text, 'version', 1, 'ref', %s::text,"
            " 'qty', %s::int, 'eta', NULL), now(), now(), 1)",
            [sku, sku, batch, past + 1_000_000],
        )
        conn.execute(
            "INSERT INTO allocation_outbox (event_id, name, sku, version, orderid, payload,"
            " created_at, sent_at, sends) SELECT gen_random_uuid(), 'Allocated', %s, g + 1,"
            " 'past-' || g, jsonb_build_object('sku', %s::text, 'version', g + 1, 'orderid',"
            " 'past-' || g, 'qty', 1, 'batchref', %s::text), now(), now(), 1"
            " FROM generate_series(1, %s) AS g",
            [sku, sku, batch, past],
        )
        # The read model is not seeded with this history: it counts as applied, so the
        # reconciler leaves it alone (the history phase measures the write side).
        conn.execute(
            "INSERT INTO orders_read_appliedposition (sku, version) VALUES (%s, %s)",
            [sku, past + 1],
        )


PGBENCH_SKUS = 100


def seed_pgbench(conn: Connection) -> None:
    """SKUs ``pgb-0`` .. ``pgb-99`` of pgbench's own, so it never touches measured rows."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO allocation_product (sku, version_number)"
            " SELECT 'pgb-' || g, 1 FROM generate_series(0, %s) AS g",
            [PGBENCH_SKUS - 1],
        )
        conn.execute(
            "INSERT INTO allocation_batch (reference, sku, purchased_quantity, allocated_quantity,"
            " eta) SELECT 'pgb-' || g || '-b', 'pgb-' || g, 1000000000, 0, NULL"
            " FROM generate_series(0, %s) AS g",
            [PGBENCH_SKUS - 1],
        )
        conn.execute(  # seeded without events: nothing for the read model to apply
            "INSERT INTO orders_read_appliedposition (sku, version)"
            " SELECT 'pgb-' || g, 1 FROM generate_series(0, %s) AS g",
            [PGBENCH_SKUS - 1],
        )


PGBENCH_SCRIPT = Path(__file__).with_name("allocate.pgbench")
"""What one allocate sends to PostgreSQL, without Django (see that file)."""


def timestamp_lags_ms(conn: Connection, orderids_like: str) -> list[float]:
    """EventLog.applied_at - outbox.created_at for the same (sku, version), in ms.

    Both are set by Python (``auto_now_add``) just before their INSERT, on one machine's
    clock: the start is slightly before the write commits, the end slightly before the
    projection commits, so this is a second opinion, not the measure of record.
    """
    rows = conn.execute(
        "SELECT EXTRACT(EPOCH FROM (e.applied_at - o.created_at)) * 1000"
        " FROM allocation_outbox o JOIN orders_read_eventlog e"
        " ON e.sku = o.sku AND e.version = o.version"
        " WHERE o.orderid LIKE %s AND o.name = 'Allocated'",
        [orderids_like],
    ).fetchall()
    return [float(ms) for (ms,) in rows]


def seed_read_batch(conn: Connection, sku: str, lines: int) -> None:
    """Read-model rows only: a SKU's batch holding ``lines`` allocated lines, applied up
    to version ``lines + 1``, for timing the projection of one more event into it."""
    batch = f"{sku}-b"
    with conn.transaction():
        conn.execute(
            "INSERT INTO orders_read_batchview (reference, sku, eta, purchased, allocated)"
            " VALUES (%s, %s, NULL, %s, %s)",
            [batch, sku, 10 * lines + 1_000_000, lines],
        )
        conn.execute(
            "INSERT INTO orders_read_orderlineview (orderid, sku, qty, status, batchref)"
            " SELECT 'held-' || g, %s, 1, 'allocated', %s FROM generate_series(1, %s) AS g",
            [sku, batch, lines],
        )
        conn.execute(
            "INSERT INTO orders_read_skustock (sku, purchased, allocated, available, waiting,"
            " next_eta, batch_count) VALUES (%s, %s, %s, %s, 0, NULL, 1)",
            [sku, 10 * lines + 1_000_000, lines, 9 * lines + 1_000_000],
        )
        conn.execute(
            "INSERT INTO orders_read_appliedposition (sku, version) VALUES (%s, %s)",
            [sku, lines + 1],
        )
