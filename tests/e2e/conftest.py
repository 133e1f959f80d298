"""Fixtures for end-to-end tests: real workers, relays and private Redis servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from config.celery_app import app as celery_app
from tests.processes import RedisServer, Relay, Worker, free_port, start_together, stop_together


@pytest.fixture
def use_broker(settings) -> None:
    """Send this process's tasks to the broker (the autouse fixture restores eager)."""
    celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = False


@pytest.fixture(scope="module")
def celery_worker_process(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    """For tests marked ``postgres`` and ``redis``: a worker and a relay, per module.

    Not per session: the relay would take the outbox rows of later modules' tests,
    which bring their own broker and processes.
    """
    celery_app.control.purge()  # stale tasks of an earlier, interrupted run
    logs = tmp_path_factory.mktemp("worker")
    worker = Worker(settings.REDIS_URL, logs / "worker.log", wait=False)
    relay = Relay(settings.REDIS_URL, logs / "relay.log", wait=False)
    start_together(worker, relay)
    yield worker
    stop_together([relay, worker])


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()
