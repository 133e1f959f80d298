"""PostgreSQL connections as configured: prepared statements really are reused."""

from __future__ import annotations

import pytest
from django.db import connection

from allocation.adapters.repository import DjangoProductRepository
from tests.factories import BatchRecordFactory, ProductRecordFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_a_repeated_load_runs_as_a_prepared_statement():
    """Server-side binding: after a few runs PostgreSQL stops parsing and planning it."""
    BatchRecordFactory(reference="b1", product=ProductRecordFactory(sku="LAMP"))
    for _ in range(6):
        DjangoProductRepository().get("LAMP")

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]

    assert any("allocation_batch" in sql and "allocation_product" in sql for sql in prepared)
