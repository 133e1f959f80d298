"""Presentation helpers for the read-model pages: bars, event sentences, durations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django import template
from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.timesince import timesince

from orders_read.models import EventLog, SkuStock

register = template.Library()

EVENT_SENTENCES = {
    "BatchCreated": "Batch {ref} created: {qty} units, {eta}",
    "BatchQuantityChanged": "Batch {ref} changed to {qty} units",
    "Allocated": "{qty} x {sku} allocated to batch {batchref}",
    "Deallocated": "{qty} x {sku} taken off batch {batchref}",
    "OutOfStock": "{qty} x {sku} waiting for stock",
    "BackorderCancelled": "Waiting {qty} x {sku} cancelled",
}


@register.simple_tag
def fixed_url(name: str) -> str:
    """``{% url name %}`` for a URL without arguments, reversed once per process.

    The layout links nine of them on every page, and reversing them took over a third
    of its rendering time. The answer depends on nothing else than the name, the
    script prefix and the URLconf, so those are the key.
    """
    return _reverse(name, get_script_prefix(), get_urlconf(settings.ROOT_URLCONF))


@lru_cache(maxsize=128)
def _reverse(name: str, prefix: str, urlconf: str) -> str:
    return reverse(name, urlconf=urlconf)


@register.filter
def describe(entry: EventLog) -> str:
    """One sentence per event, so the timeline reads as a history and not as JSON."""
    fields: dict[str, Any] = {"ref": "", "qty": "", "batchref": "", **entry.payload}
    fields["eta"] = f"eta {fields['eta']}" if fields.get("eta") else "in the warehouse"
    pattern = EVENT_SENTENCES.get(entry.name)
    return pattern.format(**fields) if pattern else f"{entry.name} {entry.payload}"


@register.filter
def bar_scale(rows: Iterable[SkuStock]) -> int:
    """One scale for every bar on a page, so lengths compare between rows."""
    return max((max(r.purchased, r.allocated + r.waiting) for r in rows), default=0) or 1


@register.inclusion_tag("orders_read/stock_bar.html")
def stock_bar(row: SkuStock, scale: int | None = None) -> dict[str, Any]:
    """Allocated, then available, then waiting demand, on the page's scale."""
    total = scale or bar_scale([row])

    def pct(value: int) -> float:
        return round(100 * max(value, 0) / total, 2)

    return {
        "row": row,
        "allocated": pct(row.allocated),
        "available": pct(row.available),
        "waiting": pct(row.waiting),
    }


@register.filter
def duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


@register.filter
def ago(value: datetime | None) -> str:
    """``timesince`` says "0 minutes" for fresh events; a dashboard should say "just now"."""
    if value is None:
        return "never"
    if timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value)} ago"
