"""The projection's rulebook: the rules say the right keys (every event has one:
tests/unit/test_event_catalogue.py)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from allocation.domain import events
from orders_read.projections import policy
from orders_read.rules import LineStatus


@pytest.mark.parametrize("event_class", list(policy.RULES), ids=lambda cls: cls.__name__)
def test_each_rule_fits_its_event_class(event_class):
    """What ``touches`` reads from an event of the class is there."""
    rule = policy.RULES[event_class]
    fields = {field.name for field in dataclasses.fields(event_class)}
    if isinstance(rule, policy.AboutLine):
        assert issubclass(event_class, events.LineEvent)
    else:
        assert {"sku", "ref"} <= fields


def test_an_event_about_a_line_touches_the_line_its_order_and_its_sku():
    keys = policy.touches(events.Allocated("LAMP", 3, "o1", 2, "b1"))
    assert keys == policy.Keys(sku="LAMP", line=("o1", "LAMP"))
    assert keys.order == "o1"
    assert keys.batch is None  # the batches a line leaves or joins come from the read model


def test_an_event_about_a_batch_touches_the_batch_and_its_sku():
    for event in [
        events.BatchCreated("LAMP", 1, "b1", 10, date(2031, 1, 1)),
        events.BatchQuantityChanged("LAMP", 2, "b1", 5),
    ]:
        keys = policy.touches(event)
        assert keys == policy.Keys(sku="LAMP", batch="b1")
        assert keys.order is None


@pytest.mark.parametrize(
    ("event_class", "after"),
    [
        (events.Allocated, LineStatus.ALLOCATED),
        (events.OutOfStock, LineStatus.WAITING),
        (events.Deallocated, None),
        (events.BackorderCancelled, None),
    ],
)
def test_the_status_of_a_line_after_an_event_about_it(event_class, after):
    assert policy.line_status_after(event_class) == after


def test_the_batch_events_are_the_events_about_a_batch():
    assert set(policy.BATCH_EVENTS) == {events.BatchCreated, events.BatchQuantityChanged}


def test_an_event_class_without_a_rule_is_refused():
    """``LineEvent`` is only a base class, so it has no rule of its own."""
    with pytest.raises(policy.NoRule, match="no projection rule for LineEvent"):
        policy.touches(events.LineEvent("LAMP", 1, "o1", 2))
    with pytest.raises(policy.NoRule, match="not about an order line"):
        policy.line_status_after(events.BatchCreated)


def test_only_a_waiting_line_has_a_place_in_the_queue_the_one_its_event_carries():
    assert policy.queue_arrival(events.OutOfStock, {"qty": 2, "arrival": 3}, version=9) == 3
    assert policy.queue_arrival(events.Allocated, {"qty": 2, "arrival": 3}, version=9) is None
    assert policy.queue_arrival(events.Deallocated, {"qty": 2}, version=9) is None


def test_an_out_of_stock_stored_without_its_arrival_takes_its_own_version():
    assert policy.queue_arrival(events.OutOfStock, {"qty": 2}, version=9) == 9
