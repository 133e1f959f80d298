"""Pages that show the read model. They read through ``orders_read.selectors`` only.

Detail pages wait (bounded) for the projection to catch up with what was written for
their order or SKU, so a user redirected here after a command sees its result; when
the wait times out they say so and refresh themselves (``stale``).

The dashboard, the stock list, a SKU's page and an order's page each have one live
region: the part that shows numbers which change while the page is open. ``app.js``
asks for it alone every few seconds (the page's own URL and query with
``?fragment=<name>``) and swaps it in only when it changed: the region's ETag is a hash
of its HTML, so an unchanged region is a 304 with no body. A fragment is rendered by the
same view as its page, so it keeps the page's login, permissions, headers and
read-your-writes wait. A region holds no form, only links to them (Cancel line, Change
quantity): a form's CSRF token, masked afresh at each rendering, would change the ETag
every time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import quote_etag
from django.views.decorators.http import require_GET

from allocation import bootstrap
from allocation.entrypoints.list_filters import OrderFilters, SkuSearch, StockFilters
from orders_read.selectors import dashboard as dashboard_reads
from orders_read.selectors import orders as order_reads
from orders_read.selectors import stock as stock_reads

if TYPE_CHECKING:
    from django.http.request import _ImmutableQueryDict

PAGE_SIZE = 50

M = TypeVar("M", bound=Model)


def paginate(request: HttpRequest, rows: QuerySet[M]) -> Page[M]:
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))


FRAGMENT = "fragment"
"""The query parameter that asks for a page's live region alone."""

LIVE_REGION_HEADER = "X-Live-Region"
"""Names the region a fragment answer holds: what ``app.js`` checks before swapping (a
login page after a session expired, say, is not a fragment)."""


@dataclass(frozen=True)
class LiveRegion:
    """A page's live region: its ``name`` and the template rendering it alone."""

    name: str
    template: str


@dataclass(frozen=True)
class RenderedRegion:
    """A live region as rendered for a page: ``app.js`` starts from its ETag."""

    name: str
    html: str
    etag: str


DASHBOARD = LiveRegion("dashboard", "orders_read/dashboard_live.html")
STOCK = LiveRegion("stock", "orders_read/stock_live.html")
SKU = LiveRegion("sku", "orders_read/sku_live.html")
ORDER = LiveRegion("order", "orders_read/order_live.html")


def take_fragment(request: HttpRequest) -> str | None:
    """The live region the request asks for alone, if any, taken off its query so that
    the links the region renders (sorting, pages) do not carry it."""
    if FRAGMENT not in request.GET:
        return None
    query = request.GET.copy()
    asked = query.pop(FRAGMENT)[-1]
    query._mutable = False
    request.GET = cast("_ImmutableQueryDict", query)
    return asked


def live_page(
    request: HttpRequest,
    template: str,
    region: LiveRegion,
    context: dict[str, Any],
    fragment: str | None,
) -> HttpResponse:
    """The page with its live region; or, asked for by ``fragment``, the region alone
    (304 when the ETag the browser sent is still the region's)."""
    if fragment is not None and fragment != region.name:
        return HttpResponseBadRequest(
            f"This page has no live region named {fragment!r}.", content_type="text/plain"
        )
    html = render_to_string(region.template, context, request)
    etag = quote_etag(hashlib.sha256(html.encode()).hexdigest()[:32])
    if fragment is None:
        return render(
            request, template, context | {"live": RenderedRegion(region.name, html, etag)}
        )
    response = HttpResponse(html)
    response["ETag"] = etag
    response[LIVE_REGION_HEADER] = region.name
    if "stale" in context:  # a detail page's read-your-writes wait timed out, as the API says
        response["X-Read-Model-Stale"] = "true" if context["stale"] else "false"
    # Asked again every few seconds: always revalidated, never kept by a shared cache
    # (logged-in answers are private and no-store anyway: PrivateAnswersMiddleware).
    patch_cache_control(response, private=True, no_cache=True)
    return get_conditional_response(request, etag=etag, response=response) or response


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    fragment = take_fragment(request)
    context = {"dashboard": dashboard_reads.dashboard(bootstrap.read_model_lag())}
    return live_page(request, "orders_read/dashboard.html", DASHBOARD, context, fragment)


@login_required
def stock(request: HttpRequest) -> HttpResponse:
    fragment = take_fragment(request)
    filters = StockFilters(request.GET)
    rows = stock_reads.stock(filters.value("q"), filters.value("show"), filters.value("sort"))
    context = {"page": paginate(request, rows), "filters": filters}
    return live_page(request, "orders_read/stock_list.html", STOCK, context, fragment)


def detail_page(
    request: HttpRequest,
    template: str,
    region: LiveRegion,
    found: tuple[Any, bool],
    unknown: str,
    context: dict[str, str],
    fragment: str | None,
) -> HttpResponse:
    """404 only when the read model is up to date and still knows nothing of it; the
    page without live region while it is still being processed (it reloads itself)."""
    detail, fresh = found
    if detail is None and fresh:
        raise Http404(unknown)
    context = context | {"detail": detail, "stale": not fresh}
    if detail is None:
        return render(request, template, context)
    return live_page(request, template, region, context, fragment)


@login_required
def sku_detail(request: HttpRequest, sku: str) -> HttpResponse:
    fragment = take_fragment(request)
    found = stock_reads.sku_detail(sku, bootstrap.write_positions())
    template = "orders_read/sku_detail.html"
    return detail_page(request, template, SKU, found, f"Unknown SKU {sku}", {"sku": sku}, fragment)


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
    fragment = take_fragment(request)
    found = order_reads.order_detail(orderid, bootstrap.write_positions())
    template = "orders_read/order_detail.html"
    context = {"orderid": orderid}
    unknown = f"Unknown order {orderid}"
    return detail_page(request, template, ORDER, found, unknown, context, fragment)


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
