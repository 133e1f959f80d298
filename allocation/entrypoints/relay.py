"""The relay, following the outbox: ``manage.py relay_outbox --follow``.

A long-running process, so that requests never talk to the broker. It sends what the
outbox holds, then sleeps until PostgreSQL notifies it of a commit (the outbox's
insert trigger), or until its timer fires (other databases, and a safety net). Woken
by a commit, it lingers before claiming, so that the commits of that moment travel as
one batch: one message, one projection transaction, instead of one per event (a few
milliseconds of lag for a fraction of the CPU per event). How long grows with the
load (``lingering``): ``RELAY_LINGER`` while rounds are small, up to
``RELAY_LINGER_MAX`` when they are big, where the workers' CPU is short. Every
``RECONCILE_EVERY`` seconds it also runs the reconciler, which resends whatever was
written but is still not applied ``RECONCILE_AFTER`` seconds later.

Faults are waited out, not fatal: a broker that refuses a batch leaves it unsent for
the next round; a lost database connection is reopened with backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from allocation import bootstrap
from allocation.adapters import outbox

logger = logging.getLogger(__name__)

CHANNEL = "allocation_outbox"
STOP_CHECK = 0.25
"""Seconds between looks at the stop flag while waiting."""
Observe = Callable[[int], None]


def follow(
    stop: threading.Event,
    send_events: outbox.Publish,
    *,
    poll: float | None = None,
    reconcile_every: float | None = None,
    linger: float | None = None,
    on_ready: Callable[[], None] | None = None,
    on_batch: Observe | None = None,
) -> None:
    """Relay until ``stop`` is set (from a signal handler or another thread)."""
    poll = settings.RELAY_POLL_INTERVAL if poll is None else poll
    reconcile_every = settings.RECONCILE_EVERY if reconcile_every is None else reconcile_every
    linger = settings.RELAY_LINGER if linger is None else linger
    longest = max(linger, settings.RELAY_LINGER_MAX)
    listener: Listener | None = None
    next_reconcile = 0.0
    pause = 0.0
    sent = 0
    while not stop.is_set():
        try:
            if listener is None:
                listener = Listener.open()
                if on_ready:
                    on_ready()
            sent = outbox.relay(send_events)
            if on_batch and sent:
                on_batch(sent)
            if time.monotonic() >= next_reconcile:
                bootstrap.reconcile(send_events)
                next_reconcile = time.monotonic() + reconcile_every
            pause = 0.0
            if listener.wait(poll, stop) and linger:
                stop.wait(lingering(sent, linger, longest))
        except (DatabaseError, psycopg.Error):
            pause = min(max(pause * 2, 0.1), 5.0)
            logger.warning("relay: database unavailable; retrying in %.1fs", pause, exc_info=True)
            if listener is not None:
                listener.close()
                listener = None
            close_old_connections()
            stop.wait(pause)
    if listener is not None:
        listener.close()


SMALL_ROUND = 4
"""Events a round may send at a light load (up to about 100 a second, in bursts): the
relay then lingers its shortest, which is what the lag is measured at."""


def lingering(last_round: int, shortest: float, longest: float) -> float:
    """How long to linger after a wake-up, given how many events the last round sent.

    In proportion to the last round beyond a small one: at a light load, the shortest
    linger (lag matters, and the workers have CPU to spare); as rounds grow, longer,
    so each message and projection transaction carries more events, up to ``longest``.
    """
    return min(longest, shortest * max(1.0, last_round / SMALL_ROUND))


class Listener:
    """LISTEN on its own connection (PostgreSQL); elsewhere a plain timer."""

    def __init__(self, conn: psycopg.Connection[tuple[object, ...]] | None) -> None:
        self._conn = conn

    @classmethod
    def open(cls) -> Listener:
        if connection.vendor != "postgresql":
            return cls(None)
        params = connection.get_connection_params()
        for driver_only in ("cursor_factory", "context", "prepare_threshold"):
            params.pop(driver_only, None)
        conn = psycopg.connect(**params, autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        return cls(conn)

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        """Sleep until notified, ``timeout`` passes or ``stop`` is set; True if notified.

        Listens in short slices so that a stop request is honoured within a quarter of
        a second whatever the timeout.
        """
        deadline = time.monotonic() + timeout
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if self._conn is None:
                stop.wait(min(left, STOP_CHECK))
                continue
            if any(True for _ in self._conn.notifies(timeout=min(left, STOP_CHECK), stop_after=1)):
                for _ in self._conn.notifies(timeout=0):  # drain: one round serves them all
                    pass
                return True
        return False

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
