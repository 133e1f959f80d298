"""What each event does to the read model, declared once per event class.

The projection's rulebook, in plain Python (no Django, no SQL): for an event, the
rows it touches (its line, batch, order and SKU, by key) and, for an event about an
order line, the line's status and place in the queue after it. ``recorder`` turns that
into SQL. A new event
class needs a rule here; a unit test fails until it has one.

What this cannot say statically the recorder finds in the read model: the batches a
line left or joined (its previous row), and the orders whose ship date moves when a
batch's eta becomes known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from allocation.domain import events
from orders_read.rules import LineStatus


@dataclass(frozen=True)
class AboutLine:
    """An event about one order line ``(orderid, sku)``: it touches the line, its order
    and its SKU. ``after``: the line's status after the event; None, the line is gone."""

    after: LineStatus | None


@dataclass(frozen=True)
class AboutBatch:
    """An event about one batch (its ``ref``): it touches the batch and its SKU."""


Rule = AboutLine | AboutBatch

RULES: Mapping[type[events.Event], Rule] = {
    events.BatchCreated: AboutBatch(),
    events.BatchQuantityChanged: AboutBatch(),
    events.Allocated: AboutLine(after=LineStatus.ALLOCATED),
    events.OutOfStock: AboutLine(after=LineStatus.WAITING),
    events.Deallocated: AboutLine(after=None),  # cancelled, or evicted (then re-placed)
    events.BackorderCancelled: AboutLine(after=None),
}


class BatchEvent(Protocol):
    """What every event about a batch carries (``tests/unit`` checks the classes do)."""

    @property
    def sku(self) -> str: ...

    @property
    def ref(self) -> str: ...


@dataclass(frozen=True)
class Keys:
    """The read-model rows one event touches."""

    sku: str
    line: tuple[str, str] | None = None  # (orderid, sku)
    batch: str | None = None  # reference

    @property
    def order(self) -> str | None:
        return self.line[0] if self.line else None


class NoRule(LookupError):
    """An event class the projection has no rule for."""


def rule_for(event_type: type[events.Event]) -> Rule:
    try:
        return RULES[event_type]
    except KeyError:
        raise NoRule(f"no projection rule for {event_type.__name__}") from None


def touches(event: events.Event) -> Keys:
    """The rows the event touches, by its class's rule."""
    if isinstance(rule_for(type(event)), AboutLine):
        line = cast(events.LineEvent, event)
        return Keys(sku=line.sku, line=(line.orderid, line.sku))
    batch = cast(BatchEvent, event)
    return Keys(sku=batch.sku, batch=batch.ref)


def line_status_after(event_type: type[events.Event]) -> LineStatus | None:
    """A line's status after an event about it (None: the line is gone)."""
    rule = rule_for(event_type)
    if not isinstance(rule, AboutLine):
        raise NoRule(f"{event_type.__name__} is not about an order line")
    return rule.after


def queue_arrival(
    event_type: type[events.Event], payload: Mapping[str, Any], version: int
) -> int | None:
    """A line's place in its SKU's first-come-first-served queue after an event about
    it: the arrival its OutOfStock carries; None once it is not waiting.

    An OutOfStock stored before events carried the arrival has the event's own version
    instead, which is the line's arrival unless a shrinking batch had evicted it.
    """
    if line_status_after(event_type) != LineStatus.WAITING:
        return None
    arrival = payload.get("arrival")
    return version if arrival is None else int(arrival)


BATCH_EVENTS = tuple(cls for cls, rule in RULES.items() if isinstance(rule, AboutBatch))
"""The classes of the events about a batch itself (not about a line in it)."""
