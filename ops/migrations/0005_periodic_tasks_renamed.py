from django.db import migrations

# Each task is now named after the service it calls (old name -> new name).
RENAMED = {
    "audit.tasks.apply_retention": "compliance.tasks.retention_apply",
    "audit.tasks.verify_audit_chain": "audit.tasks.audit_chain_verify",
    "ops.tasks.backup_database": "ops.tasks.backup_create",
    "ops.tasks.prune_backups": "ops.tasks.backups_prune",
    "ops.tasks.verify_random_backup": "ops.tasks.backup_verify_random",
}


def rename(apps, schema_editor, mapping):
    # The beat schedule is rows (ops.schedule installs them once): jobs already installed, an operator's
    # edits included, keep running under the tasks' new names.
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    db = schema_editor.connection.alias
    for old, new in mapping.items():
        PeriodicTask.objects.using(db).filter(task=old).update(task=new)


def forwards(apps, schema_editor):
    rename(apps, schema_editor, RENAMED)


def backwards(apps, schema_editor):
    rename(apps, schema_editor, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0004_joblock_to_common"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
