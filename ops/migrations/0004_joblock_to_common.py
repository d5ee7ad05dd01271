from django.db import migrations


class Migration(migrations.Migration):
    """JobLock now belongs to common (common/migrations/0001), which took over its table."""

    dependencies = [
        ("ops", "0003_requeue_submissions_every_30_seconds"),
        ("common", "0001_joblock_from_ops"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="JobLock")], database_operations=[]
        ),
    ]
