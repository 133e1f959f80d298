"""Faults with real processes: the broker goes down, a worker dies mid-task."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from django.db import connection, transaction
from django.test import override_settings
from kombu import pools as kombu_pools
from prometheus_client.parser import text_string_to_metric_families

from allocation.adapters import outbox
from allocation.bootstrap import bootstrap, rebuild_read_model
from allocation.domain import commands, events
from allocation.entrypoints.redis_consumer import consume
from allocation.models import OrderLineRecord, OutboxEvent
from allocation.service_layer.actor import SYSTEM
from config.celery_app import app as celery_app
from orders_read.models import EventLog
from tests.processes import RedisServer, Relay, Worker, free_port, start_together, stop_together
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
    """Celery and kombu pool broker connections; a new broker URL needs new pools."""
    app: Any = celery_app
    kombu_pools.reset()  # closes and forgets every pooled connection and producer
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def worker_on(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(url: str, visibility_timeout: int = 3600, wait: bool = True) -> Worker:
        log = tmp_path / f"worker{len(started)}.log"
        worker = Worker(url, log, visibility_timeout, wait=wait)
        started.append(worker)
        return worker

    yield start
    stop_together(started)


@pytest.fixture
def relay_on(tmp_path: Path) -> Iterator[Callable[..., Relay]]:
    started: list[Relay] = []

    def start(url: str, **options: Any) -> Relay:
        relay = Relay(url, tmp_path / f"relay{len(started)}.log", **options)
        started.append(relay)
        return relay

    yield start
    stop_together(started)


@pytest.fixture
def worker_and_relay_on(worker_on, relay_on) -> Callable[..., tuple[Worker, Relay]]:
    """A worker and a relay (``relay_options``) on the broker at ``url``, started together."""

    def start(url: str, **relay_options: Any) -> tuple[Worker, Relay]:
        worker = worker_on(url, wait=False)
        relay = relay_on(url, wait=False, **relay_options)
        start_together(worker, relay)
        return worker, relay

    return start


def read_model_caught_up() -> bool:
    return EventLog.objects.count() == OutboxEvent.objects.count()


def test_broker_down_loses_nothing(client, private_redis: RedisServer, worker_and_relay_on, api):
    _, relay = worker_and_relay_on(private_redis.url)
    with broker(private_redis.url):
        private_redis.stop()

        assert api.post("add_batch", {"ref": "b1", "sku": "LAMP", "qty": 5}).status_code == 201
        response = api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 2})
        assert response.status_code == 202  # the write never needs the broker
        stale = client.get("/api/allocations/o1")
        assert stale.status_code == 503  # "retry", not "unknown"
        assert stale["Retry-After"]
        assert stale["X-Read-Model-Stale"] == "true"  # and the read says so
        wait_until(lambda: "broker refused" in relay.output(), what="the relay to try")
        assert outbox.unsent_count() == 2

        private_redis.start()
        wait_until(read_model_caught_up, what="the relay to send once the broker is back")
    assert outbox.unsent_count() == 0
    assert client.get("/api/allocations/o1").json() == [{"sku": "LAMP", "batchref": "b1"}]
    incremental = snapshot()
    rebuild_read_model()
    assert snapshot() == incremental


def test_a_worker_killed_mid_task_is_redelivered(private_redis: RedisServer, worker_on, relay_on):
    with broker(private_redis.url):
        bus = bootstrap()
        bus.handle(commands.CreateBatch("b1", "LAMP", 60))
        for n in range(80):
            bus.handle(commands.Allocate(f"o{n}", "LAMP", 1))
        # The worker is up but frozen before the relay hands it anything, then runs in
        # tiny steps until it is caught holding a task (a batch takes far longer than a
        # step). The reconciler waits long enough to leave the redelivery to the broker.
        first = worker_on(private_redis.url, visibility_timeout=2)
        first.process.send_signal(signal.SIGSTOP)
        relay_on(private_redis.url, reconcile_after=120)
        broker_redis = redis.Redis.from_url(private_redis.url)
        wait_until(lambda: outbox.unsent_count() == 0, what="the relay to hand every event over")
        for _ in range(5000):
            if broker_redis.hlen("unacked"):
                break
            first.process.send_signal(signal.SIGCONT)
            time.sleep(0.001)
            first.process.send_signal(signal.SIGSTOP)
        first.kill()
        in_flight = broker_redis.hlen("unacked")
        assert in_flight >= 1, "the worker died holding no task: nothing to prove"
        assert not read_model_caught_up()

        worker_on(private_redis.url, visibility_timeout=2)
        wait_until(read_model_caught_up, timeout=60, what="redelivery after the worker died")

    incremental = snapshot()
    rebuild_read_model()
    assert snapshot() == incremental
    assert len(incremental["lines"]) == 80


def test_redis_restart_while_consumer_and_worker_run(
    private_redis: RedisServer, worker_and_relay_on
):
    worker_and_relay_on(private_redis.url, reconcile_after=1)
    subscriptions: list[int] = []
    stop = threading.Event()

    def run_consumer() -> None:
        try:
            consume(private_redis.url, stop, on_ready=lambda: subscriptions.append(1))
        finally:
            connection.close()

    consumer = threading.Thread(target=run_consumer, daemon=True)
    with broker(private_redis.url):
        consumer.start()
        try:
            wait_until(lambda: len(subscriptions) == 1, what="the consumer to subscribe")
            bus = bootstrap()
            bus.handle(commands.CreateBatch("b1", "LAMP", 10))
            bus.handle(commands.CreateBatch("b2", "LAMP", 10, date(2031, 1, 1)))
            bus.handle(commands.Allocate("o1", "LAMP", 8))
            wait_until(read_model_caught_up, what="the first events to be projected")

            private_redis.stop()
            bus.handle(commands.Allocate("o2", "LAMP", 1))  # written while Redis is down
            private_redis.start()

            wait_until(lambda: len(subscriptions) == 2, what="the consumer to resubscribe")
            publisher = redis.Redis.from_url(private_redis.url)
            publisher.publish("change_batch_quantity", json.dumps({"batchref": "b1", "qty": 5}))
            wait_until(
                lambda: OrderLineRecord.objects.filter(
                    orderid="o1", batch__reference="b2"
                ).exists(),
                what="the consumer to handle the message after the restart",
            )
            wait_until(read_model_caught_up, timeout=30, what="the worker to catch up")
        finally:
            stop.set()
            consumer.join(timeout=10)

    lines = {line[0]: line[4] for line in snapshot()["lines"]}
    assert lines == {"o1": "b2", "o2": "b1"}
    incremental = snapshot()
    rebuild_read_model()
    assert snapshot() == incremental


def test_readyz_fails_while_the_workers_are_down_and_recovers_when_they_catch_up(
    client, private_redis: RedisServer, worker_and_relay_on, worker_on, settings, api
):
    settings.READY_MAX_READ_MODEL_LAG = 1.0
    worker, _ = worker_and_relay_on(private_redis.url)
    with broker(private_redis.url):
        assert api.post("add_batch", {"ref": "b1", "sku": "LAMP", "qty": 5}).status_code == 201
        wait_until(read_model_caught_up, what="the first event to be applied")
        assert client.get("/readyz").status_code == 200

        worker.kill()
        response = api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 1})
        assert response.status_code == 202
        not_ready = wait_until(
            lambda: (r := client.get("/readyz")).status_code == 503 and r,
            what="/readyz to notice the workers are gone",
        )
        assert "oldest event not applied" in not_ready.json()["checks"]["read_model_lag"]

        worker_on(private_redis.url)
        wait_until(lambda: client.get("/readyz").status_code == 200, what="/readyz to recover")
    assert read_model_caught_up()


def test_the_relay_serves_its_metrics(private_redis: RedisServer, worker_and_relay_on, api):
    port = free_port()
    worker_and_relay_on(private_redis.url, metrics_port=port)
    with broker(private_redis.url):
        assert api.post("add_batch", {"ref": "b1", "sku": "LAMP", "qty": 5}).status_code == 201
        wait_until(read_model_caught_up, what="the event to be applied")

    def rounds() -> float:
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        families = {f.name: f for f in text_string_to_metric_families(body)}
        samples = families["allocation_relay_round_events"].samples
        return next(s.value for s in samples if s.name.endswith("_count"))

    assert wait_until(rounds, what="the relay to count its round") >= 1


def test_the_relay_survives_losing_its_database_connections(private_redis: RedisServer, relay_on):
    relay = relay_on(private_redis.url, application_name="relay-under-test")
    queue = redis.Redis.from_url(private_redis.url)  # no worker: sent tasks stay queued
    with transaction.atomic():
        outbox.store([events.BatchCreated("LAMP", 1, "b1", 1, None)], SYSTEM)
    wait_until(lambda: queue.llen("celery") == 1, what="the relay to send the first event")

    with connection.cursor() as cursor:  # its connections go, as in a database restart
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'relay-under-test'"
        )
    wait_until(
        lambda: relay.output().count(Relay.READY) == 2, what="the relay to reconnect and listen"
    )
    with transaction.atomic():
        outbox.store([events.BatchCreated("LAMP", 2, "b2", 1, None)], SYSTEM)
    wait_until(lambda: queue.llen("celery") == 2, what="the relay to go on after it")
    assert relay.process.poll() is None
