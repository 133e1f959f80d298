"""The read side's business rules, in Python (the SQL that implements them is held to
these by tests/integration/test_read_rules.py)."""

from __future__ import annotations

from datetime import date

import pytest

from orders_read.rules import (
    LineStatus,
    OrderStatus,
    Shipping,
    expected_ship_date,
    order_status,
    shipping,
)

ALLOCATED, WAITING = LineStatus.ALLOCATED, LineStatus.WAITING
MAY, JUNE = date(2031, 5, 1), date(2031, 6, 1)


@pytest.mark.parametrize(
    ("lines", "status"),
    [
        ([ALLOCATED], OrderStatus.ALLOCATED),
        ([ALLOCATED, ALLOCATED], OrderStatus.ALLOCATED),
        ([ALLOCATED, WAITING], OrderStatus.PARTLY_ALLOCATED),
        ([WAITING, ALLOCATED, ALLOCATED], OrderStatus.PARTLY_ALLOCATED),
        ([WAITING], OrderStatus.WAITING),
        ([WAITING, WAITING], OrderStatus.WAITING),
        ([], None),
    ],
)
def test_an_orders_status_follows_from_its_lines(lines, status):
    assert order_status(lines) == status


@pytest.mark.parametrize(
    ("etas", "ships"),
    [
        ([None], None),  # from the warehouse: now
        ([MAY], MAY),
        ([None, MAY], MAY),  # the warehouse does not hold a shipment back
        ([JUNE, MAY, None], JUNE),  # the latest batch decides
        ([], None),
    ],
)
def test_an_order_ships_when_the_latest_of_its_allocated_batches_arrives(etas, ships):
    assert expected_ship_date(etas) == ships


@pytest.mark.parametrize(
    ("status", "ships_on", "ships"),
    [
        (OrderStatus.ALLOCATED, None, Shipping.NOW),  # all from the warehouse
        (OrderStatus.ALLOCATED, MAY, Shipping.ON_DATE),
        (OrderStatus.PARTLY_ALLOCATED, MAY, Shipping.WAITING),  # a line holds it back
        (OrderStatus.PARTLY_ALLOCATED, None, Shipping.WAITING),
        (OrderStatus.WAITING, None, Shipping.WAITING),  # no date, yet not "now"
    ],
)
def test_when_an_order_ships_tells_the_warehouse_from_waiting(status, ships_on, ships):
    assert shipping(status, ships_on) == ships
