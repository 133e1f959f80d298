"""JSON reads under /api, answered from the read model only (mounted by ``api``).

Each read waits, briefly, for the read model to reflect what was written for the order,
and says in ``X-Read-Model-Stale`` whether it does (its 404s too: an allocation written
but not projected yet is "stale", not "unknown").
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status
from pydantic import BaseModel

from allocation import bootstrap
from allocation.entrypoints.api_auth import READER
from allocation.entrypoints.api_errors import READ_ERRORS, Message, answers
from allocation.entrypoints.inputs import OrderId
from orders_read.rules import LineStatus, OrderStatus
from orders_read.selectors import orders

STALE_HEADER = "X-Read-Model-Stale"
_STALE_DOC = {
    "headers": {
        STALE_HEADER: {
            "description": "true when the read model had not caught up with the order's"
            " writes within `READ_YOUR_WRITES_TIMEOUT`",
            "required": True,
            "schema": {"type": "string", "enum": ["true", "false"]},
        }
    }
}
_READ = {200: _STALE_DOC, 404: _STALE_DOC}

router = Router(tags=["reads"], auth=READER)


class AllocationRow(BaseModel):
    sku: str
    batchref: str


class OrderLine(BaseModel):
    sku: str
    qty: int
    status: LineStatus
    batchref: str | None


class Order(BaseModel):
    orderid: str
    status: OrderStatus
    expected_ship_date: date | None
    lines: list[OrderLine]


def _staleness(response: HttpResponse, fresh: bool) -> None:
    response[STALE_HEADER] = "false" if fresh else "true"


@router.get(
    "/allocations/{orderid}",
    url_name="allocations",
    **answers({200: list[AllocationRow]}, READ_ERRORS, _READ),
)
def allocations(
    request: HttpRequest, orderid: OrderId, response: HttpResponse
) -> list[dict[str, Any]] | Status[Message]:
    """The book's read: the order's allocated lines (404 while it has none)."""
    rows, fresh = orders.allocations(orderid, bootstrap.write_positions())
    _staleness(response, fresh)
    if not rows:
        return Status(404, Message(message=f"No allocations for order {orderid}"))
    return rows


@router.get("/orders/{orderid}", url_name="order", **answers({200: Order}, READ_ERRORS, _READ))
def order(
    request: HttpRequest, orderid: OrderId, response: HttpResponse
) -> dict[str, Any] | Status[Message]:
    """The order's status, expected ship date and every line, allocated or waiting."""
    found, fresh = orders.order(orderid, bootstrap.write_positions())
    _staleness(response, fresh)
    if found is None:
        return Status(404, Message(message=f"Unknown order {orderid}"))
    return found
