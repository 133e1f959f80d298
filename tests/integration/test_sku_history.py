"""A SKU over time and its queue: the chart's days from the event log, and each waiting
line's place in the queue and age, on the SKU's page and its order's page."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocation.bootstrap import write_positions
from allocation.domain import commands, events
from allocation.domain.model import Product
from orders_read.models import EventLog, SkuStock
from orders_read.projections import project
from orders_read.selectors import orders, stock
from tests.read_model import operate

pytestmark = pytest.mark.django_db

TODAY = date(2031, 3, 10)


def at_noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12)))


def days_of(product: Product, plan: list[tuple[date, list[tuple]]]) -> list[events.Event]:
    """Run each day's operations on the product; its events, stamped with their day."""
    stamped: list[events.Event] = []
    for day, operations in plan:
        for op, *args in operations:
            operate(product, op, *args)
        stamped += [dataclasses.replace(e, occurred_at=at_noon(day)) for e in product.events]
        product.events.clear()
    return stamped


def series(sku: str, days: int) -> list[tuple[date, int, int]]:
    now = SkuStock.objects.filter(sku=sku).first()
    return [(d.day, d.available, d.waiting) for d in stock.stock_by_day(sku, now, days, TODAY)]


def day(n: int) -> date:
    """``n`` days before ``TODAY``."""
    return TODAY - timedelta(days=n)


def test_each_day_ends_with_what_its_events_left():
    project(
        days_of(
            Product("LAMP"),
            [
                (day(6), [("batch", "wh", 10, None)]),  # before the window
                (day(4), [("allocate", "o1", 3)]),
                (day(3), [("allocate", "o2", 20), ("batch", "ship", 5, date(2031, 5, 1))]),
                (day(2), [("change", "wh", 4)]),  # 10 -> 4: o1 (3) still fits
                (day(1), [("change", "wh", 2)]),  # o1 evicted, then placed on the shipment
                (day(0), [("batch", "more", 25, None)]),  # o2, waiting, takes 20 of it
            ],
        )
    )
    assert series("LAMP", 5) == [
        (day(4), 7, 0),
        (day(3), 12, 20),
        (day(2), 6, 20),
        (day(1), 4, 20),
        (day(0), 9, 0),
    ]


def test_a_sku_without_events_in_the_window_is_flat_and_an_unknown_one_is_zero():
    project(days_of(Product("LAMP"), [(day(40), [("batch", "wh", 10, None)])]))
    assert {(a, w) for _, a, w in series("LAMP", 30)} == {(10, 0)}
    assert {(a, w) for _, a, w in series("NOPE", 30)} == {(0, 0)}


def test_the_chart_reads_only_the_window_in_one_statement(django_assert_num_queries):
    project(days_of(Product("LAMP"), [(day(n), [("batch", f"b{n}", 1, None)]) for n in range(40)]))
    now = SkuStock.objects.get(sku="LAMP")
    with django_assert_num_queries(1):
        days = stock.stock_by_day("LAMP", now, 30, TODAY)
    assert [d.available for d in days] == list(range(11, 41))


