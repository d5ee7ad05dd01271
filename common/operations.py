"""
Migration operations the project's apps share. Like django.contrib.postgres.operations.CreateExtension,
they act on PostgreSQL only and leave SQLite (embedded mode) as it is.
"""

from django.contrib.postgres.operations import TrigramExtension as BaseTrigramExtension
from django.db import router
from django.db.migrations.operations.base import Operation


class AddIndexOnPostgres(Operation):
    """
    An index only PostgreSQL can hold (GIN over a tsvector or trigrams). It stays out of the model state,
    so `makemigrations` neither sees it nor tries to create it on SQLite, where it could not be built.
    """

    reversible = True

    def __init__(self, model_name: str, index):
        self.model_name = model_name
        self.index = index

    def state_forwards(self, app_label, state):
        pass

    def _applies(self, schema_editor, app_label) -> bool:
        return schema_editor.connection.vendor == "postgresql" and router.allow_migrate(
            schema_editor.connection.alias, app_label
        )

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if self._applies(schema_editor, app_label):
            schema_editor.add_index(to_state.apps.get_model(app_label, self.model_name), self.index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if self._applies(schema_editor, app_label):
            schema_editor.remove_index(from_state.apps.get_model(app_label, self.model_name), self.index)

    def describe(self):
        return f"Create index {self.index.name} on {self.model_name} (PostgreSQL only)"

    def deconstruct(self):
        return self.__class__.__qualname__, [self.model_name, self.index], {}


def rich_text_from_plain_text(model_label: str, fields: list[str]):
    """
    A RunPython function: text written before the field was rich text becomes HTML paragraphs (blank
    lines part them). All of it is taken as text, angle brackets included: it was typed into a plain
    text box and shown as text, so "<found>" stays visible rather than vanishing as an unknown tag.
    """

    def forwards(apps, schema_editor):
        from common.richtext import paragraphs

        model = apps.get_model(model_label)
        for row in model._base_manager.only("pk", *fields).iterator(chunk_size=500):
            values = {field: paragraphs(getattr(row, field) or "") for field in fields}
            model._base_manager.filter(pk=row.pk).update(**values)

    return forwards


class TrigramExtension(BaseTrigramExtension):
    """
    django.contrib.postgres's, kept when migrating back: the extension is the database's, and other
    apps' indexes may use it (dropping it with them still there fails). Django's own backwards step
    also forgot to skip SQLite, where it asked for pg_extension.
    """

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass


def extension_create_where_permitted(cursor, name: str) -> str:
    """
    Creates the extension if it is missing and this role may (a superuser); what happened, in a word:
    "present", "created" or "not permitted" (bin/setup-postgres creates it for a least-privilege owner).
    """
    cursor.execute("SELECT 1 FROM pg_extension WHERE extname = %s", [name])
    if cursor.fetchone():
        return "present"
    cursor.execute(
        "SELECT rolsuper, EXISTS (SELECT FROM pg_available_extensions WHERE name = %s) "
        "FROM pg_roles WHERE rolname = current_user",
        [name],
    )
    superuser, available = cursor.fetchone()
    if not (superuser and available):
        return "not permitted" if available else "not available"
    cursor.execute(f'CREATE EXTENSION IF NOT EXISTS "{name}"')
    return "created"


class ExtensionWherePermitted(Operation):
    """
    A superuser-only extension (pg_stat_statements), created when the migrating role may: a migration
    run by the least-privilege owner role must not fail on it. Going back leaves it, like the trigram
    extension: other databases' tools may use it.
    """

    reversible = True

    def __init__(self, name: str):
        self.name = name

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        connection = schema_editor.connection
        if connection.vendor == "postgresql" and router.allow_migrate(connection.alias, app_label):
            with connection.cursor() as cursor:
                extension_create_where_permitted(cursor, self.name)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass

    def describe(self):
        return f"Create extension {self.name} where permitted (PostgreSQL only)"

    def deconstruct(self):
        return self.__class__.__qualname__, [self.name], {}
