"""The dashboard: orders by status, stock that runs short, recent events, pipeline lag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.db.models import Count, Q

from orders_read.models import ORDER_STATUS_LABELS, EventLog, OrderView, SkuStock
from orders_read.rules import OrderStatus
from orders_read.selectors.stock import LOW_STOCK


class PipelineLag(Protocol):
    """How far the read model is behind the writes, as the delivery check measured it
    (the read side only shows it)."""

    @property
    def unapplied(self) -> int:
        """Events written but not applied."""
        ...

    @property
    def oldest_age(self) -> timedelta | None:
        """How long ago the oldest of them was written."""
        ...

    @property
    def parked(self) -> int:
        """Events whose projection is dead-lettered, waiting for a replay."""
        ...


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
    lag: PipelineLag
    last_applied_at: datetime | None


def dashboard(lag: PipelineLag, recent: int = 12, short: int = 10) -> Dashboard:
    """The counts, the ``short`` SKUs lowest on stock, the ``recent`` events applied."""
    by_status = dict(
        OrderView.objects.order_by().values_list("status").annotate(n=Count("orderid"))
    )
    counts = [
        StatusCount(s.value, ORDER_STATUS_LABELS[s], by_status.get(s.value, 0)) for s in OrderStatus
    ]
    short_stock = Q(available__lt=LOW_STOCK) | Q(waiting__gt=0)
    skus = SkuStock.objects.aggregate(
        total=Count("sku"),
        out=Count("sku", filter=Q(available__lte=0)),
        low=Count("sku", filter=Q(available__gt=0, available__lt=LOW_STOCK)),
        backordered=Count("sku", filter=Q(waiting__gt=0)),
    )
    events = list(EventLog.objects.order_by("-occurred_at", "-id")[:recent])
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
