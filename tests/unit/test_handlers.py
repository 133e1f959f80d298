"""Handlers and the message bus, bootstrapped with fakes: no database, no Redis."""

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import pytest

from allocation.bootstrap import bootstrap
from allocation.domain import commands, events
from allocation.domain.model import (
    DuplicateBatch,
    InvalidQuantity,
    LineConflict,
    UnknownBatch,
    UnknownLine,
)
from allocation.service_layer.handlers import InvalidSku
from allocation.service_layer.messagebus import (
    PROJECTION,
    HandlersFailed,
    MessageBus,
    TooMuchContention,
    jittered_backoff,
)
from allocation.service_layer.unit_of_work import ConcurrencyError
from tests.fakes import FakeUnitOfWork

ETA = date(2024, 6, 1)


class Outside:
    """Records what the bus sent to the outside world."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.notified: list[tuple[str, str]] = []
        self.projected: list[events.Event] = []
        self.batches: list[list[events.Event]] = []
        self.poison: set[events.Event] = set()

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        self.published.append((channel, message))

    def notify(self, subject: str, body: str) -> None:
        self.notified.append((subject, body))

    def project(self, batch: Sequence[events.Event]) -> None:
        """All or nothing, like the projection's transaction."""
        if self.poison & set(batch):
            raise RuntimeError("cannot project this one")
        self.batches.append(list(batch))
        self.projected.extend(batch)


@pytest.fixture
def uow():
    return FakeUnitOfWork()


@pytest.fixture
def outside():
    return Outside()


@pytest.fixture
def bus(uow, outside):
    return bootstrap(
        uow=uow, publish=outside.publish, notify=outside.notify, project=outside.project
    )


def names(event_list: list[events.Event]) -> list[str]:
    return [e.name for e in event_list]


# -- add_batch ------------------------------------------------------------------------------


def test_add_batch_for_a_new_product(bus, uow):
    bus.handle(commands.CreateBatch("b1", "CRUNCHY-ARMCHAIR", 100, None))
    product = uow.products.get("CRUNCHY-ARMCHAIR")
    assert product is not None
    assert product.batch("b1").purchased_quantity == 100
    assert uow.committed
    assert uow.published == [
        events.BatchCreated(sku="CRUNCHY-ARMCHAIR", version=1, ref="b1", qty=100, eta=None)
    ]


def test_add_batch_for_an_existing_product(bus, uow):
    bus.handle(commands.CreateBatch("b1", "GARISH-RUG", 100, None))
    bus.handle(commands.CreateBatch("b2", "GARISH-RUG", 99, ETA))
    product = uow.products.get("GARISH-RUG")
    assert [b.reference for b in product.batches] == ["b1", "b2"]
    assert product.batch("b2").eta == ETA
    assert product.version_number == 2
    assert [e.version for e in uow.published] == [1, 2]


def test_add_batch_with_an_existing_reference_is_an_error(bus, uow):
    bus.handle(commands.CreateBatch("b1", "GARISH-RUG", 100, None))
    with pytest.raises(DuplicateBatch, match="Batch b1 already exists"):
        bus.handle(commands.CreateBatch("b1", "GARISH-RUG", 5, None))
    assert uow.products.get("GARISH-RUG").batch("b1").purchased_quantity == 100
    assert len(uow.published) == 1


def test_a_batch_reference_is_unique_across_skus(bus, uow):
    bus.handle(commands.CreateBatch("b1", "GARISH-RUG", 100, None))
    uow.committed = False
    with pytest.raises(DuplicateBatch, match="Batch b1 already exists"):
        bus.handle(commands.CreateBatch("b1", "OTHER-SKU", 5, None))
    assert uow.products.get("OTHER-SKU") is None
    assert not uow.committed
    assert len(uow.published) == 1


def test_add_batch_with_a_bad_quantity_commits_nothing(bus, uow):
    with pytest.raises(InvalidQuantity):
        bus.handle(commands.CreateBatch("b1", "GARISH-RUG", 0, None))
    assert not uow.committed
    assert uow.published == []


