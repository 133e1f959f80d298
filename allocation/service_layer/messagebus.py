"""The message bus: routes commands to their one handler and events to theirs.

Commands run in the caller's process and their failures reach the caller. A command
that lost an optimistic-locking race is retried a bounded number of times with
jittered backoff, and each attempt starts a fresh transaction.

Events are not handled here after a command: the Unit of Work stores them in the
outbox and Celery runs each event handler as its own task (``handle_event``), so a
slow or failing handler never delays or breaks the command that raised the event.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from allocation.adapters.repository import ConcurrencyError
from allocation.domain.commands import Command
from allocation.domain.events import Event

logger = logging.getLogger(__name__)

CommandHandler = Callable[[Command], Any]
EventHandler = Callable[[Event], None]


class TooMuchContention(Exception):
    """Every retry lost the race for the product: the caller should try again later."""


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

    def handler_names(self, event: Event) -> list[str]:
        return [handler_name(h) for h in self.event_handlers.get(type(event), ())]

    def handle_event(self, event: Event, name: str) -> None:
        """Run the one handler called ``name`` for this event (a Celery task does this)."""
        for handler in self.event_handlers.get(type(event), ()):
            if handler_name(handler) == name:
                handler(event)
                return
        raise LookupError(f"No handler {name} for {event.name}")


def handler_name(handler: EventHandler) -> str:
    return getattr(handler, "__name__", repr(handler))
