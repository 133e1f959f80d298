"""A product's save in one statement, on PostgreSQL: the version check, the batches'
totals and the lines (written or deleted) together.

Sent as three or more statements (``repository``'s ``_BUMP``, ``_UPDATE_BATCH``,
``_UPSERT_LINE``), a save costs one round trip in the Unit of Work's pipeline, but the
web process still pays each statement's execution (~0.06 ms of CPU: psycopg flushes
every statement it is given) and PostgreSQL its own work per statement. One statement
needs PostgreSQL's data-modifying ``WITH``, which the ORM cannot express: so plain
SQL, its table and column names (and their types) taken from the models.

The order of the row locks is the point to keep. PostgreSQL runs a ``WITH``'s
sub-statements in no stated order, and every other writer of a SKU locks its product
row first (``_BUMP``, or the contended load's ``FOR UPDATE``): a batch or a line locked
before the product could deadlock with one of them. So the batches' and the lines'
statements join the version check's ``RETURNING``: they cannot write a row before it
has run, and so before it holds the product's row lock. A lost race fails the whole
statement as ``_BUMP`` does (``STALE``, refused by the column's constraint).

For what most commands change (an allocation, a cancellation, a batch's new quantity):
an existing product, batches that exist, a few lines. A new product or batch, many
lines, and SQLite (which has no such statement) go through the separate statements, in
the same transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.db import connections, router
from django.db.models import Field, Model

from allocation.models import BatchRecord, OrderLineRecord, ProductRecord

STALE = -1
"""What the version check writes when the version read is no longer the row's: a value
the column's constraint (``version_number >= 0``) refuses, so that a lost race fails
inside the transaction, which can then commit with its writes in one round trip."""

BatchTotals = tuple[str, int, int]
"""A batch's reference, purchased and allocated quantities."""
LineRow = tuple[str, int, str | None, int, int | None]
"""A line's orderid, qty, batch reference (None: waiting), arrival and sequence."""


MOST_ROWS = 16
"""The most batches, and the most lines, one statement saves: a statement is built
once per shape (so many batches, so many lines), and PostgreSQL prepares each shape
once per connection, so the shapes stay few. A command that changes more (a batch
shrinking under many lines) goes through the separate statements."""


def alias_for(batches: int, lines: int) -> str | None:
    """The database to save this many batches and lines (written or deleted) in one
    statement on; None: not this database (SQLite), or more than ``MOST_ROWS``."""
    alias = router.db_for_write(ProductRecord) or "default"
    if connections[alias].vendor != "postgresql" or max(batches, lines) > MOST_ROWS:
        return None
    return alias


def send(
    alias: str,
    sku: str,
    loaded: int,
    version: int,
    batches: Sequence[BatchTotals],
    lines: Sequence[LineRow],
    gone: Sequence[str],
) -> None:
    """Send the save (its answer is not read: an error comes back with the pipeline);
    ``gone``: the orderids whose line of this SKU is deleted."""
    params: list[Any] = [loaded, version, sku]
    params += [value for batch in batches for value in batch]
    params += [value for orderid, *rest in lines for value in (orderid, sku, *rest)]
    params += gone
    with connections[alias].cursor() as cursor:
        cursor.execute(_statement(alias, len(batches), len(lines), len(gone)), params)


@functools.cache
def _statement(alias: str, batches: int, lines: int, gone: int) -> str:
    """The statement for this many batches, lines written and lines deleted (built once
    per shape)."""
    connection = connections[alias]
    quote = connection.ops.quote_name

    def table(model: type[Model]) -> str:
        return quote(model._meta.db_table)

    def field(model: type[Model], name: str) -> Field[Any, Any]:
        found = model._meta.get_field(name)
        assert isinstance(found, Field), name
        return found

    def column(model: type[Model], name: str) -> str:
        found = field(model, name).column
        assert found is not None, name
        return quote(found)

    def values(model: type[Model], names: Sequence[str], rows: int) -> str:
        """``VALUES`` with typed placeholders (a NULL or a number needs its type)."""
        types = [field(model, name).cast_db_type(connection) for name in names]
        one = "(" + ", ".join(f"%s::{t}" for t in types) + ")"
        return "VALUES " + ", ".join([one] * rows)

    version, sku = column(ProductRecord, "version_number"), column(ProductRecord, "sku")
    parts = [
        f"checked AS (UPDATE {table(ProductRecord)} SET {version} = CASE WHEN {version} = %s"
        f" THEN %s ELSE {STALE} END WHERE {sku} = %s RETURNING {sku})"
    ]
    if batches:
        totals = ("reference", "purchased_quantity", "allocated_quantity")
        cols = [column(BatchRecord, n) for n in totals]
        parts.append(
            f"batches AS (UPDATE {table(BatchRecord)} AS b"
            f" SET {cols[1]} = v.{cols[1]}, {cols[2]} = v.{cols[2]}"
            f" FROM ({values(BatchRecord, totals, batches)}) AS v({', '.join(cols)}), checked"
            f" WHERE b.{cols[0]} = v.{cols[0]})"
        )
    if lines:
        row = ("orderid", "product", "qty", "batch", "arrival", "sequence")
        cols = [column(OrderLineRecord, n) for n in row]
        key = ", ".join(cols[:2])
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols[2:])
        parts.append(
            f"lines AS (INSERT INTO {table(OrderLineRecord)} ({', '.join(cols)})"
            f" SELECT v.* FROM ({values(OrderLineRecord, row, lines)}) AS v, checked"
            f" ON CONFLICT ({key}) DO UPDATE SET {updates})"
        )
    if gone:
        orderid, line_sku = column(OrderLineRecord, "orderid"), column(OrderLineRecord, "product")
        parts.append(
            f"gone AS (DELETE FROM {table(OrderLineRecord)} AS l"
            f" USING ({values(OrderLineRecord, ('orderid',), gone)}) AS v({orderid}), checked"
            f" WHERE l.{line_sku} = checked.{sku} AND l.{orderid} = v.{orderid})"
        )
    return "WITH " + ", ".join(parts) + " SELECT 1 FROM checked"
