"""Faults with real processes: the broker goes down, a worker dies mid-task."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.test import override_settings

from allocation.adapters import outbox
from allocation.bootstrap import bootstrap
from allocation.domain import commands
from allocation.models import OutboxEvent
from allocation.tasks import send_event_to_workers
from config.celery_app import app as celery_app
from orders_read.models import EventLog
from orders_read.rebuild import rebuild_read_model
from tests.e2e.conftest import RedisServer, Worker
from tests.read_model import snapshot
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("use_broker"),
]


@contextmanager
def broker(url: str) -> Iterator[None]:
    """Send this process's tasks (and pub/sub) to ``url`` for the duration."""
    previous = celery_app.conf.broker_url
    celery_app.conf.update(broker_url=url)
    _drop_pooled_connections()
    try:
        with override_settings(REDIS_URL=url):
            yield
    finally:
        celery_app.conf.update(broker_url=previous)
        _drop_pooled_connections()


def _drop_pooled_connections() -> None:
    """Celery pools broker connections per app; a new broker URL needs a new pool."""
    app: Any = celery_app
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def worker_on(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(url: str, visibility_timeout: int = 3600) -> Worker:
        worker = Worker(url, tmp_path / f"worker{len(started)}.log", visibility_timeout)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def post(client, path: str, body: dict):
    return client.post(f"/api/{path}", data=json.dumps(body), content_type="application/json")


def read_model_caught_up() -> bool:
    return EventLog.objects.count() == OutboxEvent.objects.count()


def test_broker_down_at_commit_loses_nothing(client, private_redis: RedisServer, worker_on):
    worker_on(private_redis.url)
    with broker(private_redis.url):
        private_redis.stop()

        assert post(client, "add_batch", {"ref": "b1", "sku": "LAMP", "qty": 5}).status_code == 201
        response = post(client, "allocate", {"orderid": "o1", "sku": "LAMP", "qty": 2})
        assert response.status_code == 202  # the write succeeds without a broker
        assert outbox.unsent_count() == 2
        stale = client.get("/api/allocations/o1")
        assert stale.status_code == 404
        assert stale["X-Read-Model-Stale"] == "true"  # and the read says so

        private_redis.start()
        assert outbox.relay(send_event_to_workers, older_than=timedelta(0)) == 2

        wait_until(read_model_caught_up, what="the relayed events to be projected")
    assert outbox.unsent_count() == 0
    assert client.get("/api/allocations/o1").json() == [{"sku": "LAMP", "batchref": "b1"}]
    incremental = snapshot()
    rebuild_read_model()
    assert snapshot() == incremental


def test_a_worker_killed_mid_task_is_redelivered(private_redis: RedisServer, worker_on):
    first = worker_on(private_redis.url, visibility_timeout=2)
    with broker(private_redis.url):
        bus = bootstrap()
        bus.handle(commands.CreateBatch("b1", "LAMP", 60))
        for n in range(80):
            bus.handle(commands.Allocate(f"o{n}", "LAMP", 1))
        wait_until(lambda: EventLog.objects.count() >= 5, what="the worker to get going")

        first.kill()
        in_flight = redis.Redis.from_url(private_redis.url).hlen("unacked")
        assert in_flight >= 1, "the worker died holding no task: nothing to prove"
        assert not read_model_caught_up()

        worker_on(private_redis.url, visibility_timeout=2)
        wait_until(read_model_caught_up, timeout=60, what="redelivery after the worker died")

    incremental = snapshot()
    rebuild_read_model()
    assert snapshot() == incremental
    assert len(incremental["lines"]) == 80
