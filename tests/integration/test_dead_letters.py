"""A poison event is parked after bounded retries; everything else keeps flowing."""

from __future__ import annotations

import pytest

from allocation.adapters import redis_publisher
from allocation.domain import commands, events
from allocation.models import DeadLetter
from orders_read import projections
from orders_read.models import OrderLineView

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_handler_failing_every_retry_goes_to_the_dead_letter_table(bus, monkeypatch):
    real_project = projections.project
    attempts: list[events.Event] = []

    def project(batch: list[events.Event]) -> None:
        for event in batch:
            if isinstance(event, events.Allocated) and event.orderid == "poison":
                attempts.append(event)
                raise RuntimeError("cannot project this one")
        real_project(batch)

    monkeypatch.setattr(projections, "project", project)

    bus.handle(commands.CreateBatch("b1", "LAMP", 10))
    bus.handle(commands.Allocate("poison", "LAMP", 1))
    bus.handle(commands.Allocate("healthy", "LAMP", 1))

    # The batch's try, then the single-event task's first try and five retries: it stops.
    assert len(attempts) == 7
    letter = DeadLetter.objects.get()
    assert (letter.handler, letter.event_name) == ("update_read_model", "Allocated")
    assert letter.payload["orderid"] == "poison"
    assert "cannot project this one" in letter.error
    assert OrderLineView.objects.filter(orderid="healthy").exists()  # the rest flows


def test_a_retry_runs_only_the_handler_that_failed(bus, monkeypatch):
    """One task per event: the projection ran once, the failing publish was retried alone."""
    real_project = projections.project
    projected: list[str] = []
    publishes: list[str] = []

    def project(batch: list[events.Event]) -> None:
        projected.extend(event.name for event in batch)
        real_project(batch)

    def publish(channel: str, message: dict[str, object]) -> None:
        publishes.append(channel)
        raise ConnectionError("redis refuses line_allocated")

    monkeypatch.setattr(projections, "project", project)
    monkeypatch.setattr(redis_publisher, "publish", publish)

    bus.handle(commands.CreateBatch("b1", "LAMP", 10))
    bus.handle(commands.Allocate("o1", "LAMP", 1))

    assert projected == ["BatchCreated", "Allocated"]
    assert publishes == ["line_allocated"] * 7  # the batch, then the first try and 5 retries
    letter = DeadLetter.objects.get()
    assert (letter.handler, letter.event_name) == ("publish_allocation", "Allocated")
    assert "redis refuses line_allocated" in letter.error
    assert OrderLineView.objects.filter(orderid="o1", batchref="b1").exists()


def test_an_event_that_cannot_be_read_is_parked_for_every_handler(bus):
    from allocation.entrypoints.tasks import handle_event

    handle_event.delay("Allocated", {"sku": "LAMP", "version": 1, "orderid": "o1"})

    letter = DeadLetter.objects.get()
    assert (letter.handler, letter.event_name) == ("", "Allocated")
    assert "TypeError" in letter.error


def test_staff_see_dead_letters_in_the_admin_and_replay_them(admin_client, bus):
    bus.handle(commands.CreateBatch("b1", "LAMP", 10))
    bus.handle(commands.Allocate("o1", "LAMP", 1))
    OrderLineView.objects.all().delete()  # as if the projection had been lost
    letter = DeadLetter.objects.create(
        handler="update_read_model",
        event_name="Allocated",
        payload={"sku": "LAMP", "version": 999, "orderid": "o1", "qty": 1, "batchref": "b1"},
        error="RuntimeError('cannot project this one')",
    )

    listing = admin_client.get("/admin/allocation/deadletter/")
    assert listing.status_code == 200
    assert "cannot project this one" in listing.content.decode()

    response = admin_client.post(
        "/admin/allocation/deadletter/",
        {"action": "replay", "_selected_action": [letter.pk]},
        follow=True,
    )
    assert "Replayed 1 event(s)." in response.content.decode()
    letter.refresh_from_db()
    assert letter.replayed_at is not None
    assert OrderLineView.objects.filter(orderid="o1", batchref="b1").exists()
