"""Django's Redis cache, minus a ``redis.Redis`` object built for every call.

Django's client makes a new ``redis.Redis`` around its connection pool for each get or
set, and building one (its table of response callbacks) cost more CPU than the GET it
then sends: a logged-in page reads the cache twice (session, user). A client is safe
to share between threads (each command borrows a connection from the pool), so one is
kept per pool.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends import redis as django_redis
from redis import ConnectionPool, Redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[ConnectionPool, Redis] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Redis:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = super().get_client(key, write=write)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
