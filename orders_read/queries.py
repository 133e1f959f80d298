"""Selectors: everything the pages and the API read, from the read model only.

Read-your-writes: before answering about an order or a SKU, wait (bounded) until the
projection has applied every event written for it. The write position comes from the
outbox, the one write-side table a reader consults; writes themselves never wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

from django.conf import settings
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, F, Field, Model, Q, QuerySet, Window
from django.db.models.expressions import Col
from django.db.models.functions import RowNumber

from allocation.adapters import outbox
from allocation.models import OutboxEvent
from allocation.service_layer.delivery import Lag
from orders_read.models import (
    AppliedPosition,
    BatchView,
    EventLog,
    LineStatus,
    OrderLineView,
    OrderStatus,
    OrderView,
    SkuStock,
)

M = TypeVar("M", bound=Model)

TABLES: dict[str, type[Model]] = {
    "order": OrderView,
    "line": OrderLineView,
    "batch": BatchView,
    "log": EventLog,
    "outbox": OutboxEvent,
}
"""The tables the plain-SQL reads name, as ``{order}``, ``{line}``..."""


def wait_for_order(orderid: str) -> bool:
    """True once every event written for the order is projected; False on timeout.

    The reads of an order do this check in their own statement (``_read_order``); this
    is for a separate read database, where it compares the outbox's positions with
    the log's.
    """
    written = outbox.positions_of_order(orderid)

    def caught_up() -> bool:
        applied = EventLog.objects.filter(orderid=orderid).values_list("sku", "version")
        return written <= set(applied)

    return _wait(caught_up)


def wait_for_sku(sku: str) -> bool:
    """True once every event written for the SKU is applied (bounded wait)."""
    target = outbox.position_of_sku(sku)
    applied = AppliedPosition.objects.filter(sku=sku, version__gte=target)
    return target == 0 or _wait(applied.exists)


def _wait(caught_up: Callable[[], bool]) -> bool:
    """Poll until ``caught_up()``, for READ_YOUR_WRITES_TIMEOUT at most; False on timeout."""
    deadline = time.monotonic() + settings.READ_YOUR_WRITES_TIMEOUT
    pause = 0.005
    while not caught_up():
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    return True


# -- the reads of an order ------------------------------------------------------------
# The hottest reads, so plain SQL: the ORM spent longer building queries than the
# database spends answering them. Each read is one statement that also says whether
# the order has writes the projection has not applied yet (read-your-writes), so the
# common case, nothing pending, costs one round trip.

PENDING = (
    "EXISTS (SELECT 1 FROM {outbox} o WHERE o.orderid = %s AND NOT EXISTS"
    " (SELECT 1 FROM {log} e WHERE e.sku = o.sku AND e.version = o.version))"
)
"""Is any event written for the order missing from the projection's log? (an anti-join)"""


def _sql(connection: BaseDatabaseWrapper, template: str, **parts: str) -> str:
    """The statement with ``{line}``, ``{log}``... replaced by the quoted table names."""
    quote = connection.ops.quote_name
    return template.format(**{name: quote(m._meta.db_table) for name, m in TABLES.items()}, **parts)


def _read_order(
    orderid: str, template: str, params: Sequence[Any]
) -> tuple[list[tuple[Any, ...]], bool]:
    """The rows of a read of the order, and whether they include all of its writes.

    ``template`` selects ``{pending}`` first, from a one-row table left-joined to the
    data, so that a row comes back even when there is no data yet. When the outbox and
    the read model share a database ``{pending}`` is the read-your-writes check, in the
    same statement (same snapshot) as the data, and the statement is repeated (bounded
    wait) while it says yes; with a separate read database ``wait_for_order`` runs
    first. The rows come without that column, and on a timeout from the last poll.
    """
    db = router.db_for_read(OrderLineView)
    connection = connections[db]
    shared = db == router.db_for_read(OutboxEvent)
    sql = _sql(connection, template, pending=_sql(connection, PENDING) if shared else "0")
    args = [orderid, *params] if shared else list(params)
    rows: list[tuple[Any, ...]] = []

    def caught_up() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            rows[:] = cursor.fetchall()
        return not rows[0][0]

    if shared:
        fresh = _wait(caught_up)
    else:
        fresh = wait_for_order(orderid)
        caught_up()
    return [row[1:] for row in rows], fresh


