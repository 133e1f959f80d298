"""An order, its allocations and the order list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.db.models.query import RawQuerySet

from orders_read import freshness
from orders_read.freshness import WritePositions
from orders_read.models import BatchView, EventLog, OrderLineView, OrderView
from orders_read.rules import LineStatus
from orders_read.sql import read_db, statement

API_READ = (
    "SELECT l.*, s.status AS order_status, s.expected_ship_date AS order_ships_on, {caught_up}"
    " FROM {line} l LEFT JOIN {order} s ON s.orderid = l.orderid"
    " WHERE l.orderid = %s ORDER BY l.sku"
)
"""Every line of an order, each with its order's status and ship date, and the
read-your-writes check as ``caught_up``."""


def allocations(orderid: str, writes: WritePositions) -> tuple[list[dict[str, str | None]], bool]:
    """The book's contract: allocated lines only, as ``[{"sku", "batchref"}]``; fresh?

    Every line is read, waiting ones too, so that the read-your-writes check has a row
    to ride on whenever the order has lines.
    """
    lines, fresh = _api_read(orderid, writes)
    allocated = [
        {"sku": line.sku, "batchref": line.batchref}
        for line in lines
        if line.status == LineStatus.ALLOCATED
    ]
    return allocated, fresh


def order(orderid: str, writes: WritePositions) -> tuple[dict[str, Any] | None, bool]:
    """The order as the API shows it (None: unknown or every line gone); fresh?"""
    lines, fresh = _api_read(orderid, writes)
    summary = vars(lines[0]) if lines else {}  # the order's columns, on every line
    if summary.get("order_status") is None:
        return None, fresh
    found = {
        "orderid": orderid,
        "status": summary["order_status"],
        "expected_ship_date": summary["order_ships_on"],
        "lines": [
            {"sku": line.sku, "qty": line.qty, "status": line.status, "batchref": line.batchref}
            for line in lines
        ],
    }
    return found, fresh


def _api_read(orderid: str, writes: WritePositions) -> tuple[list[OrderLineView], bool]:
    """The API's reads of an order, the hottest there are: one raw statement each time,
    since the ORM took longer to build it than the database to answer."""

    def read(check: freshness.Check) -> RawQuerySet[OrderLineView]:
        sql = statement(read_db(), API_READ, caught_up=check.column())
        return OrderLineView.objects.raw(sql, [*check.params, orderid])

    return freshness.order_rows(orderid, writes, read)


@dataclass(frozen=True)
class OrderLineDetail:
    line: OrderLineView
    batch: BatchView | None

    @property
    def waiting(self) -> bool:
        return self.line.status == LineStatus.WAITING

    @property
    def in_warehouse(self) -> bool:
        return self.batch is not None and self.batch.eta is None


@dataclass(frozen=True)
class OrderDetail:
    """An order as its customer sees it; ``summary`` is None once every line is gone."""

    orderid: str
    summary: OrderView | None
    lines: list[OrderLineDetail]
    history: list[EventLog]


def order_detail(orderid: str, writes: WritePositions) -> tuple[OrderDetail | None, bool]:
    """None only for an order the system has never heard of; and fresh?

    Two statements on the read model: the lines with their summary and batches (and the
    read-your-writes check), then the history.
    """
    lines, fresh = freshness.order_rows(
        orderid,
        writes,
        lambda check: check.annotate(_lines(orderid).select_related("order", "batch")),
    )
    history = _in_write_order(EventLog.objects.filter(orderid=orderid).order_by("applied_at", "id"))
    if not lines and not history:
        return None, fresh
    detail = OrderDetail(
        orderid=orderid,
        summary=lines[0].order if lines else None,
        lines=[OrderLineDetail(line, line.batch) for line in lines],
        history=history,
    )
    return detail, fresh


def _lines(orderid: str) -> QuerySet[OrderLineView]:
    return OrderLineView.objects.filter(orderid=orderid).order_by("sku")


def _in_write_order(entries: Iterable[EventLog]) -> list[EventLog]:
    """Order of application across SKUs, but each SKU's events by version.

    Redelivery can apply a SKU's events out of order; its versions say what happened
    first, while between SKUs the time of application is the best clue there is.
    """
    timeline = list(entries)
    per_sku: dict[str, list[EventLog]] = {}
    for entry in timeline:
        per_sku.setdefault(entry.sku, []).append(entry)
    ordered = {sku: iter(sorted(group, key=lambda e: e.version)) for sku, group in per_sku.items()}
    return [next(ordered[entry.sku]) for entry in timeline]


def orders(
    status: str = "", search: str = "", sku: str = "", batch: str = ""
) -> QuerySet[OrderView]:
    """The order list, filtered by status, order id, SKU or batch (the view paginates)."""
    rows = OrderView.objects.order_by("orderid")
    if status:
        rows = rows.filter(status=status)
    if search:
        rows = rows.filter(orderid__icontains=search)
    if sku or batch:
        lines = OrderLineView.objects.all()
        lines = lines.filter(sku=sku) if sku else lines
        lines = lines.filter(batchref=batch) if batch else lines
        rows = rows.filter(orderid__in=lines.values("orderid"))
    return rows


def line_quantities(orderid: str) -> dict[str, int]:
    """The order's live lines, ``{sku: qty}``: what a resubmission must agree with."""
    return dict(OrderLineView.objects.filter(orderid=orderid).values_list("sku", "qty"))
