from django.contrib.postgres.indexes import GinIndex
from django.db import migrations

from common.operations import AddIndexOnPostgres


class Migration(migrations.Migration):
    # accounts.selectors.users_with_preference: containment (@>) on the preferences, which a
    # jsonb_path_ops GIN index answers (smaller and faster than the default jsonb_ops for @> alone).
    dependencies = [("accounts", "0007_role_groups")]

    operations = [
        AddIndexOnPostgres(
            "user",
            GinIndex(fields=["preferences"], opclasses=["jsonb_path_ops"], name="accounts_user_prefs_gin"),
        )
    ]