def allocations(orderid: str) -> tuple[list[dict[str, Any]], bool]:
    """The book's contract: allocated lines only, as ``[{"sku", "batchref"}]``; fresh?

    Left-joined to one row so that the pending flag comes back for an order with no
    line yet (an allocation not projected yet must be waited for, not answered 404).
    """
    rows, fresh = _read_order(
        orderid,
        "SELECT {pending}, l.sku, l.batchref FROM (SELECT 1) one"
        " LEFT JOIN {line} l ON l.orderid = %s AND l.status = %s ORDER BY l.sku",
        [orderid, LineStatus.ALLOCATED.value],
    )
    return [{"sku": sku, "batchref": ref} for sku, ref in rows if sku is not None], fresh


class _Columns(Generic[M]):
    """Every column of a model under a table alias, loaded into instances as the ORM would.

    Values pass through the fields' and the backend's converters (dates and JSON come
    back as text from SQLite, JSON as text from psycopg), so plain SQL gives the same
    instances on both databases.
    """

    def __init__(self, model: type[M], alias: str) -> None:
        self.model = model
        self.alias = alias
        self.fields = [f for f in model._meta.concrete_fields if isinstance(f, Field) and f.column]
        self.names = [f.attname for f in self.fields]
        self.columns = [f.column for f in self.fields if f.column]
        self.pk = self.fields.index(model._meta.pk)
        self._steps: WeakKeyDictionary[BaseDatabaseWrapper, list[tuple[Col, list[Any]]]] = (
            WeakKeyDictionary()
        )

    def __len__(self) -> int:
        return len(self.fields)

    def sql(self, connection: BaseDatabaseWrapper) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(column)}" for column in self.columns)

    def loader(self, connection: BaseDatabaseWrapper) -> Callable[[Sequence[Any]], M | None]:
        """Instances from rows of these columns; None for a row the LEFT JOIN left empty."""
        steps = self._steps.get(connection)
        if steps is None:  # once per connection: finding converters costs more than a row
            steps = self._steps[connection] = [
                (col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
                for col in (field.get_col(self.alias) for field in self.fields)
            ]

        def load(values: Sequence[Any]) -> M | None:
            if values[self.pk] is None:
                return None
            converted = []
            for value, (col, converters) in zip(values, steps, strict=True):
                for convert in converters:
                    value = convert(value, col, connection)
                converted.append(value)
            return self.model.from_db(connection.alias, self.names, converted)

        return load


SUMMARY = _Columns(OrderView, "s")
LINE = _Columns(OrderLineView, "l")
BATCH = _Columns(BatchView, "b")
HISTORY = _Columns(EventLog, "e")


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


def _summary_and_lines(
    orderid: str,
) -> tuple[OrderView | None, list[OrderLineDetail], bool]:
    """The order's summary and its lines with their batches, in one statement; fresh?"""
    connection = connections[router.db_for_read(OrderLineView)]
    rows, fresh = _read_order(
        orderid,
        f"SELECT {{pending}}, {SUMMARY.sql(connection)}, {LINE.sql(connection)},"
        f" {BATCH.sql(connection)} FROM (SELECT 1) one"
        " LEFT JOIN {order} s ON s.orderid = %s"
        " LEFT JOIN {line} l ON l.orderid = %s"
        " LEFT JOIN {batch} b ON b.reference = l.batchref ORDER BY l.sku",
        [orderid, orderid],
    )
    load_summary, load_line, load_batch = (
        SUMMARY.loader(connection),
        LINE.loader(connection),
        BATCH.loader(connection),
    )
    summary = load_summary(rows[0][: len(SUMMARY)])
    lines = []
    for row in rows:
        line = load_line(row[len(SUMMARY) : len(SUMMARY) + len(LINE)])
        if line is not None:
            lines.append(OrderLineDetail(line, load_batch(row[len(SUMMARY) + len(LINE) :])))
    return summary, lines, fresh


def order(orderid: str) -> tuple[dict[str, Any] | None, bool]:
    """The order as the API shows it (None: unknown or every line gone); fresh?"""
    summary, lines, fresh = _summary_and_lines(orderid)
    if summary is None:
        return None, fresh
    found = {
        "orderid": orderid,
        "status": summary.status,
        "expected_ship_date": summary.expected_ship_date,
        "lines": [
            {
                "sku": d.line.sku,
                "qty": d.line.qty,
                "status": d.line.status,
                "batchref": d.line.batchref,
            }
            for d in lines
        ],
    }
    return found, fresh


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
    last_applied_at: datetime | None


def dashboard(lag: Lag, recent: int = 12, short: int = 10) -> Dashboard:
    """The dashboard, with the pipeline's ``lag`` as the write side measured it."""
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
        lag=lag,
        last_applied_at=events[0].applied_at if events else None,
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


def sku_detail(
    sku: str, lines_per_batch: int = 20, waiting: int = 50
) -> tuple[SkuDetail | None, bool]:
    """Warehouse batches first, then shipments by eta, as the allocation prefers them.

    None for a SKU the read model does not know; and whether it holds every write.
    """
    fresh = wait_for_sku(sku)
    stock_row = SkuStock.objects.filter(sku=sku).first()
    batches = list(
        BatchView.objects.filter(sku=sku).order_by(F("eta").asc(nulls_first=True), "reference")
    )
    if stock_row is None and not batches:
        return None, fresh
    allocated = OrderLineView.objects.filter(sku=sku, status=LineStatus.ALLOCATED)
    counts = dict(allocated.order_by().values_list("batchref").annotate(n=Count("id")))
    first_lines = allocated.annotate(
        rank=Window(RowNumber(), partition_by=F("batchref"), order_by=F("orderid").asc())
    ).filter(rank__lte=lines_per_batch)
    served: dict[str, list[OrderLineView]] = {}
    for line in first_lines.order_by("batchref", "orderid"):
        served.setdefault(line.batchref or "", []).append(line)
    waiting_lines = OrderLineView.objects.filter(sku=sku, status=LineStatus.WAITING)
    detail = SkuDetail(
        sku=sku,
        stock=stock_row,
        batches=[
            BatchOrders(b, served.get(b.reference, []), counts.get(b.reference, 0)) for b in batches
        ],
        waiting=list(waiting_lines.order_by("id")[:waiting]),
        waiting_count=waiting_lines.count(),
        history=list(EventLog.objects.filter(sku=sku).order_by("-version")[:20]),
    )
    return detail, fresh


def sku_of_batch(ref: str) -> str | None:
    """The batch's SKU, waiting (bounded) for a batch the projection has not seen yet."""
    found: list[str] = []

    def known() -> bool:
        found[:] = BatchView.objects.filter(reference=ref).values_list("sku", flat=True)[:1]
        return bool(found)

    _wait(known)
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
class OrderDetail:
    """An order as its customer sees it; ``summary`` is None once every line is gone."""

    orderid: str
    summary: OrderView | None
    lines: list[OrderLineDetail]
    history: list[EventLog]


def order_detail(orderid: str) -> tuple[OrderDetail | None, bool]:
    """None only for an order the system has never heard of; and fresh?

    Two statements: summary, lines and batches (with the read-your-writes check), then
    the history.
    """
    summary, lines, fresh = _summary_and_lines(orderid)
    connection = connections[router.db_for_read(EventLog)]
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(
                connection,
                f"SELECT {HISTORY.sql(connection)} FROM {{log}} e WHERE e.orderid = %s"
                " ORDER BY e.applied_at, e.id",
            ),
            [orderid],
        )
        load = HISTORY.loader(connection)
        history = _in_write_order(e for row in cursor.fetchall() if (e := load(row)) is not None)
    if summary is None and not lines and not history:
        return None, fresh
    return OrderDetail(orderid=orderid, summary=summary, lines=lines, history=history), fresh


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
