"""The product repository over Django's ORM (its port: ``service_layer.unit_of_work``).

It loads only what a decision needs (batches with their allocated totals and the
waiting lines) and fetches single allocations lazily; saving checks the version read
at load time. ``save`` only sends its statements: the Unit of Work, once it has sent
every write of the command (in one pipeline on PostgreSQL), asks ``confirm`` whether
they all took. A lost race is an error of the statement itself (a unique key taken,
a version check refused by the column's constraint, ``STALE``), never a row count to
read afterwards: the transaction cannot commit past it, so its COMMIT can travel with
the writes. On PostgreSQL what most commands change (an existing product's version,
batches and lines) is saved in one statement (``save_statement``); the rest, and
SQLite, through the statements below.

A little over the project's 300 lines: the repository and the statements of its hot
path (built once, ``allocation.adapters.prepared``) are read together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import IntegrityError
from django.db.models import Case, DateField, IntegerField, QuerySet, Value, When

from allocation.adapters import save_statement
from allocation.adapters.prepared import Prepared, deleting, fields_of, inserting, updating
from allocation.adapters.save_statement import STALE
from allocation.domain.model import Allocation, Backorder, Batch, LineState, OrderLine, Product
from allocation.models import BatchRecord, OrderLineRecord, ProductRecord
from allocation.service_layer.unit_of_work import AbstractProductRepository, ConcurrencyError


class StoredAllocations:
    """The AllocationLookup the domain uses to fetch allocations one order or batch at a time.

    ``known``: allocations already loaded with the product, by order (None: the order
    has no allocated line), so that asking for them costs no query.
    """

    def __init__(self, sku: str, known: dict[str, Allocation | None] | None = None) -> None:
        self.sku = sku
        self._known = known or {}

    def of_order(self, orderid: str) -> Allocation | None:
        if orderid in self._known:
            return self._known[orderid]
        found = (
            OrderLineRecord.objects.filter(product_id=self.sku, orderid=orderid)
            .exclude(batch=None)
            .values_list("qty", "batch_id", "arrival", "sequence")
            .first()
        )
        if found is None:
            return None
        qty, batchref, arrival, sequence = found
        assert sequence is not None
        return Allocation(OrderLine(orderid, self.sku, qty), str(batchref), arrival, sequence)

    def in_batch(self, batchref: str) -> Iterator[Allocation]:
        return (_allocation(r) for r in OrderLineRecord.objects.filter(batch__reference=batchref))


_PRODUCT, _WAITING, _ORDER = 1, 2, 3
"""What a row of ``_product_rows`` is: the product (with a batch, if any), a waiting
line, the order's allocated line."""


def _product_rows(sku: str, orderid: str | None = None) -> QuerySet[Any, tuple[Any, ...]]:
    """``(kind, number, ref, qty, eta, extra)`` rows: for the product, (version, batch
    reference, purchased, eta, allocated), one per batch (one of NULLs without any); for
    a waiting line, (arrival, orderid, qty, -, -); for the order's line, (arrival,
    batch reference or NULL if it waits, qty, -, sequence).

    Each part has one index to answer it, whatever the planner believes of the SKU's
    size (``OrderLineRecord``'s Meta): so the order's line is asked for by its key
    alone, allocated or not, and a waiting one is left to the waiting part."""
    no_date, no_number = Value(None, output_field=DateField()), Value(None, IntegerField())
    product = ProductRecord.objects.filter(sku=sku).values_list(
        Value(_PRODUCT),
        "version_number",
        "batches__reference",
        "batches__purchased_quantity",
        "batches__eta",
        "batches__allocated_quantity",
    )
    lines = OrderLineRecord.objects.filter(product_id=sku)
    waiting = lines.filter(batch=None).values_list(
        Value(_WAITING), "arrival", "orderid", "qty", no_date, no_number
    )
    if orderid is None:
        return product.union(waiting, all=True)
    order = lines.filter(orderid=orderid).values_list(
        Value(_ORDER), "arrival", "batch_id", "qty", no_date, "sequence"
    )
    return product.union(waiting, order, all=True)


