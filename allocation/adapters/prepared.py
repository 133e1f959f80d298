"""Statements the ORM builds once per database, then runs with new values.

Building an ORM query took longer than the database took to answer it, on every
command, though the write path's statements never change: only the values in them.
``Prepared`` builds the query (a queryset's, an update's or an insert's) once, with a
marker value of the right type for each named value, compiles it for the database, and
finds the markers among the parameters; at run time each value goes through the same
field conversion the ORM would apply (JSON, UUIDs, times), in the marker's place. Rows
come back as the driver gives them: read only columns that need no conversion.

``pipelined`` lets a Unit of Work send its writes together: on PostgreSQL, psycopg's
pipeline mode queues statements and their answers are read only when needed, so a
command's writes cost one round trip, however many statements they are (and its
``BEGIN`` travels with its first read). A statement is
``send``-ed and its answer (``Sent``) read after the pipeline closed; everywhere else
(SQLite, or outside a pipeline) the answer is there at once and the same code runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, JSONField, Model, QuerySet, UUIDField
from django.db.models.constants import OnConflict
from django.db.models.fields import CharField, DateField, DateTimeField, IntegerField
from django.db.models.sql import DeleteQuery, InsertQuery, Query, UpdateQuery

Compiled = tuple[str, tuple[Any, ...], list[str | None]]


class Prepared:
    """A statement built once per database by ``build(**markers)``; ``fields`` says
    which model field each named value belongs to (its type and its conversion)."""

    def __init__(
        self,
        build: Callable[..., Query],
        fields: Mapping[str, Field[Any, Any]],
        model: type[Model],
        returning: bool = False,
    ) -> None:
        """``returning``: an INSERT that answers the new row's primary key."""
        self._build = build
        self._fields = dict(fields)
        self._as_is = {n: t for n, f in self._fields.items() if (t := _as_is(f)) is not None}
        self._model = model
        self._returning = returning
        self._compiled: dict[str, Compiled] = {}

    def rows(self, **values: Any) -> list[tuple[Any, ...]]:
        """Run it and read its rows now (in a pipeline: one round trip for what is queued)."""
        return self.send(**values).rows()

    def send(self, **values: Any) -> Sent:
        """Execute it; its answer is read later, from what this returns."""
        db = router.db_for_write(self._model) or DEFAULT_DB_ALIAS
        connection = connections[db]
        sql, params, names = self._compiled.get(db) or self._compile(db)
        prep: dict[str, Any] = {
            n: v
            if n in self._as_is and (v is None or type(v) is self._as_is[n])
            else self._fields[n].get_db_prep_save(v, connection)
            for n, v in values.items()
        }
        cursor = connection.cursor()
        cursor.execute(sql, [prep[n] if n else p for p, n in zip(params, names, strict=True)])
        # psycopg keeps a statement's answer (in a pipeline, it comes later); sqlite3
        # steps through it only as it is read, and a COMMIT fails while it is unread.
        return Sent(cursor, read_now=connection.vendor != "postgresql")

    def _compile(self, db: str) -> Compiled:
        connection = connections[db]
        markers = {name: _marker(n, field) for n, (name, field) in enumerate(self._fields.items())}
        compiler = self._build(**markers).get_compiler(using=db)
        if self._returning:
            compiler.returning_fields = [self._model._meta.pk]
        compiled = compiler.as_sql()
        # An INSERT compiles to one statement per batch of rows: here, one row.
        sql, params = compiled[0] if isinstance(compiled, list) else compiled
        expected = {
            name: _comparable(self._fields[name].get_db_prep_save(marker, connection))
            for name, marker in markers.items()
        }
        names = [
            next((n for n, e in expected.items() if _comparable(p) == e), None) for p in params
        ]
        if lost := set(markers) - set(names):  # the ORM changed a value: fail, loudly
            raise RuntimeError(f"No parameter for {sorted(lost)} in: {sql}")
        self._compiled[db] = (sql, tuple(params), names)
        return self._compiled[db]


