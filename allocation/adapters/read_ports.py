"""What the read side may ask of the write side: adapters for its ports.

The read side (``orders_read``) never imports the write side's tables; it declares
what it needs as ports, and ``allocation.bootstrap`` hands it these adapters:

- ``OutboxPositions`` (``orders_read.freshness.WritePositions``): the event positions
  written, for read-your-writes. Small indexed reads of the outbox and the product
  rows, on the write side's database.
- ``WriteSideState`` (``orders_read.rebuild.WriteSide``): the event history and the
  current lines and batches, for a rebuild.

The row types match the ports' protocols by shape, so this module needs nothing of
the read side either.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import date
from typing import NamedTuple

from django.db import connections, router

from allocation.adapters.outbox import stored_events
from allocation.domain.events import Event
from allocation.models import BatchRecord, OrderLineRecord, OutboxEvent, ProductRecord


class OutboxPositions:
    """Part of every read of an order, so plain SQL: the ORM took longer to build these
    statements than the database to answer them (by the outbox's ``orderid`` index)."""

    ORDER = "SELECT sku, MAX(version) AS version FROM {outbox} WHERE orderid = %s GROUP BY sku"

    def of_order(self, orderid: str) -> dict[str, int]:
        """Per SKU of the order, the version of its newest event about the order."""
        db = _outbox_db()
        with connections[db].cursor() as cursor:
            cursor.execute(_order_positions(db), [orderid])
            return dict(cursor.fetchall())

    def of_order_query(self, orderid: str, db: str) -> tuple[str, list[str]] | None:
        """The same as a subquery, when the read model shares the outbox's database: a
        read of an order then asks the write side in its own statement."""
        return (_order_positions(db), [orderid]) if db == _outbox_db() else None

    def of_sku(self, sku: str) -> int:
        """The product's version: versions are gap-free per SKU, from 1."""
        version = ProductRecord.objects.filter(sku=sku).values_list("version_number", flat=True)
        return version.first() or 0

    def of_batch(self, ref: str) -> tuple[str, int] | None:
        """The batch's SKU and that product's version."""
        found = BatchRecord.objects.filter(reference=ref).values_list(
            "product_id", "product__version_number"
        )
        return found.first()


def _outbox_db() -> str:
    return router.db_for_read(OutboxEvent) or "default"


@functools.cache
def _order_positions(db: str) -> str:
    table = connections[db].ops.quote_name(OutboxEvent._meta.db_table)
    return OutboxPositions.ORDER.format(outbox=table)


class CurrentLine(NamedTuple):
    orderid: str
    sku: str
    qty: int
    batchref: str | None
    arrival: int


class CurrentBatch(NamedTuple):
    reference: str
    sku: str
    eta: date | None
    purchased: int


class WriteSideState:
    def events(self) -> Iterator[Event]:
        return (stored.event for stored in stored_events())

    def lines(self) -> Iterator[CurrentLine]:
        rows = OrderLineRecord.objects.values_list(
            "orderid", "product_id", "qty", "batch__reference", "arrival"
        )
        return (CurrentLine(*row) for row in rows.iterator(chunk_size=2000))

    def batches(self) -> Iterator[CurrentBatch]:
        rows = BatchRecord.objects.values_list(
            "reference", "product_id", "eta", "purchased_quantity"
        )
        return (CurrentBatch(*row) for row in rows.iterator(chunk_size=2000))
