"""Sortable column headers for the lists (``list_filters`` reads what they ask for)."""

from __future__ import annotations

from typing import Any

from django import template

from allocation.entrypoints.list_filters import ListFilters

register = template.Library()


@register.inclusion_tag("includes/sort_header.html", takes_context=True)
def sort_header(
    context: dict[str, Any],
    label: str,
    key: str,
    filters: ListFilters,
    first: str = "",
    css: str = "",
) -> dict[str, Any]:
    """A column's header (``css`` its class) that sorts the list by ``key``; clicked
    again, the other way. ``aria-sort`` says how the list is sorted now.

    ``first`` is the way a first click sorts: ``"-"`` where the largest or newest is
    what one looks for (waiting demand, creation). The link keeps the filters and goes
    back to the first page.
    """
    current = filters.value("sort")
    if current == key:
        sorted_as, next_key = "ascending", f"-{key}"
    elif current == f"-{key}":
        sorted_as, next_key = "descending", key
    else:
        sorted_as, next_key = "", f"{first}{key}"
    query = context["request"].GET.copy()
    query["sort"] = next_key
    query.pop("page", None)
    href = f"?{query.urlencode()}"
    return {"label": label, "sorted_as": sorted_as, "href": href, "css": css}
