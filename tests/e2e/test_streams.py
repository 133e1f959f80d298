"""The Redis Streams integration with real processes and real faults: a consumer
SIGKILLed mid-message, PostgreSQL unreachable while a command arrives, Redis killed and
restarted with its append-only file, a downstream reader that was away."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from django.db import connection
from django.test import override_settings

from allocation.bootstrap import bootstrap, deliver_pending
from allocation.domain import commands
from allocation.entrypoints.redis_streams import DEAD_LETTERS, STREAM
from allocation.models import BatchRecord, OutboxEvent
from config.celery_app import app as celery_app
from tests.processes import (
    Consumer,
    RedisServer,
    TcpProxy,
    database_url,
    free_port,
    stop_together,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

FAST_CLAIM = {"STREAM_CLAIM_IDLE": "2"}


@pytest.fixture
def consumers(tmp_path: Path) -> Iterator[list[Consumer]]:
    started: list[Consumer] = []
    yield started
    for consumer in started:
        consumer.resume()
    stop_together(started)


@pytest.fixture
def in_process_delivery(settings) -> Iterator[None]:
    """Events delivered by this process after each commit (``line_allocated`` included),
    through the same handlers a worker runs: no worker to start."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = True
    yield
    celery_app.conf.task_always_eager = previous


def start(consumers: list[Consumer], url: str, log: Path, **env: str) -> Consumer:
    consumers.append(Consumer(url, log, env))
    return consumers[-1]


def quantity(ref: str) -> int:
    return BatchRecord.objects.get(reference=ref).purchased_quantity


def changes(ref: str) -> int:
    return OutboxEvent.objects.filter(name="BatchQuantityChanged", payload__ref=ref).count()


def settled(client: redis.Redis) -> bool:
    """Every entry of the stream read by the group and acknowledged."""
    groups: Any = client.xinfo_groups(STREAM)
    return bool(groups) and groups[0]["pending"] == 0 and groups[0]["lag"] == 0


def dsn() -> str:
    params = connection.get_connection_params()
    keys = ("dbname", "user", "host", "port", "password")
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if k in keys})


@contextmanager
def product_locked(sku: str) -> Iterator[None]:
    """Hold the product's row lock from another session: a command on it waits."""
    with psycopg.connect(dsn()) as other:
        other.execute("SELECT 1 FROM allocation_product WHERE sku = %s FOR UPDATE", [sku])
        yield
        other.rollback()


def waiting_for_a_lock(application_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND wait_event_type = 'Lock'",
            [application_name],
        )
        return bool(cursor.fetchone()[0])


def test_a_consumer_killed_mid_message_leaves_it_to_another_exactly_once(
    private_redis: RedisServer, consumers, tmp_path
):
    bootstrap().handle(commands.CreateBatch("b1", "LAMP", 10))
    client = redis.Redis.from_url(private_redis.url)
    first = start(consumers, private_redis.url, tmp_path / "first.log",
                  DB_APPLICATION_NAME="first-consumer", **FAST_CLAIM)  # fmt: skip
    with product_locked("LAMP"):
        client.xadd(STREAM, {"batchref": "b1", "qty": "4"})
        wait_until(lambda: waiting_for_a_lock("first-consumer"), what="the command to wait")
        first.kill()  # in the middle of the command's transaction
        second = start(consumers, private_redis.url, tmp_path / "second.log", **FAST_CLAIM)

    wait_until(lambda: settled(client), timeout=20, what="the second consumer to claim it")
    assert "claimed from a silent consumer" in second.output()
    assert quantity("b1") == 4
    assert changes("b1") == 1
    assert client.xlen(DEAD_LETTERS) == 0


def test_a_command_arriving_while_postgresql_is_unreachable_waits_for_it(
    private_redis: RedisServer, consumers, tmp_path
):
    bootstrap().handle(commands.CreateBatch("b1", "LAMP", 10))
    database = connection.get_connection_params()
    proxy = TcpProxy(int(database.get("port") or 5432))
    proxy.start()
    through_proxy = database_url().replace(f":{database.get('port') or 5432}/", f":{proxy.port}/")
    # Each try waits DB_CONNECT_TIMEOUT for a connection: half a second here, not two.
    consumer = start(consumers, private_redis.url, tmp_path / "consumer.log",
                     DATABASE_URL=through_proxy, DB_CONNECT_TIMEOUT="0.5",
                     **FAST_CLAIM)  # fmt: skip
    client = redis.Redis.from_url(private_redis.url)
    client.xadd(STREAM, {"batchref": "b1", "qty": "3"})
    wait_until(lambda: settled(client), what="a first command, with the database there")

    proxy.cut()
    client.xadd(STREAM, {"batchref": "b1", "qty": "4"})
    wait_until(lambda: consumer.output().count("transient failure") >= 3,
               timeout=20, what="the consumer to retry")  # fmt: skip
    assert not settled(client)
    assert client.xlen(DEAD_LETTERS) == 0
    assert quantity("b1") == 3

    proxy.start()
    wait_until(lambda: settled(client), timeout=20, what="the command once PostgreSQL is back")
    assert quantity("b1") == 4
    assert changes("b1") == 2
    assert client.xlen(DEAD_LETTERS) == 0


