"""Projections: keep the read model up to date from domain events.

Delivery is at least once and in any order, so ``project`` never increments anything.
It logs each event (a duplicate ``(sku, version)`` is skipped), then recomputes every
row the new events touch from the newest logged event for that key and from rows
derived the same way. The read model is therefore a function of the *set* of events
applied, whatever the order, the grouping into batches or the number of deliveries.

Two halves: ``policy`` says what an event touches (plain Python, one rule per event
class), ``recorder`` how each row is recomputed (SQL).

A batch is projected in one transaction, each step in one statement for the whole
batch, and each derived row once however many of the batch's events touch it: the
relay hands events over in batches, so a batch of many events costs about what one
does. The same transaction
moves each SKU's ``AppliedPosition`` (the tracking record) over the contiguous run of
logged versions, so "applied" can never be claimed for a row that is not written.

Projections of one SKU are serialised with transaction-scoped advisory locks (on
PostgreSQL), taken for the whole batch up front in one sorted order (SKUs, then the
orders their lines belong to), so two workers never interleave their read-then-write
on the same rows and never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from allocation.domain import events
from orders_read.projections import policy, recorder
from orders_read.sql import read_db


def project(batch: Sequence[events.Event]) -> None:
    """Apply a batch of events (any order, duplicates allowed) in one transaction.

    An event class without a rule (``policy.NoRule``) fails the batch before anything
    is written, so it is retried and dead-lettered rather than silently ignored.
    """
    if not batch:
        return
    keys = {(event.sku, event.version): policy.touches(event) for event in batch}
    skus = sorted({event.sku for event in batch})
    orders = sorted({k.order for k in keys.values() if k.order})
    db = read_db()
    with transaction.atomic(using=db):
        recorder.lock(db, [f"sku:{sku}" for sku in skus] + [f"order:{o}" for o in orders])
        touched = recorder.Touched()
        for event in recorder.log(db, batch):
            touched.add(keys[event.sku, event.version])
        touched.refresh(db)
        recorder.advance_positions(db, skus)
