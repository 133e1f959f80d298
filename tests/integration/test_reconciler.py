"""The reconciler on the real databases: what the read model did not apply is resent.

Events are "lost" on their way to the read model here by a delivery that drops some,
as a wiped broker or a killed worker would; the reconciler must find exactly those.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from allocation import bootstrap
from allocation.adapters import outbox
from allocation.adapters.outbox import StoredEvent
from allocation.domain import commands
from allocation.models import DeadLetter, OutboxEvent
from allocation.service_layer import delivery
from allocation.service_layer.messagebus import PROJECTION, MessageBus
from orders_read import projections, tracking
from orders_read.models import AppliedPosition, EventLog, OrderView

pytestmark = pytest.mark.django_db(transaction=True)

NOW = timedelta(0)


def written_long_ago(minutes: float = 10) -> None:
    """Every event written (and first sent) ``minutes`` ago; the read model, which keeps
    the write side's times (an order's creation too), saw them so as well, as a rebuild
    would."""
    then = timezone.now() - timedelta(minutes=minutes)
    OutboxEvent.objects.update(created_at=then, sent_at=then)
    EventLog.objects.update(occurred_at=then)
    OrderView.objects.update(created_at=then)


class Lossy:
    """Delivers events to the projection, except the (sku, version) pairs it is told to lose."""

    def __init__(self, lose: set[tuple[str, int]]) -> None:
        self.lose = lose

    def __call__(self, stored: Sequence[StoredEvent]) -> None:
        kept = [s.event for s in stored if (s.event.sku, s.event.version) not in self.lose]
        projections.project(kept)


@pytest.fixture
def lossy_bus() -> Callable[[set[tuple[str, int]]], MessageBus]:
    return lambda lose: bootstrap.bootstrap(send_events=Lossy(lose))


def history(bus: MessageBus) -> None:
    """LAMP v1-v6, CHAIR v1-v2."""
    bus.handle(commands.CreateBatch("b1", "LAMP", 100))
    for n in range(5):
        bus.handle(commands.Allocate(f"o{n}", "LAMP", 1))
    bus.handle(commands.CreateBatch("c1", "CHAIR", 5))
    bus.handle(commands.Allocate("o1", "CHAIR", 1))


class Recorder:
    def __init__(self, deliver: bool = True) -> None:
        self.sent: list[tuple[str, int]] = []
        self.deliver = deliver

    def __call__(self, stored: Sequence[StoredEvent]) -> None:
        self.sent.extend((s.event.sku, s.event.version) for s in stored)
        if self.deliver:
            projections.project([s.event for s in stored])


def reconcile(send: Recorder, older_than: timedelta = NOW) -> int:
    return delivery.reconcile(outbox.OutboxLedger(send), tracking, older_than)


def test_gaps_in_the_middle_and_at_the_end_are_resent_and_nothing_else(lossy_bus):
    history(lossy_bus({("LAMP", 3), ("LAMP", 6), ("CHAIR", 2)}))
    assert dict(AppliedPosition.objects.values_list("sku", "version")) == {"LAMP": 2, "CHAIR": 1}
    assert bootstrap.read_model_lag().unapplied == 3

    send = Recorder()
    assert reconcile(send) == 3
    assert sorted(send.sent) == [("CHAIR", 2), ("LAMP", 3), ("LAMP", 6)]
    assert dict(AppliedPosition.objects.values_list("sku", "version")) == {"LAMP": 6, "CHAIR": 2}
    assert bootstrap.read_model_lag().unapplied == 0

    assert reconcile(send) == 0  # everything applied: nothing more is sent


def test_only_events_older_than_the_delay_are_resent(lossy_bus):
    history(lossy_bus({("LAMP", 6)}))
    send = Recorder()
    assert reconcile(send, older_than=timedelta(minutes=5)) == 0  # may still be on its way
    written_long_ago(minutes=6)
    assert reconcile(send, older_than=timedelta(minutes=5)) == 1


def test_a_resent_event_is_resent_again_later_and_less_often(lossy_bus):
    history(lossy_bus({("LAMP", 6)}))
    lost_again = Recorder(deliver=False)  # the broker loses the resend too
    assert reconcile(lost_again, older_than=timedelta(seconds=1)) == 0  # written just now
    written_long_ago()
    assert reconcile(lost_again, older_than=timedelta(seconds=1)) == 1
    assert reconcile(lost_again, older_than=timedelta(seconds=1)) == 0  # just sent
    row = OutboxEvent.objects.get(sku="LAMP", version=6)
    assert row.sends == 2  # the first send, and this one

    OutboxEvent.objects.filter(pk=row.pk).update(sent_at=timezone.now() - timedelta(seconds=1.5))
    assert reconcile(lost_again, older_than=timedelta(seconds=1)) == 0  # waits 1 s x 2**1
    OutboxEvent.objects.filter(pk=row.pk).update(sent_at=timezone.now() - timedelta(seconds=2.5))
    assert reconcile(lost_again, older_than=timedelta(seconds=1)) == 1
    OutboxEvent.objects.filter(pk=row.pk).update(sent_at=timezone.now() - timedelta(seconds=2.5))
    assert reconcile(lost_again, older_than=timedelta(seconds=1)) == 0  # now 1 s x 2**2
    assert lost_again.sent == [("LAMP", 6), ("LAMP", 6)]
    assert OutboxEvent.objects.get(pk=row.pk).sends == 3


def test_a_dead_lettered_projection_is_left_alone_until_replayed(lossy_bus):
    history(lossy_bus({("LAMP", 4)}))
    letter = DeadLetter.objects.create(
        handler=PROJECTION, event_name="Allocated", payload={}, error="boom", sku="LAMP", version=4
    )
    send = Recorder()
    assert reconcile(send) == 0
    lag = bootstrap.read_model_lag()
    assert (lag.unapplied, lag.parked) == (0, 1)

    DeadLetter.objects.filter(pk=letter.pk).update(replayed_at=timezone.now())
    assert reconcile(send) == 1
    assert send.sent == [("LAMP", 4)]


@pytest.mark.postgres
def test_two_reconcilers_at_once_send_each_lost_event_once(lossy_bus):
    bus = lossy_bus({("LAMP", v) for v in range(2, 42)})
    bus.handle(commands.CreateBatch("b1", "LAMP", 100))
    for n in range(40):
        bus.handle(commands.Allocate(f"o{n}", "LAMP", 1))
    written_long_ago()
    sent: list[tuple[str, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(2)

    def slow(stored: Sequence[StoredEvent]) -> None:
        with lock:
            sent.extend((s.event.sku, s.event.version) for s in stored)
        time.sleep(0.05)  # while the other reconciler looks at the same rows

    def run() -> None:
        try:
            start.wait(timeout=10)
            delivery.reconcile(outbox.OutboxLedger(slow), tracking, timedelta(minutes=1))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(sent) == [("LAMP", v) for v in range(2, 42)]
