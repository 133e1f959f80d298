"""An order, its allocations and the order list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

from django.db import connections
from django.db.models import Case, F, QuerySet, Value, When
from django.utils import timezone

from allocation.domain.events import Event
from orders_read import freshness
from orders_read.freshness import WritePositions
from orders_read.models import ORDER_STATUS_LABELS, EventLog, OrderLineView, OrderView
from orders_read.projections import policy
from orders_read.rules import LineStatus, OrderStatus, Shipping, shipping
from orders_read.selectors.sorting import Sorts
from orders_read.sql import read_db, statement

API_READ = (
    "SELECT l.sku, l.qty, l.status, l.batchref, s.status, s.expected_ship_date, {caught_up}"
    " FROM {line} l LEFT JOIN {order} s ON s.orderid = l.orderid"
    " WHERE l.orderid = %s ORDER BY l.sku"
)
"""Every line of an order, each with its order's status and ship date, and the
read-your-writes check as ``caught_up``."""


class ApiLine(NamedTuple):
    """A row of ``API_READ``: what the API shows of a line and of its order."""

    sku: str
    qty: int
    status: str
    batchref: str | None
    order_status: str | None
    order_ships_on: date | None
    caught_up: bool


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


CANCELLED = "cancelled"
"""The API's status of an order whose every line was cancelled: the read model keeps no
summary for it (``rules.order_status`` is None), only its history."""


def order(orderid: str, writes: WritePositions) -> tuple[dict[str, Any] | None, bool]:
    """The order as the API shows it (None: unknown); fresh?

    An order without a live line is known by its history: every line was cancelled. It
    is shown as such, with no line, as its page shows it, not as an unknown order.
    """
    lines, fresh = _api_read(orderid, writes)
    if not lines:
        if not _known_by_history(orderid):
            return None, fresh
        cancelled: dict[str, Any] = {"orderid": orderid, "status": CANCELLED, "lines": []}
        return cancelled | {"expected_ship_date": None, "ships": None}, fresh
    first = lines[0]
    if first.order_status is None:
        return None, fresh
    status = OrderStatus(first.order_status)
    found = {
        "orderid": orderid,
        "status": status,
        "expected_ship_date": first.order_ships_on,
        "ships": shipping(status, first.order_ships_on),
        "lines": [
            {"sku": line.sku, "qty": line.qty, "status": line.status, "batchref": line.batchref}
            for line in lines
        ],
    }
    return found, fresh


def _api_read(orderid: str, writes: WritePositions) -> tuple[list[ApiLine], bool]:
    """The API's reads of an order, the hottest there are: one statement each time, its
    rows as plain tuples. The ORM (or ``raw()``) took longer to build the statement or
    the model instances than the database took to answer, and the API needs neither.
    """
    db = read_db()

    def read(check: freshness.Check) -> list[ApiLine]:
        with connections[db].cursor() as cursor:
            cursor.execute(
                statement(db, API_READ, caught_up=check.column()), [*check.params, orderid]
            )
            return [ApiLine(*row) for row in cursor.fetchall()]

    return freshness.order_rows(orderid, writes, read)


PAGE_READ = (
    "SELECT l.orderid, l.sku, l.qty, l.status, l.batchref, b.reference, b.eta,"
    " s.status, s.waiting_lines, s.expected_ship_date,"
    " CASE WHEN l.status = %s THEN 1 + (SELECT COUNT(*) FROM {line} q"
    "  WHERE q.sku = l.sku AND q.status = %s AND q.arrival < l.arrival) END, {caught_up}"
    " FROM {line} l LEFT JOIN {order} s ON s.orderid = l.orderid"
    " LEFT JOIN {batch} b ON b.reference = l.batchref"
    " WHERE l.orderid = %s ORDER BY l.sku"
)
"""The order page's lines, each with its batch (if the read model knows it yet), its
place in its SKU's queue if it waits (counted on the lines' ``(status, sku, arrival)``
index), its order's summary, and the read-your-writes check as ``caught_up``."""

HISTORY = "SELECT * FROM {log} WHERE orderid = %s ORDER BY occurred_at, id"


class PageLine(NamedTuple):
    """A row of ``PAGE_READ``."""

    orderid: str
    sku: str
    qty: int
    status: str
    batchref: str | None
    batch_known: str | None
    eta: date | None
    order_status: str | None
    order_waiting_lines: int | None
    order_ships_on: date | None
    queue_position: int | None
    caught_up: bool


@dataclass(frozen=True)
class OrderLineDetail:
    """A line of the order page; if it waits, since when (its newest event's time)."""

    line: PageLine
    waiting_since: datetime | None = None

    @property
    def waiting(self) -> bool:
        return self.line.status == LineStatus.WAITING

    @property
    def batch_known(self) -> bool:
        """False while the line's batch is known only from the line (events out of order)."""
        return self.line.batch_known is not None

    @property
    def in_warehouse(self) -> bool:
        return self.batch_known and self.line.eta is None


@dataclass(frozen=True)
class OrderSummary:
    status: OrderStatus
    waiting_lines: int
    expected_ship_date: date | None

    @property
    def status_label(self) -> str:
        return ORDER_STATUS_LABELS[self.status]

    @property
    def ships(self) -> Shipping:
        """The API's ``ships``, by the same rule."""
        return shipping(self.status, self.expected_ship_date)


@dataclass(frozen=True)
class CancelledLine:
    """A line of the order that was cancelled: from ``batchref``, or while waiting (None)."""

    sku: str
    qty: int
    batchref: str | None


