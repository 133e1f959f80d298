"""The Unit of Work over Django's ORM: one ``transaction.atomic()`` per change."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Self

from django.db import transaction

from allocation.adapters import outbox
from allocation.adapters.prepared import pipelined, send_commit
from allocation.adapters.repository import DjangoProductRepository
from allocation.domain.events import Event
from allocation.service_layer.unit_of_work import AbstractUnitOfWork


class DjangoUnitOfWork(AbstractUnitOfWork):
    """Owns ``transaction.atomic()``: nothing else on the write side opens transactions,
    but for one stated exception: a stream message's inbox (``allocation.adapters.inbox``)
    wraps the Unit of Work, so that the message's position commits with the change.

    Inside the transaction, statements go through one pipeline (on PostgreSQL), which
    the commit closes once every write is sent, COMMIT included; an outermost
    transaction's BEGIN goes in front of the load. A command costs two round trips
    (BEGIN with the load, then the writes and COMMIT), however many statements it
    writes. So ``commit()`` commits, as the book's Unit of Work does: nothing after it
    in the block can undo it. Nested in another transaction (a stream message's inbox,
    a test's), the commit is that transaction's, at its end.

    ``deliver``, when given, hands the stored events over right after the commit (the
    embedded setup, with no relay). Otherwise the outbox rows are all a commit leaves,
    and the relay picks them up.
    """

    def __init__(self, deliver: outbox.Publish | None = None) -> None:
        self._deliver = deliver
        self._atomic: transaction.Atomic | None = None
        self._pipeline: AbstractContextManager[None] | None = None
        self._committed = False
        self._outermost = False

    def __enter__(self) -> Self:
        self.products = self._products = DjangoProductRepository()
        self._committed = False
        self._outermost = not transaction.get_connection().in_atomic_block
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self._pipeline = pipelined(begin=self._outermost)
        self._pipeline.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._atomic is not None, "UoW used outside its with-block"
        if exc_type is None and not self._committed:
            self.rollback()
        try:
            self._close_pipeline(exc_type, exc, tb)
        finally:
            self._atomic.__exit__(exc_type, exc, tb)  # commit, or roll back
            self._atomic = None

    def _commit(self, new_events: list[Event]) -> None:
        def finish() -> Callable[[], list[outbox.StoredEvent]]:
            stored = outbox.store(new_events, self.actor)
            if self._outermost:
                send_commit()
            self._close_pipeline()
            return stored

        stored = self._products.confirm(finish)
        if self._deliver is not None:
            outbox.send_after_commit(stored(), self._deliver)
        self._committed = True

    def _close_pipeline(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        """Wait for the answers to every statement sent (once; before COMMIT)."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.__exit__(exc_type, exc, tb)

    def rollback(self) -> None:
        transaction.set_rollback(True)
