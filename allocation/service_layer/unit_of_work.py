"""The ports a handler works through: a Unit of Work and its product repository.

A UoW is one atomic change to the write side and the events it raised. It is created
per request, task or command (never shared between threads). Leaving the ``with``
block without ``commit()`` rolls back, and so does any exception.

The repository tracks every product it hands out (``seen``), so the Unit of Work can
save them and collect their events, which it stores with who asked (``actor``: the
bus says, per command; ``allocation.service_layer.actor``). Adapters implement both
(``allocation.adapters``); tests use fakes (``tests/fakes.py``).
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

from allocation.domain.events import Event
from allocation.domain.model import Product
from allocation.service_layer.actor import SYSTEM, Actor


class ConcurrencyError(Exception):
    """Another transaction changed the product since we read it; the bus retries."""


class AbstractProductRepository(abc.ABC):
    def __init__(self) -> None:
        self.seen: set[Product] = set()

    def add(self, product: Product) -> None:
        self._add(product)
        self.seen.add(product)

    def get(self, sku: str, for_order: str | None = None) -> Product | None:
        """The product, or None; within one Unit of Work, always the same instance.

        ``for_order``: the order whose line the command is about, which an adapter may
        load with the product (the domain would otherwise ask for it separately).
        """
        known = next((p for p in self.seen if p.sku == sku), None)
        return known or self._track(self._get(sku, for_order))

    def get_by_batchref(self, ref: str) -> Product | None:
        known = next((p for p in self.seen if p.batch(ref) is not None), None)
        return known or self._track(self._get_by_batchref(ref))

    def _track(self, product: Product | None) -> Product | None:
        if product is not None:
            self.seen.add(product)
        return product

    @abc.abstractmethod
    def _add(self, product: Product) -> None: ...

    @abc.abstractmethod
    def _get(self, sku: str, for_order: str | None = None) -> Product | None: ...

    @abc.abstractmethod
    def _get_by_batchref(self, ref: str) -> Product | None: ...

    @abc.abstractmethod
    def save(self, product: Product) -> None:
        """Persist the product's changes; raise ConcurrencyError if it changed meanwhile."""


class AbstractUnitOfWork(abc.ABC):
    products: AbstractProductRepository
    actor: Actor = SYSTEM
    """Who the events of the next commit are stored for: the bus sets it per command."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def commit(self) -> None:
        """Save every product this UoW has seen and store the events they raised, with
        ``actor``."""
        new_events: list[Event] = []
        for product in self.products.seen:
            self.products.save(product)
            new_events.extend(product.events)
            product.events.clear()
        self._commit(new_events)

    @abc.abstractmethod
    def _commit(self, new_events: list[Event]) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...
