import django.utils.timezone
from django.db import migrations, models

import common.ids


class Migration(migrations.Migration):
    """
    JobLock moves from ops to common with job_lock (common/locks.py), which every app's periodic tasks
    take. The table is kept (state only) and then renamed to this app's name.
    """

    dependencies = [("ops", "0003_requeue_submissions_every_30_seconds")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="JobLock",
                    fields=[
                        (
                            "id",
                            models.UUIDField(
                                default=common.ids.uuid7, editable=False, primary_key=True, serialize=False
                            ),
                        ),
                        (
                            "created_at",
                            models.DateTimeField(
                                db_index=True, default=django.utils.timezone.now, editable=False
                            ),
                        ),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("name", models.CharField(max_length=100, unique=True)),
                        ("holder", models.CharField(max_length=200)),
                        ("expires_at", models.DateTimeField()),
                    ],
                    options={"ordering": ["name"], "db_table": "ops_joblock"},
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="joblock", table=None),
    ]
