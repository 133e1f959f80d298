"""Each outbox row says who asked for the change (null for the rows stored before)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("allocation", "0007_stream_position")]

    operations = [
        migrations.AddField(
            model_name="outboxevent",
            name="actor",
            field=models.CharField(blank=True, max_length=255, null=True),
        ),
    ]