_LOAD = Prepared(
    lambda sku: _product_rows(sku).query, fields_of(ProductRecord, sku="sku"), ProductRecord
)
_LOAD_FOR_ORDER = Prepared(
    lambda sku, orderid: _product_rows(sku, orderid).query,
    fields_of(OrderLineRecord, sku="product", orderid="orderid"),
    ProductRecord,
)
_SKU_OF_BATCH = Prepared(
    lambda ref: BatchRecord.objects.filter(reference=ref).values_list("product").query,
    fields_of(BatchRecord, ref="reference"),
    BatchRecord,
)
_LOCK = Prepared(
    lambda sku: ProductRecord.objects.select_for_update().filter(sku=sku).values_list("pk").query,
    fields_of(ProductRecord, sku="sku"),
    ProductRecord,
)
_BUMP = Prepared(
    lambda sku, expected, new: updating(
        ProductRecord.objects.filter(sku=sku),
        version_number=Case(When(version_number=expected, then=new), default=Value(STALE)),
    ),
    fields_of(ProductRecord, sku="sku", expected="version_number", new="version_number"),
    ProductRecord,
)
_INSERT_BATCH = Prepared(
    lambda ref, sku, purchased, allocated, eta: inserting(
        BatchRecord(
            reference=ref,
            product_id=sku,
            purchased_quantity=purchased,
            allocated_quantity=allocated,
            eta=eta,
        )
    ),
    fields_of(
        BatchRecord,
        ref="reference",
        sku="product",
        purchased="purchased_quantity",
        allocated="allocated_quantity",
        eta="eta",
    ),
    BatchRecord,
)
_UPDATE_BATCH = Prepared(
    lambda ref, purchased, allocated: updating(
        BatchRecord.objects.filter(reference=ref),
        purchased_quantity=purchased,
        allocated_quantity=allocated,
    ),
    fields_of(
        BatchRecord, ref="reference", purchased="purchased_quantity", allocated="allocated_quantity"
    ),
    BatchRecord,
)


LINE_KEY = ("orderid", "product")
LINE_UPDATES = ("qty", "batch", "arrival", "sequence")
_UPSERT_LINE = Prepared(
    lambda sku, orderid, qty, batch, arrival, sequence: inserting(
        OrderLineRecord(
            product_id=sku,
            orderid=orderid,
            qty=qty,
            batch_id=batch,
            arrival=arrival,
            sequence=sequence,
        ),
        conflict=(LINE_KEY, LINE_UPDATES),
    ),
    fields_of(
        OrderLineRecord,
        sku="product",
        orderid="orderid",
        qty="qty",
        batch="batch",
        arrival="arrival",
        sequence="sequence",
    ),
    OrderLineRecord,
)
_DELETE_LINE = Prepared(
    lambda sku, orderid: deleting(OrderLineRecord.objects.filter(product=sku, orderid=orderid)),
    fields_of(OrderLineRecord, sku="product", orderid="orderid"),
    OrderLineRecord,
)


def _allocation(record: OrderLineRecord) -> Allocation:
    assert record.batch_id is not None
    assert record.sequence is not None
    line = OrderLine(record.orderid, record.product_id, record.qty)
    return Allocation(line, record.batch_id, record.arrival, record.sequence)


BatchSnapshot = tuple[int, int]
T = TypeVar("T")


