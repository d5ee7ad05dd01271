from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        # Registers the tasks that the services queue by name (common.tasks.task_delay).
        from . import tasks  # noqa: F401

        # Permissions are created app by app in post_migrate, so the group is synced after each app's
        # (no sender filter): a new content model gets its permissions without a data migration.
        from .roles import editors_group_sync

        def _sync(sender, apps=global_apps, using="default", **kwargs):
            # `apps` is the schema the migrations left (flush sends none: the project's own), read as
            # Django's create_permissions reads it: after `migrate auth zero` there is no group to sync.
            try:
                for label in ("auth.Group", "auth.Permission", "contenttypes.ContentType"):
                    apps.get_model(label)
            except LookupError:
                return
            editors_group_sync(using=using)

        post_migrate.connect(_sync, dispatch_uid="accounts.editors_group_sync", weak=False)
