"""The move of the erasure records, key rotations and job locks keeps their rows, and beat keeps its jobs."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [
    ("audit", "0005_erasure_stamped_by_database"),
    ("ops", "0003_requeue_submissions_every_30_seconds"),
]
# The apps the rows move to go to zero too: audit/0006 depends on compliance/0001, not the other way.
BEFORE_TARGETS = [*BEFORE, ("compliance", None), ("common", None)]


@pytest.mark.django_db(transaction=True)
def test_rows_written_before_the_move_read_back_from_their_new_apps():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_TARGETS)
    old = executor.loader.project_state(BEFORE).apps
    erasure = old.get_model("audit", "ErasureRecord").objects.create(email_hash="ab" * 32, reason="admin")
    rotation = old.get_model("audit", "KeyRotation").objects.create(
        kind="field_key", target="f" * 64, progress={"accounts.user.phone": "x"}
    )
    lock = old.get_model("ops", "JobLock").objects.create(
        name="apply_retention", holder="worker-1:42:abcd", expires_at=timezone.now()
    )
    crontab = old.get_model("django_celery_beat", "CrontabSchedule").objects.create(minute="30", hour="2")
    old.get_model("django_celery_beat", "PeriodicTask").objects.create(
        name="retention as installed before the rename", task="audit.tasks.apply_retention", crontab=crontab
    )

    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(latest)
    new = executor.loader.project_state(latest).apps

    assert new.get_model("compliance", "ErasureRecord").objects.get().pk == erasure.pk
    moved_rotation = new.get_model("compliance", "KeyRotation").objects.get()
    assert (moved_rotation.pk, moved_rotation.progress) == (rotation.pk, {"accounts.user.phone": "x"})
    assert new.get_model("common", "JobLock").objects.get().holder == lock.holder
    assert new.get_model("django_celery_beat", "PeriodicTask").objects.get(
        name="retention as installed before the rename"
    ).task == ("compliance.tasks.retention_apply")
    tables = connection.introspection.table_names()
    assert {"compliance_erasurerecord", "compliance_keyrotation", "common_joblock"} <= set(tables)
    assert not {"audit_erasurerecord", "audit_keyrotation", "ops_joblock"} & set(tables)

    # And back: the beat entry gets its old name, the rows their old tables.
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_TARGETS)
    back = executor.loader.project_state(BEFORE).apps
    assert back.get_model("audit", "ErasureRecord").objects.get().pk == erasure.pk
    assert (
        back.get_model("django_celery_beat", "PeriodicTask")
        .objects.get(name="retention as installed before the rename")
        .task
        == "audit.tasks.apply_retention"
    )
    MigrationExecutor(connection).migrate(latest)
