import django.utils.timezone
from django.db import migrations, models

import common.ids


def chain_existing_rows(apps, schema_editor):
    """Rows written before the chain existed are numbered in time order and linked, so that the chain
    covers the whole log from its first row."""
    from audit.chain import row_digest

    AuditLog = apps.get_model("audit", "AuditLog")
    prev_hash = ""
    for sequence, row in enumerate(AuditLog.objects.order_by("created_at", "id").iterator(), start=1):
        row.sequence = sequence
        row.prev_hash = prev_hash
        row.hash = prev_hash = row_digest(row, prev_hash)
        row.save(update_fields=["sequence", "prev_hash", "hash"])


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="auditlog",
            name="sequence",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="auditlog",
            name="prev_hash",
            field=models.CharField(blank=True, default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditlog",
            name="hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing_rows, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditlog",
            name="sequence",
            field=models.BigIntegerField(editable=False, unique=True),
        ),
        migrations.AlterModelOptions(name="auditlog", options={"ordering": ["sequence"]}),
        migrations.AddIndex(
            model_name="auditlog",
            index=models.Index(fields=["actor"], name="audit_actor_idx"),
        ),
        migrations.CreateModel(
            name="ErasureRecord",
            fields=[
                ("id", models.UUIDField(default=common.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("user_id", models.UUIDField(db_index=True)),
                ("email_hash", models.CharField(blank=True, db_index=True, max_length=64)),
                ("erased_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                (
                    "reason",
                    models.CharField(
                        choices=[("self_service", "Asked for by the user"), ("admin", "Erased by an admin")],
                        max_length=16,
                    ),
                ),
                ("actor_id", models.UUIDField(blank=True, null=True)),
            ],
            options={"ordering": ["erased_at"]},
        ),
        migrations.CreateModel(
            name="KeyRotation",
            fields=[
                ("id", models.UUIDField(default=common.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "kind",
                    models.CharField(
                        choices=[("field_key", "Field encryption key"), ("blind_index", "Blind index key")],
                        max_length=16,
                    ),
                ),
                ("target", models.CharField(max_length=64)),
                ("progress", models.JSONField(blank=True, default=dict)),
                ("counts", models.JSONField(blank=True, default=dict)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ["-created_at"],
                "constraints": [
                    models.UniqueConstraint(fields=("kind", "target"), name="audit_keyrotation_kind_target")
                ],
            },
        ),
    ]
