"""SKUs and their batches: the stock list, a SKU's page, which SKUs exist."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import reduce
from operator import or_

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, RowNumber, TruncDate
from django.db.models.lookups import Exact
from django.utils import timezone

from allocation.domain import events
from orders_read import freshness
from orders_read.freshness import WritePositions
from orders_read.models import BatchView, EventLog, OrderLineView, OrderView, SkuStock
from orders_read.rules import LineStatus
from orders_read.selectors.sorting import Sorts

LOW_STOCK = 10
"""A SKU with fewer units available than this (but some) is "low"."""

OUT = Q(available__lte=0)
SHORT_OF_STOCK: dict[str, Q] = {
    "out": OUT,
    "low": Q(available__gt=0, available__lt=LOW_STOCK),
    "waiting": Q(waiting__gt=0),
    "short": Q(available__lt=LOW_STOCK) | Q(waiting__gt=0),
}
"""The stock list's filters, which the dashboard counts: out of stock, low, with
waiting demand, and any of the three ("short", the dashboard's list)."""

STOCK_SORTS = Sorts(
    columns={
        "sku": F("sku"),
        "available": F("available"),
        "waiting": F("waiting"),
        "next_eta": F("next_eta"),
    },
    then=[F("available").asc(), F("sku").asc()],
    default="sku",
)


def stock(search: str = "", short: str = "", sort: str = STOCK_SORTS.default) -> QuerySet[SkuStock]:
    """The SKUs' stock rows whose SKU contains ``search``, ``short`` of stock as
    ``SHORT_OF_STOCK`` says (all when empty), sorted by a key of ``STOCK_SORTS``; the
    view paginates, the CSV export streams."""
    rows = SkuStock.objects.order_by(*STOCK_SORTS.order_by(sort))
    if search:
        rows = rows.filter(sku__icontains=search)
    if short:
        rows = rows.filter(SHORT_OF_STOCK[short])
    return rows


@dataclass(frozen=True)
class BatchOrders:
    """A batch and the first of the order lines it serves (``line_count`` in all)."""

    batch: BatchView
    lines: list[OrderLineView]
    line_count: int


@dataclass(frozen=True)
class WaitingLine:
    """A line waiting for stock: ``position`` in its SKU's queue (1 comes first: the
    allocation serves waiting lines first come, first served), waiting ``since`` when."""

    line: OrderLineView
    position: int
    since: datetime


@dataclass(frozen=True)
class SkuDetail:
    sku: str
    stock: SkuStock | None
    batches: list[BatchOrders]
    waiting: list[WaitingLine]
    waiting_count: int
    history: list[EventLog]
    days: list[DayStock]


def sku_detail(
    sku: str, writes: WritePositions, lines_per_batch: int = 20, waiting: int = 50
) -> tuple[SkuDetail | None, bool]:
    """Warehouse batches first, then shipments by eta, as the allocation prefers them;
    the first ``waiting`` lines of the queue; the last ``HISTORY_DAYS`` days of stock.

    None for a SKU the read model does not know; and whether it holds every write.
    """
    fresh = freshness.sku_applied(sku, writes)
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
    first_waiting = waiting_lines.annotate(since=_waiting_since()).order_by(*QUEUE_ORDER)
    detail = SkuDetail(
        sku=sku,
        stock=stock_row,
        batches=[
            BatchOrders(b, served.get(b.reference, []), counts.get(b.reference, 0)) for b in batches
        ],
        waiting=[
            WaitingLine(line, position, line.since)
            for position, line in enumerate(first_waiting[:waiting], start=1)
        ],
        waiting_count=waiting_lines.count(),
        history=list(EventLog.objects.filter(sku=sku).order_by("-version")[:20]),
        days=stock_by_day(sku, stock_row),
    )
    return detail, fresh


QUEUE_ORDER = (F("arrival").asc(nulls_last=True), F("id").asc())
"""The waiting lines of a SKU in the order the allocation serves them."""


def _waiting_since() -> Subquery:
    """A line's newest logged event's time: for a waiting line, when it began to wait."""
    newest = EventLog.objects.filter(orderid=OuterRef("orderid"), sku=OuterRef("sku"))
    return Subquery(newest.order_by("-version").values("occurred_at")[:1])


HISTORY_DAYS = 30
"""How far back a SKU's page charts its stock."""


@dataclass(frozen=True)
class DayStock:
    """A SKU's stock at the end of a day (the site's time zone): units available, and
    units demanded by lines waiting for stock."""

    day: date
    available: int
    waiting: int


def stock_by_day(
    sku: str, now: SkuStock | None, days: int = HISTORY_DAYS, today: date | None = None
) -> list[DayStock]:
    """The last ``days`` days of the SKU's stock, oldest first, ending with ``now``.

    Worked backwards from the stock row as it is: each day's end is the next day's end
    minus what that next day's events changed. So one statement reads only the events
    of those days (by the log's ``(sku, occurred_at)`` index), summed per day, never
    the SKU's whole history. What an event changed (``_moves``) may depend on the event
    before it about the same line or batch, which that statement looks up by index.
    """
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, time.min))
    moves = _moves()
    moved = {
        day: (available, waiting)
        for day, available, waiting in EventLog.objects.filter(sku=sku, occurred_at__gte=start)
        .annotate(day=TruncDate("occurred_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(
            available=Coalesce(Sum(moves["available"]), 0),  # 0: no event it can read
            waiting=Coalesce(Sum(moves["waiting"]), 0),
        )
        .order_by()
        .values_list("day", "available", "waiting")
    }
    available, waiting = (now.available, now.waiting) if now else (0, 0)
    later = [(a, w) for day, (a, w) in moved.items() if day > today]  # clocks ahead
    available -= sum(a for a, _ in later)
    waiting -= sum(w for _, w in later)
    series = []
    for back in range(days):
        day = today - timedelta(days=back)
        series.append(DayStock(day, available, waiting))
        day_available, day_waiting = moved.get(day, (0, 0))
        available -= day_available
        waiting -= day_waiting
    return series[::-1]


def _moves() -> dict[str, Case]:
    """How each event moved its SKU's available units and waiting demand.

    A batch's quantity change moves availability by the difference with the batch's
    previous quantity (its previous batch event); an allocation lowers waiting demand
    only if the line was waiting (its previous event was an OutOfStock), which a line
    placed on arrival (most of them: its ``arrival`` is the event's version) was not.
    Evictions are a Deallocated then an Allocated or OutOfStock: each moves its share.
    """

    def qty() -> Cast:
        return Cast(KT("payload__qty"), IntegerField())

    def name(event_type: type[events.Event]) -> str:
        return event_type.__name__

    before = EventLog.objects.filter(version__lt=OuterRef("version")).order_by("-version")
    batch_events = [name(events.BatchCreated), name(events.BatchQuantityChanged)]
    batch_before = before.filter(batchref=OuterRef("batchref"), name__in=batch_events)
    qty_before = Coalesce(Subquery(batch_before.values(q=qty())[:1]), 0)
    line_before = before.filter(orderid=OuterRef("orderid"), sku=OuterRef("sku"))
    placed_on_arrival = Exact(Cast(KT("payload__arrival"), BigIntegerField()), F("version"))
    was_waiting = Exact(Subquery(line_before.values("name")[:1]), name(events.OutOfStock))
    return {
        "available": Case(
            When(name=name(events.BatchCreated), then=qty()),
            When(name=name(events.BatchQuantityChanged), then=qty() - qty_before),
            When(name=name(events.Allocated), then=-qty()),
            When(name=name(events.Deallocated), then=qty()),
            default=Value(0),
        ),
        "waiting": Case(
            When(name=name(events.OutOfStock), then=qty()),
            When(name=name(events.BackorderCancelled), then=-qty()),
            When(
                name=name(events.Allocated),
                then=Case(
                    When(placed_on_arrival, then=Value(0)),  # most: no look-up
                    When(was_waiting, then=-qty()),
                    default=Value(0),
                ),
            ),
            default=Value(0),
        ),
    }


def batch(ref: str, writes: WritePositions) -> BatchView | None:
    """The batch, once the read model holds every write to its SKU (bounded wait); None
    while it does not know the batch yet."""
    freshness.batch_applied(ref, writes)
    return BatchView.objects.filter(reference=ref).first()


def known_skus(skus: Iterable[str], writes: WritePositions | None = None) -> set[str]:
    """Those of ``skus`` the read model has stock rows for; with ``writes``, also those
    written but not projected yet (one lookup each, for the ones the read model lacks)."""
    wanted = set(skus)
    known = set(SkuStock.objects.filter(sku__in=list(wanted)).values_list("sku", flat=True))
    if writes is not None:
        known |= {sku for sku in wanted - known if writes.of_sku(sku) > 0}
    return known


SUGGESTIONS = 50
"""SKUs a page lists for its SKU boxes, and the endpoint per answer: a short list to
pick from, not a catalogue (a page with thousands of options is slow to send and to use)."""


@dataclass(frozen=True)
class SkuSuggestions:
    """What a SKU box suggests."""

    skus: list[str]
    complete: bool
    """Whether ``skus`` holds every match, so that typing more needs no new answer."""


def sku_suggestions(text: str = "") -> SkuSuggestions:
    """Known SKUs containing ``text`` (any case), those starting with it first, then
    alphabetically; ``SUGGESTIONS`` at most. One statement over the SKUs' stock rows."""
    rows = SkuStock.objects.order_by("sku")
    if text:
        starts = Case(When(sku__istartswith=text, then=Value(0)), default=Value(1))
        rows = rows.filter(sku__icontains=text).order_by(starts, "sku")
    found = list(rows.values_list("sku", flat=True)[: SUGGESTIONS + 1])
    return SkuSuggestions(found[:SUGGESTIONS], complete=len(found) <= SUGGESTIONS)


SIMILAR_CANDIDATES = 2000
"""The most SKUs read to find look-alikes for the SKUs of one form."""
SIMILAR = 3
"""Look-alikes named per SKU."""


def similar_skus(skus: Iterable[str]) -> dict[str, list[str]]:
    """Known SKUs that look like each of ``skus`` (a typo, another case), the closest
    first: "did you mean". One statement, bounded: candidates share the first two
    characters (any case), which keeps the look-alikes of most typos; ``difflib``
    ranks them."""
    wanted = [sku for sku in set(skus) if sku]
    if not wanted:
        return {}
    prefixes = reduce(or_, (Q(sku__istartswith=sku[:2]) for sku in wanted))
    candidates = list(
        SkuStock.objects.filter(prefixes)
        .order_by("sku")
        .values_list("sku", flat=True)[:SIMILAR_CANDIDATES]
    )
    by_key = {sku.casefold(): sku for sku in candidates}
    return {
        sku: [
            by_key[key]
            for key in difflib.get_close_matches(sku.casefold(), by_key, n=SIMILAR, cutoff=0.75)
            if by_key[key] != sku
        ]
        for sku in wanted
    }


def waiting_lines(sku: str = "") -> QuerySet[OrderLineView]:
    """Every line waiting for stock (of ``sku`` only, if given), by SKU and in the
    order they came, each with its order's ``order_created_at``; for the CSV export."""
    lines = OrderLineView.objects.filter(status=LineStatus.WAITING)
    if sku:
        lines = lines.filter(sku=sku)
    created = OrderView.objects.filter(orderid=OuterRef("orderid")).values("created_at")
    return lines.annotate(order_created_at=Subquery(created)).order_by("sku", "id")


def existing_batches(refs: Iterable[str]) -> set[str]:
    """Those of ``refs`` the read model has batches for."""
    found = BatchView.objects.filter(reference__in=list(refs))
    return set(found.values_list("reference", flat=True))
