"""Composition root: wires handlers to real (or, in tests, fake) infrastructure.

Call ``bootstrap()`` once per request, task or management command. Nothing here is a
module-level singleton, so threads never share a Unit of Work.

It also wires the event pipeline's two halves: the outbox (write side) and the read
model's tracking records, compared by ``allocation.service_layer.delivery``; and it
gives the read side the adapters of its ports (``allocation.adapters.read_ports``):
the positions written, for read-your-writes, and the write side's state, for a rebuild.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from allocation.adapters import metrics, notifications, outbox, redis_publisher
from allocation.adapters.read_ports import OutboxPositions, WriteSideState
from allocation.adapters.unit_of_work import DjangoUnitOfWork
from allocation.service_layer import delivery, handlers
from allocation.service_layer.messagebus import MessageBus, Projection
from allocation.service_layer.unit_of_work import AbstractUnitOfWork
from orders_read import projections, rebuild, tracking
from orders_read.freshness import WritePositions


def bootstrap(
    uow: AbstractUnitOfWork | None = None,
    publish: handlers.Publish | None = None,
    append: handlers.Append | None = None,
    notify: handlers.Notify | None = None,
    project: Projection | None = None,
    send_events: outbox.Publish | None = None,
) -> MessageBus:
    """The bus, with real infrastructure for whatever is not given.

    With a broker, a command's events wait in the outbox for the relay, which the
    commit itself wakes (PostgreSQL) or its timer finds; the request does nothing
    more. Without one (the embedded setup, eager tasks), they are delivered in-process
    right after the commit.
    """
    if uow is None:
        # From Django's settings, not Celery's conf: reading that through the app proxy
        # was a large share of an allocate request's CPU (docs/performance.md).
        in_process = settings.CELERY_TASK_ALWAYS_EAGER
        uow = DjangoUnitOfWork(send_events or outbox.send_events_to_workers if in_process else None)
    dependencies: dict[str, Any] = {
        "uow": uow,
        "publish": publish or redis_publisher.publish,
        "append": append or redis_publisher.append,
        "notify": notify or notifications.email_stock_team,
    }
    return MessageBus(
        command_handlers={
            command_type: _counted(_inject(handler, dependencies))
            for command_type, handler in handlers.COMMAND_HANDLERS.items()
        },
        event_handlers={
            event_type: {name: _inject(handler, dependencies) for name, handler in named.items()}
            for event_type, named in handlers.EVENT_HANDLERS.items()
        },
        projection=project or projections.project,
        previews={
            command_type: _inject(preview, dependencies)
            for command_type, preview in handlers.PREVIEWS.items()
        },
        uow=uow,
    )


def reconcile(send_events: outbox.Publish = outbox.send_events_to_workers) -> int:
    """Resend what is written but not applied after ``RECONCILE_AFTER``; how many."""
    return delivery.reconcile(
        outbox.OutboxLedger(send_events), tracking, timedelta(seconds=settings.RECONCILE_AFTER)
    )


def deliver_pending(send_events: outbox.Publish = outbox.send_events_to_workers) -> int:
    """One round of the relay and the reconciler: events sent (first time or again)."""
    return outbox.relay(send_events) + reconcile(send_events)


def read_model_lag() -> delivery.Lag:
    """Events written but not applied, for /readyz, /metrics and the dashboard."""
    return delivery.lag(
        outbox.OutboxLedger(outbox.send_events_to_workers), tracking, timezone.now()
    )


def write_positions() -> WritePositions:
    """What the write side has written, for the reads that wait for it (selectors)."""
    return OutboxPositions()


def rebuild_read_model(progress: rebuild.Progress | None = None) -> int:
    """Rebuild the read model from the write side's state; the number of orders."""
    return rebuild.rebuild_read_model(WriteSideState(), progress)


def _counted(handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Counts each attempt by outcome: "ok", or the error's class (a lost race included)."""
    name = handler.__name__

    def run(command: Any) -> Any:
        try:
            result = handler(command)
        except Exception as error:
            metrics.COMMANDS.labels(name, type(error).__name__).inc()
            raise
        metrics.COMMANDS.labels(name, "ok").inc()
        return result

    return run


def _inject(handler: Callable[..., Any], dependencies: dict[str, Any]) -> Callable[[Any], Any]:
    given = {name: dep for name, dep in dependencies.items() if name in _parameters(handler)}

    def run(message: Any) -> Any:
        return handler(message, **given)

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


@functools.cache
def _parameters(handler: Callable[..., Any]) -> frozenset[str]:
    """Handlers never change at run time, and inspecting them costs more than a query."""
    return frozenset(inspect.signature(handler).parameters)
