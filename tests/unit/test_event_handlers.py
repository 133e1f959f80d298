"""Each event runs its declared side effects, then the projection; a failure hides nothing."""

from typing import Any

import pytest

from allocation.bootstrap import bootstrap
from allocation.domain import commands, events
from allocation.service_layer.messagebus import PROJECTION, HandlersFailed, MessageBus
from tests.fakes import FakeUnitOfWork
from tests.unit.builders import LATER
from tests.unit.outside import Outside

ALLOCATED = events.Allocated(sku="LAMP", version=3, orderid="o1", qty=2, batchref="b1")
OUT_OF_STOCK = events.OutOfStock(sku="LAMP", version=4, orderid="o2", qty=7)
EVERY_EVENT = [
    events.BatchCreated(sku="LAMP", version=1, ref="b1", qty=5, eta=LATER),
    events.BatchQuantityChanged(sku="LAMP", version=2, ref="b1", qty=6),
    ALLOCATED,
    OUT_OF_STOCK,
    events.Deallocated(sku="LAMP", version=5, orderid="o1", qty=2, batchref="b1"),
    events.BackorderCancelled(sku="LAMP", version=6, orderid="o2", qty=7),
]


@pytest.fixture
def bus_redis_down(fake_uow: FakeUnitOfWork, outside: Outside) -> MessageBus:
    """A bus whose publishing fails, as when Redis is down: the other handlers still run."""

    def broken_publish(channel: str, message: dict[str, Any]) -> None:
        raise ConnectionError("redis is down")

    return bootstrap(
        uow=fake_uow, publish=broken_publish, append=outside.append, project=outside.project
    )


# -- one event ------------------------------------------------------------------------------


def test_an_allocation_is_projected_and_published_to_line_allocated(bus_with_fakes, outside):
    bus_with_fakes.handle_event(ALLOCATED)
    assert outside.projected == [ALLOCATED]
    assert outside.published == [
        ("line_allocated", {"orderid": "o1", "sku": "LAMP", "qty": 2, "batchref": "b1"})
    ]
    assert outside.appended == [
        (
            "line_allocated",
            {"orderid": "o1", "sku": "LAMP", "qty": 2, "batchref": "b1", "version": 3},
        )
    ]
    assert outside.notified == []


def test_out_of_stock_is_projected_and_notified(bus_with_fakes, outside):
    bus_with_fakes.handle_event(OUT_OF_STOCK)
    assert outside.projected == [OUT_OF_STOCK]
    assert len(outside.notified) == 1
    subject, body = outside.notified[0]
    assert "LAMP" in subject
    assert "o2" in body
    assert "7" in body
    assert outside.published == []


@pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: e.name)
def test_update_read_model_projects_every_event(bus_with_fakes, outside, event):
    bus_with_fakes.handle_event(event, ["update_read_model"])
    assert outside.projected == [event]
    assert outside.published == []


def test_naming_handlers_runs_only_those(bus_with_fakes, outside):
    bus_with_fakes.handle_event(ALLOCATED, ["publish_allocation"])
    assert len(outside.published) == 1
    assert outside.projected == []


def test_handle_event_with_an_unknown_handler_name_runs_nothing(bus_with_fakes, outside):
    with pytest.raises(LookupError, match="No handler nope for Allocated"):
        bus_with_fakes.handle_event(ALLOCATED, ["update_read_model", "nope"])
    with pytest.raises(LookupError, match="No handler publish_allocation for OutOfStock"):
        bus_with_fakes.handle_event(OUT_OF_STOCK, ["publish_allocation"])
    assert outside.published == []
    assert outside.projected == []


def test_a_failing_handler_neither_stops_the_others_nor_hides_its_failure(bus_redis_down, outside):
    with pytest.raises(HandlersFailed) as failed:
        bus_redis_down.handle_event(ALLOCATED)
    assert list(failed.value.failures) == ["publish_allocation"]
    assert isinstance(failed.value.failures["publish_allocation"], ConnectionError)
    assert "Allocated v3 of LAMP" in str(failed.value)
    assert outside.projected == [ALLOCATED]  # ran, and a retry of the failures skips it


def handler_names(bus: MessageBus, event: events.Event) -> list[str]:
    return [*bus.event_handlers[type(event)], PROJECTION]


def test_handler_names_per_event_type(bus_with_fakes):
    assert {e.name: handler_names(bus_with_fakes, e) for e in EVERY_EVENT} == {
        "BatchCreated": ["update_read_model"],
        "BatchQuantityChanged": ["update_read_model"],
        "Allocated": ["publish_allocation", "append_allocation", "update_read_model"],
        "OutOfStock": ["notify_out_of_stock", "update_read_model"],
        "Deallocated": ["update_read_model"],
        "BackorderCancelled": ["update_read_model"],
    }


def test_every_handler_name_can_be_run_alone(bus_with_fakes, outside):
    for event in EVERY_EVENT:
        for name in handler_names(bus_with_fakes, event):
            bus_with_fakes.handle_event(event, [name])
    assert outside.projected == EVERY_EVENT
    assert len(outside.published) == 1
    assert len(outside.notified) == 1


def test_a_reallocation_is_published_too(bus_with_fakes, fake_uow, outside):
    bus_with_fakes.handle(commands.CreateBatch("b1", "LAMP", 10, None))
    bus_with_fakes.handle(commands.CreateBatch("b2", "LAMP", 10, LATER))
    bus_with_fakes.handle(commands.Allocate("o1", "LAMP", 8))
    bus_with_fakes.handle(commands.ChangeBatchQuantity("b1", 4))
    for event in fake_uow.published:
        bus_with_fakes.handle_event(event)
    assert [m["batchref"] for _, m in outside.published] == ["b1", "b2"]


# -- batches: side effects per event, then one projection -----------------------------------


def test_a_batch_runs_each_side_effect_then_projects_the_batch_once(bus_with_fakes, outside):
    assert bus_with_fakes.handle_events(EVERY_EVENT) == {}
    assert outside.batches == [EVERY_EVENT]
    assert len(outside.published) == 1
    assert len(outside.notified) == 1


def test_a_poison_event_is_projected_alone_and_holds_back_nothing(bus_with_fakes, outside):
    outside.poison = {ALLOCATED}
    failures = bus_with_fakes.handle_events(EVERY_EVENT)
    assert list(failures) == [EVERY_EVENT.index(ALLOCATED)]
    assert list(failures[EVERY_EVENT.index(ALLOCATED)]) == [PROJECTION]
    assert outside.projected == [e for e in EVERY_EVENT if e is not ALLOCATED]
    assert len(outside.published) == 1  # its side effects ran before the projection


def test_a_failing_side_effect_is_reported_for_its_event_only(bus_redis_down, outside):
    failures = bus_redis_down.handle_events(EVERY_EVENT)
    assert {i: list(f) for i, f in failures.items()} == {
        EVERY_EVENT.index(ALLOCATED): ["publish_allocation"]
    }
    assert outside.batches == [EVERY_EVENT]
