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

from collections.abc import Iterator
from datetime import date
from typing import NamedTuple

from django.db import connections, router

from allocation.adapters.outbox import stored_events
from allocation.domain.events import Event
from allocation.models import BatchRecord, OrderLineRecord, OutboxEvent, ProductRecord


class OutboxPositions:
    def of_order(self, orderid: str) -> dict[str, int]:
        """Per SKU of the order, the version of its newest event about the order.

        Part of every ``GET /api/allocations/<id>``, so plain SQL: the ORM took several
        times longer to build this statement than the database to answer it (by the
        outbox's ``orderid`` index).
        """
        connection = connections[router.db_for_read(OutboxEvent) or "default"]
        table = connection.ops.quote_name(OutboxEvent._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT sku, MAX(version) FROM {table} WHERE orderid = %s GROUP BY sku", [orderid]
            )
            return dict(cursor.fetchall())

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


class CurrentLine(NamedTuple):
    orderid: str
    sku: str
    qty: int
    batchref: str | None


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
            "orderid", "product_id", "qty", "batch__reference"
        )
        return (CurrentLine(*row) for row in rows.iterator(chunk_size=2000))

    def batches(self) -> Iterator[CurrentBatch]:
        rows = BatchRecord.objects.values_list(
            "reference", "product_id", "eta", "purchased_quantity"
        )
        return (CurrentBatch(*row) for row in rows.iterator(chunk_size=2000))
