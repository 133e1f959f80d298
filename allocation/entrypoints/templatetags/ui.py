"""Presentation helpers for the read-model pages: bars, charts, event sentences, durations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django import template
from django.conf import settings
from django.contrib.auth.context_processors import PermWrapper
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.timesince import timesince

from allocation.domain.events import Event
from allocation.entrypoints import actors
from orders_read.models import EventLog, SkuStock
from orders_read.selectors.stock import DayStock

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


@register.filter
def age(since: datetime | None) -> str:
    """How long ago, in its largest unit ("12 min", "3 h", "2 d"): a waiting line's age,
    read at a glance. Never in seconds, so that the live region holding it does not
    change (and get sent again) every time it is asked for."""
    if since is None:
        return "—"
    seconds = max(int((timezone.now() - since).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return "under a minute"


CHART_WIDTH, CHART_HEIGHT = 600, 160
"""The chart's drawing units. It is stretched to the card's width (its lines keep their
thickness: ``vector-effect``), so its labels are HTML around it, not SVG text."""


@dataclass(frozen=True)
class StockChart:
    """What ``stock_chart.html`` draws: the two series as SVG points, the values at the
    three grid lines (top, middle, bottom), the zero line if below the bottom one is
    negative, and a sentence for those who do not see it."""

    days: list[DayStock]
    available: str
    waiting: str
    top: int
    middle: float
    bottom: int
    zero_at: float | None
    summary: str


def nice_ceiling(value: int) -> int:
    """The smallest of 2, 4, 6, 8, 10, 20, 40... (even, so the middle line is a whole
    number) not below ``value``."""
    magnitude: int = 10 ** (len(str(max(value, 1))) - 1)
    return next(
        n * magnitude
        for n in (1, 2, 4, 6, 8, 10)
        if n * magnitude >= value and (n * magnitude) % 2 == 0
    )


def stock_chart_of(days: list[DayStock]) -> StockChart:
    """Both series on one scale, from the lowest value (or 0) to a round top."""
    values = [v for d in days for v in (d.available, d.waiting)]
    top = nice_ceiling(max(values, default=0))
    bottom = -nice_ceiling(-min(values)) if min(values, default=0) < 0 else 0
    step = CHART_WIDTH / max(len(days) - 1, 1)

    def y(value: int) -> float:
        return round(CHART_HEIGHT * (top - value) / (top - bottom), 2)

    def points(values: list[int]) -> str:
        return " ".join(f"{round(i * step, 2)},{y(v)}" for i, v in enumerate(values))

    return StockChart(
        days=days,
        available=points([d.available for d in days]),
        waiting=points([d.waiting for d in days]),
        top=top,
        middle=(top + bottom) / 2,
        bottom=bottom,
        zero_at=y(0) if bottom < 0 else None,
        summary=_chart_summary(days),
    )


def _chart_summary(days: list[DayStock]) -> str:
    """The chart in two sentences: each series from its first day to today, and its
    extreme that matters (the lowest stock, the highest demand)."""
    if not days:
        return ""
    first, last = days[0], days[-1]

    def day(d: DayStock) -> str:
        return "today" if d is last else f"on {date_format(d.day, 'M j')}"

    lowest = min(days, key=lambda d: d.available)
    highest = max(days, key=lambda d: d.waiting)
    return (
        f"Available: {first.available} {day(first)}, {last.available} today"
        f" (lowest {lowest.available} {day(lowest)})."
        f" Waiting demand: {first.waiting} {day(first)}, {last.waiting} today"
        f" (highest {highest.waiting} {day(highest)})."
    )


@register.inclusion_tag("orders_read/stock_chart.html")
def stock_chart(days: list[DayStock]) -> dict[str, Any]:
    """A SKU's available stock and waiting demand over its last days, as server-drawn SVG."""
    return {"chart": stock_chart_of(days), "width": CHART_WIDTH, "height": CHART_HEIGHT}
