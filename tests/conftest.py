"""Shared fixtures, and the rule for tests that need a real service.

Tests marked ``postgres``, ``redis`` or ``browser`` are skipped when the service (or
Debian's Chromium, or axe-core from npm) is missing on a newcomer's machine, and *fail* when
``REQUIRE_SERVICES=1`` (as ``.ci/run`` sets), so CI can never go green by skipping
them. Both are decided before any fixture runs, session-scoped ones included.
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
from tests.browser.support import AXE

pytest_plugins = ["tests.fixtures.api", "tests.fixtures.static", "tests.fixtures.users"]

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
MISSING = pytest.StashKey[dict[str, str]]()
"""The services the collected tests need that are missing, with the reason."""


def redis_problem() -> str | None:
    if not settings.REDIS_URL:
        return "REDIS_URL is not set"
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"Redis at {settings.REDIS_URL} is unreachable: {error}"
    return None


SERVICES = ("postgres", "redis", "browser")


def service_problem(service: str) -> str | None:
    """Why the service a marker names cannot be used here, or None."""
    if service == "postgres":
        vendor = connection.vendor
        return None if vendor == "postgresql" else "DATABASE_URL does not point at PostgreSQL"
    if service == "redis":
        return redis_problem()
    if not os.path.exists("/usr/bin/chromium"):
        return "/usr/bin/chromium is missing (apt-get install chromium)"
    if not AXE.exists():
        return f"{AXE} is missing (make install runs npm ci in tests/browser)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each missing service is looked for once; its tests skip unless CI requires it."""
    needed = {name for item in items for name in SERVICES if item.get_closest_marker(name)}
    problems = {name: problem for name in needed if (problem := service_problem(name))}
    config.stash[MISSING] = problems
    for item in items:
        for name, problem in problems.items():
            if item.get_closest_marker(name):
                item.add_marker(pytest.mark.skipif(not REQUIRE_SERVICES, reason=problem))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under REQUIRE_SERVICES=1 a test whose service is missing fails, before its fixtures."""
    if not REQUIRE_SERVICES:
        return
    for name, problem in item.config.stash.get(MISSING, {}).items():
        if item.get_closest_marker(name):
            pytest.fail(f"REQUIRE_SERVICES=1 but {problem}", pytrace=False)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """An empty cache per test (in memory: tests/settings.py), so no counter carries over."""
    cache.clear()


@pytest.fixture(autouse=True)
def _no_contended_skus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Which SKUs met concurrent writers is remembered per process: not across tests."""
    monkeypatch.setattr(repository, "CONTENDED", repository.ContendedSkus())


@pytest.fixture(autouse=True)
def _celery_in_process(request: pytest.FixtureRequest, settings) -> Iterator[None]:
    """Run event tasks in-process unless a test brings a real worker (``redis`` marker).

    Both switches: Celery's (tasks run when sent) and the setting ``bootstrap`` reads
    (events delivered right after commit, with no relay).
    """
    eager = not request.node.get_closest_marker("redis")
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = eager
    yield
    celery_app.conf.task_always_eager = previous
