"""Celery tasks of the write side: hand events to their handlers, relay the outbox.

Delivery is at least once (``acks_late``, requeue on worker loss, retries with
backoff), so every handler must be idempotent; see ``orders_read.projections``.

One message per event, not per handler: publishing is the costliest part of the
after-commit work in the web process, and a worker runs an event's few handlers in one
go. A retry carries only the handlers that failed, so the others never run twice
because of a neighbour, and a dead letter names the one handler that kept failing.
"""

from __future__ import annotations

import logging
from typing import Any

from billiard.einfo import ExceptionInfo
from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval

from allocation.adapters import outbox
from allocation.domain.events import Event
from allocation.models import DeadLetter
from allocation.service_layer.messagebus import HandlersFailed

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
BACKOFF_MAX_SECONDS = 60


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
            DeadLetter.objects.create(
                handler=handler,
                event_name=name,
                payload=payload,
                error=repr(error),
                task_id=task_id,
            )


@shared_task(
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
    self: EventTask, name: str, payload: dict[str, Any], handlers: list[str] | None = None
) -> None:
    """Run the event's handlers (``handlers``: only these, as a retry or a replay does)."""
    from allocation.bootstrap import bootstrap

    try:
        bootstrap().handle_event(Event.from_dict(name, payload), handlers)
    except HandlersFailed as failed:
        countdown = get_exponential_backoff_interval(
            factor=1, retries=self.request.retries, maximum=BACKOFF_MAX_SECONDS, full_jitter=True
        )
        raise self.retry(
            kwargs={"handlers": sorted(failed.failures)}, exc=failed, countdown=countdown
        ) from failed


def send_event_to_workers(stored: outbox.StoredEvent) -> None:
    """The outbox's publisher: one task per event.

    ``retry=False``: if the broker is down, fail now (the relay resends later) instead
    of blocking the request that committed.
    """
    event = stored.event
    handle_event.apply_async(args=(event.name, event.to_dict()), retry=False)


@shared_task
def relay_outbox() -> int:
    return outbox.relay(send_event_to_workers)