class ContendedSkus:
    """SKUs whose writers met lately, in this process: their loads take the row lock.

    Optimistic locking costs nothing while writers of a SKU rarely meet, and is at its
    worst on a hot SKU, where every loser redoes its work after a sleep and may lose
    again (docs/performance.md, "hot SKU"). So once a save
    of a SKU has lost a race, its loads lock the product row for ``ttl`` seconds (each
    conflict renews it): writers queue behind the one holding it instead of retrying.
    The version check stays in place, and stays the guarantee; this is only a hint.
    """

    def __init__(self, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._until: dict[str, float] = {}

    def mark(self, sku: str) -> None:
        self._until[sku] = self._clock() + self.ttl

    def __contains__(self, sku: object) -> bool:
        until = self._until.get(str(sku))
        if until is not None and until < self._clock():
            self._until.pop(str(sku), None)
            return False
        return until is not None


CONTENDED = ContendedSkus()


class DjangoProductRepository(AbstractProductRepository):
    def __init__(self, contended: ContendedSkus | None = None) -> None:
        super().__init__()
        self._contended = CONTENDED if contended is None else contended
        self._loaded_versions: dict[str, int] = {}
        self._loaded_batches: dict[str, dict[str, BatchSnapshot]] = {}

    def _add(self, product: Product) -> None:
        self._loaded_batches[product.sku] = {}

    def _get(self, sku: str, for_order: str | None = None) -> Product | None:
        """The product, its batches (with allocated totals), its waiting lines and, when
        asked, the order's allocated line: one statement (a ``UNION ALL`` the ORM builds).

        Plain tuples (``values_list``), not model instances: this runs at the start of
        every command and needs no model behaviour. On a contended SKU the row lock comes
        first, in its own statement: a statement that waited for a row lock returns the
        newest version of the locked row, but rows it joined stay as they were when it
        started, so the batches must be read after the lock. In the Unit of Work's
        pipeline both statements still travel in one round trip.
        """
        if sku in self._contended:
            _LOCK.send(sku=sku)  # its answer is not needed: it travels with the load
        if for_order is None:
            rows = _LOAD.rows(sku=sku)
        else:
            rows = _LOAD_FOR_ORDER.rows(sku=sku, orderid=for_order)
        if not any(kind == _PRODUCT for kind, *_ in rows):
            return None
        version = 0
        batches: list[Batch] = []
        backorders: list[Backorder] = []
        known: dict[str, Allocation | None] = {} if for_order is None else {for_order: None}
        for kind, number, ref, qty, eta, extra in rows:
            if kind == _PRODUCT:
                version = number
                if ref is not None:
                    batches.append(Batch(ref, sku, qty, eta, extra))
            elif kind == _WAITING:
                backorders.append(Backorder(OrderLine(ref, sku, qty), number))
            elif ref is not None:  # the order's line, allocated (waiting: read above)
                assert for_order is not None
                line = OrderLine(for_order, sku, qty)
                known[for_order] = Allocation(line, ref, number, extra)
        backorders.sort(key=lambda b: b.arrival)
        self._loaded_versions[sku] = version
        self._loaded_batches[sku] = {b.reference: _snapshot(b) for b in batches}
        return Product(sku, batches, version, backorders, StoredAllocations(sku, known))

    def _get_by_batchref(self, ref: str) -> Product | None:
        found = _SKU_OF_BATCH.rows(ref=ref)
        return self._get(found[0][0]) if found else None

    def save(self, product: Product) -> None:
        """Send the product's changes (in one statement when ``save_statement`` can);
        ``confirm`` says whether they took."""
        sku = product.sku
        loaded_version = self._loaded_versions.get(sku)
        if loaded_version == product.version_number:
            return  # nothing changed
        new, changed = self._changed_batches(product)
        lines = product.changed_lines()
        # Outside a pipeline (or for an insert that waits for its answer), a lost race
        # raises here; inside one, when the pipeline closes (``confirm``).
        with self._conflicts(sku):
            alias = save_statement.alias_for(len(changed), len(lines))
            if alias and loaded_version is not None and not new:
                save_statement.send(
                    alias,
                    sku,
                    loaded_version,
                    product.version_number,
                    [(b.reference, b.purchased_quantity, b.allocated_quantity) for b in changed],
                    [(o, *_line_row(state)) for o, state in lines.items() if state is not None],
                    [orderid for orderid, state in lines.items() if state is None],
                )
            elif loaded_version is None:
                ProductRecord.objects.create(sku=sku, version_number=product.version_number)
                self._save_separately(sku, new, changed, lines)
            else:
                _BUMP.send(sku=sku, expected=loaded_version, new=product.version_number)
                self._save_separately(sku, new, changed, lines)
        self._loaded_versions[sku] = product.version_number
        self._loaded_batches[sku] = {b.reference: _snapshot(b) for b in product.batches}

    def confirm(self, finish: Callable[[], T]) -> T:
        """``finish()``, the rest of the transaction, raising ConcurrencyError if another
        writer got there first: a version check refused (the product changed since it
        was loaded), or a concurrent insert of the same sku, batch or line.

        ``finish`` sends the statements that follow the saves and returns once the
        database has answered all of them (the Unit of Work's closes its pipeline): in
        a pipeline, a save's error comes back with whichever statement reads answers
        next."""
        with self._conflicts(*self._loaded_versions):
            return finish()

    @contextmanager
    def _conflicts(self, *skus: str) -> Iterator[None]:
        """A unique key taken meanwhile is a lost race: the bus retries, and the SKUs'
        next loads take the row lock (``ContendedSkus``)."""
        try:
            yield
        except IntegrityError as error:
            for sku in skus:
                self._contended.mark(sku)
            raise ConcurrencyError(f"Concurrent change to {', '.join(skus)}: {error}") from error

    def _changed_batches(self, product: Product) -> tuple[list[Batch], list[Batch]]:
        """The product's batches not stored yet, and the stored ones whose quantities
        changed."""
        loaded = self._loaded_batches[product.sku]
        new = [b for b in product.batches if b.reference not in loaded]
        changed = [
            b
            for b in product.batches
            if b.reference in loaded and loaded[b.reference] != _snapshot(b)
        ]
        return new, changed

    @classmethod
    def _save_separately(
        cls, sku: str, new: list[Batch], changed: list[Batch], lines: dict[str, LineState | None]
    ) -> None:
        """The batches and lines, statement by statement (after the product's)."""
        for batch in new:
            _INSERT_BATCH.send(
                ref=batch.reference,
                sku=sku,
                purchased=batch.purchased_quantity,
                allocated=batch.allocated_quantity,
                eta=batch.eta,
            )
        for batch in changed:
            _UPDATE_BATCH.send(
                ref=batch.reference,
                purchased=batch.purchased_quantity,
                allocated=batch.allocated_quantity,
            )
        cls._save_lines(sku, lines)

    @staticmethod
    def _save_lines(sku: str, changed: dict[str, LineState | None]) -> None:
        """Delete the lines that went, upsert the others in one statement.

        ``INSERT ... ON CONFLICT (orderid, sku) DO UPDATE`` costs one round trip for any
        number of lines, where ``update_or_create`` took six per line (two savepoints,
        a SELECT ... FOR UPDATE, the INSERT and two releases). Safe without the SELECT:
        the product's version check already serialises every writer of this SKU's lines.
        """
        kept: list[tuple[str, LineState]] = []
        for orderid, state in changed.items():
            if state is None:  # a command cancels one line: a statement each is fine
                _DELETE_LINE.send(sku=sku, orderid=orderid)
            else:
                kept.append((orderid, state))
        if len(kept) == 1:  # what most commands change: one statement built once
            [(orderid, state)] = kept
            _UPSERT_LINE.send(sku=sku, orderid=orderid, **_line_values(state))
        elif kept:
            OrderLineRecord.objects.bulk_create(
                [
                    OrderLineRecord(product_id=sku, orderid=orderid, **_line_fields(state))
                    for orderid, state in kept
                ],
                update_conflicts=True,
                unique_fields=list(LINE_KEY),
                update_fields=list(LINE_UPDATES),
            )


def _line_row(state: LineState) -> tuple[int, str | None, int, int | None]:
    """A line's stored values (qty, batch, arrival, sequence): allocated (to a batch, in
    a sequence) or waiting."""
    if isinstance(state, Allocation):
        return state.line.qty, state.batchref, state.arrival, state.sequence
    return state.line.qty, None, state.arrival, None


def _line_values(state: LineState) -> dict[str, Any]:
    """``_line_row`` by name."""
    return dict(zip(("qty", "batch", "arrival", "sequence"), _line_row(state), strict=True))


def _line_fields(state: LineState) -> dict[str, Any]:
    """``_line_values`` as the model's fields."""
    values = _line_values(state)
    values["batch_id"] = values.pop("batch")
    return values


def _snapshot(batch: Batch) -> BatchSnapshot:
    return (batch.purchased_quantity, batch.allocated_quantity)
