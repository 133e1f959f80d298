"""What a statement reads, from PostgreSQL's own account of running it (``EXPLAIN
ANALYZE``): a query's cost must not grow with what it does not ask for, whatever plan
the statistics lead to."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Model


def analyze(*models: type[Model]) -> None:
    """Statistics taken now: a test ANALYZEs while its SKU has no rows, then adds many,
    as happens to a SKU that suddenly sells, until the next ANALYZE. The planner then
    believes that SKU holds about one row."""
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def rows_read(sql: str, model: type[Model]) -> int:
    """How many rows of ``model``'s table running ``sql`` read, those its conditions
    then discarded included (it runs: roll back)."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        [[plan]] = cursor.fetchone()
    table = model._meta.db_table
    return sum(
        (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
        for node in _nodes(plan["Plan"])
        if node.get("Relation Name") == table
    )


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("Plans", []) for n in _nodes(child))]
