"""A comparable picture of the whole read model (no surrogate ids, and no timestamps
but those the write side gave: an order's creation is its first event's time; who
caused each event, as the write side stored it)."""

from __future__ import annotations

from typing import Any

from allocation.domain.model import AllocationError, OrderLine, Product
from orders_read.models import (
    AppliedPosition,
    BatchView,
    EventLog,
    OrderLineView,
    OrderView,
    SkuStock,
)


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    return {
        "lines": sorted(
            OrderLineView.objects.values_list(
                "orderid", "sku", "qty", "status", "batchref", "arrival"
            )
        ),
        "batches": sorted(
            BatchView.objects.values_list("reference", "sku", "eta", "purchased", "allocated")
        ),
        "orders": sorted(
            OrderView.objects.values_list(
                "orderid",
                "status",
                "line_count",
                "allocated_lines",
                "waiting_lines",
                "expected_ship_date",
                "created_at",
            )
        ),
        "stock": sorted(
            SkuStock.objects.values_list(
                "sku", "purchased", "allocated", "available", "waiting", "next_eta", "batch_count"
            )
        ),
        "positions": sorted(AppliedPosition.objects.values_list("sku", "version")),
        "events": sorted(
            (sku, version, name, orderid or "", batchref or "", repr(sorted(payload.items())), who)
            for sku, version, name, orderid, batchref, payload, who in EventLog.objects.values_list(
                "sku", "version", "name", "orderid", "batchref", "payload", "actor"
            )
        ),
    }


def sums_disagreeing_with_lines() -> list[str]:
    """Stored sums over lines (a batch's allocated units, a SKU's waiting demand) that
    differ from summing the line rows now: the projection moves them by deltas."""
    lines = list(OrderLineView.objects.values_list("sku", "qty", "status", "batchref"))
    wrong = []
    for ref, allocated in BatchView.objects.values_list("reference", "allocated"):
        summed = sum(q for _, q, status, b in lines if b == ref and status == "allocated")
        if summed != allocated:
            wrong.append(f"batch {ref}: {allocated} stored, {summed} summed")
    for sku, waiting in SkuStock.objects.values_list("sku", "waiting"):
        summed = sum(q for s, q, status, _ in lines if s == sku and status == "waiting")
        if summed != waiting:
            wrong.append(f"stock {sku}: {waiting} waiting stored, {summed} summed")
    return wrong


def operate(product: Product, op: str, *args: Any) -> None:
    """One step of a scenario on a real Product (``"batch"``, ``"allocate"``,
    ``"deallocate"``, ``"change"``); a step the domain refuses changes nothing."""
    try:
        if op == "batch":
            product.add_batch(*args)
        elif op == "allocate":
            orderid, qty = args
            product.allocate(OrderLine(orderid, product.sku, qty))
        elif op == "deallocate":
            product.deallocate(args[0])
        elif op == "change":
            product.change_batch_quantity(*args)
    except AllocationError:
        pass
