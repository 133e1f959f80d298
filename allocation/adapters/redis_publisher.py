"""Publishes integration events on Redis pub/sub (or logs them when no Redis is set)."""

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
