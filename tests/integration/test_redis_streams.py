"""The ``change_batch_quantity`` stream, consumer by consumer, on real Redis and PostgreSQL:
acknowledged after commit, bad input to the dead letters at once, transient failures
retried, a message applied once however often it is delivered, and the dead-letter
commands. Processes that die are in ``tests/e2e/test_streams.py``."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError

from allocation.bootstrap import bootstrap
from allocation.domain import commands
from allocation.entrypoints import redis_streams
from allocation.entrypoints.redis_streams import DEAD_LETTERS, GROUP, STREAM, StreamConsumer
from allocation.models import BatchRecord, OutboxEvent
from allocation.service_layer.messagebus import MessageBus
from config.celery_app import app as celery_app

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def consumer(streams: redis.Redis) -> Iterator[Callable[..., StreamConsumer]]:
    """Consumers of the group, driven step by step by the test (no threads)."""
    stop = threading.Event()
    made: list[StreamConsumer] = []

    def make(name: str = "c1", **options: Any) -> StreamConsumer:
        options = {"claim_idle": 60.0, "max_attempts": 3, **options}
        made.append(StreamConsumer(settings.REDIS_URL, stop, name=name, **options))
        redis_streams.ensure_group(streams)
        return made[-1]

    yield make
    for each in made:
        each.client.close()


@pytest.fixture
def batch() -> None:
    bootstrap().handle(commands.CreateBatch("b1", "LAMP", 10))


def send(client: redis.Redis, fields: dict[Any, Any]) -> str:
    message_id: Any = client.xadd(STREAM, fields)
    return str(message_id.decode())


def quantity(ref: str = "b1") -> int:
    return BatchRecord.objects.get(reference=ref).purchased_quantity


def changes() -> int:
    return OutboxEvent.objects.filter(name="BatchQuantityChanged").count()


def pending(client: redis.Redis) -> int:
    return int(client.xpending(STREAM, GROUP)["pending"])


def dead(client: redis.Redis) -> list[dict[bytes, bytes]]:
    entries: Any = client.xrange(DEAD_LETTERS)
    return [fields for _, fields in entries]


@pytest.mark.usefixtures("batch")
def test_an_entry_is_applied_then_acknowledged(streams, consumer):
    send(streams, {"batchref": "b1", "qty": "4"})
    consumer().step()
    assert quantity() == 4
    assert pending(streams) == 0
    assert dead(streams) == []


@pytest.mark.usefixtures("batch")
def test_bad_entries_go_to_the_dead_letters_at_once_and_block_nothing(
    streams, consumer, write_counts, caplog
):
    bad: list[dict[str, Any]] = [
        {"data": "not json {"},
        {"batchref": "b1"},
        {"batchref": "nope", "qty": "1"},
        {"batchref": "b1", "qty": "-1"},
        {"batchref": "b1", "qty": "2.5"},
        {"batchref": b"\xff\xfe", "qty": "1"},
        {"batchref": "b" * 1_000_000, "qty": "1"},
    ]
    for fields in bad:
        send(streams, fields)
    send(streams, {"batchref": "b1", "qty": "3"})
    before = write_counts()
    with caplog.at_level(logging.INFO):
        consumer().step()

    assert quantity() == 3  # the one behind them
    assert write_counts()["OutboxEvent"] == before["OutboxEvent"] + 1
    assert pending(streams) == 0
    letters = dead(streams)
    originals = [{k: v for k, v in letter.items() if k != b"error"} for letter in letters]
    encoded = [{k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in f.items()}
               for f in bad]  # fmt: skip
    assert originals == encoded
    assert [letter[b"error"].decode() for letter in letters] == [
        "Missing field 'batchref'",
        "Missing field 'qty'",
        "Invalid batch ref nope",
        "Field 'qty' must be greater than or equal to 0",
        "Field 'qty' must be a decimal integer, got '2.5'",
        "The message is not valid UTF-8",
        "Field 'batchref' must be at most 255 characters",
    ]
    assert max(len(record.getMessage()) for record in caplog.records) < 1000


@pytest.mark.usefixtures("batch")
def test_redelivered_after_its_commit_it_is_acknowledged_not_applied_again(streams, consumer):
    message_id = send(streams, {"batchref": "b1", "qty": "4"})
    first, second = consumer("c1"), consumer("c2", claim_idle=0)
    [(read_id, fields)] = first._read(">", count=10)
    assert redis_streams.apply(read_id, fields, bootstrap()).outcome.name == "APPLIED"
    # ...and c1 dies before its XACK: the entry stays pending, c2 claims it.
    assert pending(streams) == 1

    second.claim()
    assert pending(streams) == 0
    assert quantity() == 4
    assert changes() == 1
    assert message_id == read_id


@pytest.mark.usefixtures("batch")
def test_two_consumers_leave_the_batch_as_the_streams_order_says(streams, consumer):
    send(streams, {"batchref": "b1", "qty": "5"})
    send(streams, {"batchref": "b1", "qty": "7"})
    slow, fast = consumer("slow"), consumer("fast")
    [(older, older_fields)] = slow._read(">", count=1)
    fast.step()  # takes the newer one and applies it first
    assert quantity() == 7

    slow.handle(older, older_fields)
    assert quantity() == 7  # the older command does not undo the newer one
    assert changes() == 1
    assert pending(streams) == 0


def failing(times: int, error: Exception) -> Callable[[], MessageBus]:
    """A bus factory whose first ``times`` buses fail the command with ``error``."""
    calls = []

    def make() -> MessageBus:
        calls.append(1)
        bus = bootstrap()
        if len(calls) <= times:

            def fail(command: object, actor: object = None) -> None:
                raise error

            bus.handle = fail  # type: ignore[method-assign]
        return bus

    make.calls = calls  # type: ignore[attr-defined]
    return make


@pytest.mark.usefixtures("batch")
def test_a_transient_failure_is_retried_past_the_attempts_limit_and_applied(streams, consumer):
    bus_factory = failing(4, OperationalError("the database is restarting"))
    send(streams, {"batchref": "b1", "qty": "2"})
    consumer(max_attempts=2, bus_factory=bus_factory).step()
    assert quantity() == 2
    assert len(bus_factory.calls) == 5  # type: ignore[attr-defined]
    assert dead(streams) == []
    assert pending(streams) == 0


@pytest.mark.usefixtures("batch")
def test_an_unexpected_failure_goes_to_the_dead_letters_at_the_last_attempt(streams, consumer):
    bus_factory = failing(99, RuntimeError("the disk is on fire"))
    send(streams, {"batchref": "b1", "qty": "2"})
    send(streams, {"batchref": "b1", "qty": "6"})
    consumer(max_attempts=3, bus_factory=bus_factory).step()
    assert [letter[b"error"].decode() for letter in dead(streams)] == [
        "failed 3 times; last: RuntimeError: the disk is on fire"
    ] * 2
    assert len(bus_factory.calls) == 6  # type: ignore[attr-defined]
    assert quantity() == 10
    assert pending(streams) == 0


@pytest.mark.usefixtures("batch")
def test_a_message_that_keeps_killing_its_consumers_is_dead_lettered(streams, consumer):
    send(streams, {"batchref": "b1", "qty": "2"})
    consumer("c1")._read(">", count=1)  # delivered, and c1 dies
    for dying in ("c2", "c3"):  # claimed, and its claimer dies too
        streams.xautoclaim(STREAM, GROUP, dying, 0, "0-0")
    consumer("c4", claim_idle=0, max_attempts=3).claim()  # three attempts were enough
    [letter] = dead(streams)
    assert letter[b"error"] == b"delivered 3 times to consumers that died with it"
    assert quantity() == 10
    assert pending(streams) == 0


def test_a_consumer_reads_again_after_redis_lost_the_group(streams, consumer, batch):
    stop, ready = threading.Event(), threading.Event()
    reader = StreamConsumer(
        settings.REDIS_URL, stop, claim_idle=60, max_attempts=3, on_ready=ready.set
    )
    thread = threading.Thread(target=reader.run)
    thread.start()
    try:
        assert ready.wait(timeout=10)
        streams.delete(STREAM)  # as a flushed Redis would
        send(streams, {"batchref": "b1", "qty": "8"})  # no group now
        for _ in range(100):
            if quantity() == 8:
                break
            stop.wait(0.1)
        assert quantity() == 8
    finally:
        stop.set()
        thread.join(timeout=10)


def test_line_allocated_gets_every_allocation_with_its_identity(streams, bus, settings):
    celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = True
    bus = bootstrap()
    bus.handle(commands.CreateBatch("b1", "LAMP", 10))
    bus.handle(commands.CreateBatch("b2", "LAMP", 10, eta=None))
    bus.handle(commands.Allocate("o1", "LAMP", 8))
    bus.handle(commands.ChangeBatchQuantity("b1", 5))  # o1 moves to b2: a reallocation
    entries = [
        {k.decode(): v.decode() for k, v in fields.items()}
        for _, fields in streams.xrange("line_allocated")
    ]
    assert entries == [
        {"orderid": "o1", "sku": "LAMP", "qty": "8", "batchref": "b1", "version": "3"},
        {"orderid": "o1", "sku": "LAMP", "qty": "8", "batchref": "b2", "version": "6"},
    ]


# -- the operators' commands -----------------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def park(client: redis.Redis, *letters: dict[Any, Any]) -> list[str]:
    ids: list[Any] = [client.xadd(DEAD_LETTERS, letter) for letter in letters]
    return [message_id.decode() for message_id in ids]


def test_the_dead_letters_are_shown_oldest_first(streams):
    first, second = park(
        streams,
        {"batchref": "nope", "qty": "1", "error": "Invalid batch ref nope"},
        {"qty": "1", "error": "Missing field 'batchref'"},
    )
    out, err = run("stream_dead_letters")
    assert [json.loads(line) for line in out.splitlines()] == [
        {"id": first, "batchref": "nope", "qty": "1", "error": "Invalid batch ref nope"},
        {"id": second, "qty": "1", "error": "Missing field 'batchref'"},
    ]
    assert err == "2 of 2 dead letters shown\n"
    out, err = run("stream_dead_letters", "--count", "1")
    assert len(out.splitlines()) == 1
    assert err == "1 of 2 dead letters shown\n"


@pytest.mark.usefixtures("batch")
def test_a_replayed_dead_letter_is_applied_and_leaves_the_dead_letters(streams, consumer):
    kept, replayed = park(
        streams,
        {"batchref": "b1", "qty": "3", "error": "failed 5 times; last: ..."},
        {"batchref": "b1", "qty": "6", "error": "failed 5 times; last: ..."},
    )
    out, err = run("replay_stream_dead_letters", replayed)
    assert out.startswith(f"{replayed} -> {STREAM} ")
    assert err == "1 dead letters replayed\n"
    assert [message_id.decode() for message_id, _ in streams.xrange(DEAD_LETTERS)] == [kept]
    consumer().step()
    assert quantity() == 6

    run("replay_stream_dead_letters", "--all")
    assert streams.xlen(DEAD_LETTERS) == 0
    consumer().step()
    assert quantity() == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("PARKED", "1-0"), "no dead letter 1-0 in change_batch_quantity:dead"),
        ((), "give the dead letters' ids, or --all"),
        (("--all", "PARKED"), "give the dead letters' ids, or --all"),
        (("last",), "must be a stream entry id <ms>-<seq>, got 'last'"),
    ],
)
def test_replaying_what_is_not_a_dead_letter_changes_nothing(streams, args, message):
    [parked] = park(streams, {"batchref": "b1", "qty": "3", "error": "..."})
    with pytest.raises(CommandError, match=message):
        run("replay_stream_dead_letters", *(parked if a == "PARKED" else a for a in args))
    assert streams.xlen(DEAD_LETTERS) == 1
    assert streams.xlen(STREAM) == 0
