"""Chaos: mixed load on the whole real stack while its processes are killed.

gunicorn, two Celery workers, the relay and the Redis consumer run as processes on a
private redis-server; client threads allocate (beyond stock too), deallocate, change
batch quantities over HTTP and by Redis message, and add batches, over a dozen SKUs.
Meanwhile a Celery worker is SIGKILLed while it holds tasks, Redis is restarted with
its data wiped, and a gunicorn worker is SIGKILLed. Then, after a bounded wait, the
invariants: every event written is applied exactly once, the read model equals a
rebuild, no batch is over-allocated, every accepted line is there, no worker exited,
and no answer was a 5xx other than 503.

``CHAOS_SECONDS`` sets the length of the load (CI: the default; ``make chaos``: longer),
besides the few seconds the faults themselves take: they come in turn, a quarter of it
apart, so none overlaps another whatever the machine's speed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
import redis
import requests
from django.db.models import F, Sum

from allocation.bootstrap import rebuild_read_model
from allocation.models import BatchRecord, OrderLineRecord, OutboxEvent, ProductRecord
from orders_read.models import AppliedPosition, BatchView, EventLog
from tests.processes import (
    Consumer,
    Gunicorn,
    Process,
    RedisServer,
    Relay,
    Worker,
    free_port,
    start_together,
    stop_together,
)
from tests.read_model import snapshot
from tests.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

P = TypeVar("P", bound=Process)
SECONDS = float(os.environ.get("CHAOS_SECONDS", "20"))
GAP = SECONDS / 4
"""Load before the first fault, between two faults, and after the last."""
CLIENTS = 4
SKUS = [f"CHAOS-{n:02d}" for n in range(12)]


@dataclass
class Tally:
    """What the clients saw; one per client thread, merged at the end."""

    statuses: Counter[str] = field(default_factory=Counter)
    accepted: set[tuple[str, str]] = field(default_factory=set)  # live lines, as answered
    unknown: set[tuple[str, str]] = field(default_factory=set)  # the connection broke
    batches: list[str] = field(default_factory=list)


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.redis = RedisServer(free_port(), tmp)
        self.redis.start()
        self.processes: list[Process] = []
        try:
            self.workers = [self.worker(wait=False) for _ in range(2)]
            url = self.redis.url
            self.relay = self.start(Relay(url, tmp / "relay.log", reconcile_after=2, wait=False))
            self.consumer = self.start(Consumer(url, tmp / "consumer.log", wait=False))
            self.web = self.start(Gunicorn(url, tmp / "web.log", wait=False))
            start_together(*self.processes)
        except BaseException:
            self.stop()  # what did start, so a failed start leaves no process behind
            raise

    def start(self, process: P) -> P:
        self.processes.append(process)
        return process

    def worker(self, wait: bool = True) -> Worker:
        log = self.tmp / f"worker{len(self.processes)}.log"
        worker = Worker(self.redis.url, log, pool="threads", wait=wait)
        self.processes.append(worker)
        return worker

    def restart_redis_wiped(self) -> None:
        self.redis.stop()
        for dump in self.tmp.glob("*.rdb"):
            dump.unlink()
        self.redis.start()

    def stop(self) -> None:
        stop_together(self.processes)
        self.redis.stop()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path)
    yield stack
    stack.stop()


def client(stack: Stack, seed: int, stop: threading.Event, tally: Tally) -> None:
    rng = random.Random(seed)
    session = requests.Session()
    publisher = redis.Redis.from_url(stack.redis.url, socket_timeout=1)
    orders = 0

    def call(path: str, body: dict[str, object]) -> int | None:
        try:
            status = session.post(f"{stack.web.url}/api/{path}", json=body, timeout=15).status_code
        except requests.RequestException:
            tally.statuses[f"{path} dropped"] += 1
            return None
        tally.statuses[f"{path} {status}"] += 1
        return status

    while not stop.is_set():
        roll = rng.random()
        sku = rng.choice(SKUS)
        if roll < 0.55 or not tally.accepted:
            orders += 1
            line = (f"c{seed}-o{orders}", sku)
            status = call("allocate", {"orderid": line[0], "sku": sku, "qty": rng.randint(1, 6)})
            if status == 202:
                tally.accepted.add(line)
            elif status is None:
                tally.unknown.add(line)
        elif roll < 0.70:
            line = rng.choice(sorted(tally.accepted))
            status = call("deallocate", {"orderid": line[0], "sku": line[1]})
            if status == 200:
                tally.accepted.discard(line)
            elif status is None:
                tally.accepted.discard(line)
                tally.unknown.add(line)
        elif roll < 0.80:
            ref = rng.choice(tally.batches or [f"{sku}-wh"])
            call("change_batch_quantity", {"ref": ref, "qty": rng.randint(0, 40)})
        elif roll < 0.88:
            message = {"batchref": f"{sku}-ship", "qty": rng.randint(10, 60)}
            try:
                publisher.publish("change_batch_quantity", json.dumps(message))
                tally.statuses["redis message sent"] += 1
            except redis.RedisError:
                tally.statuses["redis message refused"] += 1
        else:
            ref = f"c{seed}-b{orders}-{rng.randint(0, 10**6)}"
            body = {"ref": ref, "sku": sku, "qty": rng.randint(5, 30), "eta": None}
            if call("add_batch", body) == 201:
                tally.batches.append(ref)


def kill_a_worker_holding_tasks(stack: Stack) -> int:
    """SIGKILL a worker while the broker lists tasks it has not acknowledged."""
    broker = redis.Redis.from_url(stack.redis.url)
    victim = stack.workers.pop(0)
    deadline = time.monotonic() + 10
    held = 0
    while time.monotonic() < deadline and not (held := broker.hlen("unacked")):
        time.sleep(0.001)
    victim.kill()
    stack.workers.append(stack.worker())
    return int(held)


def faults(stack: Stack, report: dict[str, object]) -> None:
    """Each fault ``GAP`` after the one before is done (catching a worker with tasks in
    hand can take seconds), so the worker's tasks are not wiped with Redis at once."""
    steps: list[tuple[str, Callable[[], object]]] = [
        ("worker killed holding tasks", lambda: kill_a_worker_holding_tasks(stack)),
        ("redis restarted, data wiped", stack.restart_redis_wiped),
        ("gunicorn worker killed", lambda: os.kill(stack.web.worker_pids()[0], signal.SIGKILL)),
    ]
    start = time.monotonic()
    for name, fault in steps:
        time.sleep(GAP)
        report[name] = fault()
        report[f"{name} at"] = f"{time.monotonic() - start:.0f}s"


