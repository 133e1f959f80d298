"""A SKU's lines are indexed under their status first (``OrderLineView``'s Meta says why)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders_read", "0007_queue_arrival_and_sku_time"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="orderlineview",
            index=models.Index(fields=["status", "sku", "arrival"], name="lineview_by_status"),
        ),
        migrations.RemoveIndex(model_name="orderlineview", name="lineview_by_sku"),
    ]
