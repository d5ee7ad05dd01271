from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        # Registers the tasks that the services queue by name (common.tasks.task_delay).
        # Permissions are created app by app in post_migrate, so the groups are synced after each app's
        # (no sender filter): a new content model gets its permissions without a data migration.
        from django.contrib.auth.management import create_permissions

        from . import tasks  # noqa: F401
        from .roles import role_groups_sync

        def _sync(sender, apps=global_apps, using="default", **kwargs):
            # `apps` is the schema the migrations left (flush sends none: the project's own), read as
            # Django's create_permissions reads it: after `migrate auth zero` there is no group to sync.
            try:
                for label in ("auth.Group", "auth.Permission", "contenttypes.ContentType"):
                    apps.get_model(label)
            except LookupError:
                return
            # This handler runs before auth's for the same app (accounts comes first in INSTALLED_APPS):
            # the app's permissions are made here first, so that the last app's reach the Admins group.
            create_permissions(sender, apps=apps, using=using, verbosity=0)
            role_groups_sync(using=using)

        post_migrate.connect(_sync, dispatch_uid="accounts.role_groups_sync", weak=False)
