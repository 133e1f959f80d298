"""SKUs and their batches: the stock list, a SKU's page, which SKUs exist."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import RowNumber

from orders_read import freshness
from orders_read.freshness import WritePositions
from orders_read.models import BatchView, EventLog, OrderLineView, SkuStock
from orders_read.rules import LineStatus

LOW_STOCK = 10
"""A SKU with fewer units available than this is "low" on the dashboard."""


def stock(search: str = "") -> QuerySet[SkuStock]:
    """Every SKU's stock row, by SKU (the view paginates)."""
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


def sku_of_batch(ref: str, writes: WritePositions) -> str | None:
    """The batch's SKU, once the read model holds every write to that SKU (bounded
    wait); None while it does not know the batch yet."""
    freshness.batch_applied(ref, writes)
    return BatchView.objects.filter(reference=ref).values_list("sku", flat=True).first()


def known_skus(skus: Iterable[str]) -> set[str]:
    """Those of ``skus`` the read model has stock rows for."""
    return set(SkuStock.objects.filter(sku__in=list(skus)).values_list("sku", flat=True))
