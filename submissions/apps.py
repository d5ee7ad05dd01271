from django.apps import AppConfig


class SubmissionsConfig(AppConfig):
    name = "submissions"
    verbose_name = "Form submissions"

    def ready(self):
        # Registers the tasks that the services queue by name (common.tasks.task_delay).
        from . import tasks  # noqa: F401
