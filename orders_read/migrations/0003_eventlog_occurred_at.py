"""Events keep the time they happened; rows logged before know only when applied."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders_read", "0002_applied_position")]

    operations = [
        migrations.RemoveIndex(model_name="eventlog", name="eventlog_recent"),
        migrations.AddField(
            model_name="eventlog",
            name="occurred_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunSQL(
            "UPDATE orders_read_eventlog SET occurred_at = applied_at",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="eventlog",
            name="occurred_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddIndex(
            model_name="eventlog",
            index=models.Index(fields=["-occurred_at"], name="eventlog_recent"),
        ),
    ]
