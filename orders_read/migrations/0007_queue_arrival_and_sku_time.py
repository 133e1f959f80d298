"""Waiting lines know their place in the queue; a SKU's recent events are indexed by time,
and a batch's own events by their name (not behind every allocation to the batch).

The lines waiting already take the version of their newest event (their OutOfStock,
which did not carry the arrival yet): right for every line but one evicted by a
shrinking batch, which kept an earlier place. ``rebuild_read_model`` takes the exact
arrival from the write side.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders_read", "0006_eventlog_actor")]

    operations = [
        migrations.RemoveIndex(model_name="orderlineview", name="lineview_by_sku"),
        migrations.AddField(
            model_name="orderlineview",
            name="arrival",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.RunSQL(
            "UPDATE orders_read_orderlineview SET arrival = (SELECT MAX(e.version)"
            " FROM orders_read_eventlog e WHERE e.orderid = orders_read_orderlineview.orderid"
            " AND e.sku = orders_read_orderlineview.sku) WHERE status = 'waiting'",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AddIndex(
            model_name="orderlineview",
            index=models.Index(fields=["sku", "status", "arrival"], name="lineview_by_sku"),
        ),
        migrations.AddIndex(
            model_name="eventlog",
            index=models.Index(fields=["sku", "occurred_at"], name="eventlog_by_sku_time"),
        ),
        migrations.RemoveIndex(model_name="eventlog", name="eventlog_by_batch"),
        migrations.AddIndex(
            model_name="eventlog",
            index=models.Index(fields=["batchref", "name", "version"], name="eventlog_by_batch"),
        ),
    ]
