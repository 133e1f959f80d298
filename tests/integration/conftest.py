from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from allocation.bootstrap import bootstrap, rebuild_read_model
from allocation.domain import commands
from allocation.entrypoints import redis_streams
from allocation.models import BatchRecord, OrderLineRecord, OutboxEvent, ProductRecord
from allocation.service_layer.messagebus import MessageBus
from orders_read.models import EventLog
from tests.read_model import snapshot

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


@pytest.fixture(autouse=True)
def _rebuild_equals_incremental(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every scenario that committed for real, a rebuild gives the same read model.

    Checked only when the pipeline is drained (every outbox event is in the read
    model's log); a test that breaks the pipeline on purpose is left alone.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or any(
        name in request.fixturenames for name in ("transactional_db", "live_server")
    )
    if transactional:
        request.getfixturevalue("transactional_db")  # set up first, so torn down after us
    yield
    if request.node.get_closest_marker("synthetic_events"):
        return
    if not transactional or not OutboxEvent.objects.exists():
        return
    if EventLog.objects.count() != OutboxEvent.objects.count():
        return
    incremental = snapshot()
    rebuild_read_model()
    assert snapshot() == incremental, "rebuild_read_model differs from the incremental model"


@pytest.fixture
def streams(settings) -> Iterator[redis.Redis]:
    """The test Redis with none of the integration streams (nor their groups) in it."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = (redis_streams.STREAM, redis_streams.DEAD_LETTERS, "line_allocated")
    client.delete(*keys)
    yield client
    client.delete(*keys)
    client.close()
