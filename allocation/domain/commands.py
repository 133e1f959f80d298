"""Commands: what a caller asks the system to do. Each has exactly one handler."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


class Command:
    """Marker base class, so the message bus can tell commands from events."""


@dataclass(frozen=True)
class CreateBatch(Command):
    ref: str
    sku: str
    qty: int
    eta: date | None = None


@dataclass(frozen=True)
class Allocate(Command):
    orderid: str
    sku: str
    qty: int


@dataclass(frozen=True)
class Deallocate(Command):
    orderid: str
    sku: str


@dataclass(frozen=True)
class ChangeBatchQuantity(Command):
    ref: str
    qty: int
    previewed: str | None = None
    """The fingerprint of the preview a person confirmed (``changes.QuantityChange``):
    the change is refused, and nothing written, if it would now do anything else."""
