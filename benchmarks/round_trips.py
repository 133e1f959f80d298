"""Round trips to PostgreSQL, counted from libpq's own protocol trace.

A round trip is the client waiting for the server: in the trace, a run of messages
sent (``F``) followed by messages received (``B``). Statements that travel together in
a pipeline count once; ``BEGIN`` and ``COMMIT`` count too. Query counters (Django's
``CaptureQueriesContext``) cannot tell these apart.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise

from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import pq


class RoundTrips:
    count = 0
    trace = ""


@contextmanager
def counting_round_trips(
    alias: str = DEFAULT_DB_ALIAS, from_pool: bool = False
) -> Iterator[RoundTrips]:
    """Count the round trips of the block on ``alias``'s connection (PostgreSQL only).

    ``from_pool``: the connection goes back to the pool first, so that the block takes
    it from there as a request does (the pool's check counts too). The process must
    keep the pool to itself meanwhile: the pool is drained to hold one connection, and
    the count fails if the block used another.
    """
    connection = connections[alias]
    if from_pool:  # one connection in the pool, so that the block takes this one
        connection.close()
        connection.pool.drain()  # type: ignore[attr-defined]
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    counted = RoundTrips()
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        if from_pool:
            connection.close()
        try:
            yield counted
        finally:
            pgconn.untrace()
            trace.seek(0)
            counted.trace = trace.read()
    sides = [line.split("\t", 1)[0] for line in counted.trace.splitlines()]
    sides = [side for side in sides if side in ("F", "B")]
    counted.count = sum(1 for pair in pairwise(sides) if pair == ("F", "B"))
    if from_pool and not counted.count:
        raise RuntimeError("the block took another connection from the pool: nothing counted")
