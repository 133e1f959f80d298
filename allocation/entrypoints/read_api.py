"""JSON reads under /api, answered from the read model only (mounted by ``api``).

Each read waits, briefly, for the read model to reflect what was written for the order,
and says in ``X-Read-Model-Stale`` whether it does. A 404 means the read model is up to
date and knows nothing to show; an order written but not projected yet within the wait is
a 503 with ``Retry-After``, never "unknown".
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status
from pydantic import BaseModel, Field

from allocation import bootstrap
from allocation.entrypoints.api_auth import READER
from allocation.entrypoints.api_errors import READ_ERRORS, Message, answers, message
from allocation.entrypoints.inputs import OrderId
from orders_read.rules import LineStatus, OrderStatus, Shipping
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
RETRY_AFTER_SECONDS = "1"
_READ: dict[int, dict[str, Any]] = {
    200: _STALE_DOC,
    404: _STALE_DOC,
    503: {
        "description": "The database is unavailable, or the order's writes are not in the"
        " read model yet (`X-Read-Model-Stale: true`). Retry after `Retry-After` seconds.",
        "headers": {
            "Retry-After": {"schema": {"type": "string"}},
            STALE_HEADER: {"schema": {"type": "string", "enum": ["true"]}},
        },
    },
}

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
    status: OrderStatus | Literal["cancelled"] = Field(
        description="`cancelled`: every line of the order was cancelled (`lines` is empty)"
    )
    expected_ship_date: date | None = Field(
        description="when the last allocated line's batch arrives; null when they all ship"
        " from the warehouse, and when nothing is allocated: read it with `ships`"
    )
    ships: Shipping | None = Field(
        description="`now`: every line allocated, from the warehouse; `on_date`: every line"
        " allocated, the last arriving on `expected_ship_date`; `waiting`: a line waits for"
        " stock, no date can be promised; null for a cancelled order"
    )
    lines: list[OrderLine]


def _staleness(response: HttpResponse, fresh: bool) -> None:
    response[STALE_HEADER] = "false" if fresh else "true"


def _not_projected_yet(orderid: str) -> HttpResponse:
    """Nothing to show, but only because the wait for the order's writes timed out."""
    response = message(f"Order {orderid} is not in the read model yet; retry", 503)
    response["Retry-After"] = RETRY_AFTER_SECONDS
    _staleness(response, fresh=False)
    return response


@router.get(
    "/allocations/{orderid}",
    url_name="allocations",
    **answers({200: list[AllocationRow]}, READ_ERRORS, _READ),
)
def allocations(
    request: HttpRequest, orderid: OrderId, response: HttpResponse
) -> list[dict[str, Any]] | Status[Message] | HttpResponse:
    """The book's read: the order's allocated lines (404 while it has none)."""
    rows, fresh = orders.allocations(orderid, bootstrap.write_positions())
    _staleness(response, fresh)
    if not rows:
        if not fresh:
            return _not_projected_yet(orderid)
        return Status(404, Message(message=f"No allocations for order {orderid}"))
    return rows


@router.get("/orders/{orderid}", url_name="order", **answers({200: Order}, READ_ERRORS, _READ))
def order(
    request: HttpRequest, orderid: OrderId, response: HttpResponse
) -> dict[str, Any] | Status[Message] | HttpResponse:
    """The order's status, when it ships and every line, allocated or waiting; an order
    whose lines were all cancelled is `cancelled` with no line (404: never heard of)."""
    found, fresh = orders.order(orderid, bootstrap.write_positions())
    _staleness(response, fresh)
    if found is None:
        if not fresh:
            return _not_projected_yet(orderid)
        return Status(404, Message(message=f"Unknown order {orderid}"))
    return found