operations = st.lists(
    st.tuples(
        st.integers(0, 9),  # the day, before TODAY
        st.one_of(
            st.tuples(
                st.just("batch"),
                st.sampled_from(["b1", "b2"]),
                st.integers(1, 10),
                st.sampled_from([None, date(2031, 5, 1)]),
            ),
            st.tuples(st.just("allocate"), st.sampled_from(["o1", "o2", "o3"]), st.integers(1, 6)),
            st.tuples(st.just("deallocate"), st.sampled_from(["o1", "o2", "o3"])),
            st.tuples(st.just("change"), st.sampled_from(["b1", "b2"]), st.integers(0, 10)),
        ),
    ),
    min_size=1,
    max_size=15,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_each_day_is_what_projecting_the_events_until_its_end_gives(ops):
    """Worked backwards from today: the same as the read model after each day's end."""
    plan = sorted(ops, key=lambda op: -op[0])
    history = days_of(Product("LAMP"), [(day(n), [op]) for n, op in plan])

    def stock_after(last: date) -> tuple[int, int]:
        with transaction.atomic():
            project([e for e in history if e.occurred_at and e.occurred_at.date() <= last])
            row = SkuStock.objects.filter(sku="LAMP").first()
            transaction.set_rollback(True)
        return (row.available, row.waiting) if row else (0, 0)

    expected = [(day(n), *stock_after(day(n))) for n in range(7, -1, -1)]
    with transaction.atomic():
        project(history)
        assert series("LAMP", 8) == expected
        transaction.set_rollback(True)


def test_chart_points_days_in_the_sites_time_zone(settings):
    """An event at 00:30 in Paris belongs to that day there, not to the day before as in
    UTC."""
    settings.TIME_ZONE = "Europe/Paris"
    late = timezone.make_aware(datetime.combine(day(1), time(0, 30)))
    created = Product("LAMP")
    created.add_batch("wh", 10)
    project([dataclasses.replace(e, occurred_at=late) for e in created.events])
    with timezone.override("Europe/Paris"):
        assert series("LAMP", 3)[:2] == [(day(2), 0, 0), (day(1), 10, 0)]


# -- the queue -------------------------------------------------------------------------


@pytest.fixture
def queue(bus, committed) -> None:
    """Three lines wait for LAMP; o1 came first but waits only since its eviction."""
    committed(bus.handle, commands.CreateBatch("b1", "LAMP", 10))
    committed(bus.handle, commands.Allocate("o1", "LAMP", 6))  # arrival 2, allocated
    committed(bus.handle, commands.Allocate("o2", "LAMP", 5))  # arrival 3, waits
    committed(bus.handle, commands.Allocate("o3", "LAMP", 4))  # arrival 4, allocated
    committed(bus.handle, commands.Allocate("o4", "LAMP", 7))  # arrival 5, waits
    # b1 shrinks to 4: o3 then o1 are evicted; o3 fits again, o1 waits at its old place.
    committed(bus.handle, commands.ChangeBatchQuantity("b1", 4))


def waiting_since(orderid: str) -> datetime:
    return EventLog.objects.filter(orderid=orderid, sku="LAMP").latest("version").occurred_at


def test_waiting_lines_keep_their_place_of_arrival_and_show_since_when_they_wait(queue):
    detail, fresh = stock.sku_detail("LAMP", write_positions())
    assert fresh
    assert detail is not None
    assert [(w.line.orderid, w.position) for w in detail.waiting] == [
        ("o1", 1),  # evicted last, yet first in the queue: it came first
        ("o2", 2),
        ("o4", 3),
    ]
    assert [w.since for w in detail.waiting] == [waiting_since(o) for o in ("o1", "o2", "o4")]
    assert detail.waiting[0].since > detail.waiting[1].since


def test_the_order_page_shows_its_waiting_line_place_and_age(queue):
    detail, _ = orders.order_detail("o4", write_positions())
    assert detail is not None
    (line,) = detail.lines
    assert (line.line.queue_position, line.waiting_since) == (3, waiting_since("o4"))

    detail, _ = orders.order_detail("o3", write_positions())
    assert detail is not None
    (line,) = detail.lines
    assert (line.line.queue_position, line.waiting_since) == (None, None)  # allocated


def test_a_cancelled_waiting_line_leaves_the_queue_and_a_reorder_joins_its_end(
    queue, bus, committed
):
    committed(bus.handle, commands.Deallocate("o1", "LAMP"))
    committed(bus.handle, commands.Allocate("o1", "LAMP", 6))
    detail, _ = stock.sku_detail("LAMP", write_positions())
    assert detail is not None
    assert [(w.line.orderid, w.position) for w in detail.waiting] == [
        ("o2", 1),
        ("o4", 2),
        ("o1", 3),
    ]


def test_the_sku_page_draws_its_chart_and_lists_the_queue(client, viewer, queue):
    html = client.get("/stock/LAMP/").content.decode()
    assert 'role="img"' in html
    assert html.count('<polyline class="chart-') == 2
    assert "The numbers, day by day" in html
    assert "Place in queue" in html
    order_page = client.get("/orders/o1/").content.decode()
    assert "place 1 in the queue, waiting" in order_page
