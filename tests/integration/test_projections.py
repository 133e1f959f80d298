"""Projections are idempotent and order-safe, and a rebuild equals the incremental model."""

from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import date, datetime, timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from allocation.bootstrap import rebuild_read_model
from allocation.domain import commands, events
from allocation.domain.model import Product
from allocation.models import OutboxEvent
from orders_read.models import AppliedPosition, BatchView, EventLog, OrderLineView, SkuStock
from orders_read.projections import project, recorder
from tests.postgresql.plans import analyze, rows_read
from tests.read_model import operate, snapshot, sums_disagreeing_with_lines

STORED_FROM = timezone.make_aware(datetime(2031, 1, 1))


def history(operations: list[tuple]) -> list[events.Event]:
    """The events a real Product raises for a sequence of operations, each stamped with
    a time as the outbox stamps it (what an order's ``created_at`` comes from)."""
    product = Product("LAMP")
    for op, *args in operations:
        operate(product, op, *args)
    return [
        dataclasses.replace(event, occurred_at=STORED_FROM + timedelta(seconds=event.version))
        for event in product.events
    ]


refs = st.sampled_from(["b1", "b2", "b3"])
orderids = st.sampled_from([f"o{n}" for n in range(6)])
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("batch"),
            refs,
            st.integers(1, 10),
            st.sampled_from([None, date(2031, 1, 1), date(2031, 2, 1)]),
        ),
        st.tuples(st.just("allocate"), orderids, st.integers(1, 6)),
        st.tuples(st.just("deallocate"), orderids),
        st.tuples(st.just("change"), refs, st.integers(0, 10)),
    ),
    min_size=1,
    max_size=20,
)


def project_all(batches: list[list[events.Event]]) -> dict:
    """Apply the batches in a transaction that is rolled back: each example starts clean."""
    with transaction.atomic():
        for batch in batches:
            project(batch)
            assert sums_disagreeing_with_lines() == []
        picture = snapshot()
        transaction.set_rollback(True)
    return picture


def one_by_one(delivered: list[events.Event]) -> list[list[events.Event]]:
    return [[event] for event in delivered]


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=operations,
    seed=st.integers(0, 2**32 - 1),
    duplicates=st.integers(0, 10),
    cuts=st.lists(st.integers(0, 40), max_size=6),
)
def test_duplicates_reordering_and_batching_give_the_in_order_read_model(
    ops, seed, duplicates, cuts
):
    in_order = history(ops)
    assume(in_order)
    shuffled = random.Random(seed)
    delivered = in_order + [shuffled.choice(in_order) for _ in range(duplicates)]
    shuffled.shuffle(delivered)
    bounds = sorted({0, len(delivered), *(c for c in cuts if c < len(delivered))})
    batches = [delivered[a:b] for a, b in itertools.pairwise(bounds)]

    expected = project_all(one_by_one(in_order))
    assert project_all(batches) == expected
    assert expected["positions"] == [("LAMP", in_order[-1].version)]


@pytest.mark.django_db
def test_the_applied_position_stops_at_a_gap_until_it_is_filled():
    in_order = history([("batch", "b1", 10, None)] + [("allocate", f"o{n}", 1) for n in range(5)])
    lost = in_order[2]  # version 3
    with transaction.atomic():
        project([e for e in in_order if e is not lost])
        assert snapshot()["positions"] == [("LAMP", 2)]
        project([in_order[4]])  # a duplicate changes nothing
        assert snapshot()["positions"] == [("LAMP", 2)]
        project([lost])
        assert snapshot()["positions"] == [("LAMP", 6)]
        transaction.set_rollback(True)


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_position_advances_from_itself_not_from_the_skus_history():
    """Advancing reads only the versions after the position, even planned as if the
    SKU had no history: the cost per event does not grow with the SKU's history."""
    EventLog.objects.bulk_create(
        EventLog(sku=f"OTHER-{n % 100}", version=n, name="Allocated", payload={})
        for n in range(500)
    )
    analyze(EventLog)
    EventLog.objects.bulk_create(
        EventLog(sku="LAMP", version=v, name="Allocated", payload={}) for v in range(1, 3002)
    )
    AppliedPosition.objects.create(sku="LAMP", version=3000)
    with CaptureQueriesContext(connection) as advancing:
        recorder.advance_positions("default", ["LAMP"])
    assert AppliedPosition.objects.get(sku="LAMP").version == 3001
    [statement] = advancing.captured_queries
    assert rows_read(statement["sql"], EventLog) <= 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_line_is_refreshed_from_its_own_row_not_from_its_skus_lines():
    """Planned as if the SKU had no lines, a line's refresh reads its own row only."""
    OrderLineView.objects.bulk_create(
        OrderLineView(orderid=f"x{n}", sku=f"OTHER-{n % 100}", qty=1, status="allocated")
        for n in range(500)
    )
    analyze(OrderLineView)
    OrderLineView.objects.bulk_create(
        OrderLineView(orderid=f"o{n}", sku="LAMP", qty=1, status="allocated", batchref="b1")
        for n in range(3000)
    )
    [allocated] = history([("batch", "b1", 10, None), ("allocate", "o3000", 1)])[1:]
    recorder.log("default", [allocated])
    with CaptureQueriesContext(connection) as refreshing:
        recorder.refresh_lines("default", [("o3000", "LAMP")])
    reading = refreshing.captured_queries[0]["sql"]
    assert rows_read(reading, OrderLineView) <= 1