@dataclass(frozen=True)
class OrderDetail:
    """An order as its customer sees it; ``summary`` is None once every line is gone.

    ``cancelled``: the lines cancelled and not ordered again, which the page still
    shows (struck through); the read model keeps no row for them, so they come from
    the order's history, already read for the page: no projection, rebuild or query
    of their own.
    """

    orderid: str
    summary: OrderSummary | None
    lines: list[OrderLineDetail]
    history: list[EventLog]
    cancelled: list[CancelledLine]


def order_detail(orderid: str, writes: WritePositions) -> tuple[OrderDetail | None, bool]:
    """None only for an order the system has never heard of; and fresh?

    Two statements on the read model: the lines with their summary and batches (and the
    read-your-writes check), then the history. Plain rows for the lines, as for the
    API's reads (the page shows a few columns of three tables: building the ORM's
    three-table query and its instances tripled the selector's time); the history
    through ``raw()``, whose events need the fields' conversions (JSON, aware times).
    A waiting line has waited since its newest event, which the history holds.
    """
    db = read_db()
    waiting = LineStatus.WAITING.value

    def read(check: freshness.Check) -> list[PageLine]:
        with connections[db].cursor() as cursor:
            sql = statement(db, PAGE_READ, caught_up=check.column())
            cursor.execute(sql, [waiting, waiting, *check.params, orderid])
            return [PageLine(*row) for row in cursor.fetchall()]

    lines, fresh = freshness.order_rows(orderid, writes, read)
    history = _in_write_order(EventLog.objects.raw(statement(db, HISTORY), [orderid]))
    if not lines and not history:
        return None, fresh
    first = lines[0] if lines else None
    summary = None
    if first is not None and first.order_status is not None:
        summary = OrderSummary(
            OrderStatus(first.order_status), first.order_waiting_lines or 0, first.order_ships_on
        )
    newest = {entry.sku: entry for entry in history}  # each SKU's events by version
    since = {sku: entry.occurred_at for sku, entry in newest.items()}
    detail = OrderDetail(
        orderid=orderid,
        summary=summary,
        lines=[
            OrderLineDetail(line, since.get(line.sku) if line.status == waiting else None)
            for line in lines
        ],
        history=history,
        cancelled=_cancelled(newest, {line.sku for line in lines}),
    )
    return detail, fresh


def _cancelled(newest: dict[str, EventLog], live: set[str]) -> list[CancelledLine]:
    """The lines whose newest event left them gone (the projection's rule: a line a
    shrinking batch evicts is placed again by a newer event of the same change)."""
    return [
        CancelledLine(sku, entry.payload["qty"], entry.batchref)
        for sku, entry in sorted(newest.items())
        if sku not in live and _leaves_gone(entry.name)
    ]


def _leaves_gone(name: str) -> bool:
    event_type = Event.registry.get(name)
    return event_type is not None and policy.line_status_after(event_type) is None


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


STATUS_FIRST_THE_WAITING = Case(
    When(status=OrderStatus.WAITING, then=Value(0)),
    When(status=OrderStatus.PARTLY_ALLOCATED, then=Value(1)),
    default=Value(2),
)
"""Sorting by status puts what needs attention first: waiting, partly allocated."""

ORDER_SORTS = Sorts(
    columns={
        "created": F("created_at"),
        "status": STATUS_FIRST_THE_WAITING,
        "orderid": F("orderid"),
    },
    then=[F("created_at").desc(), F("orderid").desc()],
    default="-created",
)


@dataclass(frozen=True)
class OrderQuery:
    """What the order list shows: every field narrows it, empty ones do not."""

    status: str = ""
    search: str = ""  # a part of the order id
    sku: str = ""  # the order has a line of this SKU
    batch: str = ""  # ... or a line in this batch
    created_from: date | None = None  # created on this day or later
    created_to: date | None = None  # created on this day or earlier
    sort: str = ORDER_SORTS.default


def orders(query: OrderQuery = OrderQuery()) -> QuerySet[OrderView]:
    """The order list, newest first unless sorted otherwise (the view paginates, the
    CSV export streams). Days are the site's time zone's."""
    rows = OrderView.objects.order_by(*ORDER_SORTS.order_by(query.sort))
    if query.status:
        rows = rows.filter(status=query.status)
    if query.search:
        rows = rows.filter(orderid__icontains=query.search)
    if query.sku or query.batch:
        lines = OrderLineView.objects.all()
        # Every status named: the lines' (status, sku) index finds a SKU's lines.
        lines = lines.filter(sku=query.sku, status__in=list(LineStatus)) if query.sku else lines
        lines = lines.filter(batchref=query.batch) if query.batch else lines
        rows = rows.filter(orderid__in=lines.values("orderid"))
    if query.created_from:
        rows = rows.filter(created_at__gte=_start_of(query.created_from))
    if query.created_to:
        rows = rows.filter(created_at__lt=_start_of(query.created_to + timedelta(days=1)))
    return rows


def _start_of(day: date) -> datetime:
    """Midnight at the start of ``day``: ranges on the indexed time, not on its date."""
    return timezone.make_aware(datetime.combine(day, time.min))


def order_lines(orderid: str, writes: WritePositions) -> dict[str, int] | None:
    """The order's live lines, ``{sku: qty}``, once the read model holds its writes
    (bounded wait): what lines sent for it again must agree with. ``{}`` for an order
    whose every line was cancelled, None for an order never placed."""
    lines, _ = _api_read(orderid, writes)
    if lines:
        return {line.sku: line.qty for line in lines}
    return {} if _known_by_history(orderid) else None


def _known_by_history(orderid: str) -> bool:
    """Whether the order ever had a line: its events outlive its lines."""
    return EventLog.objects.filter(orderid=orderid).exists()
