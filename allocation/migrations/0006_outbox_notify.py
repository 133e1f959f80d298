"""On PostgreSQL, every insert into the outbox sends ``NOTIFY allocation_outbox``.

A statement-level trigger: the notification is part of the writing transaction
(delivered only if it commits), costs the request no extra round trip, and
PostgreSQL folds identical notifications of one transaction into one. The relay
(``manage.py relay_outbox --follow``) listens on the channel. Other databases have no
such thing; the relay polls them on its timer.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION allocation_outbox_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('allocation_outbox', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS allocation_outbox_notify ON allocation_outbox;
CREATE TRIGGER allocation_outbox_notify AFTER INSERT ON allocation_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION allocation_outbox_notify();
"""

DROP = """
DROP TRIGGER IF EXISTS allocation_outbox_notify ON allocation_outbox;
DROP FUNCTION IF EXISTS allocation_outbox_notify();
"""


def run_on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("allocation", "0005_delivery_tracking")]

    operations = [migrations.RunPython(run_on_postgresql(CREATE), run_on_postgresql(DROP))]
