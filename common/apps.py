from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    # Its one model in the admin is JobLock, which operators look for under this name.
    verbose_name = "Periodic jobs"

    def ready(self):
        from . import checks  # noqa: F401 - registers the Celery timing checks
