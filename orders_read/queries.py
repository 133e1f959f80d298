"""Selectors: everything the pages and the API read, from the read model only.

Read-your-writes: before answering about an order or a SKU, wait (bounded) until the
projection has applied every event written for it. The write position comes from the
outbox, the one write-side table a reader consults; writes themselves never wait.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections, router
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from allocation.adapters import outbox
from allocation.models import OutboxEvent
from orders_read.models import (
    BatchView,
    EventLog,
    LineStatus,
    OrderLineView,
    OrderStatus,
    OrderView,
    SkuStock,
)


def wait_for_order(orderid: str, timeout: float | None = None) -> bool:
    """True once every event written for the order is projected; False on timeout.

    Every read of an order pays for this check, so when the outbox and the read model
    share a database it is one anti-join (is any event of the order not yet logged?)
    in plain SQL: the ORM spent longer building the two queries it replaces than
    PostgreSQL spends answering them. With a separate read database it compares the
    outbox's positions with the log's.
    """
    db = router.db_for_read(EventLog)
    if db == router.db_for_read(OutboxEvent):
        return _wait(lambda: not _unapplied(db, orderid), timeout)
    written = outbox.positions_of_order(orderid)

    def caught_up() -> bool:
        applied = EventLog.objects.filter(orderid=orderid).values_list("sku", "version")
        return written <= set(applied)

    return _wait(caught_up, timeout)


def _unapplied(db: str, orderid: str) -> bool:
    """Whether any event written for the order is missing from the projection's log."""
    connection = connections[db]
    outbox_table = connection.ops.quote_name(OutboxEvent._meta.db_table)
    log_table = connection.ops.quote_name(EventLog._meta.db_table)
    sql = (
        f"SELECT 1 FROM {outbox_table} o WHERE o.orderid = %s AND NOT EXISTS"
        f" (SELECT 1 FROM {log_table} e WHERE e.sku = o.sku AND e.version = o.version) LIMIT 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [orderid])
        return cursor.fetchone() is not None


def wait_for_sku(sku: str, version: int | None = None, timeout: float | None = None) -> bool:
    """True once the SKU's events up to ``version`` (default: the latest) are projected."""
    target = outbox.position_of_sku(sku) if version is None else version

    def caught_up() -> bool:
        return EventLog.objects.filter(sku=sku, version__lte=target).count() >= target

    return _wait(caught_up, timeout)


def _wait(caught_up: Any, timeout: float | None) -> bool:
    deadline = time.monotonic() + (
        settings.READ_YOUR_WRITES_TIMEOUT if timeout is None else timeout
    )
    pause = 0.005
    while not caught_up():
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    return True


def allocations(orderid: str) -> list[dict[str, Any]]:
    """The book's contract: allocated lines only, as ``[{"sku", "batchref"}]``.

    Plain SQL for the same reason as ``wait_for_order``: the API's hottest read.
    """
    connection = connections[router.db_for_read(OrderLineView)]
    table = connection.ops.quote_name(OrderLineView._meta.db_table)
    sql = f"SELECT sku, batchref FROM {table} WHERE orderid = %s AND status = %s ORDER BY sku"
    with connection.cursor() as cursor:
        cursor.execute(sql, [orderid, LineStatus.ALLOCATED.value])
        return [{"sku": sku, "batchref": ref} for sku, ref in cursor.fetchall()]


def order(orderid: str) -> dict[str, Any] | None:
    summary = OrderView.objects.filter(orderid=orderid).first()
    if summary is None:
        return None
    lines = OrderLineView.objects.filter(orderid=orderid).order_by("sku")
    return {
        "orderid": orderid,
        "status": summary.status,
        "expected_ship_date": summary.expected_ship_date,
        "lines": [
            {"sku": line.sku, "qty": line.qty, "status": line.status, "batchref": line.batchref}
            for line in lines
        ],
    }


# -- selectors of the web pages ------------------------------------------------------
# Each page asks one function here for everything it shows, in a bounded number of
# queries whatever the size of the tables (the lists are paginated by the views).

LOW_STOCK = 10
"""A SKU with fewer units available than this is "low" on the dashboard."""


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int


@dataclass(frozen=True)
class Lag:
    """How far the read model is behind the write side."""

    unsent: int
    oldest_unsent_age: timedelta | None
    last_applied_at: datetime | None


@dataclass(frozen=True)
class Dashboard:
    order_counts: list[StatusCount]
    order_total: int
    sku_total: int
    out_of_stock: int
    low_stock: int
    backordered: int
    short_skus: list[SkuStock]
    recent_events: list[EventLog]
    lag: Lag


def dashboard(recent: int = 12, short: int = 10) -> Dashboard:
    by_status = dict(
        OrderView.objects.order_by().values_list("status").annotate(n=Count("orderid"))
    )
    counts = [StatusCount(s.value, s.label, by_status.get(s.value, 0)) for s in OrderStatus]
    short_stock = Q(available__lt=LOW_STOCK) | Q(waiting__gt=0)
    skus = SkuStock.objects.aggregate(
        total=Count("sku"),
        out=Count("sku", filter=Q(available__lte=0)),
        low=Count("sku", filter=Q(available__gt=0, available__lt=LOW_STOCK)),
        backordered=Count("sku", filter=Q(waiting__gt=0)),
    )
    events = list(EventLog.objects.order_by("-applied_at", "-id")[:recent])
    return Dashboard(
        order_counts=counts,
        order_total=sum(c.count for c in counts),
        sku_total=skus["total"],
        out_of_stock=skus["out"],
        low_stock=skus["low"],
        backordered=skus["backordered"],
        short_skus=list(SkuStock.objects.filter(short_stock).order_by("available", "sku")[:short]),
        recent_events=events,
        lag=Lag(
            unsent=outbox.unsent_count(),
            oldest_unsent_age=outbox.oldest_unsent_age(),
            last_applied_at=events[0].applied_at if events else None,
        ),
    )


def stock(search: str = "") -> QuerySet[SkuStock]:
    rows = SkuStock.objects.order_by("sku")
    return rows.filter(sku__icontains=search) if search else rows


@dataclass(frozen=True)
class BatchOrders:
    """A batch and the first of the order lines it serves (``line_count`` in all)."""

    batch: BatchView
    lines: list[OrderLineView]
    line_count: int


@dataclass(frozen=True)
class SkuDetail:
    sku: str
    stock: SkuStock | None
    batches: list[BatchOrders]
    waiting: list[OrderLineView]
    waiting_count: int
    history: list[EventLog]


def sku_detail(sku: str, lines_per_batch: int = 20, waiting: int = 50) -> SkuDetail | None:
    """Warehouse batches first, then shipments by eta, as the allocation prefers them."""
    stock_row = SkuStock.objects.filter(sku=sku).first()
    batches = list(
        BatchView.objects.filter(sku=sku).order_by(F("eta").asc(nulls_first=True), "reference")
    )
    if stock_row is None and not batches:
        return None
    allocated = OrderLineView.objects.filter(sku=sku, status=LineStatus.ALLOCATED)
    counts = dict(allocated.order_by().values_list("batchref").annotate(n=Count("id")))
    first_lines = allocated.annotate(
        rank=Window(RowNumber(), partition_by=F("batchref"), order_by=F("orderid").asc())
    ).filter(rank__lte=lines_per_batch)
    served: dict[str, list[OrderLineView]] = {}
    for line in first_lines.order_by("batchref", "orderid"):
        served.setdefault(line.batchref or "", []).append(line)
    waiting_lines = OrderLineView.objects.filter(sku=sku, status=LineStatus.WAITING)
    return SkuDetail(
        sku=sku,
        stock=stock_row,
        batches=[
            BatchOrders(b, served.get(b.reference, []), counts.get(b.reference, 0)) for b in batches
        ],
        waiting=list(waiting_lines.order_by("id")[:waiting]),
        waiting_count=waiting_lines.count(),
        history=list(EventLog.objects.filter(sku=sku).order_by("-version")[:20]),
    )


def sku_of_batch(ref: str, timeout: float | None = None) -> str | None:
    """The batch's SKU, waiting (bounded) for a batch the projection has not seen yet."""
    found: list[str] = []

    def known() -> bool:
        found[:] = BatchView.objects.filter(reference=ref).values_list("sku", flat=True)[:1]
        return bool(found)

    _wait(known, timeout)
    return found[0] if found else None


def orders(
    status: str = "", search: str = "", sku: str = "", batch: str = ""
) -> QuerySet[OrderView]:
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


def order_detail(orderid: str) -> OrderDetail | None:
    """None only for an order the system has never heard of."""
    summary = OrderView.objects.filter(orderid=orderid).first()
    lines = list(OrderLineView.objects.filter(orderid=orderid).order_by("sku"))
    refs = {line.batchref for line in lines if line.batchref}
    batches = {b.reference: b for b in BatchView.objects.filter(reference__in=refs)} if refs else {}
    history = _in_write_order(EventLog.objects.filter(orderid=orderid).order_by("applied_at", "id"))
    if summary is None and not lines and not history:
        return None
    return OrderDetail(
        orderid=orderid,
        summary=summary,
        lines=[OrderLineDetail(line, batches.get(line.batchref or "")) for line in lines],
        history=history,
    )


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


def known_skus(skus: Iterable[str]) -> set[str]:
    return set(SkuStock.objects.filter(sku__in=list(skus)).values_list("sku", flat=True))


def line_quantities(orderid: str) -> dict[str, int]:
    """The order's live lines, ``{sku: qty}``: what a resubmission must agree with."""
    return dict(OrderLineView.objects.filter(orderid=orderid).values_list("sku", "qty"))
