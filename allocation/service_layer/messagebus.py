"""The message bus: routes commands to their one handler and events to theirs.

Commands run in the caller's process and their failures reach the caller. A command
that lost an optimistic-locking race is retried a bounded number of times with
jittered backoff, and each attempt starts a fresh transaction.

Events are not handled here after a command: the Unit of Work stores them in the
outbox and a Celery task (``allocation.tasks.handle_event``) hands each event to this
bus in a worker, so a slow or failing handler never delays or breaks the command that
raised the event. There, every handler runs on its own: one that fails neither stops
the others nor, when the task retries, makes them run again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from allocation.adapters.repository import ConcurrencyError
from allocation.domain.commands import Command
from allocation.domain.events import Event

logger = logging.getLogger(__name__)

CommandHandler = Callable[[Command], Any]
EventHandler = Callable[[Event], None]


class TooMuchContention(Exception):
    """Every retry lost the race for the product: the caller should try again later."""


class HandlersFailed(Exception):
    """Some handlers of an event raised (the others ran): retry just these."""

    def __init__(self, event: Event, failures: Mapping[str, Exception]) -> None:
        self.failures = dict(failures)
        listed = ", ".join(f"{name}: {error!r}" for name, error in self.failures.items())
        super().__init__(f"{event.name} v{event.version} of {event.sku}: {listed}")


def jittered_backoff(attempt: int) -> float:
    """Full jitter: spreads competing writers so they stop colliding."""
    return random.uniform(0, min(0.25, 0.005 * 2**attempt))


class MessageBus:
    def __init__(
        self,
        command_handlers: Mapping[type[Command], CommandHandler],
        event_handlers: Mapping[type[Event], Sequence[EventHandler]],
        max_attempts: int = 30,
        backoff: Callable[[int], float] = jittered_backoff,
    ) -> None:
        self.command_handlers = command_handlers
        self.event_handlers = event_handlers
        self.max_attempts = max_attempts
        self.backoff = backoff

    def handle(self, command: Command) -> Any:
        handler = self.command_handlers[type(command)]
        for attempt in range(1, self.max_attempts + 1):
            try:
                return handler(command)
            except ConcurrencyError:
                logger.info("retrying %s after a version conflict (attempt %d)", command, attempt)
                if attempt == self.max_attempts:
                    break
                time.sleep(self.backoff(attempt))
        raise TooMuchContention(
            f"The product is busy: {type(command).__name__} lost {self.max_attempts} races; retry"
        )

    def handle_event(self, event: Event, names: Collection[str] | None = None) -> None:
        """Run every handler of the event, or only those ``names`` (a retry, a replay).

        Raises ``HandlersFailed`` naming the handlers that raised, after running all.
        """
        handlers = self.event_handlers.get(type(event), ())
        if names is not None:
            unknown = set(names) - {handler_name(h) for h in handlers}
            if unknown:
                raise LookupError(f"No handler {', '.join(sorted(unknown))} for {event.name}")
        failures: dict[str, Exception] = {}
        for handler in handlers:
            name = handler_name(handler)
            if names is not None and name not in names:
                continue
            try:
                handler(event)
            except Exception as error:
                logger.warning("%s failed on %s", name, event, exc_info=True)
                failures[name] = error
        if failures:
            raise HandlersFailed(event, failures)


def handler_name(handler: EventHandler) -> str:
    return getattr(handler, "__name__", repr(handler))