# -- allocate -------------------------------------------------------------------------------


def test_allocate_returns_the_batch_and_commits(bus, uow):
    bus.handle(commands.CreateBatch("b1", "COMPLICATED-LAMP", 100, None))
    uow.committed = False
    assert bus.handle(commands.Allocate("o1", "COMPLICATED-LAMP", 10)) == "b1"
    assert uow.committed
    assert uow.products.get("COMPLICATED-LAMP").batch("b1").available_quantity == 90


def test_allocate_events_reach_the_outbox_once(bus, uow):
    bus.handle(commands.CreateBatch("b1", "COMPLICATED-LAMP", 100, None))
    bus.handle(commands.Allocate("o1", "COMPLICATED-LAMP", 10))
    bus.handle(commands.Allocate("o2", "COMPLICATED-LAMP", 5))
    assert uow.published[1:] == [
        events.Allocated(sku="COMPLICATED-LAMP", version=2, orderid="o1", qty=10, batchref="b1"),
        events.Allocated(sku="COMPLICATED-LAMP", version=3, orderid="o2", qty=5, batchref="b1"),
    ]
    assert uow.products.get("COMPLICATED-LAMP").events == []


def test_allocate_for_an_unknown_sku_is_an_error(bus, uow):
    bus.handle(commands.CreateBatch("b1", "AREALSKU", 100, None))
    uow.committed = False
    with pytest.raises(InvalidSku, match=r"^Invalid sku NONEXISTENTSKU$"):
        bus.handle(commands.Allocate("o1", "NONEXISTENTSKU", 10))
    assert not uow.committed
    assert len(uow.published) == 1


def test_allocate_out_of_stock_returns_none_and_commits_the_wait(bus, uow):
    bus.handle(commands.CreateBatch("b1", "POPULAR-CURTAINS", 9, None))
    assert bus.handle(commands.Allocate("o1", "POPULAR-CURTAINS", 10)) is None
    assert uow.published[-1] == events.OutOfStock(
        sku="POPULAR-CURTAINS", version=2, orderid="o1", qty=10
    )
    assert [b.line.orderid for b in uow.products.get("POPULAR-CURTAINS").backorders] == ["o1"]


def test_allocate_identical_resubmission_publishes_nothing_new(bus, uow):
    bus.handle(commands.CreateBatch("b1", "LAMP", 10, None))
    assert bus.handle(commands.Allocate("o1", "LAMP", 3)) == "b1"
    assert bus.handle(commands.Allocate("o1", "LAMP", 3)) == "b1"
    assert names(uow.published) == ["BatchCreated", "Allocated"]
    with pytest.raises(LineConflict):
        bus.handle(commands.Allocate("o1", "LAMP", 4))


def test_stock_arriving_serves_a_waiting_line(bus, uow):
    bus.handle(commands.CreateBatch("b1", "LAMP", 1, None))
    bus.handle(commands.Allocate("o1", "LAMP", 5))
    bus.handle(commands.CreateBatch("b2", "LAMP", 5, ETA))
    assert uow.published[-1] == events.Allocated(
        sku="LAMP", version=4, orderid="o1", qty=5, batchref="b2"
    )


# -- deallocate -----------------------------------------------------------------------------


def test_deallocate_frees_the_line(bus, uow):
    bus.handle(commands.CreateBatch("b1", "LAMP", 10, None))
    bus.handle(commands.Allocate("o1", "LAMP", 4))
    bus.handle(commands.Deallocate("o1", "LAMP"))
    product = uow.products.get("LAMP")
    assert product.batch("b1").available_quantity == 10
    assert product.line_state("o1") is None
    assert uow.published[-1] == events.Deallocated(
        sku="LAMP", version=3, orderid="o1", qty=4, batchref="b1"
    )


