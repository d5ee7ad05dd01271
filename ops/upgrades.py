"""
Upgrading a deployed database: what the deploy's migrate step (`manage.py migrate_with_backup`) asks
before it migrates, and the backup it takes when there is something to lose.
"""

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from .backups import backup_create
from .models import BackupRecord, BackupTier

LABEL = "before-migrate"
# Rows that every migrated database has, written by migrations and `migrate` itself (the permissions,
# the role groups, the beat schedule): not data to lose.
_SCAFFOLDING = {"contenttypes", "auth.permission", "auth.group", "django_celery_beat", "sessions"}


def migrations_pending(alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """The migrations `migrate` would apply now, as app.name, in the order it would apply them."""
    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, backwards in plan if not backwards]


def database_holds_data(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether any table the project's models own has a row (a fresh or empty database has none)."""
    existing = set(connections[alias].introspection.table_names())
    for model in apps.get_models():
        label = model._meta.label_lower
        if model._meta.app_label in _SCAFFOLDING or label in _SCAFFOLDING or not model._meta.managed:
            continue
        if model._meta.db_table in existing and model._base_manager.using(alias).exists():
            return True
    return False


def pre_migration_backup(alias: str = DEFAULT_DB_ALIAS) -> BackupRecord | None:
    """A manual backup labelled before-migrate when the database holds data; None when it holds none."""
    if not database_holds_data(alias):
        return None
    return backup_create(tier=BackupTier.MANUAL, label=LABEL, alias=alias)
