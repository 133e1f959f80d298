"""Read-your-writes: what a read waits for, and that it asks the write side only through
the port.

The write side is a fake here (positions given by hand), and the read model is set up
row by row, as the projection would leave it.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from orders_read import freshness
from orders_read.models import AppliedPosition, BatchView, EventLog, OrderLineView, SkuStock
from orders_read.selectors import orders, stock
from orders_read.sql import read_db

pytestmark = pytest.mark.django_db


class Written:
    """The write side's positions, as the port gives them."""

    def __init__(
        self,
        orders: Mapping[str, Mapping[str, int]] | None = None,
        skus: Mapping[str, int] | None = None,
        batches: Mapping[str, str] | None = None,
    ) -> None:
        self.orders = orders or {}
        self.skus = skus or {}
        self.batches = batches or {}

    def of_order(self, orderid: str) -> Mapping[str, int]:
        return self.orders.get(orderid, {})

    def of_order_query(self, orderid: str, db: str) -> None:
        return None  # as if the write side lived in another database

    def of_sku(self, sku: str) -> int:
        return self.skus.get(sku, 0)

    def of_batch(self, ref: str) -> tuple[str, int] | None:
        sku = self.batches.get(ref)
        return None if sku is None else (sku, self.skus[sku])


@pytest.fixture(autouse=True)
def _short_wait(settings) -> None:
    settings.READ_YOUR_WRITES_TIMEOUT = 0.05


def logged(sku: str, version: int, name: str = "Allocated", orderid: str | None = "o1") -> None:
    EventLog.objects.create(sku=sku, version=version, name=name, orderid=orderid, payload={})


def line(orderid: str, sku: str, batchref: str | None = "b1") -> None:
    status = "allocated" if batchref else "waiting"
    OrderLineView.objects.create(orderid=orderid, sku=sku, qty=1, status=status, batchref=batchref)


def test_an_order_is_fresh_once_the_newest_event_of_each_line_is_logged():
    """Older events of a line may still be on their way: the row reflects the newest."""
    line("o1", "LAMP")
    line("o1", "CHAIR")
    written = Written(orders={"o1": {"LAMP": 7, "CHAIR": 2}})
    logged("LAMP", 7)
    assert orders.allocations("o1", written)[1] is False  # CHAIR v2 is missing
    logged("CHAIR", 2)
    found, fresh = orders.allocations("o1", written)
    assert fresh
    assert found == [{"sku": "CHAIR", "batchref": "b1"}, {"sku": "LAMP", "batchref": "b1"}]


def test_an_order_without_rows_asks_the_log_alone():
    written = Written(orders={"o1": {"LAMP": 3}})
    assert orders.order("o1", written) == (None, False)  # not projected yet
    logged("LAMP", 3, name="Deallocated")  # projected: its only line is gone
    found, fresh = orders.order("o1", written)
    assert fresh
    assert found is not None
    assert (found["status"], found["lines"]) == ("cancelled", [])


def test_an_order_projected_between_its_read_and_its_check_is_read_again():
    """The check alone sees what was logged after the read: the read is not trusted."""
    written = Written(orders={"o1": {"LAMP": 1}})
    reads: list[freshness.Check] = []

    def read(check: freshness.Check) -> list[OrderLineView]:
        reads.append(check)
        if len(reads) == 1:  # nothing yet; the projection commits right after
            line("o1", "LAMP")
            logged("LAMP", 1)
            return []
        return list(check.annotate(OrderLineView.objects.filter(orderid="o1")))

    rows, fresh = freshness.order_rows("o1", written, read)
    assert fresh
    assert [row.sku for row in rows] == ["LAMP"]
    assert len(reads) == 2


def test_an_order_nobody_wrote_is_not_waited_for():
    assert orders.allocations("nobody", Written()) == ([], True)


@pytest.mark.parametrize(
    "read",
    [
        lambda written: orders.allocations("o1", written),
        lambda written: orders.order("o1", written),
        lambda written: orders.order_detail("o1", written),
    ],
    ids=["allocations", "order", "order_detail"],
)
def test_each_read_of_an_order_carries_the_check_in_its_first_statement(read):
    line("o1", "LAMP")
    logged("LAMP", 1)
    with CaptureQueriesContext(connections[read_db()]) as queries:
        _, fresh = read(Written(orders={"o1": {"LAMP": 1}}))
    assert fresh
    assert "orders_read_eventlog" in queries.captured_queries[0]["sql"]


def test_a_sku_is_fresh_once_its_applied_position_reaches_the_written_version():
    """Its stock sums every line, so every event up to that version must be applied."""
    SkuStock.objects.create(
        sku="LAMP", purchased=5, allocated=0, available=5, waiting=0, batch_count=1
    )
    written = Written(skus={"LAMP": 4})
    AppliedPosition.objects.create(sku="LAMP", version=3)
    logged("LAMP", 4)  # applied out of order, while version 3 is still on its way
    detail, fresh = stock.sku_detail("LAMP", written)
    assert detail is not None
    assert not fresh
    AppliedPosition.objects.filter(sku="LAMP").update(version=4)
    assert stock.sku_detail("LAMP", written)[1]


def test_a_batch_is_found_once_its_sku_is_applied():
    written = Written(skus={"LAMP": 1}, batches={"b1": "LAMP"})
    assert stock.batch("b1", written) is None  # BatchCreated not projected yet
    BatchView.objects.create(reference="b1", sku="LAMP", purchased=4)
    AppliedPosition.objects.create(sku="LAMP", version=1)
    found = stock.batch("b1", written)
    assert found is not None
    assert (found.sku, found.purchased) == ("LAMP", 4)
    assert stock.batch("unknown", written) is None


def test_the_reads_touch_no_write_side_table():
    """Everything the write side says comes through the port, so the read model may
    live in another database."""
    line("o1", "LAMP")
    written = Written(orders={"o1": {"LAMP": 1}}, skus={"LAMP": 1}, batches={"b1": "LAMP"})
    with CaptureQueriesContext(connections[read_db()]) as queries:
        orders.allocations("o1", written)
        orders.order("o1", written)
        orders.order_detail("o1", written)
        stock.sku_detail("LAMP", written)
        stock.batch("b1", written)
    assert queries.captured_queries
    assert not [q["sql"] for q in queries.captured_queries if "allocation_" in q["sql"]]


def test_a_wait_retries_until_caught_up_and_gives_up_at_the_timeout(settings):
    answers = iter([False, False, True])
    assert freshness.wait(lambda: ("rows", next(answers))) == ("rows", True)

    settings.READ_YOUR_WRITES_TIMEOUT = 0
    attempts = iter(range(1, 100))
    assert freshness.wait(lambda: (next(attempts), False)) == (1, False)  # one attempt only
