"""CSV out (stock, orders, waiting lines) and in (batches).

Exports stream (``StreamingHttpResponse``): rows go out as the database cursor yields
them (``iterator()``, a server-side cursor on PostgreSQL), so a file of any size costs
the same memory as a page. They take the list's own filters and sort, so "Download
CSV" gives what the page shows, every page of it. Text cells that a spreadsheet would
run as a formula (starting ``=``, ``+``, ``-``, ``@``, tab or carriage return) are
prefixed with ``'``, as OWASP advises against CSV injection.

Imports: see ``batch_import`` for what is checked and what is all-or-nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from allocation.bootstrap import bootstrap
from allocation.entrypoints import actors, batch_import
from allocation.entrypoints.command_views import needs
from allocation.entrypoints.list_filters import ListFilters, OrderFilters, StockFilters
from orders_read.selectors import orders as order_reads
from orders_read.selectors import stock as stock_reads

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
STREAM_CHUNK = 2000


class _Echo:
    """A file that hands back what is written: ``csv.writer`` formats one row at a time."""

    def write(self, value: str) -> str:
        return value


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def csv_response(
    name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """``name-YYYY-MM-DD.csv``, streamed row by row."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([cell(value) for value in row])

    filename = f"{name}-{timezone.localdate().isoformat()}.csv"
    return StreamingHttpResponse(
        lines(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def streamed(rows: QuerySet[Any], columns: Sequence[str]) -> Iterable[Sequence[Any]]:
    return rows.values_list(*columns).iterator(chunk_size=STREAM_CHUNK)


def refused(filters: ListFilters) -> HttpResponse | None:
    """A 400 naming the first filter that cannot be applied: a file is what was asked
    for or nothing (a page shows the error beside the list instead)."""
    if filters.is_valid():
        return None
    name, errors = next(iter(filters.errors.items()))
    return HttpResponse(
        f"{filters.fields[name].label}: {errors[0]}\n", status=400, content_type="text/plain"
    )


STOCK_COLUMNS = ("sku", "purchased", "allocated", "available", "waiting", "next_eta", "batch_count")


@login_required
@require_GET
def export_stock(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    filters = StockFilters(request.GET)
    if bad := refused(filters):
        return bad
    rows = stock_reads.stock(filters.value("q"), filters.value("show"), filters.value("sort"))
    return csv_response("stock", STOCK_COLUMNS, streamed(rows, STOCK_COLUMNS))


ORDER_COLUMNS = (
    "orderid",
    "created_at",
    "status",
    "line_count",
    "allocated_lines",
    "waiting_lines",
    "expected_ship_date",
)


@login_required
@require_GET
def export_orders(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    filters = OrderFilters(request.GET)
    if bad := refused(filters):
        return bad
    rows = order_reads.orders(filters.query())
    return csv_response("orders", ORDER_COLUMNS, streamed(rows, ORDER_COLUMNS))


WAITING_COLUMNS = ("sku", "orderid", "qty", "order_created_at")


@login_required
@require_GET
def export_waiting_lines(request: HttpRequest) -> StreamingHttpResponse:
    rows = stock_reads.waiting_lines(request.GET.get("sku", "").strip())
    return csv_response("waiting-lines", WAITING_COLUMNS, streamed(rows, WAITING_COLUMNS))


class BatchFileForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=(
            "Columns ref, sku, qty and eta (YYYY-MM-DD, empty for stock in the warehouse),"
            " named on the first line; UTF-8, comma-separated."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


IMPORT_TEMPLATE = "allocation/batch_import.html"


@needs("allocation.create_batch")
def import_batches(request: HttpRequest) -> HttpResponse:
    """GET: the upload form. POST a file: its preview. POST ``rows``: the import."""
    if request.method == "POST" and "rows" in request.POST:
        return _import(request)
    context: dict[str, Any] = {"title": "Import batches", "slice": batch_import.IMPORT_SLICE}
    form = BatchFileForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            checked = batch_import.read_csv(form.cleaned_data["file"].read())
        except batch_import.BadFile as error:
            form.add_error("file", str(error))
        else:
            context["checked"] = checked
    return render(request, IMPORT_TEMPLATE, context | {"form": form})


def _import(request: HttpRequest) -> HttpResponse:
    """The rows back from the preview: checked again, then one command each. The page's
    script sends them in slices and asks for JSON (``Accept``), to show progress."""
    wants_json = request.headers.get("Accept") == "application/json"
    try:
        checked = batch_import.read_json(request.POST["rows"])
    except batch_import.BadFile as error:
        if wants_json:
            return JsonResponse({"message": str(error)}, status=400)
        return HttpResponse(f"{error}\n", status=400, content_type="text/plain")
    done = batch_import.import_rows(checked, bootstrap(), actors.of_request(request))
    if wants_json:
        refusals = [vars(r) for r in done.refused]
        return JsonResponse({"imported": done.count, "refused": refusals})
    messages.success(request, f"{done.count} batch{'es' if done.count != 1 else ''} imported.")
    for refusal in done.refused[:20]:
        messages.error(
            request, f"Line {refusal.line} ({refusal.ref}) not imported: {refusal.message}"
        )
    if len(done.refused) > 20:
        messages.error(request, f"… and {len(done.refused) - 20} more lines not imported.")
    return redirect("stock")
