"""The transactional outbox: events stored with the change, handed to the broker later.

``store`` runs inside the Unit of Work's transaction; on PostgreSQL the insert also
notifies the relay (a trigger, see ``allocation.models.OutboxEvent``), so a request
never talks to the broker. ``relay`` claims rows no one has sent yet with SKIP LOCKED
(two relays never send the same row at once) and hands them over in batches, however
old they are. Handing over is not delivering: ``OutboxLedger`` is the write side's
half of the check that every event was *applied* (``allocation.service_layer.delivery``),
and resends what was not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property, reduce
from operator import or_
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import F, Min, Q, QuerySet
from django.utils import timezone

from allocation.domain.events import Event, LineEvent
from allocation.models import DeadLetter, OutboxEvent, ProductRecord
from allocation.service_layer.messagebus import PROJECTION

logger = logging.getLogger(__name__)

BATCH_SIZE = 50
"""Events per broker message: big enough to amortise a message, small enough to spread."""


@dataclass(frozen=True)
class StoredEvent:
    """An outbox row: its position, and the event as it travels (name and payload)."""

    position: int
    event_id: UUID
    name: str
    payload: dict[str, Any]

    @cached_property
    def event(self) -> Event:
        return Event.from_dict(self.name, self.payload)


Publish = Callable[[Sequence[StoredEvent]], None]
"""Hands a batch of stored events to the broker as one message; raises if refused."""


def store(events: Sequence[Event]) -> list[StoredEvent]:
    records = OutboxEvent.objects.bulk_create(
        OutboxEvent(
            name=event.name,
            sku=event.sku,
            version=event.version,
            orderid=event.orderid if isinstance(event, LineEvent) else None,
            payload=event.to_dict(),
        )
        for event in events
    )
    if any(r.id is None for r in records):  # backends without RETURNING on bulk insert
        by_uuid = dict(
            OutboxEvent.objects.filter(event_id__in=[r.event_id for r in records]).values_list(
                "event_id", "id"
            )
        )
        for record in records:
            record.id = by_uuid[record.event_id]
    return [StoredEvent(r.id, r.event_id, r.name, r.payload) for r in records]


def send(stored: Sequence[StoredEvent], publish: Publish, batch: int = BATCH_SIZE) -> int:
    """Publish in batches, in order, and record what the broker took; stop at a failure."""
    sent: list[int] = []
    try:
        for start in range(0, len(stored), batch):
            chunk = stored[start : start + batch]
            publish(chunk)
            sent.extend(item.position for item in chunk)
    except Exception:
        logger.warning(
            "broker refused events; they will be sent again",
            extra={"unsent": len(stored) - len(sent)},
            exc_info=True,
        )
    if sent:
        OutboxEvent.objects.filter(id__in=sent).update(sent_at=timezone.now(), sends=F("sends") + 1)
    return len(sent)


def send_after_commit(stored: Sequence[StoredEvent], publish: Publish) -> None:
    """In-process delivery for the embedded setup, where there is no relay to wake."""
    if stored:
        transaction.on_commit(lambda: send(stored, publish), robust=True)


def relay(publish: Publish, older_than: timedelta = timedelta(0), claim: int = 500) -> int:
    """Send every event never sent (and older than ``older_than``); how many were sent."""
    total = 0
    while True:
        unsent = OutboxEvent.objects.filter(
            sent_at=None, created_at__lte=timezone.now() - older_than
        )
        claimed, sent = _claim_and_send(unsent, publish, claim)
        total += sent
        if claimed < claim or sent < claimed:  # all taken, or the broker refused
            return total


def _claim_and_send(
    rows: QuerySet[OutboxEvent],
    publish: Publish,
    claim: int,
    due: Callable[[OutboxEvent], bool] = lambda row: True,
) -> tuple[int, int]:
    """Lock up to ``claim`` rows nobody else holds, send the due ones; (claimed, sent).

    ``due`` is judged on the locked rows, so a row another sender just sent is seen
    with its new ``sent_at``.
    """
    with transaction.atomic():
        claimed = list(rows.select_for_update(skip_locked=True).order_by("id")[:claim])
        return len(claimed), send([_stored(r) for r in claimed if due(r)], publish)


def unsent_count() -> int:
    return OutboxEvent.objects.filter(sent_at=None).count()


def _stored(record: OutboxEvent) -> StoredEvent:
    return StoredEvent(record.id, record.event_id, record.name, record.payload)


def stored_events() -> Iterator[StoredEvent]:
    """Every event ever stored, in position order (the write side's history)."""
    return (_stored(r) for r in OutboxEvent.objects.order_by("id").iterator(chunk_size=2000))


def positions_of_order(orderid: str) -> set[tuple[str, int]]:
    """The ``(sku, version)`` of every event written for an order: its write position."""
    return set(OutboxEvent.objects.filter(orderid=orderid).values_list("sku", "version"))


def position_of_sku(sku: str) -> int:
    """The SKU's latest version; versions are gap-free per SKU, from 1."""
    version = ProductRecord.objects.filter(sku=sku).values_list("version_number", flat=True)
    return version.first() or 0


class OutboxLedger:
    """What the write side has written, for the delivery check (``WriteLedger``)."""

    def __init__(self, publish: Publish) -> None:
        self._publish = publish

    def written_positions(self) -> dict[str, int]:
        """Per SKU, the last version written: the product's own version, one row per SKU."""
        return dict(ProductRecord.objects.values_list("sku", "version_number"))

    def parked(self) -> dict[str, set[int]]:
        """Events whose projection was dead-lettered and not replayed yet, per SKU."""
        letters = DeadLetter.objects.filter(replayed_at=None, handler__in=[PROJECTION, ""])
        found: dict[str, set[int]] = {}
        for sku, version in letters.values_list("sku", "version"):
            if version is not None:
                found.setdefault(sku, set()).add(version)
        return found

    def oldest_written_at(self, events: Mapping[str, int]) -> datetime | None:
        """When the earliest of these ``{sku: version}`` events was written."""
        if not events:
            return None
        which = reduce(or_, (Q(sku=sku, version=version) for sku, version in events.items()))
        oldest: datetime | None = OutboxEvent.objects.filter(which).aggregate(at=Min("created_at"))[
            "at"
        ]
        return oldest

    def resend(self, sku: str, versions: Collection[int], older_than: timedelta) -> int:
        """Send these events of the SKU again, if due; how many were sent.

        Due: written more than ``older_than`` ago and not sent within ``older_than``
        times 2 to the power of the sends so far (at most 64 times), so an event stuck
        behind a long queue is not multiplied while it waits. Rows are claimed with SKIP
        LOCKED, so two reconcilers (or a reconciler and the relay) never send one twice
        at once, and the second finds it sent just now.
        """
        now = timezone.now()

        def due(row: OutboxEvent) -> bool:
            wait = older_than * 2 ** min(max(row.sends - 1, 0), 6)
            return row.sent_at is None or row.sent_at <= now - wait

        candidates = OutboxEvent.objects.filter(
            sku=sku, version__in=list(versions), created_at__lte=now - older_than
        )
        _, sent = _claim_and_send(candidates, self._publish, len(versions), due)
        if sent:
            logger.warning("resent %d event(s) of %s written but not applied", sent, sku)
        return sent
