"""Presentation helpers for the read-model pages: bars, event sentences, durations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django import template
from django.conf import settings
from django.contrib.auth.context_processors import PermWrapper
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.timesince import timesince

from allocation.domain.events import Event
from allocation.entrypoints import actors
from orders_read.models import EventLog, SkuStock

register = template.Library()


@register.simple_tag
def fixed_url(name: str) -> str:
    """``{% url name %}`` for a URL without arguments, reversed once per process.

    The layout links nine of them on every page, and reversing them was a large share
    of its rendering time. The answer depends on nothing else than the name, the
    script prefix and the URLconf, so those are the key.
    """
    return _reverse(name, get_script_prefix(), get_urlconf(settings.ROOT_URLCONF))


@lru_cache(maxsize=128)
def _reverse(name: str, prefix: str, urlconf: str) -> str:
    return reverse(name, urlconf=urlconf)


@register.filter
def describe(entry: EventLog) -> str:
    """One sentence per event (the event's own), so the timeline reads as a history.

    A logged event this code cannot read (renamed, or from a newer release) still shows,
    as its name and payload.
    """
    try:
        fields = {**entry.payload, "sku": entry.sku, "version": entry.version}
        return Event.from_dict(entry.name, fields).describe()
    except (KeyError, TypeError, ValueError):
        return f"{entry.name} {entry.payload}"


@register.filter
def sees_names(perms: PermWrapper) -> bool:
    """May the reader see people's names in histories (``actors.SEE_NAMES``)? Once per
    page: ``{% with names=perms|sees_names %}``."""
    return actors.SEE_NAMES in perms


@register.filter
def by(actor: str | None, names: bool) -> str:
    """Who caused an event, in words: ``actors.describe``."""
    return actors.describe(actor, names)


@register.filter
def bar_scale(rows: Iterable[SkuStock]) -> int:
    """One scale for every bar on a page, so lengths compare between rows."""
    return max((max(r.purchased, r.allocated + r.waiting) for r in rows), default=0) or 1


@register.inclusion_tag("orders_read/stock_bar.html")
def stock_bar(row: SkuStock, scale: int | None = None) -> dict[str, Any]:
    """Allocated, then available, then waiting demand, on the page's scale.

    Drawn as SVG rectangles placed by their attributes: the Content-Security-Policy
    refuses inline styles, and a width set in a ``style`` attribute is one.
    """
    total = scale or bar_scale([row])

    def pct(value: int) -> float:
        return round(100 * max(value, 0) / total, 2)

    return {
        "row": row,
        "allocated": pct(row.allocated),
        "available": pct(row.available),
        "waiting": pct(row.waiting),
        "waiting_from": pct(max(row.allocated, 0) + max(row.available, 0)),
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