def test_deallocate_a_waiting_line_cancels_it(bus, uow):
    bus.handle(commands.CreateBatch("b1", "LAMP", 1, None))
    bus.handle(commands.Allocate("o1", "LAMP", 4))
    bus.handle(commands.Deallocate("o1", "LAMP"))
    assert uow.published[-1] == events.BackorderCancelled(
        sku="LAMP", version=3, orderid="o1", qty=4
    )


def test_deallocate_errors(bus, uow):
    bus.handle(commands.CreateBatch("b1", "LAMP", 10, None))
    with pytest.raises(InvalidSku, match="Invalid sku NOPE"):
        bus.handle(commands.Deallocate("o1", "NOPE"))
    with pytest.raises(UnknownLine, match="Order o1 has no line for sku LAMP"):
        bus.handle(commands.Deallocate("o1", "LAMP"))
    assert len(uow.published) == 1


# -- change_batch_quantity ------------------------------------------------------------------


def test_change_batch_quantity_changes_available_quantity(bus, uow):
    bus.handle(commands.CreateBatch("b1", "ADORABLE-SETTEE", 100, None))
    bus.handle(commands.ChangeBatchQuantity("b1", 50))
    assert uow.products.get("ADORABLE-SETTEE").batch("b1").available_quantity == 50
    assert uow.published[-1] == events.BatchQuantityChanged(
        sku="ADORABLE-SETTEE", version=2, ref="b1", qty=50
    )


def test_change_batch_quantity_reallocates_if_necessary(bus, uow):
    bus.handle(commands.CreateBatch("b1", "INDIFFERENT-TABLE", 50, None))
    bus.handle(commands.CreateBatch("b2", "INDIFFERENT-TABLE", 50, ETA))
    bus.handle(commands.Allocate("o1", "INDIFFERENT-TABLE", 20))
    bus.handle(commands.Allocate("o2", "INDIFFERENT-TABLE", 20))
    product = uow.products.get("INDIFFERENT-TABLE")
    assert [product.batch(r).available_quantity for r in ("b1", "b2")] == [10, 50]

    bus.handle(commands.ChangeBatchQuantity("b1", 25))

    assert [product.batch(r).available_quantity for r in ("b1", "b2")] == [5, 30]
    assert uow.published[4:] == [
        events.BatchQuantityChanged(sku="INDIFFERENT-TABLE", version=5, ref="b1", qty=25),
        events.Deallocated(sku="INDIFFERENT-TABLE", version=6, orderid="o2", qty=20, batchref="b1"),
        events.Allocated(sku="INDIFFERENT-TABLE", version=7, orderid="o2", qty=20, batchref="b2"),
    ]


def test_change_batch_quantity_of_an_unknown_batch_is_an_error(bus, uow):
    bus.handle(commands.CreateBatch("b1", "LAMP", 10, None))
    uow.committed = False
    with pytest.raises(UnknownBatch, match="Invalid batch ref nope"):
        bus.handle(commands.ChangeBatchQuantity("nope", 5))
    assert not uow.committed


def test_change_batch_quantity_negative_is_an_error(bus, uow):
    bus.handle(commands.CreateBatch("b1", "LAMP", 10, None))
    with pytest.raises(InvalidQuantity):
        bus.handle(commands.ChangeBatchQuantity("b1", -1))
    assert uow.products.get("LAMP").batch("b1").purchased_quantity == 10


# -- retries on version conflicts -----------------------------------------------------------


class Flaky:
    """A command handler that loses the optimistic-locking race ``failures`` times."""

    def __init__(self, failures: int, result: str = "b1") -> None:
        self.failures = failures
        self.result = result
        self.calls = 0

    def __call__(self, command: commands.Command) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConcurrencyError("version changed")
        return self.result


def bus_with(
    handler: Callable[[commands.Command], Any],
    max_attempts: int = 5,
    backoff: Callable[[int], float] = lambda n: 0,
) -> MessageBus:
    return MessageBus(
        {commands.Allocate: handler},
        {},
        projection=lambda batch: None,
        max_attempts=max_attempts,
        backoff=backoff,
    )


