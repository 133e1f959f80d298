"""Domain events: facts the Product aggregate records about itself.

Every event carries the SKU and the product ``version`` the change produced. Versions
are gap-free and increasing within a SKU, so ``(sku, version)`` identifies an event:
the read side logs each once, whatever the number or order of deliveries, and tracks
per SKU how far it has applied them.

Each event says in one sentence what happened (``describe``), in the words of the
business; the timeline shows it.

When it happened (``occurred_at``) and who caused it (``actor``) are not part of the
fact's payload: the outbox stamps them when it stores the event, and they travel
beside the payload to the read model, so histories show the write side's time and
person, even after a rebuild. The domain never sets them; to it, an actor is an
opaque text (``allocation.service_layer.actor`` says what it means).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    sku: str
    version: int
    occurred_at: datetime | None = field(default=None, compare=False, repr=False, kw_only=True)
    """When the write side stored the event; None until it has."""
    actor: str | None = field(default=None, compare=False, repr=False, kw_only=True)
    """Who asked for the change that raised it, as the outbox stored it; None until
    stored, and for events stored before actors were recorded."""

    registry: ClassVar[dict[str, type[Event]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Event.registry[cls.__name__] = cls

    @property
    def name(self) -> str:
        return type(self).__name__

    def describe(self) -> str:
        """The fact in one sentence of the business's words, for timelines and histories."""
        raise NotImplementedError(f"{self.name} cannot describe itself")

    def to_dict(self) -> dict[str, Any]:
        """The payload: the fact's own fields (not its metadata), JSON-ready."""
        return {
            f.name: (v.isoformat() if isinstance(v := getattr(self, f.name), date) else v)
            for f in dataclasses.fields(self)
            if f.name not in METADATA
        }

    @staticmethod
    def from_dict(
        name: str,
        data: dict[str, Any],
        occurred_at: datetime | None = None,
        actor: str | None = None,
    ) -> Event:
        cls = Event.registry[name]
        fields = {f.name for f in dataclasses.fields(cls)} - METADATA
        values = dict(data)
        if "eta" in fields and values.get("eta"):
            values["eta"] = date.fromisoformat(values["eta"])
        facts = {k: v for k, v in values.items() if k in fields}
        return cls(**facts, occurred_at=occurred_at, actor=actor)


METADATA = frozenset({"occurred_at", "actor"})
"""The fields stamped by the outbox beside the fact: never in a payload."""


@dataclass(frozen=True)
class BatchCreated(Event):
    ref: str
    qty: int
    eta: date | None

    def describe(self) -> str:
        where = f"eta {self.eta.isoformat()}" if self.eta else "in the warehouse"
        return f"Batch {self.ref} created: {self.qty} units, {where}"


@dataclass(frozen=True)
class BatchQuantityChanged(Event):
    ref: str
    qty: int

    def describe(self) -> str:
        return f"Batch {self.ref} changed to {self.qty} units"


@dataclass(frozen=True)
class LineEvent(Event):
    """An event about one order line, identified by ``(orderid, sku)``."""

    orderid: str
    qty: int


@dataclass(frozen=True)
class Allocated(LineEvent):
    """The line is placed in a batch. ``arrival``: its place in the first-come-first-served
    queue (see ``OutOfStock``); equal to ``version`` when the line was placed on arrival,
    earlier when it waited or was moved. None in events stored before it was recorded."""

    batchref: str
    arrival: int | None = None

    def describe(self) -> str:
        return f"{self.qty} x {self.sku} allocated to batch {self.batchref}"


@dataclass(frozen=True)
class Deallocated(LineEvent):
    """A line left its batch: cancelled by the customer, or evicted by a shrinking batch."""

    batchref: str

    def describe(self) -> str:
        return f"{self.qty} x {self.sku} taken off batch {self.batchref}"


@dataclass(frozen=True)
class OutOfStock(LineEvent):
    """No batch could take the line: it now waits (a backorder) until stock arrives.

    ``arrival`` is the line's place in the product's first-come-first-served queue (the
    version at which it first reached the product): a line evicted by a shrinking batch
    keeps its original place, which the event's own version would not tell. None in
    events stored before it was recorded.
    """

    arrival: int | None = None

    def describe(self) -> str:
        return f"{self.qty} x {self.sku} waiting for stock"


@dataclass(frozen=True)
class BackorderCancelled(LineEvent):
    """A waiting line was cancelled before any stock arrived for it."""

    def describe(self) -> str:
        return f"Waiting {self.qty} x {self.sku} cancelled"
