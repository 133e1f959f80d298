"""JSON read endpoints under /api, answered from the read model only."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from orders_read import queries

STALE_HEADER = "X-Read-Model-Stale"


@require_GET
def allocations(request: HttpRequest, orderid: str) -> JsonResponse:
    fresh = queries.wait_for_order(orderid)
    rows = queries.allocations(orderid)
    if not rows:
        response = JsonResponse({"message": f"No allocations for order {orderid}"}, status=404)
    else:
        response = JsonResponse(rows, safe=False)
    response[STALE_HEADER] = "false" if fresh else "true"
    return response


@require_GET
def order(request: HttpRequest, orderid: str) -> JsonResponse:
    fresh = queries.wait_for_order(orderid)
    found = queries.order(orderid)
    if found is None:
        response = JsonResponse({"message": f"Unknown order {orderid}"}, status=404)
    else:
        response = JsonResponse(found)
    response[STALE_HEADER] = "false" if fresh else "true"
    return response
