"""In-memory repository and Unit of Work: handler tests run without a database."""

from __future__ import annotations

import copy
from collections.abc import Iterable

from allocation.domain.events import Event
from allocation.domain.model import Product
from allocation.service_layer.actor import Actor
from allocation.service_layer.unit_of_work import AbstractProductRepository, AbstractUnitOfWork


class FakeRepository(AbstractProductRepository):
    """Hands out copies, as a database does: a Unit of Work left without a commit (a
    refusal, a preview) leaves the stored products as they were."""

    def __init__(self, products: Iterable[Product] = ()) -> None:
        super().__init__()
        self._products = {p.sku: p for p in products}

    def _add(self, product: Product) -> None:
        self._products[product.sku] = product

    def _get(self, sku: str, for_order: str | None = None) -> Product | None:
        return copy.deepcopy(self._products.get(sku))

    def _get_by_batchref(self, ref: str) -> Product | None:
        return copy.deepcopy(next((p for p in self._products.values() if p.batch(ref)), None))

    def save(self, product: Product) -> None:
        self._products[product.sku] = product


class FakeUnitOfWork(AbstractUnitOfWork):
    def __init__(self) -> None:
        self.products = FakeRepository()
        self.committed = False
        self.published: list[Event] = []
        self.stored_by: list[tuple[Actor, list[Event]]] = []
        """Each commit's actor and events, as the outbox would store them."""

    def __enter__(self) -> FakeUnitOfWork:
        self.products.seen = set()
        return self

    def _commit(self, new_events: list[Event]) -> None:
        self.committed = True
        self.published.extend(new_events)
        self.stored_by.append((self.actor, list(new_events)))

    def rollback(self) -> None:
        pass
