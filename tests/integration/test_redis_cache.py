"""The project's Redis cache backend: Django's, sharing one client per connection pool."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import caches

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "allocation.entrypoints.web.cache.RedisCache",
            "LOCATION": settings.REDIS_URL,
        },
    }
    return caches["default"]


def test_it_caches_like_djangos_with_one_client_for_every_call(redis_cache):
    key = f"test-redis-cache:{uuid.uuid4()}"
    redis_cache.set(key, {"user": 1}, 30)
    assert redis_cache.get(key) == {"user": 1}
    redis_cache.delete_many([key])
    assert redis_cache.get(key) is None
    client = redis_cache._cache
    assert client.get_client(key) is client.get_client(key, write=True)
