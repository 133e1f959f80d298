"""The lists' filters and sort orders, read from the query string.

Each list reads its query string through a form, so a value it does not offer (an
unknown status, a date that is not ``YYYY-MM-DD``, a sort by a column it cannot sort)
is shown as the field's error and not applied, never a 500. The CSV exports take the
same query string (the page's "Download CSV" link passes its own), and answer 400 to
one they cannot apply: a file must be what was asked for.
"""

from __future__ import annotations

from typing import Any

from django import forms

from orders_read.models import ORDER_STATUS_LABELS
from orders_read.selectors.orders import ORDER_SORTS, OrderQuery
from orders_read.selectors.stock import STOCK_SORTS

SHOW_CHOICES = [
    ("", "all SKUs"),
    ("out", "out of stock"),
    ("low", "low on stock"),
    ("waiting", "with waiting demand"),
    ("short", "any of these"),
]
"""``orders_read.selectors.stock.SHORT_OF_STOCK``, in words."""


def sort_field(keys: list[str]) -> forms.ChoiceField:
    return forms.ChoiceField(required=False, choices=[(key, key) for key in keys], label="Sort")


def day_field(label: str) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )


class ListFilters(forms.Form):
    """A list's query string; ``value`` is a field's value when valid, else its default."""

    def value(self, name: str) -> Any:
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        found = self.cleaned_data.get(name)
        return found if found not in (None, "") else self.defaults().get(name, found)

    def defaults(self) -> dict[str, Any]:
        return {}


class StockFilters(ListFilters):
    q = forms.CharField(required=False, max_length=255, label="SKU contains")
    show = forms.ChoiceField(required=False, choices=SHOW_CHOICES, label="Show")
    sort = sort_field(STOCK_SORTS.keys())

    def defaults(self) -> dict[str, Any]:
        return {"sort": STOCK_SORTS.default}


class OrderFilters(ListFilters):
    status = forms.ChoiceField(
        required=False, choices=[("", "any"), *ORDER_STATUS_LABELS.items()], label="Status"
    )
    q = forms.CharField(required=False, max_length=255, label="Order id contains")
    sku = forms.CharField(required=False, max_length=255, label="SKU")
    batch = forms.CharField(required=False, max_length=255, label="Batch")
    created_from = day_field("Created from")
    created_to = day_field("Created to")
    sort = sort_field(ORDER_SORTS.keys())

    def defaults(self) -> dict[str, Any]:
        return {"sort": ORDER_SORTS.default}

    def clean(self) -> dict[str, Any] | None:
        start, end = self.cleaned_data.get("created_from"), self.cleaned_data.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", "The end of the range is before its start.")
        return self.cleaned_data

    def query(self) -> OrderQuery:
        fields = ("status", "q", "sku", "batch", "created_from", "created_to", "sort")
        status, search, sku, batch, start, end, sort = (self.value(name) for name in fields)
        return OrderQuery(status, search, sku, batch, start, end, sort)


class SkuSearch(forms.Form):
    """The SKU boxes' script's question: the known SKUs containing ``q``."""

    q = forms.CharField(required=False, max_length=255)
