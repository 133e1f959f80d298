"""The outbox relay: sends what is unsent, in batches, however old; woken by each commit;
two relays never send a row twice."""

from __future__ import annotations

import functools
import operator
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from allocation.adapters import outbox
from allocation.adapters.outbox import StoredEvent
from allocation.domain import events
from allocation.entrypoints.relay import follow
from allocation.entrypoints.tasks import relay_outbox
from allocation.models import OutboxEvent
from allocation.service_layer.actor import SYSTEM
from tests.waiting import wait_until

# The outbox rows here are made up (no write-side state behind them): no rebuild check.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.synthetic_events]


def created(version: int) -> dict:
    return {"sku": "LAMP", "version": version, "ref": f"b{version}", "qty": 1, "eta": None}


def unsent_events(count: int, age: timedelta) -> None:
    OutboxEvent.objects.bulk_create(
        OutboxEvent(name="BatchCreated", sku="LAMP", version=n + 1, payload=created(n + 1))
        for n in range(count)
    )
    OutboxEvent.objects.update(created_at=timezone.now() - age)


def test_relay_sends_unsent_events_however_old_in_order():
    unsent_events(3, age=timedelta(days=1))  # a relay that was down for a day
    OutboxEvent.objects.create(name="BatchCreated", sku="LAMP", version=99, payload=created(99))
    sent: list[StoredEvent] = []

    assert outbox.relay(sent.extend, older_than=timedelta(seconds=5)) == 3
    assert [s.event.version for s in sent] == [1, 2, 3]
    assert outbox.unsent_count() == 1  # younger than asked
    assert outbox.relay(sent.extend) == 1


def test_relay_hands_events_over_in_batches_and_counts_each_send():
    unsent_events(outbox.BATCH_SIZE * 2 + 1, age=timedelta(0))
    messages: list[list[int]] = []

    assert outbox.relay(lambda batch: messages.append([s.event.version for s in batch])) == 101
    assert [len(m) for m in messages] == [outbox.BATCH_SIZE, outbox.BATCH_SIZE, 1]
    assert functools.reduce(operator.iadd, messages, []) == list(range(1, 102))
    assert set(OutboxEvent.objects.values_list("sends", flat=True)) == {1}


def test_relay_stops_at_the_first_broker_failure_and_keeps_the_rest():
    unsent_events(outbox.BATCH_SIZE * 3, age=timedelta(minutes=1))
    calls: list[int] = []

    def flaky(batch: Sequence[StoredEvent]) -> None:
        calls.append(len(batch))
        if len(calls) == 2:
            raise ConnectionError("broker gone")

    assert outbox.relay(flaky) == outbox.BATCH_SIZE
    assert outbox.unsent_count() == outbox.BATCH_SIZE * 2


def test_the_beat_task_relays():
    unsent_events(2, age=timedelta(minutes=1))
    assert relay_outbox.apply().result == 2
    assert outbox.unsent_count() == 0


@pytest.mark.postgres
def test_two_relays_at_once_send_each_event_exactly_once():
    unsent_events(40, age=timedelta(minutes=1))
    sent: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(2)

    def slow_publish(batch: Sequence[StoredEvent]) -> None:
        with lock:
            sent.extend(stored.position for stored in batch)
        time.sleep(0.002 * len(batch))

    def relay() -> None:
        try:
            start.wait(timeout=10)
            outbox.relay(slow_publish, claim=10)
        finally:
            connection.close()

    threads = [threading.Thread(target=relay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(sent) == sorted(set(sent))  # no event sent twice
    assert len(sent) == 40
    assert outbox.unsent_count() == 0


@contextmanager
def following_relay(publish: outbox.Publish, linger: float | None = None) -> Iterator[None]:
    """A relay following the outbox in a thread (its timer: a minute, far too late to
    matter), ready and past its first, empty round; stopped on the way out."""
    stop = threading.Event()
    ready = threading.Event()

    def run() -> None:
        try:
            follow(stop, publish, poll=60, reconcile_every=3600, linger=linger, on_ready=ready.set)
        finally:
            connection.close()

    relay = threading.Thread(target=run)
    relay.start()
    try:
        assert ready.wait(timeout=10)
        wait_until(lambda: outbox.unsent_count() == 0, what="a first, empty round")
        yield
    finally:
        stop.set()
        relay.join(timeout=10)
    assert not relay.is_alive()


def commit_batch_created(version: int) -> None:
    with transaction.atomic():
        outbox.store([events.BatchCreated("LAMP", version, f"b{version}", 1, None)], SYSTEM)


@pytest.mark.postgres
def test_a_commit_wakes_the_following_relay_at_once():
    """The insert's NOTIFY wakes it: its timer alone would be far too late."""
    sent: list[StoredEvent] = []
    with following_relay(sent.extend):
        for version in (1, 2):
            commit_batch_created(version)
            wait_until(lambda: len(sent) == version, timeout=5, what="the relay to wake")  # noqa: B023
    assert [s.event.version for s in sent] == [1, 2]
    assert outbox.unsent_count() == 0


@pytest.mark.postgres
def test_commits_while_the_relay_lingers_travel_as_one_batch():
    """Woken by the first commit, the relay waits before claiming: the commits of that
    moment go out in one message, not one each."""
    batches: list[list[int]] = []
    with following_relay(lambda batch: batches.append([s.event.version for s in batch]), 1.0):
        for version in (1, 2, 3):  # three commits, well within the second it lingers
            commit_batch_created(version)
        wait_until(lambda: outbox.unsent_count() == 0, timeout=10, what="the relay to send")
    assert batches == [[1, 2, 3]]
