"""Delivered means applied: which events are written but not applied, and resending them.

The broker is a transport, not the truth. The write side knows, per SKU, the last
version it wrote (versions are gap-free per SKU); the read side records, in the
projection's own transaction, the version up to which every event is applied, and
which later ones it applied out of order. The difference is exactly the events that
were lost or are still on their way, whatever happened in between: a broker restarted
with its data wiped, a message parked in Redis's unacked set, a worker killed, a task
dropped. ``reconcile`` sends those again once they are old enough to be lost rather
than late; projections are idempotent, so a late original does no harm.

Comparing per-SKU positions keeps the cost flat as history grows: one row per SKU on
each side, then a bounded look at the SKUs that lag. The two ledgers are ports, so the
read model may live in another database. Events whose projection was dead-lettered
are left alone (and not counted as lag) until someone replays them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

WINDOW = 1000
"""Versions looked at per lagging SKU and pass; a SKU further behind is done in steps."""


class WriteLedger(Protocol):
    def written_positions(self) -> Mapping[str, int]:
        """Per SKU, the last version written."""
        ...

    def parked(self) -> Mapping[str, Collection[int]]:
        """Per SKU, the versions whose projection is dead-lettered and not replayed."""
        ...

    def oldest_written_at(self, events: Mapping[str, int]) -> datetime | None:
        """When the earliest of these ``{sku: version}`` events was written."""
        ...

    def resend(self, sku: str, versions: Collection[int], older_than: timedelta) -> int:
        """Hand those of the events that are due to the broker again; how many."""
        ...


class ReadLedger(Protocol):
    def applied_positions(self) -> Mapping[str, int]:
        """Per SKU, the version up to which every event is applied."""
        ...

    def applied_between(self, sku: str, after: int, upto: int) -> Collection[int]:
        """The versions in ``(after, upto]`` applied out of order."""
        ...


@dataclass(frozen=True)
class Gap:
    """A SKU's events written but not applied (and not parked), oldest first."""

    sku: str
    versions: tuple[int, ...]


@dataclass(frozen=True)
class Lag:
    """How far the read model is behind the write side."""

    unapplied: int
    oldest_age: timedelta | None
    parked: int


def gaps(
    write: WriteLedger, read: ReadLedger, parked: Mapping[str, Collection[int]] | None = None
) -> list[Gap]:
    """Every SKU's missing versions (at most ``WINDOW`` of them per SKU)."""
    applied = read.applied_positions()
    parked = write.parked() if parked is None else parked
    found = []
    for sku, last in sorted(write.written_positions().items()):
        position = applied.get(sku, 0)
        if last <= position:
            continue
        upto = min(last, position + WINDOW)
        done = set(read.applied_between(sku, position, upto)) | set(parked.get(sku, ()))
        missing = tuple(v for v in range(position + 1, upto + 1) if v not in done)
        if missing:
            found.append(Gap(sku, missing))
    return found


def lag(write: WriteLedger, read: ReadLedger, now: datetime) -> Lag:
    parked = write.parked()
    found = gaps(write, read, parked)
    oldest = write.oldest_written_at({gap.sku: gap.versions[0] for gap in found})
    return Lag(
        unapplied=sum(len(gap.versions) for gap in found),
        oldest_age=None if oldest is None else max(now - oldest, timedelta(0)),
        parked=sum(len(versions) for versions in parked.values()),
    )


def reconcile(write: WriteLedger, read: ReadLedger, older_than: timedelta) -> int:
    """Resend every event written more than ``older_than`` ago and still not applied."""
    return sum(write.resend(gap.sku, gap.versions, older_than) for gap in gaps(write, read))
