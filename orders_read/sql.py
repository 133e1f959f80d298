"""The read model's plain SQL: which database, table names, running a statement.

Plain SQL is kept to the paths that run for every event or every API read: the
projection's recorder, and the read-your-writes check and the API's reads of an order
(``freshness``, ``selectors.orders``). There, the ORM building a query cost more than
the database answering it. Statements are templates naming tables as ``{log}``,
``{line}``...; they are portable between SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.db import connections, router
from django.db.models import Field, Model
from django.utils import timezone

from orders_read.models import (
    AppliedPosition,
    BatchView,
    EventLog,
    OrderLineView,
    OrderView,
    SkuStock,
)

TABLES: dict[str, type[Model]] = {
    "position": AppliedPosition,
    "log": EventLog,
    "line": OrderLineView,
    "batch": BatchView,
    "order": OrderView,
    "stock": SkuStock,
}
"""The names statements use for the read model's tables."""


def read_db() -> str:
    """The read model's database alias (its own with ``READ_DATABASE_URL``)."""
    return router.db_for_write(EventLog) or "default"


@functools.cache
def statement(db: str, template: str, **parts: str) -> str:
    """The template with ``{log}``, ``{line}``... replaced by the quoted table names,
    and any other ``{name}`` by ``parts[name]``.

    Cached: the same few templates run for every event and every read.
    """
    quote = connections[db].ops.quote_name
    tables = {name: quote(m._meta.db_table) for name, m in TABLES.items()}
    return template.format(**tables, **parts)


def rows(db: str, template: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connections[db].cursor() as cursor:
        cursor.execute(statement(db, template), params)
        return list(cursor.fetchall())


def run(db: str, template: str, params: Sequence[Any]) -> int:
    """Execute one statement; the number of rows it wrote."""
    with connections[db].cursor() as cursor:
        cursor.execute(statement(db, template), params)
        return int(cursor.rowcount)


def prep(db: str, model: type[Model], name: str, value: Any) -> Any:
    """A value as the field would send it to this database (JSON, datetimes...)."""
    field = model._meta.get_field(name)
    assert isinstance(field, Field), name
    return field.get_db_prep_save(value, connections[db])


def now(db: str, model: type[Model], field: str) -> Any:
    """The current time as the database takes it for this field (``auto_now`` by hand)."""
    return prep(db, model, field, timezone.now())
