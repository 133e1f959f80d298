"""Hands stored events to the Celery workers: the outbox's publisher.

Tasks are looked up by their registered name, the wire contract between this sender
and ``allocation.entrypoints.tasks``, so the adapter does not import the entrypoint.
With eager tasks (the embedded setup) the same call runs the task in-process.
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import current_app

from allocation.adapters.outbox import StoredEvent

HANDLE_EVENTS = "allocation.tasks.handle_events"
HANDLE_EVENT = "allocation.tasks.handle_event"
RELAY_OUTBOX = "allocation.tasks.relay_outbox"
"""The tasks' names: kept from before they moved, so queued messages still find them."""


def send_events_to_workers(stored: Sequence[StoredEvent]) -> None:
    """One task per batch.

    ``retry=False``: if the broker is down, fail now; the relay tries again on its
    next round instead of blocking.
    """
    batch = [(item.name, item.payload) for item in stored]
    current_app.tasks[HANDLE_EVENTS].apply_async(args=(batch,), retry=False)
