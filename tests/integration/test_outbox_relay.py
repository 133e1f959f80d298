"""The outbox relay: sends what is unsent, however old; two relays never send a row twice."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from allocation.adapters import outbox
from allocation.adapters.outbox import StoredEvent
from allocation.models import OutboxEvent
from allocation.tasks import relay_outbox

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


def test_relay_sends_old_unsent_events_and_leaves_fresh_ones_to_the_fast_path():
    unsent_events(3, age=timedelta(days=1))  # a relay that was down for a day
    OutboxEvent.objects.create(name="BatchCreated", sku="LAMP", version=99, payload={})
    sent: list[StoredEvent] = []

    assert outbox.relay(sent.append, older_than=timedelta(seconds=5)) == 3
    assert [s.event.version for s in sent] == [1, 2, 3]
    assert outbox.unsent_count() == 1


def test_relay_stops_at_the_first_broker_failure_and_keeps_the_rest():
    unsent_events(4, age=timedelta(minutes=1))
    calls: list[int] = []

    def flaky(stored: StoredEvent) -> None:
        calls.append(stored.position)
        if len(calls) == 3:
            raise ConnectionError("broker gone")

    assert outbox.relay(flaky) == 2
    assert outbox.unsent_count() == 2


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

    def slow_publish(stored: StoredEvent) -> None:
        with lock:
            sent.append(stored.position)
        time.sleep(0.002)

    def relay() -> None:
        try:
            start.wait(timeout=10)
            outbox.relay(slow_publish, older_than=timedelta(0), batch=10)
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
