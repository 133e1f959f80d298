"""A line goes whole to the first batch that can take it: warehouse, earliest eta, reference."""

from tests.unit.builders import LATER, TODAY, TOMORROW, get_batch, line, product, quantities


def test_prefers_warehouse_stock_to_shipments():
    prod = product(("shipment", 100, TOMORROW), ("warehouse", 100))
    assert prod.allocate(line("o1", 10)) == "warehouse"
    assert quantities(prod) == {"shipment": 0, "warehouse": 10}


def test_prefers_earliest_eta():
    prod = product(("later", 100, LATER), ("today", 100, TODAY), ("tomorrow", 100, TOMORROW))
    assert prod.allocate(line("o1", 10)) == "today"
    assert quantities(prod) == {"later": 0, "today": 10, "tomorrow": 0}


def test_ties_are_broken_by_reference_whatever_the_load_order():
    for order in (("b", "a", "c"), ("c", "b", "a"), ("a", "c", "b")):
        prod = product(*[(ref, 10, TOMORROW) for ref in order])
        assert prod.allocate(line("o1", 1)) == "a"


def test_warehouse_ties_are_broken_by_reference():
    prod = product(("w-2", 10), ("w-1", 10))
    assert prod.allocate(line("o1", 1)) == "w-1"


def test_skips_a_preferred_batch_that_cannot_take_the_whole_line():
    prod = product(("warehouse", 5), ("shipment", 100, TOMORROW))
    assert prod.allocate(line("o1", 6)) == "shipment"
    assert quantities(prod) == {"warehouse": 0, "shipment": 6}


def test_uses_the_preferred_batch_until_it_is_exhausted():
    prod = product(("warehouse", 10), ("shipment", 100, TOMORROW))
    assert [prod.allocate(line(f"o{i}", 4)) for i in range(4)] == [
        "warehouse",
        "warehouse",
        "shipment",
        "shipment",
    ]
    assert quantities(prod) == {"warehouse": 8, "shipment": 8}


def test_exact_fit_fills_the_batch():
    prod = product(("b1", 10))
    assert prod.allocate(line("o1", 10)) == "b1"
    assert get_batch(prod, "b1").available_quantity == 0