def positions_match() -> bool:
    written = dict(ProductRecord.objects.values_list("sku", "version_number"))
    return written == dict(AppliedPosition.objects.values_list("sku", "version"))


@pytest.mark.timeout(SECONDS + 180)  # the load and faults, setup, convergence, the checks
def test_the_read_model_converges_through_kills_and_a_wiped_broker(stack: Stack):
    setup = requests.Session()
    for sku in SKUS:
        for ref, qty, eta in ((f"{sku}-wh", 20, None), (f"{sku}-ship", 30, "2031-01-01")):
            body = {"ref": ref, "sku": sku, "qty": qty, "eta": eta}
            assert setup.post(f"{stack.web.url}/api/add_batch", json=body).status_code == 201

    stop = threading.Event()
    tallies = [Tally() for _ in range(CLIENTS)]
    report: dict[str, object] = {}
    threads = [
        threading.Thread(target=client, args=(stack, n, stop, tallies[n])) for n in range(CLIENTS)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        faults(stack, report)
        time.sleep(GAP)
    finally:
        stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    converging = time.monotonic()
    loaded = converging - started
    wait_until(positions_match, timeout=90, what="the read model to apply every event")
    statuses = sum((t.statuses for t in tallies), Counter())
    print(  # the figures, for the log (-s) and make chaos
        f"\nchaos: {loaded:.0f}s of load, {sum(statuses.values())} operations, faults {report},"
        f" converged {time.monotonic() - converging:.1f}s after the load"
        f" ({time.monotonic() - started:.0f}s in all); {OutboxEvent.objects.count()} events;"
        f" answers {dict(sorted(statuses.items()))}"
    )

    # Every event written is applied, exactly once.
    written = set(OutboxEvent.objects.values_list("sku", "version"))
    assert set(EventLog.objects.values_list("sku", "version")) == written
    assert EventLog.objects.count() == len(written)
    # The faults really happened, and no answer was a 5xx other than 503.
    assert report["worker killed holding tasks"], "the worker held no task when killed"
    assert "gunicorn worker killed at" in report
    server_errors = {
        k: n for k, n in statuses.items() if k.split()[-1][0] == "5" and "503" not in k
    }
    assert server_errors == {}
    # No over-allocation, on either side.
    for ref, total, purchased in BatchRecord.objects.annotate(total=Sum("lines__qty")).values_list(
        "reference", "total", "purchased_quantity"
    ):
        assert (total or 0) <= purchased, ref
    assert not BatchView.objects.filter(allocated__gt=F("purchased")).exists()
    # Every line the API accepted (and no one cancelled) is there.
    live = set(OrderLineRecord.objects.values_list("orderid", "product_id"))
    accepted = set().union(*(t.accepted for t in tallies)) - set().union(
        *(t.unknown for t in tallies)
    )
    assert accepted <= live
    # No Celery worker exited by itself (the killed one was replaced).
    for worker in stack.workers:
        assert worker.process.poll() is None, worker.output()[-3000:]
    assert stack.relay.process.poll() is None, stack.relay.output()[-3000:]
    # The incremental read model equals one rebuilt from the write side.
    incremental = snapshot()
    rebuild_read_model()
    assert snapshot() == incremental
