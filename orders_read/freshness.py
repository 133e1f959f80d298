"""Read-your-writes: a read waits (bounded) until the read model holds what was written.

The write side says what it wrote as event positions, a SKU and a version, through
the ``WritePositions`` port (``allocation.bootstrap`` gives the adapter). The read model
says what it applied: the event log (one row per event) and, per SKU, the applied
position (every version up to it). A read is *fresh* once the second covers the
first. Until then it is repeated, with backoff, for ``READ_YOUR_WRITES_TIMEOUT`` at
most; after that it answers from what is there and says it is stale (the API's
header, the pages' "Processing…"). Writes never wait.

- An order: the newest event written for each of its lines must be logged. That is
  enough, since a line's row is recomputed from its newest logged event in the
  transaction that logs it. The check rides in the read's own statement, so a fresh
  read of an order is one statement on the read model.
- A SKU (and a batch, through its SKU): every event of the SKU must be applied, since
  its stock sums every line; the check is a lookup of its applied position.

Nothing here reads the write side's tables, so the read model may live in another
database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.db import connections
from django.db.models import BooleanField, Model, QuerySet
from django.db.models.expressions import RawSQL

from orders_read.models import AppliedPosition
from orders_read.sql import read_db, statement

M = TypeVar("M", bound=Model)
R = TypeVar("R")
T = TypeVar("T")

CAUGHT_UP = "caught_up"
"""The column that carries the check on the rows of a read of an order."""


class WritePositions(Protocol):
    """What the write side has written, as ``(sku, version)`` event positions."""

    def of_order(self, orderid: str) -> Mapping[str, int]:
        """Per SKU of the order, the version of its newest event about the order."""
        ...

    def of_order_query(self, orderid: str, db: str) -> tuple[str, Sequence[Any]] | None:
        """``of_order`` as SQL for database ``db``, rows of ``(sku, version)``; None when
        the write side's tables are not in that database."""
        ...

    def of_sku(self, sku: str) -> int:
        """The SKU's last version written; 0 when nothing was."""
        ...

    def of_batch(self, ref: str) -> tuple[str, int] | None:
        """The batch's SKU and the SKU's last version written; None: no such batch."""
        ...


@dataclass(frozen=True)
class Check:
    """A boolean SQL expression, true once the log holds each of the events written.

    Plain SQL, not an ORM expression: built by the ORM, an ``Exists`` per event cost
    more than the whole read, and the hottest read is a raw statement anyway.
    """

    sql: str
    params: tuple[Any, ...]

    def column(self) -> str:
        """The check as the ``caught_up`` column of a raw statement (its params first)."""
        return f"({self.sql}) AS {CAUGHT_UP}"

    def annotate(self, rows: QuerySet[M]) -> QuerySet[M]:
        """The rows, each carrying the check as ``caught_up``."""
        caught_up = RawSQL(self.sql, self.params, output_field=BooleanField())
        annotated: QuerySet[M] = rows.annotate(**{CAUGHT_UP: caught_up})
        return annotated

    def ask(self) -> bool:
        """The check in a statement of its own, for a read that found no row to carry it."""
        with connections[read_db()].cursor() as cursor:
            cursor.execute(f"SELECT {self.sql}", self.params)
            row = cursor.fetchone()
        return bool(row and row[0])


NOTHING_WRITTEN = Check("1 = 1", ())


def _logged(written: Mapping[str, int]) -> Check:
    """The check that each of these ``{sku: version}`` events is in the log."""
    if not written:
        return NOTHING_WRITTEN
    one = "EXISTS (SELECT 1 FROM {log} e WHERE e.sku = %s AND e.version = %s)"
    template = " AND ".join([one] * len(written))
    return Check(statement(read_db(), template), tuple(p for pair in written.items() for p in pair))


def _logged_query(sql: str, params: Sequence[Any]) -> Check:
    """The check that each ``(sku, version)`` row of ``sql`` is in the log."""
    template = (
        "NOT EXISTS (SELECT 1 FROM (" + sql.replace("{", "{{").replace("}", "}}") + ") w"
        " WHERE NOT EXISTS (SELECT 1 FROM {log} e WHERE e.sku = w.sku AND e.version = w.version))"
    )
    return Check(statement(read_db(), template), tuple(params))


def order_rows(
    orderid: str, writes: WritePositions, read: Callable[[Check], Iterable[R]]
) -> tuple[list[R], bool]:
    """What ``read`` finds about the order, once it reflects every write to it; fresh?

    ``read`` carries the check it is given as the rows' ``caught_up`` column or
    attribute (``Check.column`` in a plain statement, ``Check.annotate`` on a
    queryset), so while
    the order has rows an attempt is one statement, its data and its check from one
    snapshot. Without rows (not projected yet, or every line gone) the check is asked
    on its own, and the order read again once it passes.
    """
    query = writes.of_order_query(orderid, read_db())
    if query is not None:  # one database: what was written is asked in the same statement
        check = _logged_query(*query)
    else:
        written = writes.of_order(orderid)
        if not written:  # the write side never heard of it: nothing to wait for
            return list(read(NOTHING_WRITTEN)), True
        check = _logged(written)

    def attempt() -> tuple[list[R], bool]:
        rows = list(read(check))
        if rows:
            return rows, bool(getattr(rows[0], CAUGHT_UP))
        # Asked after the read, the check may see events projected in between: only a
        # read made after it is sure to hold all it says is logged.
        return (list(read(check)), True) if check.ask() else (rows, False)

    return wait(attempt)


def sku_applied(sku: str, writes: WritePositions) -> bool:
    """Wait until every event written for the SKU is applied; whether it got there."""
    return _applied(sku, writes.of_sku(sku))


def batch_applied(ref: str, writes: WritePositions) -> bool:
    """Wait until every event written for the batch's SKU is applied; whether it got there."""
    found = writes.of_batch(ref)
    return found is None or _applied(*found)


def _applied(sku: str, version: int) -> bool:
    reached = AppliedPosition.objects.filter(sku=sku, version__gte=version)
    return version == 0 or wait(lambda: (None, reached.exists()))[1]


def wait(attempt: Callable[[], tuple[T, bool]]) -> tuple[T, bool]:
    """Repeat ``attempt`` until it says it is caught up, for READ_YOUR_WRITES_TIMEOUT at
    most (pauses from 5 ms, doubling up to 50 ms); its last answer, and whether caught up.
    """
    deadline = time.monotonic() + settings.READ_YOUR_WRITES_TIMEOUT
    pause = 0.005
    while True:
        found, caught_up = attempt()
        if caught_up or time.monotonic() >= deadline:
            return found, caught_up
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
