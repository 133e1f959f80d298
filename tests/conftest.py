"""Shared fixtures, and the rule for tests that need a real service.

Tests marked ``postgres``, ``redis`` or ``browser`` skip when the service (or Debian's
Chromium) is missing on a newcomer's machine, and *fail* when ``REQUIRE_SERVICES=1``
(as ``.ci/run`` sets), so CI can never go green by skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from allocation.adapters import repository
from config.celery_app import app as celery_app

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip on a newcomer's machine; fail in CI, where the service must be there."""
    if not REQUIRE_SERVICES:
        pytest.skip(reason)
    pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)


def redis_problem() -> str | None:
    if not settings.REDIS_URL:
        return "REDIS_URL is not set"
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"Redis at {settings.REDIS_URL} is unreachable: {error}"
    return None


@pytest.fixture(autouse=True)
def _services(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        unavailable("DATABASE_URL does not point at PostgreSQL")
    if request.node.get_closest_marker("redis") and (problem := redis_problem()):
        unavailable(problem)
    if request.node.get_closest_marker("browser") and not os.path.exists("/usr/bin/chromium"):
        unavailable("/usr/bin/chromium is missing (apt-get install chromium)")


@pytest.fixture(autouse=True)
def _private_cache(settings) -> None:
    """A fresh in-memory cache per test: Redis would carry counters across tests and runs."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()


@pytest.fixture(autouse=True)
def _no_contended_skus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Which SKUs met concurrent writers is remembered per process: not across tests."""
    monkeypatch.setattr(repository, "CONTENDED", repository.ContendedSkus())


@pytest.fixture(autouse=True)
def _celery_in_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run event tasks in-process unless a test brings a real worker (``redis`` marker)."""
    eager = not request.node.get_closest_marker("redis")
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = eager
    yield
    celery_app.conf.task_always_eager = previous