def test_the_bus_retries_a_command_that_lost_a_race():
    handler = Flaky(failures=2)
    assert bus_with(handler).handle(commands.Allocate("o1", "LAMP", 1)) == "b1"
    assert handler.calls == 3


def test_the_bus_succeeds_on_the_last_allowed_attempt():
    handler = Flaky(failures=4)
    assert bus_with(handler, max_attempts=5).handle(commands.Allocate("o1", "LAMP", 1)) == "b1"
    assert handler.calls == 5


def test_the_bus_gives_up_after_max_attempts():
    handler = Flaky(failures=100)
    waits = []

    def backoff(attempt: int) -> float:
        waits.append(attempt)
        return 0

    bus = bus_with(handler, max_attempts=4, backoff=backoff)
    with pytest.raises(TooMuchContention, match="Allocate lost 4 races"):
        bus.handle(commands.Allocate("o1", "LAMP", 1))
    assert handler.calls == 4
    assert waits == [1, 2, 3]  # no wait after the last attempt


def test_the_bus_does_not_retry_other_errors():
    calls = []

    def handler(command: commands.Command) -> None:
        calls.append(command)
        raise LineConflict("no")

    with pytest.raises(LineConflict):
        bus_with(handler).handle(commands.Allocate("o1", "LAMP", 1))
    assert len(calls) == 1


def test_jittered_backoff_grows_from_small_but_stays_capped():
    waits = {attempt: [jittered_backoff(attempt) for _ in range(50)] for attempt in range(1, 40)}
    for attempt, samples in waits.items():
        assert all(0 <= w <= 0.005 * 2**attempt for w in samples)
        assert all(w <= 1.0 for w in samples)  # a capped wait, whatever the attempt
    assert len(set(waits[10])) > 1  # jitter: competing writers do not wait alike


# -- event handlers -------------------------------------------------------------------------

ALLOCATED = events.Allocated(sku="LAMP", version=3, orderid="o1", qty=2, batchref="b1")
OUT_OF_STOCK = events.OutOfStock(sku="LAMP", version=4, orderid="o2", qty=7)
EVERY_EVENT = [
    events.BatchCreated(sku="LAMP", version=1, ref="b1", qty=5, eta=ETA),
    events.BatchQuantityChanged(sku="LAMP", version=2, ref="b1", qty=6),
    ALLOCATED,
    OUT_OF_STOCK,
    events.Deallocated(sku="LAMP", version=5, orderid="o1", qty=2, batchref="b1"),
    events.BackorderCancelled(sku="LAMP", version=6, orderid="o2", qty=7),
]


def test_an_allocation_is_projected_and_published_to_line_allocated(bus, outside):
    bus.handle_event(ALLOCATED)
    assert outside.projected == [ALLOCATED]
    assert outside.published == [
        ("line_allocated", {"orderid": "o1", "sku": "LAMP", "qty": 2, "batchref": "b1"})
    ]
    assert outside.notified == []


def test_out_of_stock_is_projected_and_notified(bus, outside):
    bus.handle_event(OUT_OF_STOCK)
    assert outside.projected == [OUT_OF_STOCK]
    assert len(outside.notified) == 1
    subject, body = outside.notified[0]
    assert "LAMP" in subject
    assert "o2" in body
    assert "7" in body
    assert outside.published == []


@pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: e.name)
def test_update_read_model_projects_every_event(bus, outside, event):
    bus.handle_event(event, ["update_read_model"])
    assert outside.projected == [event]
    assert outside.published == []


def test_naming_handlers_runs_only_those(bus, outside):
    bus.handle_event(ALLOCATED, ["publish_allocation"])
    assert len(outside.published) == 1
    assert outside.projected == []