@pytest.mark.usefixtures("in_process_delivery")
def test_redis_killed_and_restarted_with_its_append_only_file_loses_nothing(consumers, tmp_path):
    server = RedisServer(free_port(), tmp_path, appendonly=True)
    server.start()
    try:
        with override_settings(REDIS_URL=server.url):
            client = redis.Redis.from_url(server.url)
            client.xgroup_create("line_allocated", "erp", id="$", mkstream=True)
            consumer = start(consumers, server.url, tmp_path / "consumer.log")
            bus = bootstrap()
            for ref in ("b1", "b2"):
                bus.handle(commands.CreateBatch(ref, "LAMP", 100))
            for n in range(10):
                bus.handle(commands.Allocate(f"o{n}", "LAMP", 1))
            downstream_before = read(client, "erp", count=4)

            consumer.pause()  # commands wait in the stream, unread, when Redis dies
            for qty in (60, 70, 80):
                client.xadd(STREAM, {"batchref": "b2", "qty": str(qty)})
            client.xadd(STREAM, {"batchref": "b9", "qty": "1"})  # a dead letter to be
            server.stop()  # SIGKILL
            server.start()
            consumer.resume()

            client.xadd(STREAM, {"batchref": "b1", "qty": "5"})  # after the restart
            wait_until(lambda: settled(client), timeout=20, what="every command")
            deliver_pending()  # the consumer's events (reallocations), as the relay would
            bus.handle(commands.Allocate("o10", "LAMP", 1))
            downstream_after = read(client, "erp", count=100)
            assert client.xlen(DEAD_LETTERS) == 1
    finally:
        server.stop()

    assert (quantity("b1"), quantity("b2")) == (5, 80)
    assert changes("b2") == 3
    allocated = {
        (e.payload["orderid"], str(e.version)) for e in OutboxEvent.objects.filter(name="Allocated")
    }
    got = [(f["orderid"], f["version"]) for f in downstream_before + downstream_after]
    assert len(got) == len(set(got))  # nothing twice
    assert set(got) == allocated  # nothing lost: o0..o10, and the reallocations if any


def read(client: redis.Redis, group: str, count: int) -> list[dict[str, str]]:
    """What a downstream reader with its own group reads: its own unacknowledged entries
    first (it may have died before acknowledging), then new ones; it acknowledges each."""
    entries = []
    for start_id in ("0", ">"):
        response: Any = client.xreadgroup(group, "reader", {"line_allocated": start_id}, count)
        for _, batch in response or []:
            for message_id, fields in batch:
                entries.append({k.decode(): v.decode() for k, v in fields.items()})
                client.xack("line_allocated", group, message_id)
    return entries


@pytest.mark.usefixtures("in_process_delivery")
def test_a_downstream_reader_that_was_away_reads_everything_it_missed(
    private_redis: RedisServer,
):
    """Time itself does not matter to a stream (the issue's "a minute"): what matters is
    what was appended meanwhile, kept up to ``STREAM_MAXLEN`` entries."""
    client = redis.Redis.from_url(private_redis.url)
    with override_settings(REDIS_URL=private_redis.url):
        client.xgroup_create("line_allocated", "erp", id="$", mkstream=True)
        bus = bootstrap()
        bus.handle(commands.CreateBatch("b1", "LAMP", 100))
        bus.handle(commands.CreateBatch("b2", "LAMP", 100, eta=None))
        for n in range(3):
            bus.handle(commands.Allocate(f"o{n}", "LAMP", 10))
        response: Any = client.xreadgroup("erp", "reader", {"line_allocated": ">"}, count=3)
        [(_, seen)] = response
        client.xack("line_allocated", "erp", seen[0][0], seen[1][0])  # dies before the third

        for n in range(3, 40):  # while it is away
            bus.handle(commands.Allocate(f"o{n}", "LAMP", 1))
        bus.handle(commands.ChangeBatchQuantity("b1", 20))  # reallocations to b2
        back = read(client, "erp", count=1000)

    acknowledged = {("LAMP", 3), ("LAMP", 4)}  # o0 and o1, before it went away
    every_allocation = {(e.sku, e.version) for e in OutboxEvent.objects.filter(name="Allocated")}
    assert len(every_allocation) > 40  # the reallocations too
    assert sorted((f["sku"], int(f["version"])) for f in back) == sorted(
        every_allocation - acknowledged
    )
    assert client.xpending("line_allocated", "erp")["pending"] == 0
