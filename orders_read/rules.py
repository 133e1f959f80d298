"""The read side's business rules, in plain Python: what a line's and an order's status
mean, and when an order ships.

The projection computes these in SQL (``orders_read.projections.recorder``, one upsert
per order, which names the rule it implements); this module is the readable statement
of the same rules, and ``tests/integration/test_read_rules.py`` checks on both
databases that the SQL agrees with it on a table of cases. No Django here: the
projection policy and these rules are tested without a database.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date
from enum import StrEnum


class LineStatus(StrEnum):
    """A live order line is either allocated to a batch or waiting for stock."""

    ALLOCATED = "allocated"
    WAITING = "waiting"


class OrderStatus(StrEnum):
    ALLOCATED = "allocated"
    PARTLY_ALLOCATED = "partly_allocated"
    WAITING = "waiting"


def order_status(lines: Collection[LineStatus]) -> OrderStatus | None:
    """Allocated when no line waits, waiting when all do, partly allocated in between.

    None for an order without a live line (all cancelled): it has no summary.
    """
    if not lines:
        return None
    if all(line == LineStatus.ALLOCATED for line in lines):
        return OrderStatus.ALLOCATED
    if any(line == LineStatus.ALLOCATED for line in lines):
        return OrderStatus.PARTLY_ALLOCATED
    return OrderStatus.WAITING


def expected_ship_date(allocated_etas: Iterable[date | None]) -> date | None:
    """The latest eta of the batches the order's allocated lines are in.

    A batch without an eta is in the warehouse and ships now, so it never delays the
    order; None means everything allocated ships from the warehouse (or nothing is
    allocated). Waiting lines are left out: no date can be promised for them.
    """
    return max((eta for eta in allocated_etas if eta is not None), default=None)


class Shipping(StrEnum):
    """When an order ships, as a whole: what ``expected_ship_date`` alone cannot say,
    since it is None both for "now, from the warehouse" and for "no date yet"."""

    NOW = "now"  # every line allocated, all in batches in the warehouse
    ON_DATE = "on_date"  # every line allocated; the last batch arrives on the date
    WAITING = "waiting"  # a line waits for stock: no date can be promised


def shipping(status: OrderStatus, ships_on: date | None) -> Shipping:
    """From the order's status and ``expected_ship_date`` (see ``expected_ship_date``)."""
    if status != OrderStatus.ALLOCATED:
        return Shipping.WAITING
    return Shipping.NOW if ships_on is None else Shipping.ON_DATE