@pytest.mark.django_db
def test_a_skus_stock_sums_batches_beyond_32_bits():
    """Each batch may hold up to 2**31 - 1 units (the inputs' bound): their sums may not."""
    full = 2**31 - 1
    in_order = history([("batch", "b1", full, None), ("batch", "b2", full, None)])
    with transaction.atomic():
        project(in_order)
        stock = SkuStock.objects.get(sku="LAMP")
        assert (stock.purchased, stock.available) == (2 * full, 2 * full)
        transaction.set_rollback(True)


def test_history_helper_raises_events():
    assert [e.name for e in history([("batch", "b1", 5, None), ("allocate", "o1", 2)])] == [
        "BatchCreated",
        "Allocated",
    ]


@pytest.fixture
def scenario(transactional_db, bus):
    """A busy little history: reallocation, waiting lines, cancellations, restock."""
    bus.handle(commands.CreateBatch("wh", "LAMP", 10))
    bus.handle(commands.CreateBatch("ship", "LAMP", 5, date(2031, 3, 1)))
    bus.handle(commands.CreateBatch("chairs", "CHAIR", 3))
    for n, qty in enumerate([4, 4, 3, 6, 2]):
        bus.handle(commands.Allocate(f"o{n}", "LAMP", qty))
    bus.handle(commands.Allocate("o1", "CHAIR", 3))
    bus.handle(commands.Allocate("o2", "CHAIR", 1))  # waits
    bus.handle(commands.ChangeBatchQuantity("wh", 5))
    bus.handle(commands.Deallocate("o0", "LAMP"))
    bus.handle(commands.Deallocate("o2", "CHAIR"))  # a waiting line is cancelled
    bus.handle(commands.CreateBatch("more", "LAMP", 20))


def test_rebuild_equals_the_incremental_read_model(scenario):
    incremental = snapshot()
    assert incremental["lines"]  # the scenario left something to compare
    assert {status for *_, status, _, _ in incremental["lines"]} == {"allocated"}

    call_command("rebuild_read_model")
    assert snapshot() == incremental
    call_command("rebuild_read_model")  # idempotent
    assert snapshot() == incremental


def test_events_keep_the_time_they_happened_through_a_rebuild(scenario):
    """Histories show when the write side stored each event, not when it was projected."""
    stored = dict(
        ((sku, version), at)
        for sku, version, at in OutboxEvent.objects.values_list("sku", "version", "created_at")
    )
    EventLog.objects.update(applied_at=timezone.now() + timedelta(hours=1))  # applied later

    def logged() -> dict:
        return {(e.sku, e.version): e.occurred_at for e in EventLog.objects.all()}

    assert logged() == stored
    call_command("rebuild_read_model")
    assert logged() == stored


def test_a_big_batch_moves_its_sums_without_summing_its_lines(transactional_db):
    """The projection's cost per event must not grow with the lines a batch holds: its
    total moves by the line's change, so a stored total that is off stays off by as much
    (a projection that summed the lines again would repair it)."""
    in_order = history([("batch", "b1", 100, None)] + [("allocate", f"o{n}", 1) for n in range(3)])
    project(in_order[:3])
    BatchView.objects.filter(reference="b1").update(allocated=F("allocated") + 1000)
    project(in_order[3:])
    assert BatchView.objects.get(reference="b1").allocated == 1003


def test_rebuild_reproduces_waiting_lines(transactional_db, bus):
    bus.handle(commands.CreateBatch("b1", "LAMP", 1))
    bus.handle(commands.Allocate("o1", "LAMP", 5))
    incremental = snapshot()
    assert incremental["lines"] == [("o1", "LAMP", 5, "waiting", None, 2)]
    assert incremental["stock"][0][4] == 5  # waiting demand per SKU

    rebuild_read_model()
    assert snapshot() == incremental


def test_out_of_stock_emails_the_stock_team(transactional_db, bus):
    bus.handle(commands.CreateBatch("b1", "LAMP", 1))
    bus.handle(commands.Allocate("o1", "LAMP", 5))
    assert [m.subject for m in mail.outbox] == ["Out of stock: LAMP"]
    assert "o1" in mail.outbox[0].body
