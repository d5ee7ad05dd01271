from django.apps import AppConfig


class UploadsConfig(AppConfig):
    name = "uploads"
    verbose_name = "Sample-data uploads"

    def ready(self):
        # Registers the tasks that the services queue by name (common.tasks.task_delay).
        from . import tasks  # noqa: F401
