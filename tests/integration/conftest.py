from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Run a write and its after-commit work (outbox send, eager projection) now.

    Under the ``db`` fixture nothing ever commits, so on-commit callbacks would not fire.
    """

    def run(write: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return write(*args, **kwargs)

    return run
