"""Pages that show the read model. They read through ``orders_read.selectors`` only.

Detail pages wait (bounded) for the projection to catch up with what was written for
their order or SKU, so a user redirected here after a command sees its result; when
the wait times out they say so and refresh themselves (``stale``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from allocation import bootstrap
from allocation.entrypoints.list_filters import OrderFilters, SkuSearch, StockFilters
from orders_read.selectors import dashboard as dashboard_reads
from orders_read.selectors import orders as order_reads
from orders_read.selectors import stock as stock_reads

PAGE_SIZE = 50

M = TypeVar("M", bound=Model)


def paginate(request: HttpRequest, rows: QuerySet[M]) -> Page[M]:
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "orders_read/dashboard.html",
        {"dashboard": dashboard_reads.dashboard(bootstrap.read_model_lag())},
    )


@login_required
def stock(request: HttpRequest) -> HttpResponse:
    filters = StockFilters(request.GET)
    rows = stock_reads.stock(filters.value("q"), filters.value("show"), filters.value("sort"))
    context = {"page": paginate(request, rows), "filters": filters}
    return render(request, "orders_read/stock_list.html", context)


def detail_page(
    request: HttpRequest,
    template: str,
    found: tuple[Any, bool],
    unknown: str,
    context: dict[str, str],
) -> HttpResponse:
    """404 only when the read model is up to date and still knows nothing of it."""
    detail, fresh = found
    if detail is None and fresh:
        raise Http404(unknown)
    return render(request, template, context | {"detail": detail, "stale": not fresh})


@login_required
def sku_detail(request: HttpRequest, sku: str) -> HttpResponse:
    found = stock_reads.sku_detail(sku, bootstrap.write_positions())
    template = "orders_read/sku_detail.html"
    return detail_page(request, template, found, f"Unknown SKU {sku}", {"sku": sku})


@login_required
def orders(request: HttpRequest) -> HttpResponse:
    filters = OrderFilters(request.GET)
    context = {
        "page": paginate(request, order_reads.orders(filters.query())),
        "filters": filters,
        "sku_suggestions": stock_reads.sku_suggestions(),
    }
    return render(request, "orders_read/order_list.html", context)


@login_required
def order_detail(request: HttpRequest, orderid: str) -> HttpResponse:
    found = order_reads.order_detail(orderid, bootstrap.write_positions())
    template = "orders_read/order_detail.html"
    context = {"orderid": orderid}
    return detail_page(request, template, found, f"Unknown order {orderid}", context)


@login_required
@require_GET
def sku_suggestions(request: HttpRequest) -> HttpResponse:
    """The known SKUs containing ``?q=``, for the SKU boxes' script (``app.js``):
    ``{"skus": [...], "complete": true}``, ``complete`` false when there are more."""
    search = SkuSearch(request.GET)
    if not search.is_valid():
        return JsonResponse({"message": search.errors["q"][0]}, status=400)
    found = stock_reads.sku_suggestions(search.cleaned_data["q"])
    return JsonResponse({"skus": found.skus, "complete": found.complete})
