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
from typing import Any

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

    ``from_pool``: the connection goes back to the pool first, and whichever one the
    block then takes is traced from the moment it is lent, as a request takes it.
    """
    connection = connections[alias]
    counted = RoundTrips()
    traced: list[pq.abc.PGconn] = []
    with tempfile.TemporaryFile("w+") as trace:

        def start(pgconn: pq.abc.PGconn) -> None:
            pgconn.trace(trace.fileno())
            pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            traced.append(pgconn)

        if from_pool:
            connection.close()
            take = connection.get_new_connection

            def taking(params: dict[str, Any]) -> Any:
                lent = take(params)
                start(lent.pgconn)
                return lent

            connection.get_new_connection = taking  # type: ignore[method-assign,assignment]
        else:
            connection.ensure_connection()
            start(connection.connection.pgconn)
        try:
            yield counted
        finally:
            if from_pool:
                del connection.get_new_connection
            for pgconn in traced:
                pgconn.untrace()
            trace.seek(0)
            counted.trace = trace.read()
    sides = [line.split("\t", 1)[0] for line in counted.trace.splitlines()]
    sides = [side for side in sides if side in ("F", "B")]
    counted.count = sum(1 for pair in pairwise(sides) if pair == ("F", "B"))
    if from_pool and not traced:
        raise RuntimeError("the block took no connection: nothing counted")
