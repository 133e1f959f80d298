"""Domain builders for the unit tests: one SKU, shared dates, lines, products, events.

Every builder defaults to ``SKU``, so a test names only what it is about; a test whose
assertion spells out another SKU passes that one explicitly.
"""

from collections.abc import Iterable
from datetime import date, timedelta

from allocation.domain import events
from allocation.domain.model import Allocation, Backorder, Batch, OrderLine, Product

SKU = "RETRO-CLOCK"
TODAY = date(2024, 5, 1)
TOMORROW = TODAY + timedelta(days=1)
LATER = TODAY + timedelta(days=10)


def line(orderid: str, qty: int, sku: str = SKU) -> OrderLine:
    return OrderLine(orderid, sku, qty)


# -- products ---------------------------------------------------------------------------


def product(
    *batches: tuple[str, int] | tuple[str, int, date | None],
    version: int = 0,
    sku: str = SKU,
    backorders: Iterable[Backorder] = (),
) -> Product:
    """A product holding the given batches, as (ref, qty, eta) or (ref, qty) in the warehouse.

    The batches are there already, as if loaded: no event raised, the version as given.
    """
    built = [Batch(ref, sku, qty, eta[0] if eta else None) for ref, qty, *eta in batches]
    return Product(sku, built, version_number=version, backorders=backorders)


def created_product(*batches: tuple[str, int], sku: str = SKU) -> Product:
    """A new product given its (ref, qty) warehouse batches through ``add_batch``.

    Each one raised ``BatchCreated`` and took a version, so the first line allocated
    arrives at version ``len(batches) + 1``: the versions and arrivals the tests assert.
    """
    prod = Product(sku)
    for ref, qty in batches:
        prod.add_batch(ref, qty)
    return prod


# -- reading a product ------------------------------------------------------------------


def get_batch(prod: Product, ref: str) -> Batch:
    batch = prod.batch(ref)
    assert batch is not None, f"no batch {ref}"
    return batch


def quantities(prod: Product) -> dict[str, int]:
    """{ref: allocated_quantity} for every batch of the product."""
    return {b.reference: b.allocated_quantity for b in prod.batches}


def batch_of(prod: Product, orderid: str) -> str | None:
    """The batch the order's line is allocated to; None if it waits or is unknown."""
    state = prod.line_state(orderid)
    return state.batchref if isinstance(state, Allocation) else None


def waiting(prod: Product) -> list[str]:
    """The orders whose lines wait for stock, first come first."""
    return [b.line.orderid for b in prod.backorders]


# -- events of SKU ----------------------------------------------------------------------


def batch_created(ref: str, qty: int, eta: date | None, version: int) -> events.BatchCreated:
    return events.BatchCreated(sku=SKU, version=version, ref=ref, qty=qty, eta=eta)


def batch_quantity_changed(ref: str, qty: int, version: int) -> events.BatchQuantityChanged:
    return events.BatchQuantityChanged(sku=SKU, version=version, ref=ref, qty=qty)


def allocated(
    orderid: str, qty: int, batchref: str, version: int, arrival: int | None = None
) -> events.Allocated:
    """The line is placed; ``arrival`` its place in the queue: by default it arrived now."""
    return events.Allocated(
        sku=SKU,
        version=version,
        orderid=orderid,
        qty=qty,
        batchref=batchref,
        arrival=arrival or version,
    )


def deallocated(orderid: str, qty: int, batchref: str, version: int) -> events.Deallocated:
    return events.Deallocated(sku=SKU, version=version, orderid=orderid, qty=qty, batchref=batchref)


def out_of_stock(
    orderid: str, qty: int, version: int, arrival: int | None = None
) -> events.OutOfStock:
    """The line waits; ``arrival`` its place in the queue: by default it arrived now."""
    return events.OutOfStock(
        sku=SKU, version=version, orderid=orderid, qty=qty, arrival=arrival or version
    )


def backorder_cancelled(orderid: str, qty: int, version: int) -> events.BackorderCancelled:
    return events.BackorderCancelled(sku=SKU, version=version, orderid=orderid, qty=qty)
