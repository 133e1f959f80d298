"""The order lines' indexes, as the repository's queries need them (``models.py``).

The foreign keys lose their own indexes (and, on PostgreSQL, their pattern-matching
twins): only the indexes are dropped. Django's ``AlterField`` would also drop and add
the foreign keys again, checking every line while it holds the table.
"""

from django.db import migrations, models

UNUSED = [
    "allocation_order_line_batchref_e1202dc4",
    "allocation_order_line_batchref_e1202dc4_like",
    "allocation_order_line_sku_d62942d5",
    "allocation_order_line_sku_d62942d5_like",
]


class Migration(migrations.Migration):
    dependencies = [
        ("allocation", "0009_plain_names"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="orderlinerecord",
                    name="batch",
                    field=models.ForeignKey(
                        db_column="batchref",
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.PROTECT,
                        related_name="lines",
                        to="allocation.batchrecord",
                        to_field="reference",
                    ),
                ),
                migrations.AlterField(
                    model_name="orderlinerecord",
                    name="product",
                    field=models.ForeignKey(
                        db_column="sku",
                        db_index=False,
                        on_delete=models.deletion.PROTECT,
                        related_name="lines",
                        to="allocation.productrecord",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{name}"', migrations.RunSQL.noop)
                for name in UNUSED
            ],
        ),
        migrations.AddIndex(
            model_name="orderlinerecord",
            index=models.Index(
                condition=models.Q(("batch__isnull", False)),
                fields=["batch"],
                name="allocated_lines_by_batch",
            ),
        ),
    ]
