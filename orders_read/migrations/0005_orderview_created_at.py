"""Orders know when they were created: their first event's time, from the log."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders_read", "0004_batch_plural")]

    operations = [
        migrations.AddField(
            model_name="orderview",
            name="created_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunSQL(
            "UPDATE orders_read_orderview SET created_at = (SELECT MIN(e.occurred_at)"
            " FROM orders_read_eventlog e WHERE e.orderid = orders_read_orderview.orderid)",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AddIndex(
            model_name="orderview",
            index=models.Index(fields=["-created_at", "-orderid"], name="orderview_newest"),
        ),
    ]
