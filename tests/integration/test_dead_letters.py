"""A poison event is parked after bounded retries; everything else keeps flowing."""

from __future__ import annotations

import pytest

from allocation.domain import commands, events
from allocation.models import DeadLetter
from orders_read import projections
from orders_read.models import OrderLineView

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_handler_failing_every_retry_goes_to_the_dead_letter_table(bus, monkeypatch):
    real_project = projections.project
    attempts: list[events.Event] = []

    def project(event: events.Event) -> None:
        if isinstance(event, events.Allocated) and event.orderid == "poison":
            attempts.append(event)
            raise RuntimeError("cannot project this one")
        real_project(event)

    monkeypatch.setattr(projections, "project", project)

    bus.handle(commands.CreateBatch("b1", "LAMP", 10))
    bus.handle(commands.Allocate("poison", "LAMP", 1))
    bus.handle(commands.Allocate("healthy", "LAMP", 1))

    assert len(attempts) == 6  # the first try and five retries, then it stops
    letter = DeadLetter.objects.get()
    assert (letter.handler, letter.event_name) == ("update_read_model", "Allocated")
    assert letter.payload["orderid"] == "poison"
    assert "cannot project this one" in letter.error
    assert OrderLineView.objects.filter(orderid="healthy").exists()  # the rest flows
