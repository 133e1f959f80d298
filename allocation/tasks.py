"""Celery tasks of the write side: run event handlers, relay the outbox.

Delivery is at least once (``acks_late``, requeue on worker loss, retries with
backoff), so every handler must be idempotent; see ``orders_read.projections``.
"""

from __future__ import annotations

import logging
from typing import Any

from billiard.einfo import ExceptionInfo
from celery import Task, shared_task

from allocation.adapters import outbox
from allocation.domain.events import Event
from allocation.models import DeadLetter
from allocation.service_layer.handlers import EVENT_HANDLERS

logger = logging.getLogger(__name__)


class EventHandlerTask(Task):  # type: ignore[type-arg]
    """Parks an event whose handler failed every retry in the dead-letter table."""

    def on_failure(
        self,
        exc: Exception,
        task_id: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        einfo: ExceptionInfo,
    ) -> None:
        handler, name, payload = args
        logger.error("dead letter: %s(%s) failed for good: %r", handler, name, exc)
        DeadLetter.objects.create(
            handler=handler, event_name=name, payload=payload, error=repr(exc), task_id=task_id
        )


@shared_task(
    base=EventHandlerTask,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(Exception,),
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def handle_event(handler: str, name: str, payload: dict[str, Any]) -> None:
    from allocation.bootstrap import bootstrap

    bootstrap().handle_event(Event.from_dict(name, payload), handler)


def send_event_to_workers(stored: outbox.StoredEvent) -> None:
    """The outbox's publisher: one task per event handler, so each retries on its own.

    ``retry=False``: if the broker is down, fail now (the relay resends later) instead
    of blocking the request that committed.
    """
    event = stored.event
    for handler in EVENT_HANDLERS.get(type(event), ()):
        handle_event.apply_async(
            args=(handler.__name__, event.name, event.to_dict()),
            retry=False,
        )


@shared_task
def relay_outbox() -> int:
    return outbox.relay(send_event_to_workers)
