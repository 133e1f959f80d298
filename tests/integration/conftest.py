from __future__ import annotations

from collections.abc import Callable

import pytest

from allocation.bootstrap import bootstrap
from allocation.domain import commands
from allocation.models import BatchRecord, OrderLineRecord, OutboxEvent, ProductRecord
from allocation.service_layer.messagebus import MessageBus

WRITE_MODELS = (ProductRecord, BatchRecord, OrderLineRecord, OutboxEvent)


@pytest.fixture
def bus() -> MessageBus:
    return bootstrap()


@pytest.fixture
def write_counts() -> Callable[[], dict[str, int]]:
    """Row counts of every write-side table: bad input must leave them unchanged."""

    def count() -> dict[str, int]:
        return {model.__name__: model.objects.count() for model in WRITE_MODELS}

    return count


@pytest.fixture
def add_batch(bus: MessageBus) -> Callable[..., None]:
    def add(ref: str, sku: str, qty: int, eta: object = None) -> None:
        bus.handle(commands.CreateBatch(ref, sku, qty, eta))  # type: ignore[arg-type]

    return add
