"""The message bus: routes commands to their one handler and events to theirs.

Commands run in the caller's process and their failures reach the caller. A command
that lost an optimistic-locking race is retried a bounded number of times with
jittered backoff, and each attempt starts a fresh transaction. Some commands can also
be previewed: what they would do now, with nothing written (``preview``).

Events are not handled here after a command: the Unit of Work stores them in the
outbox, the relay hands them to Celery in batches, and a task
(``allocation.entrypoints.tasks.handle_events``) gives each batch to this bus in a worker, so a slow
or failing handler never delays or breaks the command that raised the event.

There an event's side effects (publishing, notifying) run first, each on its own,
then the read model's projection applies the whole batch in one transaction. An event
counts as delivered once the projection has applied it (the tracking record it writes
in the same transaction), so a worker that dies before then leaves the event
unapplied and the reconciler sends it again: side effects are at least once, never
"at most". A handler that fails neither stops the others nor, when it is retried,
makes them run again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from allocation.domain.commands import Command
from allocation.domain.events import Event
from allocation.service_layer.actor import SYSTEM, Actor
from allocation.service_layer.unit_of_work import AbstractUnitOfWork, ConcurrencyError

logger = logging.getLogger(__name__)

CommandHandler = Callable[[Command], Any]
EventHandler = Callable[[Event], None]
Projection = Callable[[Sequence[Event]], None]

PROJECTION = "update_read_model"
"""The projection's stable name, as retries and dead letters name it (beside the
side effects' names, declared with them in ``handlers.EVENT_HANDLERS``)."""


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
        event_handlers: Mapping[type[Event], Mapping[str, EventHandler]],
        projection: Projection,
        uow: AbstractUnitOfWork,
        max_attempts: int = 30,
        backoff: Callable[[int], float] = jittered_backoff,
        previews: Mapping[type[Command], CommandHandler] | None = None,
    ) -> None:
        """``uow``: the Unit of Work the command handlers were given, told who each
        command is for."""
        self.command_handlers = command_handlers
        self.previews = previews or {}
        self.event_handlers = event_handlers
        self.projection = projection
        self.uow = uow
        self.max_attempts = max_attempts
        self.backoff = backoff

    def handle(self, command: Command, actor: Actor = SYSTEM) -> Any:
        """Run the command's handler; what it returns.

        ``actor``: who asked, as the entrypoint knows it. The Unit of Work stores it
        with every event the command raises: metadata beside the events, so neither
        the command nor the domain carries it.
        """
        handler = self.command_handlers[type(command)]
        self.uow.actor = actor
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

    def preview(self, command: Command) -> Any:
        """What the command would do now, computed as its handler would, written nowhere.

        Not retried: a preview writes nothing, so it cannot lose a version race.
        """
        return self.previews[type(command)](command)

    def handle_events(self, events: Sequence[Event]) -> dict[int, dict[str, Exception]]:
        """Side effects of each event, then the projection of them all in one go.

        Returns the failures by the event's index in ``events``, for the caller to
        retry event by event. A batch the projection refuses is projected one event at
        a time, so a poison event never holds back the events beside it.
        """
        failures: dict[int, dict[str, Exception]] = {}
        for index, event in enumerate(events):
            for name, handler in self.event_handlers.get(type(event), {}).items():
                if error := _run(name, handler, event):
                    failures.setdefault(index, {})[name] = error
        try:
            self.projection(events)
        except Exception as error:
            logger.warning("projecting a batch of %d failed", len(events), exc_info=True)
            for index, event in enumerate(events):
                alone = error if len(events) == 1 else _run(PROJECTION, self._project_one, event)
                if alone:
                    failures.setdefault(index, {})[PROJECTION] = alone
        return failures

    def handle_event(self, event: Event, names: Collection[str] | None = None) -> None:
        """Run every handler of the event, or only those ``names`` (a retry, a replay).

        Raises ``HandlersFailed`` naming the handlers that raised, after running all.
        """
        handlers = {**self.event_handlers.get(type(event), {}), PROJECTION: self._project_one}
        if names is not None:
            unknown = set(names) - set(handlers)
            if unknown:
                raise LookupError(f"No handler {', '.join(sorted(unknown))} for {event.name}")
        failures: dict[str, Exception] = {}
        for name, handler in handlers.items():
            if names is not None and name not in names:
                continue
            if error := _run(name, handler, event):
                failures[name] = error
        if failures:
            raise HandlersFailed(event, failures)

    def _project_one(self, event: Event) -> None:
        self.projection([event])


def _run(name: str, handler: EventHandler, event: Event) -> Exception | None:
    """Run one handler inside its own error boundary; the error, if it raised."""
    try:
        handler(event)
    except Exception as error:
        logger.warning("%s failed on %s", name, event, exc_info=True)
        return error
    return None
