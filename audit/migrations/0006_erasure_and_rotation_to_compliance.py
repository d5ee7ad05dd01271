from django.db import migrations


class Migration(migrations.Migration):
    """ErasureRecord and KeyRotation now belong to compliance (compliance/migrations/0001), tables and all."""

    dependencies = [
        ("audit", "0005_erasure_stamped_by_database"),
        ("compliance", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ErasureRecord"), migrations.DeleteModel(name="KeyRotation")],
            database_operations=[],
        ),
    ]