def test_handle_event_with_an_unknown_handler_name_runs_nothing(bus, outside):
    with pytest.raises(LookupError, match="No handler nope for Allocated"):
        bus.handle_event(ALLOCATED, ["update_read_model", "nope"])
    with pytest.raises(LookupError, match="No handler publish_allocation for OutOfStock"):
        bus.handle_event(OUT_OF_STOCK, ["publish_allocation"])
    assert outside.published == []
    assert outside.projected == []


def test_a_failing_handler_neither_stops_the_others_nor_hides_its_failure(uow, outside):
    def broken_publish(channel: str, message: dict[str, Any]) -> None:
        raise ConnectionError("redis is down")

    bus = bootstrap(uow=uow, publish=broken_publish, project=outside.project)
    with pytest.raises(HandlersFailed) as failed:
        bus.handle_event(ALLOCATED)
    assert list(failed.value.failures) == ["publish_allocation"]
    assert isinstance(failed.value.failures["publish_allocation"], ConnectionError)
    assert "Allocated v3 of LAMP" in str(failed.value)
    assert outside.projected == [ALLOCATED]  # ran, and a retry of the failures skips it


def handler_names(bus: MessageBus, event: events.Event) -> list[str]:
    return [*bus.event_handlers[type(event)], PROJECTION]


def test_handler_names_per_event_type(bus):
    assert {e.name: handler_names(bus, e) for e in EVERY_EVENT} == {
        "BatchCreated": ["update_read_model"],
        "BatchQuantityChanged": ["update_read_model"],
        "Allocated": ["publish_allocation", "update_read_model"],
        "OutOfStock": ["notify_out_of_stock", "update_read_model"],
        "Deallocated": ["update_read_model"],
        "BackorderCancelled": ["update_read_model"],
    }


def test_every_handler_name_can_be_run_alone(bus, outside):
    for event in EVERY_EVENT:
        for name in handler_names(bus, event):
            bus.handle_event(event, [name])
    assert outside.projected == EVERY_EVENT
    assert len(outside.published) == 1
    assert len(outside.notified) == 1


def test_a_reallocation_is_published_too(bus, uow, outside):
    bus.handle(commands.CreateBatch("b1", "LAMP", 10, None))
    bus.handle(commands.CreateBatch("b2", "LAMP", 10, ETA))
    bus.handle(commands.Allocate("o1", "LAMP", 8))
    bus.handle(commands.ChangeBatchQuantity("b1", 4))
    for event in uow.published:
        bus.handle_event(event)
    assert [m["batchref"] for _, m in outside.published] == ["b1", "b2"]


# -- batches: side effects per event, then one projection -----------------------------------


def test_a_batch_runs_each_side_effect_then_projects_the_batch_once(bus, outside):
    assert bus.handle_events(EVERY_EVENT) == {}
    assert outside.batches == [EVERY_EVENT]
    assert len(outside.published) == 1
    assert len(outside.notified) == 1


def test_a_poison_event_is_projected_alone_and_holds_back_nothing(bus, outside):
    outside.poison = {ALLOCATED}
    failures = bus.handle_events(EVERY_EVENT)
    assert list(failures) == [EVERY_EVENT.index(ALLOCATED)]
    assert list(failures[EVERY_EVENT.index(ALLOCATED)]) == [PROJECTION]
    assert outside.projected == [e for e in EVERY_EVENT if e is not ALLOCATED]
    assert len(outside.published) == 1  # its side effects ran before the projection


def test_a_failing_side_effect_is_reported_for_its_event_only(uow, outside):
    def broken_publish(channel: str, message: dict[str, Any]) -> None:
        raise ConnectionError("redis is down")

    bus = bootstrap(uow=uow, publish=broken_publish, project=outside.project)
    failures = bus.handle_events(EVERY_EVENT)
    assert {i: list(f) for i, f in failures.items()} == {
        EVERY_EVENT.index(ALLOCATED): ["publish_allocation"]
    }
    assert outside.batches == [EVERY_EVENT]
