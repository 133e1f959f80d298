"""The transactional outbox: events stored with the change, handed to the broker later.

``store`` runs inside the Unit of Work's transaction; on PostgreSQL the insert also
notifies the relay (a trigger, see ``allocation.models.OutboxEvent``), so a request
never talks to the broker. ``relay`` claims rows no one has sent yet with SKIP LOCKED
(two relays never send the same row at once) and hands them over in batches, however
old they are. Handing over is not delivering: ``OutboxLedger`` is the write side's
half of the check that every event was *applied* (``allocation.service_layer.delivery``),
and resends what was not.

A little over the project's 300 lines: storing, relaying, resending and parking are the
life of one table, read together.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property, reduce
from operator import or_
from typing import Any

from celery import current_app
from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Min, Q, QuerySet
from django.utils import timezone

from allocation.adapters.prepared import Prepared, fields_of, inserting
from allocation.domain.events import Event, LineEvent
from allocation.models import DeadLetter, OutboxEvent, ProductRecord
from allocation.service_layer.actor import Actor
from allocation.service_layer.messagebus import PROJECTION

logger = logging.getLogger(__name__)

BATCH_SIZE = 50
"""Events per broker message: big enough to amortise a message, small enough to spread."""


@dataclass(frozen=True)
class StoredEvent:
    """An outbox row: its position, and the event as it travels (name, payload, and
    when it was stored and who asked, which the read model's histories show)."""

    position: int
    name: str
    payload: dict[str, Any]
    occurred_at: datetime
    actor: str | None

    @cached_property
    def event(self) -> Event:
        return Event.from_dict(self.name, self.payload, self.occurred_at, self.actor)


Publish = Callable[[Sequence[StoredEvent]], None]
"""Hands a batch of stored events to the broker as one message; raises if refused."""

HANDLE_EVENTS = "allocation.tasks.handle_events"
HANDLE_EVENT = "allocation.tasks.handle_event"
RELAY_OUTBOX = "allocation.tasks.relay_outbox"
"""The Celery tasks' names (``allocation.entrypoints.tasks``): the wire contract between
the outbox and the workers, so this adapter does not import the entrypoint. Kept from
before the tasks moved, so messages queued by an older release still find them."""


def send_events_to_workers(stored: Sequence[StoredEvent]) -> None:
    """The real ``Publish``: one ``handle_events`` task per batch.

    ``retry=False``: if the broker is down, fail now; the relay tries again on its
    next round instead of blocking. With eager tasks (the embedded setup) the same call
    runs the task in-process.
    """
    batch = [(item.name, item.payload, item.occurred_at.isoformat(), item.actor) for item in stored]
    current_app.tasks[HANDLE_EVENTS].apply_async(args=(batch,), retry=False)


def store(events: Sequence[Event], actor: Actor) -> Callable[[], list[StoredEvent]]:
    """The events' outbox rows, with who asked for them, in the Unit of Work's
    transaction. What it returns reads their positions: in a pipeline, once the pipeline
    has closed."""
    who = str(actor)
    if len(events) == 1:  # what most commands raise: one statement built once
        [event] = events
        payload = event.to_dict()
        stored_at = timezone.now()
        sent = _STORE_ONE.send(
            event_id=uuid.uuid4(),
            name=event.name,
            sku=event.sku,
            version=event.version,
            orderid=_orderid(event),
            payload=payload,
            created_at=stored_at,
            actor=who,
        )

        def stored_one() -> list[StoredEvent]:
            [(position,)] = sent.rows()
            return [StoredEvent(position, event.name, payload, stored_at, who)]

        return stored_one
    records = OutboxEvent.objects.bulk_create(
        OutboxEvent(
            name=event.name,
            sku=event.sku,
            version=event.version,
            orderid=_orderid(event),
            payload=event.to_dict(),
            actor=who,
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
    stored = [_stored(r) for r in records]
    return lambda: stored


def _orderid(event: Event) -> str | None:
    return event.orderid if isinstance(event, LineEvent) else None


_STORE_ONE = Prepared(
    lambda **values: inserting(OutboxEvent(**values)),
    fields_of(
        OutboxEvent,
        event_id="event_id",
        name="name",
        sku="sku",
        version="version",
        orderid="orderid",
        payload="payload",
        created_at="created_at",
        actor="actor",
    ),
    OutboxEvent,
    returning=True,
)


def send(stored: Sequence[StoredEvent], publish: Publish) -> int:
    """Publish in batches, in order, and record what the broker took; stop at a failure."""
    sent = _publish(stored, publish)
    if sent:
        OutboxEvent.objects.filter(id__in=[s.position for s in stored[:sent]]).update(
            sent_at=timezone.now(), sends=F("sends") + 1
        )
    return sent


def _publish(stored: Sequence[StoredEvent], publish: Publish) -> int:
    """Hand the events over ``BATCH_SIZE`` to a message; how many the broker took."""
    sent = 0
    try:
        for start in range(0, len(stored), BATCH_SIZE):
            chunk = stored[start : start + BATCH_SIZE]
            publish(chunk)
            sent += len(chunk)
    except Exception:
        logger.warning(
            "broker refused events; they will be sent again",
            extra={"unsent": len(stored) - sent},
            exc_info=True,
        )
    return sent


def send_after_commit(stored: Sequence[StoredEvent], publish: Publish) -> None:
    """In-process delivery for the embedded setup, where there is no relay to wake."""
    if stored:
        transaction.on_commit(lambda: send(stored, publish), robust=True)


def relay(publish: Publish, older_than: timedelta = timedelta(0), claim: int = 500) -> int:
    """Send every event never sent (and older than ``older_than``); how many were sent."""
    total = 0
    while True:
        claimed = _claim_unsent(older_than, claim)
        sent = _publish_claimed(claimed, publish)
        total += sent
        if len(claimed) < claim or sent < len(claimed):  # all taken, or the broker refused
            return total


def _claim_unsent(older_than: timedelta, limit: int) -> list[StoredEvent]:
    """Mark up to ``limit`` unsent rows sent and return them, in one statement.

    The relay's hot path, so one round trip instead of a transaction around a locking
    SELECT and an UPDATE: ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)
    RETURNING``, which the ORM cannot express. Marked before it is published: a relay
    that dies in between leaves rows marked but not sent, which the reconciler resends
    (as it does whatever else gets lost on the way).
    """
    connection = connections[router.db_for_write(OutboxEvent) or "default"]
    quote = connection.ops.quote_name
    table = quote(OutboxEvent._meta.db_table)
    skip_locked = connection.features.has_select_for_update_skip_locked
    now = timezone.now()
    when = OutboxEvent._meta.get_field("sent_at")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET sent_at = %s, sends = sends + 1 WHERE id IN"
            f" (SELECT id FROM {table} WHERE sent_at IS NULL AND created_at <= %s"
            f" ORDER BY id LIMIT %s{' FOR UPDATE SKIP LOCKED' if skip_locked else ''})"
            " RETURNING id, name, payload, created_at, actor",
            [
                when.get_db_prep_value(now, connection),
                when.get_db_prep_value(now - older_than, connection),
                limit,
            ],
        )
        rows = cursor.fetchall()
    return [
        StoredEvent(id_, name, _json(payload), _datetime(created_at, connection), actor)
        for id_, name, payload, created_at, actor in sorted(rows)
    ]


def _publish_claimed(claimed: Sequence[StoredEvent], publish: Publish) -> int:
    """Publish rows already marked sent; unmark the ones the broker did not take."""
    sent = _publish(claimed, publish)
    if sent < len(claimed):
        OutboxEvent.objects.filter(id__in=[s.position for s in claimed[sent:]]).update(
            sent_at=None, sends=F("sends") - 1
        )
    return sent


def _json(payload: Any) -> dict[str, Any]:
    """A JSON column as a dict, whether the driver parsed it or not."""
    loaded: dict[str, Any] = json.loads(payload) if isinstance(payload, str | bytes) else payload
    return loaded


def _datetime(value: Any, connection: BaseDatabaseWrapper) -> datetime:
    """A datetime from a raw cursor, as the ORM would return it: PostgreSQL's driver
    gives an aware one, SQLite's a naive one (or a string) its backend converts."""
    convert = getattr(connection.ops, "convert_datetimefield_value", None)
    converted: datetime = convert(value, None, connection) if convert else value
    return converted


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
    return StoredEvent(record.id, record.name, record.payload, record.created_at, record.actor)


def stored_events() -> Iterator[StoredEvent]:
    """Every event ever stored, in position order (the write side's history)."""
    return (_stored(r) for r in OutboxEvent.objects.order_by("id").iterator(chunk_size=2000))


def stored(sku: str, version: int | None) -> StoredEvent | None:
    """The event ``(sku, version)`` as the outbox stored it, if it did."""
    if version is None:
        return None
    found = OutboxEvent.objects.filter(sku=sku, version=version).first()
    return _stored(found) if found else None


def park(handler: str, name: str, payload: dict[str, Any], error: str, task_id: str) -> None:
    """A dead letter: the handler failed the event for good ("": the event itself failed).

    The reconciler leaves a parked projection alone until an operator replays it.
    """
    sku, version = payload.get("sku"), payload.get("version")
    DeadLetter.objects.create(
        handler=handler,
        event_name=name,
        payload=payload,
        error=error,
        task_id=task_id,
        sku=str(sku or "")[:255],
        version=version if isinstance(version, int) and version >= 0 else None,
    )


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