class Sent:
    """A statement's answer: in a pipeline, valid once the pipeline has closed (or, for
    ``rows``, right away at the price of a round trip)."""

    def __init__(self, cursor: CursorWrapper, read_now: bool) -> None:
        self._cursor = cursor
        self._rows = self._read() if read_now else None

    def rows(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            self._rows = self._read()
        return self._rows

    def _read(self) -> list[tuple[Any, ...]]:
        with self._cursor as cursor:
            return list(cursor.fetchall())


@contextmanager
def pipelined(alias: str = DEFAULT_DB_ALIAS, begin: bool = False) -> Iterator[None]:
    """Statements executed inside are sent without waiting for each answer, on
    PostgreSQL; leaving waits for all of them (one round trip) and raises the first
    error, as Django's error (an ``IntegrityError`` stays one). Elsewhere, nothing.

    ``begin``: the block starts the transaction that ``atomic()`` has just opened (an
    outermost one, before any statement): its ``BEGIN`` goes first in the pipeline, in
    the round trip of the first answer read. Left to psycopg, a ``BEGIN`` inside a
    pipeline is a round trip of its own: psycopg syncs after it, to learn the
    transaction's state (``Connection._start_query``). So psycopg is told autocommit,
    and the ``BEGIN`` is ours, as the ``COMMIT`` is (``send_commit``). Django's side
    of the transaction does not change: ``atomic()`` still keeps its savepoints,
    its ``on_commit`` hooks and its rollback on error, since psycopg's ``commit()``
    and ``rollback()`` act on the transaction in progress, whoever began it.

    Leave it before the transaction ends: psycopg syncs the pipeline once more when
    Django switches autocommit back on.
    """
    connection = connections[alias]
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors:
        driver = connection.connection
        if begin:
            assert connection.in_atomic_block, "begin: only for a transaction of atomic()'s"
            driver.autocommit = True  # no statement yet: no round trip, no transaction
        pipeline = driver.pipeline()
        pipeline.__enter__()
        try:
            if begin:
                driver.execute(_begin(driver.isolation_level))
            yield
        except BaseException as error:
            if driver.pgconn.pipeline_status != psycopg.pq.PipelineStatus.ABORTED:
                pipeline.__exit__(type(error), error, error.__traceback__)
                raise
            # A statement failed (a lost race) and PostgreSQL skipped the rest: closing
            # the pipeline fails again, with "pipeline aborted", which psycopg would log
            # as a warning on every lost race. The first error is the one to raise.
            with suppress(psycopg.errors.PipelineAborted):
                pipeline.__exit__(None, None, None)
            raise
        pipeline.__exit__(None, None, None)


def send_commit(alias: str = DEFAULT_DB_ALIAS) -> None:
    """COMMIT the transaction as its last statement: in a pipeline, behind the writes,
    in their round trip. It runs only if none of them failed (after a failed statement
    PostgreSQL skips the rest of the pipeline, and the transaction stays, to be rolled
    back). Django's own commit, at the end of ``atomic()``, then finds no transaction
    left and sends nothing (psycopg and sqlite3 commit only a transaction in progress).

    Only for an outermost transaction. Plain SQL: the ORM cannot send a COMMIT, and
    Django's ``commit()`` would wait for its answer. SQLite commits the same way, so
    that a Unit of Work means the same on both databases.
    """
    with connections[alias].cursor() as cursor:
        cursor.execute("COMMIT")


def _begin(isolation: psycopg.IsolationLevel | None) -> bytes:
    """The ``BEGIN`` psycopg would send, at the isolation level it is told (if any)."""
    if isolation is None:
        return b"BEGIN"
    return b"BEGIN ISOLATION LEVEL " + isolation.name.replace("_", " ").encode()


def _as_is(field: Field[Any, Any]) -> type[Any] | None:
    """The type of value the field's conversion gives back unchanged: a ``str`` for a
    text column, an ``int`` (not a bool) for an integer one; such a value, or None, is
    sent as it is (most values of the hot path: asking the field cost a few percent of
    an allocation's CPU). Any other value goes through the field, as the ORM sends it."""
    target = _target(field)
    if isinstance(target, CharField):
        return str
    if isinstance(target, IntegerField):
        return int
    return None


def _target(field: Field[Any, Any]) -> Field[Any, Any]:
    """The field whose type a value takes: a foreign key's target's."""
    return field.target_field if field.is_relation else field  # type: ignore[attr-defined]


def _marker(n: int, field: Field[Any, Any]) -> Any:
    """A value of the field's type that no constant of a statement equals (a number
    within every integer column's range: the ORM refuses others in filters)."""
    target = _target(field)
    if isinstance(target, IntegerField):
        return 2_000_000_000 + n
    if isinstance(target, UUIDField):
        return uuid.UUID(int=(1 << 120) + n)
    if isinstance(target, DateTimeField):
        return datetime(2000, 1, 1, tzinfo=UTC) + timedelta(microseconds=n)
    if isinstance(target, DateField):
        return date(2000, 1, 1) + timedelta(days=n)
    if isinstance(target, JSONField):
        return {"marker": n}
    return f"\x00marker{n}\x00"


def _comparable(param: Any) -> Any:
    """A parameter as compared with a marker: psycopg's JSON wrapper holds the value."""
    return getattr(param, "obj", param)


def fields_of(model: type[Model], **names: str) -> dict[str, Field[Any, Any]]:
    """``Prepared``'s ``fields``: for each named value, the field of ``model`` it fills."""
    found = {name: model._meta.get_field(field) for name, field in names.items()}
    assert all(isinstance(f, Field) for f in found.values()), names
    return found  # type: ignore[return-value]


def inserting(row: Model, conflict: tuple[Sequence[str], Sequence[str]] | None = None) -> Query:
    """The INSERT of ``row``, its values as given (``raw``: no ``pre_save``, so a creation
    time is the one given, not the one the query was built at). With ``conflict`` =
    (unique fields, fields to update): ``INSERT ... ON CONFLICT DO UPDATE``, as
    ``bulk_create(update_conflicts=True)`` would run it."""
    opts = row._meta
    if conflict is None:
        query = InsertQuery(type(row))
    else:
        unique, updates = conflict
        query = InsertQuery(
            type(row),
            on_conflict=OnConflict.UPDATE,
            update_fields=[opts.get_field(name) for name in updates],
            unique_fields=[opts.get_field(name) for name in unique],
        )
    query.insert_values([f for f in opts.concrete_fields if not f.primary_key], [row], raw=True)
    return query


def updating(rows: QuerySet[Any], **fields: Any) -> Query:
    """The UPDATE that ``rows.update(**fields)`` would run, as a query to compile."""
    query = rows.query.chain(UpdateQuery)
    assert isinstance(query, UpdateQuery)
    query.add_update_values(fields)
    return query


def deleting(rows: QuerySet[Any]) -> Query:
    """The DELETE of ``rows``, as ``rows.delete()`` runs it where nothing cascades (the
    write side's tables have no signals, and nothing points at what is deleted here)."""
    query = rows.query.chain(DeleteQuery)
    assert isinstance(query, DeleteQuery)
    return query
