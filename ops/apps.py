from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self):
        from .schedule import beat_schedule_install

        def _install(sender, apps=global_apps, using="default", **kwargs):
            # After django_celery_beat's own tables exist: post_migrate runs once all apps are migrated,
            # and `apps` is the schema they left (none after `migrate django_celery_beat zero`).
            # Only on the primary, which beat reads: `migrate --database replica` (and the test replica)
            # must not write a schedule to a read-only standby.
            try:
                apps.get_model("django_celery_beat", "PeriodicTask")
            except LookupError:
                return
            if using == "default":
                beat_schedule_install(using=using)

        post_migrate.connect(_install, sender=self, dispatch_uid="ops.beat_schedule_install", weak=False)
