from django.db import migrations


def create_trigger(apps, schema_editor):
    # PostgreSQL only: SQLite, the embedded mode, has no per-transaction setting for the purge to use.
    if schema_editor.connection.vendor == "postgresql":
        from audit.chain import TRIGGER_SQL

        schema_editor.execute(TRIGGER_SQL, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from audit.chain import DROP_TRIGGER_SQL

        schema_editor.execute(DROP_TRIGGER_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_chain_erasure_keyrotation")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
