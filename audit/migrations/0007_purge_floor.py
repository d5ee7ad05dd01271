from django.db import migrations


def forwards(apps, schema_editor):
    # The trigger function again, with the purge floor (audit.chain.PURGE_FLOOR_DAYS): CREATE OR REPLACE.
    if schema_editor.connection.vendor == "postgresql":
        from audit.chain import TRIGGER_SQL

        schema_editor.execute(TRIGGER_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_erasure_and_rotation_to_compliance")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
