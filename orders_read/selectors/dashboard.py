"""The dashboard: orders by status, stock that runs short, recent events, pipeline lag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.db.models import Count

from orders_read.models import ORDER_STATUS_LABELS, EventLog, OrderView, SkuStock
from orders_read.rules import OrderStatus
from orders_read.selectors import stock
from orders_read.selectors.stock import SHORT_OF_STOCK


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
    short_total: int
    short_skus: list[SkuStock]
    recent_events: list[EventLog]
    lag: PipelineLag
    last_applied_at: datetime | None


SHORT_FIRST = "-waiting"
"""The dashboard ranks the SKUs short of stock by the demand waiting for them: the one
with 942 units waiting comes before ten that merely run low."""


def dashboard(lag: PipelineLag, recent: int = 12, short: int = 10) -> Dashboard:
    """The counts, the first ``short`` SKUs short of stock (by ``SHORT_FIRST``; the
    stock list shows them all), the ``recent`` events applied."""
    by_status = dict(
        OrderView.objects.order_by().values_list("status").annotate(n=Count("orderid"))
    )
    counts = [
        StatusCount(s.value, ORDER_STATUS_LABELS[s], by_status.get(s.value, 0)) for s in OrderStatus
    ]
    skus = SkuStock.objects.aggregate(
        total=Count("sku"),
        **{f"n_{name}": Count("sku", filter=q) for name, q in SHORT_OF_STOCK.items()},
    )
    events = list(EventLog.objects.order_by("-occurred_at", "-id")[:recent])
    return Dashboard(
        order_counts=counts,
        order_total=sum(c.count for c in counts),
        sku_total=skus["total"],
        out_of_stock=skus["n_out"],
        low_stock=skus["n_low"],
        backordered=skus["n_waiting"],
        short_total=skus["n_short"],
        short_skus=list(stock.stock(short="short", sort=SHORT_FIRST)[:short]),
        recent_events=events,
        lag=lag,
        last_applied_at=events[0].applied_at if events else None,
    )
