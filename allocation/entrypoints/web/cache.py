"""Django's Redis cache, degrading to a miss when Redis is unreachable.

Redis holds nothing here that the database does not (sessions are written through to
it, users and permissions are read from it), so a Redis restart or a lost network must
not fail requests: a read that cannot reach Redis is a miss and its caller falls back
to the database; a write is skipped. What a skipped write or delete leaves in Redis
may be out of date when it comes back (a session logged out meanwhile, a user whose
permissions changed), so those keys are remembered and deleted before this process
uses Redis again. Another process may read such an entry until then: at most until
this one's next request. Connections give up after half a second and are not retried
with backoff (redis-py's default retries for seconds), so an outage costs a request
little time. ``incr`` and ``clear`` still raise: nothing here uses them.

One ``redis.Redis`` client is kept per connection pool: Django's client builds one for
every get or set, and building it (its table of response callbacks) cost more CPU than
the GET it then sends; a logged-in page reads the cache twice (session, user). A client
is safe to share between threads (each command borrows a connection from the pool).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from functools import partial
from typing import Any, TypeAlias, TypeVar

from django.core.cache.backends import redis as django_redis
from redis import ConnectionPool, Redis, RedisError
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

Key: TypeAlias = str | bytes | memoryview
Expiry: TypeAlias = int | timedelta
T = TypeVar("T")

POOL_DEFAULTS: dict[str, Any] = {
    "socket_connect_timeout": 0.5,
    "socket_timeout": 0.5,
    # Once more at once: a pooled connection Redis closed on restart fails its first use.
    "retry": Retry(NoBackoff(), 1),
}
"""Connection options unless the cache's OPTIONS say otherwise."""


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**POOL_DEFAULTS, **kwargs})
        self._clients: dict[ConnectionPool, Redis] = {}
        self._stale: set[Key] = set()
        self._lock = threading.Lock()
        self._reachable = True

    def get_client(self, key: Key | None = None, *, write: bool = False) -> Redis:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = super().get_client(key, write=write)
        return client

    # -- reads: a miss when unreachable ---------------------------------------------------

    def get(self, key: Key, default: Any) -> Any:
        return self._attempt(partial(super().get, key, default), default)

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        return self._attempt(partial(super().get_many, keys), {})

    def has_key(self, key: Key) -> bool:
        return self._attempt(partial(super().has_key, key), False)

    # -- writes: skipped when unreachable, their keys deleted once it is back ---------------

    def add(self, key: Key, value: Any, timeout: Expiry | None) -> bool:
        return self._attempt(partial(super().add, key, value, timeout), False, [key])

    def set(self, key: Key, value: Any, timeout: Expiry | None) -> None:
        self._attempt(partial(super().set, key, value, timeout), None, [key])

    def touch(self, key: Key, timeout: Expiry) -> bool:
        return self._attempt(partial(super().touch, key, timeout), False, [key])

    def delete(self, key: Key) -> bool:
        return self._attempt(partial(super().delete, key), False, [key])

    def set_many(self, data: Mapping[Key, Any], timeout: Expiry) -> None:
        self._attempt(partial(super().set_many, data, timeout), None, data)

    def delete_many(self, keys: Iterable[Key]) -> None:
        keys = list(keys)  # read twice when Redis is unreachable
        self._attempt(partial(super().delete_many, keys), None, keys)

    def _attempt(self, operation: Callable[[], T], otherwise: T, writes: Iterable[Key] = ()) -> T:
        """The operation's result, first deleting what went stale; ``otherwise`` if unreachable."""
        try:
            self._delete_stale()
            result = operation()
        except RedisError as error:
            with self._lock:
                self._stale.update(writes)
            if self._reachable:
                self._reachable = False
                logger.warning("Redis cache unreachable, using the database: %s", error)
            return otherwise
        if not self._reachable:
            self._reachable = True
            logger.warning("Redis cache reachable again")
        return result

    def _delete_stale(self) -> None:
        if not self._stale:
            return
        with self._lock:
            keys, self._stale = self._stale, set()
        try:
            super().delete_many(list(keys))
        except RedisError:
            with self._lock:
                self._stale |= keys
            raise


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
