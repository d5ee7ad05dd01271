from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "content"
    verbose_name = "Content"

    def ready(self):
        from common.caching import connect_content_invalidation

        connect_content_invalidation(self.label)
