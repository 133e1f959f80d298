"""The event log keeps who asked for each change, as the outbox stored it."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders_read", "0005_orderview_created_at")]

    operations = [
        migrations.AddField(
            model_name="eventlog",
            name="actor",
            field=models.CharField(blank=True, max_length=255, null=True),
        ),
    ]
