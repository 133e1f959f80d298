"""Workers survive a broker that restarts with its data wiped, again and again.

kombu 5.7.0 made a Celery worker exit ("Unrecoverable error: AttributeError: 'NoneType'
object has no attribute 'hostname'") when Redis went away while a BRPOP was in flight,
so here the worker is kept busy (a deep queue of cheap tasks) while the private
redis-server is killed and started empty, several times. The worker must stay up,
keep consuming, and the read model must catch up with no manual step.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from allocation.bootstrap import bootstrap
from allocation.domain import commands
from allocation.entrypoints.tasks import handle_events
from allocation.models import ProductRecord
from orders_read.models import AppliedPosition
from tests.e2e.test_faults import broker
from tests.processes import RedisServer, Relay, Worker, start_together, stop_together
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("use_broker"),
]

RESTARTS = 6
FLOOD = 1500
"""Tasks queued before each restart: the worker takes a third to two thirds of them while
they are sent, so the queue is still deep when Redis dies."""


def flood(tasks: int) -> None:
    """Cheap tasks (empty batches) straight into the broker's queue."""
    for _ in range(tasks):
        handle_events.apply_async(args=([],))


def caught_up() -> bool:
    written = dict(ProductRecord.objects.values_list("sku", "version_number"))
    return bool(written) and written == dict(AppliedPosition.objects.values_list("sku", "version"))


def test_a_busy_worker_survives_repeated_broker_restarts(
    private_redis: RedisServer, tmp_path: Path
):
    worker = Worker(private_redis.url, tmp_path / "worker.log", pool="threads", wait=False)
    relay = Relay(private_redis.url, tmp_path / "relay.log", reconcile_after=1, wait=False)
    start_together(worker, relay)
    try:
        queue = redis.Redis.from_url(private_redis.url)
        with broker(private_redis.url):
            bus = bootstrap()
            bus.handle(commands.CreateBatch("b1", "LAMP", 100))
            for restart in range(RESTARTS):
                flood(FLOOD)
                wait_until(lambda: queue.llen("celery") < FLOOD - 100, what="the worker to consume")
                assert queue.llen("celery"), "the worker is idle: not the fault to prove"
                private_redis.stop()  # SIGKILL: whatever it held is gone
                bus.handle(commands.Allocate(f"o{restart}", "LAMP", 1))  # written meanwhile
                time.sleep(1.0)  # the broker stays down a moment: part of the fault, not a wait
                private_redis.start()
                assert worker.process.poll() is None, worker.output()[-4000:]

            wait_until(caught_up, timeout=60, what="the read model to apply every event")
        assert worker.process.poll() is None, worker.output()[-4000:]
        assert "Unrecoverable error" not in worker.output()
    finally:
        stop_together([relay, worker])
