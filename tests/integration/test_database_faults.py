"""PostgreSQL drops the connection in the middle of a request."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from allocation.adapters import outbox
from allocation.adapters.postgresql.base import alive
from allocation.models import OrderLineRecord, ProductRecord
from benchmarks.round_trips import counting_round_trips
from tests.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def admin_session() -> psycopg.Connection[tuple[object, ...]]:
    """A session of its own on the test database, beside Django's connections."""
    params = connection.get_connection_params()
    dsn = psycopg.conninfo.make_conninfo(
        **{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port", "password")}
    )
    return psycopg.connect(dsn, autocommit=True)


def kill_my_backend() -> None:
    """Ask the server, from another session, to terminate this thread's connection."""
    pid = connection.connection.info.backend_pid
    with admin_session() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


OTHER_SESSIONS = (
    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def terminate_every_other_session(admin: psycopg.Connection[tuple[object, ...]]) -> int:
    """End every session on this database but ``admin``'s; how many there were. Returns
    once they are all gone: termination is only asked for, and a session that has not
    exited yet has not told its client either."""
    ended = admin.execute(f"SELECT count(pg_terminate_backend(pid)) {OTHER_SESSIONS}").fetchone()

    def gone() -> bool:
        return admin.execute(f"SELECT count(*) {OTHER_SESSIONS}").fetchone() == (0,)

    wait_until(gone, 5, "the ended sessions to exit")
    return int(str(ended[0])) if ended else 0


def test_connection_dropped_mid_request_is_a_clean_503_and_the_next_request_works(
    monkeypatch, write_counts, api
):
    assert api.post("add_batch", {"ref": "b1", "sku": "LAMP", "qty": 5}).status_code == 201
    before = write_counts()
    version = ProductRecord.objects.get(sku="LAMP").version_number
    store = outbox.store

    def drop_then_store(events, actor):
        kill_my_backend()  # the product's save was already sent in this transaction
        return store(events, actor)

    monkeypatch.setattr(outbox, "store", drop_then_store)
    response = api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 1})

    assert response.status_code == 503
    assert "nothing was saved" in response.json()["message"]
    assert response["Retry-After"]
    monkeypatch.undo()
    assert write_counts() == before  # no partial write
    assert ProductRecord.objects.get(sku="LAMP").version_number == version

    retried = api.post("allocate", {"orderid": "o1", "sku": "LAMP", "qty": 1})
    assert retried.status_code == 202
    assert OrderLineRecord.objects.get(orderid="o1").batch_id == "b1"


def test_pooled_connections_the_server_ended_are_replaced_before_they_are_lent(api):
    """The pool's check costs no round trip while a connection is quiet, yet still
    finds those the server ended while they waited in the pool (here: every one
    terminated, as a restart would), and lends a live one instead of failing a request."""
    assert getattr(connection, "pool", None) is not None, "the pool is PostgreSQL's default"
    connection.ensure_connection()
    ours = connection.connection
    with admin_session() as admin:
        connection.close()  # back to the pool, as at the end of a request
        ended = terminate_every_other_session(admin)
        assert ended >= 1
        wait_until(lambda: not alive(ours), 5, "the server's goodbye on the socket")

    response = api.post("add_batch", {"ref": "b1", "sku": "LAMP", "qty": 5})

    assert response.status_code == 201


def test_a_quiet_pooled_connection_is_checked_without_a_round_trip():
    connection.ensure_connection()
    with counting_round_trips() as round_trips:
        assert alive(connection.connection)
    assert round_trips.count == 0


def test_a_persistent_connection_is_checked_the_same_way():
    """With ``DB_POOL_SIZE=0`` Django checks a persistent connection before a request
    uses it: no ``SELECT 1`` while it is quiet, and one the server ended is refused, so
    Django opens another."""
    connection.ensure_connection()
    with counting_round_trips() as round_trips:
        assert connection.is_usable()
    assert round_trips.count == 0
    ours = connection.connection
    kill_my_backend()
    wait_until(lambda: not alive(ours), 5, "the server's goodbye on the socket")
    assert not connection.is_usable()
    connection.close()  # as Django does with a connection its check refused
