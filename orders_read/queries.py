"""Selectors: everything the pages and the API read, from the read model only.

Read-your-writes: before answering about an order or a SKU, wait (bounded) until the
projection has applied every event written for it. The write position comes from the
outbox, the one write-side table a reader consults; writes themselves never wait.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from allocation.adapters import outbox
from orders_read.models import EventLog, LineStatus, OrderLineView, OrderView


def wait_for_order(orderid: str, timeout: float | None = None) -> bool:
    """True once every event written for the order is projected; False on timeout."""
    written = outbox.positions_of_order(orderid)

    def caught_up() -> bool:
        applied = EventLog.objects.filter(orderid=orderid).values_list("sku", "version")
        return written <= set(applied)

    return _wait(caught_up, timeout)


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
    """The book's contract: allocated lines only, as ``[{"sku", "batchref"}]``."""
    lines = OrderLineView.objects.filter(orderid=orderid, status=LineStatus.ALLOCATED).order_by(
        "sku"
    )
    return [{"sku": sku, "batchref": ref} for sku, ref in lines.values_list("sku", "batchref")]


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
