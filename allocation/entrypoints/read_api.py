"""JSON read endpoints under /api, answered from the read model only."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from allocation import bootstrap
from allocation.entrypoints.inputs import BadInput, identifier
from orders_read.selectors import orders

STALE_HEADER = "X-Read-Model-Stale"


def valid_orderid(view: Callable[[HttpRequest, str], JsonResponse]) -> Callable[..., JsonResponse]:
    """An order id no order can have is a 400 (and never reaches the database)."""

    @wraps(view)
    def checked(request: HttpRequest, orderid: str) -> JsonResponse:
        try:
            identifier(orderid, "Order id")
        except BadInput as error:
            return JsonResponse({"message": str(error)}, status=400)
        return view(request, orderid)

    return checked


@require_GET
@valid_orderid
def allocations(request: HttpRequest, orderid: str) -> JsonResponse:
    rows, fresh = orders.allocations(orderid, bootstrap.write_positions())
    if not rows:
        response = JsonResponse({"message": f"No allocations for order {orderid}"}, status=404)
    else:
        response = JsonResponse(rows, safe=False)
    response[STALE_HEADER] = "false" if fresh else "true"
    return response


@require_GET
@valid_orderid
def order(request: HttpRequest, orderid: str) -> JsonResponse:
    found, fresh = orders.order(orderid, bootstrap.write_positions())
    if found is None:
        response = JsonResponse({"message": f"Unknown order {orderid}"}, status=404)
    else:
        response = JsonResponse(found)
    response[STALE_HEADER] = "false" if fresh else "true"
    return response
