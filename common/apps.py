from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    # Its one model in the admin is JobLock, which operators look for under this name.
    verbose_name = "Periodic jobs"

    def ready(self):
        from django.db.backends.signals import connection_created

        from . import checks  # noqa: F401 - registers the Celery timing checks
        from .pools import database_connection_replace_if_closed

        connection_created.connect(
            database_connection_replace_if_closed, dispatch_uid="common.database_connection_replace_if_closed"
        )
