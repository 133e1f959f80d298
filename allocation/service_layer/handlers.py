"""Handlers: one short function per command or event.

Command handlers load the aggregate through the Unit of Work, ask it to act, and
commit. Previews do the same on a copy of the aggregate and commit nothing: what a
command would do, for a person to confirm. Event handlers get their infrastructure
injected by ``bootstrap``, so this module imports neither Django nor Redis nor Celery.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from allocation.domain import changes, commands, events
from allocation.domain.model import (
    AllocationError,
    DuplicateBatch,
    OrderLine,
    Product,
    UnknownBatch,
)
from allocation.service_layer.unit_of_work import AbstractUnitOfWork


class InvalidSku(AllocationError):
    pass


class PreviewOutdated(AllocationError):
    """A confirmed change would now do something else than its preview showed (the
    stock moved meanwhile): nothing was changed, and ``change`` is what it would do now."""

    def __init__(self, change: changes.QuantityChange) -> None:
        super().__init__(
            f"Batch {change.ref} or its lines changed since the preview, so nothing was changed."
            " Check what the change would do now and confirm again."
        )
        self.change = change


def add_batch(command: commands.CreateBatch, uow: AbstractUnitOfWork) -> None:
    with uow:
        if uow.products.get_by_batchref(command.ref) is not None:
            raise DuplicateBatch(f"Batch {command.ref} already exists")
        product = uow.products.get(command.sku)
        if product is None:
            product = Product(command.sku)
            uow.products.add(product)
        product.add_batch(command.ref, command.qty, command.eta)
        uow.commit()


def allocate(command: commands.Allocate, uow: AbstractUnitOfWork) -> str | None:
    """Returns the batch reference, or None when the line waits for stock."""
    line = OrderLine(command.orderid, command.sku, command.qty)
    with uow:
        product = _product(uow, command.sku, command.orderid)
        batchref = product.allocate(line)
        uow.commit()
    return batchref


def deallocate(command: commands.Deallocate, uow: AbstractUnitOfWork) -> changes.Cancellation:
    """Returns what the cancellation did: the waiting lines that took the freed units."""
    with uow:
        product = _product(uow, command.sku, command.orderid)
        cancellation = changes.cancel(product, command.orderid)
        uow.commit()
    return cancellation


def change_batch_quantity(
    command: commands.ChangeBatchQuantity, uow: AbstractUnitOfWork
) -> changes.QuantityChange:
    """Returns what the change did; refuses a confirmed one that no longer matches its
    preview (``command.previewed``) before anything is written."""
    with uow:
        change = changes.change_quantity(_batch_product(uow, command.ref), command.ref, command.qty)
        if command.previewed not in (None, change.fingerprint):
            raise PreviewOutdated(change)
        uow.commit()
    return change


# -- previews: what a command would do now, computed by the domain on a copy of the
# product; the Unit of Work is left without a commit, so nothing is written --


def preview_change_batch_quantity(
    command: commands.ChangeBatchQuantity, uow: AbstractUnitOfWork
) -> changes.QuantityChange:
    with uow:
        product = copy.deepcopy(_batch_product(uow, command.ref))
        return changes.change_quantity(product, command.ref, command.qty)


def preview_deallocate(
    command: commands.Deallocate, uow: AbstractUnitOfWork
) -> changes.Cancellation:
    with uow:
        product = copy.deepcopy(_product(uow, command.sku, command.orderid))
        return changes.cancel(product, command.orderid)


def _product(uow: AbstractUnitOfWork, sku: str, orderid: str) -> Product:
    product = uow.products.get(sku, for_order=orderid)
    if product is None:
        raise InvalidSku(f"Invalid sku {sku}")
    return product


def _batch_product(uow: AbstractUnitOfWork, ref: str) -> Product:
    product = uow.products.get_by_batchref(ref)
    if product is None:
        raise UnknownBatch(f"Invalid batch ref {ref}")
    return product


# -- event handlers: side effects, run in a Celery worker each on its own before the
# read model's projection applies the batch (see allocation.service_layer.messagebus) --

Publish = Callable[[str, dict[str, Any]], None]
Append = Callable[[str, dict[str, str | int]], None]
Notify = Callable[[str, str], None]


def publish_allocation(event: events.Allocated, publish: Publish) -> None:
    publish(
        "line_allocated",
        {"orderid": event.orderid, "sku": event.sku, "qty": event.qty, "batchref": event.batchref},
    )


def append_allocation(event: events.Allocated, append: Append) -> None:
    """The durable twin of ``publish_allocation``: an entry on the ``line_allocated``
    stream, with the event's identity (``sku``, ``version``), since a worker runs side
    effects at least once and a reader must be able to drop a repeat."""
    append(
        "line_allocated",
        {
            "orderid": event.orderid,
            "sku": event.sku,
            "qty": event.qty,
            "batchref": event.batchref,
            "version": event.version,
        },
    )


def notify_out_of_stock(event: events.OutOfStock, notify: Notify) -> None:
    notify(
        f"Out of stock: {event.sku}",
        f"Order {event.orderid} asked for {event.qty} x {event.sku} and no batch can take it."
        " The line is waiting and will be allocated as soon as stock arrives.",
    )


COMMAND_HANDLERS: Mapping[type[commands.Command], Callable[..., Any]] = {
    commands.CreateBatch: add_batch,
    commands.Allocate: allocate,
    commands.Deallocate: deallocate,
    commands.ChangeBatchQuantity: change_batch_quantity,
}

PREVIEWS: Mapping[type[commands.Command], Callable[..., Any]] = {
    commands.Deallocate: preview_deallocate,
    commands.ChangeBatchQuantity: preview_change_batch_quantity,
}
"""The commands a person confirms after seeing what they would do (``MessageBus.preview``)."""

EVENT_HANDLERS: Mapping[type[events.Event], Mapping[str, Callable[..., None]]] = {
    events.BatchCreated: {},
    events.BatchQuantityChanged: {},
    events.Allocated: {
        "publish_allocation": publish_allocation,
        "append_allocation": append_allocation,
    },
    events.Deallocated: {},
    events.OutOfStock: {"notify_out_of_stock": notify_out_of_stock},
    events.BackorderCancelled: {},
}
"""Every event's side effects, by name; the projection (``messagebus.PROJECTION``) takes
them all. The names are stable: retries and dead letters store them, so renaming a
function must not orphan a parked event. Every event is listed, side effects or not
(``tests/unit/test_event_catalogue.py``)."""
