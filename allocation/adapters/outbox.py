"""The transactional outbox: events stored with the change, sent after commit.

``store`` runs inside the Unit of Work's transaction. ``send_after_commit`` is the fast
path; ``relay`` is the guarantee: it claims unsent rows with SKIP LOCKED (so two relays
never send the same row at once) and sends them, however old they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from allocation.domain.events import Event, LineEvent
from allocation.models import OutboxEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredEvent:
    position: int
    event_id: UUID
    event: Event


Publish = Callable[[StoredEvent], None]
"""Hands one stored event to the broker; raises if the broker did not take it."""


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
    return [StoredEvent(r.id, r.event_id, e) for r, e in zip(records, events, strict=True)]


def send(stored: Sequence[StoredEvent], publish: Publish) -> int:
    """Publish in order and mark what the broker took; stop at the first failure."""
    sent: list[int] = []
    try:
        for item in stored:
            publish(item)
            sent.append(item.position)
    except Exception:
        logger.warning(
            "broker refused event; the outbox relay will resend it",
            extra={"unsent": len(stored) - len(sent)},
            exc_info=True,
        )
    if sent:
        OutboxEvent.objects.filter(id__in=sent, sent_at=None).update(sent_at=timezone.now())
    return len(sent)


def send_after_commit(stored: Sequence[StoredEvent], publish: Publish) -> None:
    if stored:
        transaction.on_commit(lambda: send(stored, publish), robust=True)


def relay(publish: Publish, older_than: timedelta = timedelta(seconds=5), batch: int = 500) -> int:
    """Send every unsent event older than ``older_than``; return how many were sent.

    The age keeps the relay from racing the after-commit fast path for fresh rows; a
    duplicate send is harmless anyway (consumers deduplicate on ``event_id``).
    """
    total = 0
    while True:
        with transaction.atomic():
            claimed = list(
                OutboxEvent.objects.select_for_update(skip_locked=True)
                .filter(sent_at=None, created_at__lte=timezone.now() - older_than)
                .order_by("id")[:batch]
            )
            if not claimed:
                return total
            sent = send([_stored(r) for r in claimed], publish)
        total += sent
        if sent < len(claimed):
            return total


def _stored(record: OutboxEvent) -> StoredEvent:
    return StoredEvent(record.id, record.event_id, Event.from_dict(record.name, record.payload))


def unsent_count() -> int:
    return OutboxEvent.objects.filter(sent_at=None).count()


def stored_events() -> Iterator[StoredEvent]:
    """Every event ever stored, in position order (the write side's history)."""
    return (_stored(r) for r in OutboxEvent.objects.order_by("id").iterator(chunk_size=2000))


def positions_of_order(orderid: str) -> set[tuple[str, int]]:
    """The ``(sku, version)`` of every event written for an order: its write position."""
    return set(OutboxEvent.objects.filter(orderid=orderid).values_list("sku", "version"))


def position_of_sku(sku: str) -> int:
    """The SKU's latest event version; versions are gap-free per SKU, from 1."""
    return OutboxEvent.objects.filter(sku=sku).aggregate(v=Max("version"))["v"] or 0


def oldest_unsent_age() -> timedelta | None:
    """How long the oldest unsent event has waited: the read model's lag, for the dashboard."""
    oldest = OutboxEvent.objects.filter(sent_at=None).aggregate(at=Min("created_at"))["at"]
    return None if oldest is None else timezone.now() - oldest
