"""A fix for kombu 5.7's Redis transport: a worker must survive Redis going away.

When the broker vanishes while a BRPOP is outstanding, ``Channel.close()`` first reads
that BRPOP's reply (kombu PR #1733), catching only ``Empty``. The connection error it
gets instead aborts ``close()`` before the channel is marked closed; kombu's
``Connection.collect()`` swallows the error and detaches the transport. Celery 5.7 then
closes the connection once more (celery PR #10242), which closes the half-closed
channel again, reaches ``QoS.restore_unacked_once()`` and, with the transport gone,
fails on ``self.connection.client.hostname``: an ``AttributeError`` the worker treats
as unrecoverable, so it exits ("Unrecoverable error: AttributeError("'NoneType'
object has no attribute 'hostname'")"). tests/e2e/test_broker_restarts.py reproduces
it; docs/architecture.md has what was measured.

The fix treats a connection error while reading that last reply like ``Empty``:
there is no reply to read on a dead connection (``_brpop_read`` has already dropped
the socket), so ``close()`` carries on and the channel is closed once, while the
transport is still attached. Applied only to the kombu versions known to need it.
"""

from __future__ import annotations

import logging
from importlib import metadata
from queue import Empty
from typing import Any

from kombu.transport import redis as redis_transport

logger = logging.getLogger(__name__)

AFFECTED = (5, 7)


def apply() -> None:
    channel: Any = redis_transport.Channel
    version = tuple(int(part) for part in metadata.version("kombu").split(".")[:2])
    if version != AFFECTED or getattr(channel.close, "patched", False):
        return
    close = channel.close

    def close_after_a_lost_connection(self: Any) -> None:
        if self._in_poll:
            try:
                self._brpop_read()
            except Empty:
                pass
            except self.connection_errors:
                logger.info("broker connection lost while closing the channel")
        close(self)

    close_after_a_lost_connection.patched = True  # type: ignore[attr-defined]
    channel.close = close_after_a_lost_connection
