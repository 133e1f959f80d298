"""SKUs and their batches: the stock list, a SKU's page, which SKUs exist."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Case, Count, F, OuterRef, Q, QuerySet, Subquery, Value, When, Window
from django.db.models.functions import RowNumber

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
class SkuDetail:
    sku: str
    stock: SkuStock | None
    batches: list[BatchOrders]
    waiting: list[OrderLineView]
    waiting_count: int
    history: list[EventLog]


def sku_detail(
    sku: str, writes: WritePositions, lines_per_batch: int = 20, waiting: int = 50
) -> tuple[SkuDetail | None, bool]:
    """Warehouse batches first, then shipments by eta, as the allocation prefers them.

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
