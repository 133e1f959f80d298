"""The SQL that computes an order's summary agrees with the rules in Python.

``recorder.refresh_orders`` implements ``rules.order_status`` and
``rules.expected_ship_date`` in one upsert; here both answer a table of cases, on
whichever database the run uses (SQLite and PostgreSQL in CI).
"""

from __future__ import annotations

from datetime import date

import pytest

from orders_read import rules
from orders_read.models import BatchView, OrderLineView, OrderView
from orders_read.projections import recorder
from orders_read.rules import LineStatus
from orders_read.sql import read_db

pytestmark = pytest.mark.django_db

ALLOCATED, WAITING = LineStatus.ALLOCATED, LineStatus.WAITING
MAY, JUNE = date(2031, 5, 1), date(2031, 6, 1)
NOT_PROJECTED = "batch not projected yet"
"""An allocated line whose batch's row does not exist yet: its eta is unknown (None)."""

CASES: dict[str, list[tuple[LineStatus, date | str | None]]] = {
    "warehouse": [(ALLOCATED, None)],
    "shipment": [(ALLOCATED, MAY)],
    "warehouse and shipment": [(ALLOCATED, None), (ALLOCATED, MAY)],
    "latest shipment": [(ALLOCATED, JUNE), (ALLOCATED, MAY), (ALLOCATED, None)],
    "partly": [(ALLOCATED, MAY), (WAITING, None)],
    "partly from the warehouse": [(WAITING, None), (ALLOCATED, None)],
    "waiting": [(WAITING, None)],
    "all waiting": [(WAITING, None), (WAITING, None)],
    "batch unknown yet": [(ALLOCATED, NOT_PROJECTED), (ALLOCATED, MAY)],
    "every line gone": [],
}


@pytest.mark.parametrize("lines", CASES.values(), ids=CASES.keys())
def test_the_summary_sql_agrees_with_the_rules(lines):
    for n, (status, eta) in enumerate(lines):
        ref = f"b{n}" if status == ALLOCATED else None
        if ref and eta != NOT_PROJECTED:
            BatchView.objects.create(reference=ref, sku=f"S{n}", eta=eta)
        OrderLineView.objects.create(orderid="o1", sku=f"S{n}", qty=1, status=status, batchref=ref)
    OrderView.objects.create(  # a stale summary, which the refresh must replace or remove
        orderid="o1", status="waiting", line_count=9, allocated_lines=0, waiting_lines=9
    )

    recorder.refresh_orders(read_db(), ["o1"])

    summary = OrderView.objects.filter(orderid="o1").first()
    status = rules.order_status([status for status, _ in lines])
    allocated_etas = [None if eta == NOT_PROJECTED else eta for s, eta in lines if s == ALLOCATED]
    if status is None:
        assert summary is None
        return
    assert summary is not None
    assert summary.status == status
    assert summary.expected_ship_date == rules.expected_ship_date(allocated_etas)
    assert (summary.line_count, summary.allocated_lines, summary.waiting_lines) == (
        len(lines),
        len(allocated_etas),
        len(lines) - len(allocated_etas),
    )
