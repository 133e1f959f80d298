"""Django's PostgreSQL backend, with a check of pooled (or persistent) connections that
costs no round trip while they are quiet (``ENGINE``, set in ``config.settings``).

Django's ``CONN_HEALTH_CHECKS`` has the pool run an empty query before it lends a
connection: every request paid a round trip for it, one more than the four an
allocation needs. But a server that ended a connection while it waited in the pool
(a restart, ``pg_terminate_backend``, an idle timeout, a proxy cut) has said so on its
socket, its last error message or the end of the stream, and a healthy idle
connection has nothing to say. So the check looks at the socket first and only asks
the server when there is something to read; a dead connection goes back to the pool,
which discards it, and another is taken.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        if self.pool is None:
            return super().get_new_connection(conn_params)
        for _ in range(self.pool.max_size):
            connection = super().get_new_connection(conn_params)
            if alive(connection):
                return connection
            self.pool.putconn(connection)  # broken: the pool closes it and makes another
        return super().get_new_connection(conn_params)  # every one was dead: a new one

    def is_usable(self) -> bool:
        """Django's health check of a persistent connection (``DB_POOL_SIZE=0``), the
        same way: no ``SELECT 1`` while the server has said nothing."""
        return self.connection is not None and alive(self.connection)


def alive(connection: psycopg.Connection[Any]) -> bool:
    """False if the server ended the connection; a round trip only if it has spoken."""
    if connection.closed:
        return False
    readable, _, _ = select.select([connection.fileno()], [], [], 0)
    if not readable:
        return True
    try:
        ConnectionPool.check_connection(connection)
    except psycopg.Error:
        return False
    return True
