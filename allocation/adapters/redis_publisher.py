"""Publishes integration events on Redis: pub/sub for the book's clients, streams for the
durable contract (or logs them when no Redis is set)."""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)


@functools.cache
def client(url: str) -> redis.Redis:
    """One thread-safe connection pool per URL, shared by the whole process."""
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def publish(channel: str, message: dict[str, Any]) -> None:
    if not settings.REDIS_URL:
        logger.info("no REDIS_URL: not publishing on %s: %s", channel, message)
        return
    client(settings.REDIS_URL).publish(channel, json.dumps(message))


def append(stream: str, fields: dict[str, str | int]) -> None:
    """Appends an entry to a Redis Stream, trimmed to about ``STREAM_MAXLEN`` entries.

    The trim is approximate (``MAXLEN ~``): Redis then drops whole nodes only, which
    keeps an append O(1); a reader that falls further behind than that loses the oldest.
    """
    if not settings.REDIS_URL:
        logger.info("no REDIS_URL: not appending to %s: %s", stream, fields)
        return
    entry: dict[Any, Any] = {**fields}  # redis-py's annotation wants its own key types
    client(settings.REDIS_URL).xadd(stream, entry, maxlen=settings.STREAM_MAXLEN, approximate=True)
