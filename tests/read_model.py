"""A comparable picture of the whole read model (no surrogate ids, no timestamps)."""

from __future__ import annotations

from typing import Any

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
            OrderLineView.objects.values_list("orderid", "sku", "qty", "status", "batchref")
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
            )
        ),
        "stock": sorted(
            SkuStock.objects.values_list(
                "sku", "purchased", "allocated", "available", "waiting", "next_eta", "batch_count"
            )
        ),
        "positions": sorted(AppliedPosition.objects.values_list("sku", "version")),
        "events": sorted(
            (sku, version, name, orderid or "", batchref or "", repr(sorted(payload.items())))
            for sku, version, name, orderid, batchref, payload in EventLog.objects.values_list(
                "sku", "version", "name", "orderid", "batchref", "payload"
            )
        ),
    }
