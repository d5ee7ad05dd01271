from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "content"
    verbose_name = "Content"

    def ready(self):
        # Registers the task the media library's service queues by name (common.tasks.task_delay).
        from . import tasks  # noqa: F401
