"""Composition root: wires handlers to real (or, in tests, fake) infrastructure.

Call ``bootstrap()`` once per request, task or management command. Nothing here is a
module-level singleton, so threads never share a Unit of Work.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from allocation.adapters import notifications, redis_publisher
from allocation.adapters.outbox import Publish as PublishStored
from allocation.service_layer import handlers
from allocation.service_layer.messagebus import MessageBus
from allocation.service_layer.unit_of_work import AbstractUnitOfWork, DjangoUnitOfWork


def bootstrap(
    uow: AbstractUnitOfWork | None = None,
    publish: handlers.Publish | None = None,
    notify: handlers.Notify | None = None,
    project: handlers.Project | None = None,
    send_event: PublishStored | None = None,
) -> MessageBus:
    if uow is None:
        from allocation.tasks import send_event_to_workers

        uow = DjangoUnitOfWork(send_event or send_event_to_workers)
    if project is None:
        from orders_read.projections import project as project_into_read_model

        project = project_into_read_model
    dependencies: dict[str, Any] = {
        "uow": uow,
        "publish": publish or redis_publisher.publish,
        "notify": notify or notifications.email_stock_team,
        "project": project,
    }
    return MessageBus(
        command_handlers={
            command_type: _inject(handler, dependencies)
            for command_type, handler in handlers.COMMAND_HANDLERS.items()
        },
        event_handlers={
            event_type: [_inject(handler, dependencies) for handler in event_handlers]
            for event_type, event_handlers in handlers.EVENT_HANDLERS.items()
        },
    )


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
