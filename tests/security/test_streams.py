"""Probes of the Redis Streams integration under the production settings (issue 14's
security module, issue 15's streams): whatever a client appends to
``change_batch_quantity`` is applied, or parked with one bounded line of reason, without
changing anything else, stopping the consumer, or reaching a log or a terminal raw."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.management import call_command

from allocation.bootstrap import bootstrap
from allocation.domain import commands
from allocation.entrypoints.redis_streams import DEAD_LETTERS, STREAM, StreamConsumer, ensure_group
from allocation.models import BatchRecord, OutboxEvent

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

HOSTILE: list[dict[str, Any]] = [
    {"batchref": "b1", "qty": "1\n2026-11-30 INFO forged log line"},
    {"batchref": "b1", "qty": "\x1b[2J\x1b[31mred"},
    {"batchref": "b1\nforged", "qty": "1"},
    {"batchref": "b1'; DROP TABLE allocation_batch; --", "qty": "1"},
    {"batchref": "b1", "qty": "9" * 1_000_000},
    {"batchref": "b1", "qty": "1e9"},
    {"batchref": "b1", "qty": "0x10"},
    {"batchref": "b1", "qty": "٣"},  # an Arabic-Indic digit: int() would take it
    {"batchref": b"\xc0\x80", "qty": "1"},
    {f"field{n}": "x" for n in range(10_000)},
]


@pytest.fixture
def stream(production: Any) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(STREAM, DEAD_LETTERS)
    ensure_group(client)
    yield client
    client.delete(STREAM, DEAD_LETTERS)
    client.close()


def test_hostile_entries_are_parked_and_change_nothing(stream, caplog):
    bootstrap().handle(commands.CreateBatch("b1", "LAMP", 10))
    for fields in HOSTILE:
        stream.xadd(STREAM, fields)
    stream.xadd(STREAM, {"batchref": "b1", "qty": "7"})
    consumer = StreamConsumer(settings.REDIS_URL, threading.Event(), claim_idle=60, max_attempts=3)
    with caplog.at_level(logging.INFO):
        consumer.step()
        consumer.step()
    consumer.client.close()

    assert BatchRecord.objects.get().purchased_quantity == 7  # the one behind them
    assert OutboxEvent.objects.count() == 2
    assert stream.xlen(DEAD_LETTERS) == len(HOSTILE)
    for record in caplog.records:
        line = record.getMessage()
        assert len(line) < 1000
        assert not any(ord(char) < 32 for char in line), line  # no forged lines, no escapes


def test_the_dead_letters_reach_the_terminal_escaped(stream):
    for fields in HOSTILE[:4]:
        stream.xadd(DEAD_LETTERS, {**fields, "error": "bad"})
    out = StringIO()
    call_command("stream_dead_letters", stdout=out, stderr=StringIO())
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert not any(ord(char) < 32 for char in out.getvalue().replace("\n", ""))
    assert json.loads(lines[1])["qty"] == "\x1b[2J\x1b[31mred"  # kept, only escaped
