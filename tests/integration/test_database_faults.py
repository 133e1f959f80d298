"""PostgreSQL drops the connection in the middle of a request."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from allocation.adapters.repository import DjangoProductRepository
from allocation.models import OrderLineRecord, ProductRecord

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def kill_my_backend() -> None:
    """Ask the server, from another session, to terminate this thread's connection."""
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    dsn = psycopg.conninfo.make_conninfo(
        **{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port", "password")}
    )
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_connection_dropped_mid_request_is_a_clean_503_and_the_next_request_works(
    monkeypatch, write_counts, api
):
    assert api.post("add_batch", {"ref": "b1", "sku": "LAMP", "qty": 5}).status_code == 201
    before = write_counts()
    version = ProductRecord.objects.get(sku="LAMP").version_number
    save_lines = DjangoProductRepository._save_lines

    def drop_then_save(sku, changed):
        kill_my_backend()  # the version UPDATE already ran in this transaction
        return save_lines(sku, changed)

    monkeypatch.setattr(DjangoProductRepository, "_save_lines", staticmethod(drop_then_save))
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
