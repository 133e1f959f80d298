"""The Celery tasks: hand events to the bus in a worker, relay the outbox.

The relay (``manage.py relay_outbox --follow``) sends events in batches to
``handle_events``: side effects per event, then one projection transaction for the
batch. Whatever fails there is retried event by event through ``handle_event``, with
backoff, and parked in the dead-letter table after its last retry, one row per
handler, so a poison event never holds back the others.

Delivery is at least once (``acks_late``, requeue on worker loss, retries, and the
reconciler resending what the read model has not applied), so every handler must be
idempotent; see ``orders_read.projections``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from billiard.einfo import ExceptionInfo
from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval

from allocation.adapters import outbox
from allocation.adapters.outbox import HANDLE_EVENT, HANDLE_EVENTS, RELAY_OUTBOX
from allocation.bootstrap import bootstrap, deliver_pending
from allocation.domain.events import Event
from allocation.service_layer.messagebus import HandlersFailed

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
BACKOFF_MAX_SECONDS = 60

Batch = list[tuple[Any, ...]]
"""Events as they travel: ``[(name, payload, occurred_at ISO 8601, actor), ...]``;
messages queued by an older release carry no actor, or neither (the projection then
uses its own time, and the history says nobody)."""


def occurred(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso) if iso else None


def metadata(occurred_at: datetime | None, actor: str | None) -> dict[str, str | None]:
    """What travels beside an event's payload, as ``handle_event``'s arguments."""
    return {"occurred_at": occurred_at.isoformat() if occurred_at else None, "actor": actor}


def backoff(retries: int) -> int:
    return get_exponential_backoff_interval(
        factor=1, retries=retries, maximum=BACKOFF_MAX_SECONDS, full_jitter=True
    )


class EventTask(Task):  # type: ignore[type-arg]
    """Parks what failed every retry in the dead-letter table, one row per handler."""

    def on_failure(
        self,
        exc: Exception,
        task_id: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        einfo: ExceptionInfo,
    ) -> None:
        name, payload = args
        if isinstance(exc, HandlersFailed):
            failures: dict[str, Exception] = exc.failures
        else:  # the event itself could not be handled: every handler asked for missed it
            failures = {handler: exc for handler in kwargs.get("handlers") or [""]}
        for handler, error in failures.items():
            logger.error("dead letter: %s(%s) failed for good: %r", handler or "*", name, error)
            outbox.park(handler, name, payload, repr(error), task_id)


@shared_task(name=HANDLE_EVENTS, acks_late=True, reject_on_worker_lost=True)
def handle_events(batch: Batch) -> None:
    """Run a batch of events; retry what failed event by event (``handle_event``)."""
    events: list[Event] = []
    for name, payload, *beside in batch:
        at = beside[0] if beside else None
        actor = beside[1] if len(beside) > 1 else None
        try:
            events.append(Event.from_dict(name, payload, occurred(at), actor))
        except Exception:  # unreadable: the single-event path retries and parks it
            logger.warning("cannot read event %s %r", name, payload, exc_info=True)
            handle_event.apply_async(
                (name, payload), {"occurred_at": at, "actor": actor}, countdown=backoff(0)
            )
    for index, failures in bootstrap().handle_events(events).items():
        event = events[index]
        handle_event.apply_async(
            (event.name, event.to_dict()),
            {"handlers": sorted(failures), **metadata(event.occurred_at, event.actor)},
            countdown=backoff(0),
        )


@shared_task(
    name=HANDLE_EVENT,
    base=EventTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(Exception,),
    retry_backoff=1,
    retry_backoff_max=BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def handle_event(
    self: EventTask,
    name: str,
    payload: dict[str, Any],
    handlers: list[str] | None = None,
    occurred_at: str | None = None,
    actor: str | None = None,
) -> None:
    """Run one event's handlers (``handlers``: only these, as a retry or a replay does)."""
    event = Event.from_dict(name, payload, occurred(occurred_at), actor)
    try:
        bootstrap().handle_event(event, handlers)
    except HandlersFailed as failed:
        raise self.retry(
            kwargs={"handlers": sorted(failed.failures), **metadata(event.occurred_at, actor)},
            exc=failed,
            countdown=backoff(self.request.retries + 1),
        ) from failed


@shared_task(name=RELAY_OUTBOX)
def relay_outbox() -> int:
    """The periodic fallback (celery beat) for a relay that is not following."""
    return deliver_pending()
